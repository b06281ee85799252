package bench

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// runFanout: N receivers on "/", S of them also senders emitting
// "chat message" at R msgs/s in total; the server emits each to all N.
func runFanout(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench fanout", flag.ContinueOnError)
	var c common
	c.register(fs)
	n := fs.Int("n", 1000, "receivers (all connections receive every message)")
	senders := fs.Int("senders", 10, "how many of the receivers also send")
	rate := fs.Float64("rate", 100, "messages per second sent, all senders together")
	warmup := fs.Duration("warmup", 2*time.Second, "sending before the measured window")
	dur := fs.Duration("duration", 5*time.Second, "measured window")
	drain := fs.Duration("drain", 3*time.Second, "longest wait for late messages after sending stops")
	size := fs.Int("size", 32, "bytes of text in each message")
	crate := fs.Float64("connect-rate", 3000, "connections opened per second")
	stalled := fs.Int("stalled", 0, "extra connections that stop reading once connected (frozen clients): they receive every broadcast too, and must not slow the others")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if err := c.check(); err != nil {
		return err
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
	prog := &progress{w: stderr}
	cr := connectMany(ctx, &c, *n, *crate, 64, prog, nil)
	prog.done()
	defer closeAll(cr.conns)
	if len(cr.conns) < *n {
		return fmt.Errorf("bench fanout: %d of %d connections failed: %v", cr.failures, *n, cr.firstErr)
	}
	if *stalled > 0 {
		// Connected like the others, then never read: the server's queue
		// and the kernel buffers towards them fill up.
		sc := connectMany(ctx, &c, *stalled, *crate, 8, prog, nil)
		defer closeAll(sc.conns)
		if len(sc.conns) < *stalled {
			return fmt.Errorf("bench fanout: %d of %d stalled connections failed: %v", sc.failures, *stalled, sc.firstErr)
		}
	}
	perSender := int(*rate/float64(*senders)*(*warmup+*dur).Seconds()) + 2
	total := perSender * *senders
	start := time.Now()
	winStart := start.Add(*warmup)
	winEnd := winStart.Add(*dur)
	recvs := make([]*receiver, *n)
	var wg sync.WaitGroup
	for i, cn := range cr.conns {
		rv := &receiver{c: cn, seen: make([]uint64, (total+63)/64), perSender: perSender,
			winStart: winStart.UnixMicro(), winEnd: winEnd.UnixMicro()}
		recvs[i] = rv
		wg.Add(1)
		go func() { defer wg.Done(); rv.loop() }()
	}
	defer func() { closeAll(cr.conns); wg.Wait() }()

	text := strings.Repeat("x", *size)
	var sent atomic.Int64
	var sendErr atomic.Pointer[error]
	var sw sync.WaitGroup
	for s := range *senders {
		sw.Add(1)
		go func() {
			defer sw.Done()
			err := sendPaced(ctx, cr.conns[s], s, perSender, *rate/float64(*senders), start, winEnd, text, &sent)
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
	srvCPU, gcpu, wall, err := stopMeters(srv, gen)
	if err != nil {
		return err
	}
	sw.Wait()
	// Drain: wait for stragglers until all arrived or the drain time ends.
	want := sent.Load() * int64(*n)
	deadline := time.Now().Add(*drain)
	for sumReceived(recvs) < want && time.Now().Before(deadline) && ctx.Err() == nil {
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
	deliveries := float64(d1-d0) / wall.Seconds()
	scenario := "fanout"
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "stalled" {
			scenario = "fanout-stalled" // its own table: the step is the number of frozen clients
		}
	})
	r := &Result{Scenario: scenario,
		Params: map[string]float64{"receivers": float64(*n), "senders": float64(*senders), "rate": *rate,
			"offered_deliveries_s": *rate * float64(*n), "duration_s": dur.Seconds(), "size": float64(*size),
			"stalled": float64(*stalled)},
		Metrics: map[string]float64{
			"deliveries_s": deliveries,
			"sent":         float64(sent.Load()),
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
	r.GeneratorCPU = gcpu.Seconds() / wall.Seconds()
	if p := sendErr.Load(); p != nil {
		r.Notes = append(r.Notes, "send error: "+(*p).Error())
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

// sendPaced sends sender s's messages at rate per second from start until
// end, in 5 ms slices, never more than max messages.
func sendPaced(ctx context.Context, c *conn, s, maxMsgs int, rate float64, start, end time.Time, text string, sent *atomic.Int64) error {
	var buf []byte
	n := 0
	tk := time.NewTicker(5 * time.Millisecond)
	defer tk.Stop()
	for {
		now := time.Now()
		if !now.Before(end) {
			return nil
		}
		due := min(int(now.Sub(start).Seconds()*rate)+1, maxMsgs)
		for ; n < due; n++ {
			buf = appendChatMessage(buf[:0], s, n, time.Now().UnixMicro(), text)
			if err := c.writeText(buf); err != nil {
				return err
			}
			sent.Add(1)
		}
		select {
		case <-tk.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// appendChatMessage encodes the benchmark's chat message: sender, sequence
// number and send time in µs since the epoch (exact in a JS number).
func appendChatMessage(b []byte, s, n int, t int64, text string) []byte {
	b = append(b, `42["chat message",{"s":`...)
	b = strconv.AppendInt(b, int64(s), 10)
	b = append(b, `,"n":`...)
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, `,"t":`...)
	b = strconv.AppendInt(b, t, 10)
	b = append(b, `,"m":"`...)
	b = append(b, text...)
	return append(b, `"}]`...)
}

var chatPrefix = []byte(`42["chat message",{`)

// parseChatMessage extracts sender, sequence and send time from a received
// chat message packet.
func parseChatMessage(p []byte) (s, n int, t int64, ok bool) {
	if !bytes.HasPrefix(p, chatPrefix) {
		return 0, 0, 0, false
	}
	p = p[len(chatPrefix):]
	var ok1, ok2, ok3 bool
	var v int64
	if v, ok1 = intField(p, `"s":`); ok1 {
		s = int(v)
	}
	if v, ok2 = intField(p, `"n":`); ok2 {
		n = int(v)
	}
	t, ok3 = intField(p, `"t":`)
	return s, n, t, ok1 && ok2 && ok3 && s >= 0 && n >= 0
}

func intField(p []byte, key string) (int64, bool) {
	i := bytes.Index(p, []byte(key))
	if i < 0 {
		return 0, false
	}
	p = p[i+len(key):]
	j := 0
	for j < len(p) && (p[j] >= '0' && p[j] <= '9' || j == 0 && p[j] == '-') {
		j++
	}
	v, err := strconv.ParseInt(string(p[:j]), 10, 64)
	return v, err == nil
}

// receiver counts what one connection receives.
type receiver struct {
	c         *conn
	perSender int
	seen      []uint64 // bit s*perSender+n: message n of sender s arrived
	received  atomic.Int64
	winStart  int64 // µs; messages sent in [winStart, winEnd) go to h
	winEnd    int64
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
		s, n, t, ok := parseChatMessage(p)
		if !ok || n >= r.perSender {
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
		if t >= r.winStart && t < r.winEnd {
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
