package bench

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// runFanout: N receivers, S of them also senders, R msgs/s in all on
// independent schedules (--shape); the server delivers each message to all
// N. --dialect picks what is spoken: the workload's "chat message" (bench
// serve, Node, and the product's classic dialect) or the product's
// protocol 1 (hello into one room, send with acks).
func runFanout(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench fanout", flag.ContinueOnError)
	var c common
	c.register(fs)
	n := fs.Int("n", 1000, "receivers (all connections receive every message)")
	senders := fs.Int("senders", 10, "how many of the receivers also send")
	rate := fs.Float64("rate", 100, "messages per second sent, all senders together")
	shapeName := fs.String("shape", "poisson", "when senders send: poisson (independent random instants), spread (fixed rates, phases spread evenly) or burst (all senders at the same instants)")
	dialectName := fs.String("dialect", "chat-message", `what is spoken: chat-message ("chat message" to everyone: bench serve, Node, banter's classic dialect) or v1 (banter's protocol 1: hello into one room, send with acks)`)
	warmup := fs.Duration("warmup", 2*time.Second, "sending before the measured window")
	dur := fs.Duration("duration", 5*time.Second, "measured window")
	drain := fs.Duration("drain", 3*time.Second, "longest wait for late messages after sending stops")
	size := fs.Int("size", 32, "bytes of text in each message")
	crate := fs.Float64("connect-rate", 3000, "connections opened per second")
	stalled := fs.Int("stalled", 0, "extra connections that stop reading once connected (frozen clients): they receive every broadcast too, and must not slow the others")
	rooms := fs.String("rooms", "one", "with --dialect v1: one (every connection in one room: a fan-out) or own (each connection in a room of its own and sending: acked sends, each stored and delivered to its sender only)")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if err := c.check(); err != nil {
		return err
	}
	sh, err := parseShape(*shapeName)
	if err != nil {
		return err
	}
	dl, err := parseDialect(*dialectName)
	if err != nil {
		return err
	}
	own := *rooms == "own"
	switch {
	case *rooms != "one" && !own:
		return fmt.Errorf("%w: --rooms %q: want one or own", ErrUsage, *rooms)
	case own && dl != dialectV1:
		return fmt.Errorf("%w: --rooms own needs --dialect v1", ErrUsage)
	case own:
		*senders = *n // everyone sends, to their own room
	}
	switch {
	case *n < 1 || *n > 19_000:
		return fmt.Errorf("%w: --n %d: want 1..19000 (one process)", ErrUsage, *n)
	case *senders < 1 || *senders > *n:
		return fmt.Errorf("%w: --senders %d: want 1..n", ErrUsage, *senders)
	case *rate <= 0 || *rate > 1e6:
		return fmt.Errorf("%w: --rate %v", ErrUsage, *rate)
	case *stalled < 0 || *n+*stalled > 19_000:
		return fmt.Errorf("%w: --stalled %d: want 0..19000-n", ErrUsage, *stalled)
	case *dur <= 0 || *warmup < 0 || *drain < 0 || *size < 0 || *size > 100_000:
		return fmt.Errorf("%w: bad --duration, --warmup, --drain or --size", ErrUsage)
	}
	// Poisson senders send a random number of messages: room for 3 standard
	// deviations and then some.
	expect := *rate / float64(*senders) * (*warmup + *dur).Seconds()
	perSender := int(expect+3*math.Sqrt(expect)) + 8
	total := perSender * *senders
	var (
		rmu   sync.Mutex
		recvs []*receiver
		wg    sync.WaitGroup
		nicks atomic.Int64
	)
	// Each connection is read from the moment it is open (the server pings,
	// and a protocol-1 room sends presence while the others join).
	onConn := func(cn *conn) error {
		rv := &receiver{c: cn, seen: make([]uint64, (total+63)/64), perSender: perSender, acks: make(chan []byte, 1)}
		rv.winStart.Store(math.MaxInt64)
		rmu.Lock()
		recvs = append(recvs, rv)
		rmu.Unlock()
		wg.Add(1)
		go func() { defer wg.Done(); rv.loop() }()
		i := int(nicks.Add(1))
		rv.room = benchRoom
		if own {
			rv.room = benchRoom + "-" + strconv.Itoa(i)
		}
		return dl.setup(rv, i, c.timeout)
	}
	prog := &progress{w: stderr}
	cr := connectMany(ctx, &c, *n, *crate, 64, prog, onConn)
	prog.done()
	defer func() { closeAll(cr.conns); wg.Wait() }()
	if len(cr.conns) < *n {
		return fmt.Errorf("bench fanout: %d of %d connections failed: %v", cr.failures, *n, cr.firstErr)
	}
	if *stalled > 0 {
		// Connected like the others, then never read: the server's queue
		// and the kernel buffers towards them fill up.
		sc := connectMany(ctx, &c, *stalled, *crate, 8, prog, func(cn *conn) error {
			return dl.setup(&receiver{c: cn, room: benchRoom, acks: make(chan []byte, 1)}, int(nicks.Add(1)), 0)
		})
		defer closeAll(sc.conns)
		if len(sc.conns) < *stalled {
			return fmt.Errorf("bench fanout: %d of %d stalled connections failed: %v", sc.failures, *stalled, sc.firstErr)
		}
	}
	start := time.Now()
	winStart := start.Add(*warmup)
	winEnd := winStart.Add(*dur)
	for _, rv := range recvs {
		rv.winEnd.Store(winEnd.UnixMicro())
		rv.winStart.Store(winStart.UnixMicro())
	}

	pad := strings.Repeat("x", *size)
	var sent atomic.Int64
	var sendErr atomic.Pointer[error]
	var sw sync.WaitGroup
	for s := range *senders {
		sw.Add(1)
		go func() {
			defer sw.Done()
			err := sendScheduled(ctx, recvs[s], dl, s, perSender, sh.schedule(s, *senders, *rate, start), winEnd, pad, &sent)
			if err != nil {
				sendErr.CompareAndSwap(nil, &err)
			}
		}()
	}
	// Measure the window.
	if !sleepUntil(ctx, winStart) {
		return ctx.Err()
	}
	d0 := sumReceived(recvs)
	srv, gen, err := startMeters(c.serverPID)
	if err != nil {
		return err
	}
	w0 := procWrites(c.serverPID)
	for time.Now().Before(winEnd) {
		next := time.Now().Add(time.Second)
		if next.After(winEnd) {
			next = winEnd
		}
		if !sleepUntil(ctx, next) {
			return ctx.Err()
		}
		prog.printf("fanout: %d sent, %d delivered", sent.Load(), sumReceived(recvs))
	}
	d1 := sumReceived(recvs)
	w1 := procWrites(c.serverPID)
	srvCPU, gcpu, wall, err := stopMeters(srv, gen)
	if err != nil {
		return err
	}
	sw.Wait()
	// Drain: wait for stragglers until all arrived or the drain time ends.
	refused := func() (n int64) {
		for _, rv := range recvs {
			n += rv.refused.Load()
		}
		return n
	}
	// Who receives a message: everyone, or with rooms of their own only
	// its sender.
	fan := int64(*n)
	if own {
		fan = 1
	}
	deadline := time.Now().Add(*drain)
	for sumReceived(recvs) < (sent.Load()-refused())*fan && time.Now().Before(deadline) && ctx.Err() == nil {
		sleepUntil(ctx, time.Now().Add(20*time.Millisecond))
	}
	prog.done()
	closeAll(cr.conns)
	wg.Wait()

	var h hist
	var uniq, dups, bad int64
	for _, rv := range recvs {
		h.merge(&rv.h)
		uniq += rv.unique
		dups += rv.dups
		bad += rv.bad
	}
	want := (sent.Load() - refused()) * fan
	deliveries := float64(d1-d0) / wall.Seconds()
	scenario := "fanout"
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "stalled" {
			scenario = "fanout-stalled" // its own table: the step is the number of frozen clients
		}
	})
	if own {
		scenario = "send" // acked sends: each message stored and delivered once
	}
	r := &Result{Scenario: scenario, Shape: sh.String(), Dialect: dl.String(),
		Params: map[string]float64{"receivers": float64(*n), "senders": float64(*senders), "rate": *rate,
			"offered_deliveries_s": *rate * float64(*n), "duration_s": dur.Seconds(), "size": float64(*size),
			"stalled": float64(*stalled)},
		Metrics: map[string]float64{
			"deliveries_s": deliveries,
			"sent":         float64(sent.Load()),
			"refused":      float64(refused()),
			"lost":         float64(want - uniq),
			"duplicated":   float64(dups),
			"malformed":    float64(bad),
		}}
	h.latencyMetrics(r.Metrics, "latency_")
	if srvCPU >= 0 {
		r.Metrics["server_cpu"] = srvCPU.Seconds() / wall.Seconds()
		if d1 > d0 {
			r.Metrics["cpu_us_per_delivery"] = float64(srvCPU.Microseconds()) / float64(d1-d0)
		}
	}
	if w0 >= 0 && w1 >= w0 {
		r.Metrics["server_writes_s"] = float64(w1-w0) / wall.Seconds()
		if d1 > d0 {
			r.Metrics["deliveries_per_write"] = float64(d1-d0) / float64(max(1, w1-w0))
		}
	}
	r.GeneratorCPU = gcpu.Seconds() / wall.Seconds()
	if p := sendErr.Load(); p != nil {
		r.Notes = append(r.Notes, "send error: "+(*p).Error())
	}
	if n := refused(); n > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d of %d messages refused by the server (rate limits?)", n, sent.Load()))
	}
	if want > uniq {
		r.Notes = append(r.Notes, fmt.Sprintf("%d deliveries missing %v after sending stopped", want-uniq, *drain))
	}
	return c.emit(r, stdout)
}

// startMeters starts CPU meters on the server (nil when pid is 0) and on
// this process.
func startMeters(pid int) (srv, gen *cpuMeter, err error) {
	if pid > 0 {
		if srv, err = startCPU(pid); err != nil {
			return nil, nil, err
		}
	}
	gen, err = startCPU(0)
	return srv, gen, err
}

// stopMeters returns server CPU (-1 when not measured), generator CPU and
// the wall time of the generator meter.
func stopMeters(srv, gen *cpuMeter) (srvCPU, genCPU, wall time.Duration, err error) {
	srvCPU = -1
	if srv != nil {
		if srvCPU, _, err = srv.stop(); err != nil {
			return 0, 0, 0, err
		}
	}
	genCPU, wall, err = gen.stop()
	return srvCPU, genCPU, wall, err
}

// sleepUntil waits until t; false if ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// sendScheduled sends sender s's messages at the instants of its schedule
// until end, never more than maxMsgs. A message's time stamp is when it was
// written, so a sender that falls behind does not flatter the latency.
func sendScheduled(ctx context.Context, rv *receiver, dl dialect, s, maxMsgs int, sc *schedule, end time.Time, pad string, sent *atomic.Int64) error {
	var buf []byte
	for n := range maxMsgs {
		at := sc.next()
		if !at.Before(end) {
			return nil
		}
		if !sleepUntil(ctx, at) {
			return ctx.Err()
		}
		buf = dl.appendSend(buf[:0], rv.room, s, n, time.Now().UnixMicro(), pad)
		if err := rv.c.writeText(buf); err != nil {
			return err
		}
		sent.Add(1)
	}
	return nil
}

// receiver counts what one connection receives.
type receiver struct {
	c         *conn
	room      string // protocol 1: the room it joined
	perSender int
	seen      []uint64 // bit s*perSender+n: message n of sender s arrived
	received  atomic.Int64
	refused   atomic.Int64 // sends of this connection the server refused
	acks      chan []byte  // the acks of setup requests (ack id 0)
	winStart  atomic.Int64 // µs; messages sent in [winStart, winEnd) go to h
	winEnd    atomic.Int64
	h         hist
	unique    int64
	dups      int64
	bad       int64
}

func (r *receiver) loop() {
	for {
		p, err := r.c.readText()
		if err != nil {
			return
		}
		now := time.Now()
		switch kindOf(p) {
		case pktDelivery:
		case pktAck0:
			select {
			case r.acks <- bytes.Clone(p):
			default:
			}
			continue
		case pktRefusal:
			r.refused.Add(1)
			continue
		default:
			continue // presence, other acks
		}
		s, n, t, ok := parseMark(p)
		if !ok || n >= r.perSender || r.seen == nil {
			r.bad++
			continue
		}
		r.received.Add(1)
		bit := s*r.perSender + n
		if bit/64 >= len(r.seen) {
			r.bad++
			continue
		}
		if r.seen[bit/64]&(1<<(bit%64)) != 0 {
			r.dups++
			continue
		}
		r.seen[bit/64] |= 1 << (bit % 64)
		r.unique++
		if t >= r.winStart.Load() && t < r.winEnd.Load() {
			r.h.add(now.Sub(time.UnixMicro(t)))
		}
	}
}

func sumReceived(rs []*receiver) int64 {
	var n int64
	for _, r := range rs {
		n += r.received.Load()
	}
	return n
}
