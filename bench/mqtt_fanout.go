package bench

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// runMQTTFanout: N subscribers of one room topic, P publishers sending R
// messages per second in all, each on a schedule of its own: publisher s
// sends every P/R seconds, offset by s/R, so that the messages of all
// publishers are evenly interleaved (one every 1/R s), as independent
// senders are, rather than sent in synchronized bursts. Every message
// reaches every subscriber. Measured over the window: deliveries per
// second, latency from the publisher's write to the subscriber's read, the
// server's CPU per delivery; after it, what never arrived.
func runMQTTFanout(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench mqtt-fanout", flag.ContinueOnError)
	var c common
	var m mqttFlags
	c.register(fs)
	m.register(fs)
	n := fs.Int("n", 1000, "subscribers")
	pubs := fs.Int("publishers", 10, "publishers (connections of their own)")
	rate := fs.Float64("rate", 30, "messages per second, all publishers together")
	qos := fs.Int("qos", 0, "QoS of the subscriptions and publishes: 0 or 1 (1: subscribers acknowledge every message)")
	persistent := fs.Bool("persistent", false, "subscribers use persistent sessions (clean session off)")
	warmup := fs.Duration("warmup", 2*time.Second, "publishing before the measured window")
	dur := fs.Duration("duration", 5*time.Second, "measured window")
	drain := fs.Duration("drain", 3*time.Second, "longest wait for late messages after publishing stops")
	size := fs.Int("size", 32, "bytes of message text")
	conc := fs.Int("concurrency", 32, "connect+subscribe handshakes in flight")
	room := fs.String("room", "fanout", "room of the topic banter/rooms/<room>")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if err := c.check(); err != nil {
		return err
	}
	if err := m.check(); err != nil {
		return err
	}
	switch {
	case *n < 1 || *pubs < 1 || *n+*pubs > 19_000:
		return fmt.Errorf("%w: --n %d --publishers %d: want at least one each, 19,000 in all", ErrUsage, *n, *pubs)
	case *rate <= 0 || *rate > 1e6:
		return fmt.Errorf("%w: --rate %v", ErrUsage, *rate)
	case *qos != 0 && *qos != 1:
		return fmt.Errorf("%w: --qos %d: want 0 or 1", ErrUsage, *qos)
	case *dur <= 0 || *warmup < 0 || *drain < 0 || *size < 24 || *size > 60_000 || *conc < 1:
		return fmt.Errorf("%w: bad --duration, --warmup, --drain, --concurrency or --size (24..60000)", ErrUsage)
	}
	topic := "banter/rooms/" + *room
	prog := &progress{w: stderr}

	// Subscribers, then publishers (after them in the client numbering).
	subs := make([]*mqttConn, *n)
	var next, subscribed atomic.Int64
	var firstErr atomic.Pointer[error]
	var wg sync.WaitGroup
	stopProgress := reportEverySecond(prog, "mqtt-fanout: subscribers", &subscribed)
	for range min(*conc, *n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= *n || ctx.Err() != nil {
					return
				}
				mc, err := mqttDial(ctx, &c, &m, i, !*persistent, 60)
				if err == nil {
					if err = mc.subscribe(topic, byte(*qos), c.timeout); err != nil {
						mc.nc.Close()
					}
				}
				if err != nil {
					firstErr.CompareAndSwap(nil, &err)
					return
				}
				subs[i] = mc
				subscribed.Add(1)
			}
		}()
	}
	wg.Wait()
	stopProgress()
	defer func() {
		for _, mc := range subs {
			if mc != nil {
				mc.nc.Close()
			}
		}
	}()
	if p := firstErr.Load(); p != nil {
		return fmt.Errorf("bench mqtt-fanout: subscriber: %w", *p)
	}
	pcs := make([]*mqttConn, *pubs)
	for s := range pcs {
		mc, err := mqttDial(ctx, &c, &m, *n+s, true, 60)
		if err != nil {
			return fmt.Errorf("bench mqtt-fanout: publisher: %w", err)
		}
		pcs[s] = mc
		defer mc.nc.Close()
	}

	perPub := int(*rate/float64(*pubs)*(*warmup+*dur).Seconds()) + 2
	start := time.Now().Add(200 * time.Millisecond)
	winStart := start.Add(*warmup)
	winEnd := winStart.Add(*dur)
	recvs := make([]*mqttReceiver, *n)
	var rw sync.WaitGroup
	for i, mc := range subs {
		rv := &mqttReceiver{mc: mc, seen: make([]uint64, (perPub**pubs+63)/64), perPub: perPub,
			winStart: winStart.UnixMicro(), winEnd: winEnd.UnixMicro()}
		recvs[i] = rv
		rw.Add(1)
		go func() { defer rw.Done(); rv.loop() }()
	}
	defer func() {
		for _, mc := range subs {
			mc.nc.Close()
		}
		rw.Wait()
	}()

	var sent, acked atomic.Int64
	var sendErr atomic.Pointer[error]
	var pw, senders sync.WaitGroup
	interval := time.Duration(float64(*pubs) / *rate * float64(time.Second))
	for s, mc := range pcs {
		pw.Add(1)
		senders.Add(1)
		go func() { // PUBACKs (QoS 1) and anything else the broker sends
			defer pw.Done()
			var buf []byte
			for {
				hdr, b, err := mc.read(buf)
				if err != nil {
					return
				}
				buf = b
				if hdr>>4 == 4 {
					acked.Add(1)
				}
			}
		}()
		go func() {
			defer senders.Done()
			var buf []byte
			first := start.Add(time.Duration(float64(s) / *rate * float64(time.Second)))
			for k := 0; k < perPub; k++ {
				at := first.Add(time.Duration(k) * interval)
				if !at.Before(winEnd) || !sleepUntil(ctx, at) {
					break
				}
				id := uint16(0)
				if *qos == 1 {
					mc.id++
					if mc.id == 0 {
						mc.id = 1
					}
					id = mc.id
				}
				buf = appendPublish(buf[:0], mc.v, topic, byte(*qos), id, appendMarkSized(nil, s, k, time.Now().UnixMicro(), *size))
				if _, err := mc.nc.Write(buf); err != nil {
					sendErr.CompareAndSwap(nil, &err)
					break
				}
				sent.Add(1)
			}
		}()
	}

	if !sleepUntil(ctx, winStart) {
		return ctx.Err()
	}
	d0 := sumMQTTReceived(recvs)
	w0 := procWrites(c.serverPID)
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
		prog.printf("mqtt-fanout: %d sent, %d delivered", sent.Load(), sumMQTTReceived(recvs))
	}
	d1 := sumMQTTReceived(recvs)
	w1 := procWrites(c.serverPID)
	srvCPU, gcpu, wall, err := stopMeters(srv, gen)
	if err != nil {
		return err
	}
	senders.Wait()
	want := sent.Load() * int64(*n)
	deadline := time.Now().Add(*drain)
	for sumMQTTUnique(recvs) < want && time.Now().Before(deadline) && ctx.Err() == nil {
		sleepUntil(ctx, time.Now().Add(20*time.Millisecond))
	}
	prog.done()
	for _, mc := range subs {
		mc.nc.Close()
	}
	rw.Wait()
	for _, mc := range pcs {
		mc.nc.Close()
	}
	pw.Wait()

	var h hist
	var uniq, dups, bad int64
	for _, rv := range recvs {
		h.merge(&rv.h)
		uniq += rv.unique
		dups += rv.dups
		bad += rv.bad
	}
	r := &Result{Scenario: "mqtt-fanout",
		Params: map[string]float64{"subscribers": float64(*n), "publishers": float64(*pubs), "rate": *rate, "qos": float64(*qos),
			"offered_deliveries_s": *rate * float64(*n), "duration_s": dur.Seconds(), "size": float64(*size),
			"mqtt_version": float64(m.version), "persistent": b2f(*persistent)},
		Metrics: map[string]float64{
			"deliveries_s": float64(d1-d0) / wall.Seconds(),
			"sent":         float64(sent.Load()),
			"lost":         float64(want - uniq),
			"duplicated":   float64(dups),
			"malformed":    float64(bad),
		}}
	if *qos == 1 {
		r.Metrics["publish_acked"] = float64(acked.Load())
	}
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
		r.Notes = append(r.Notes, "publish error: "+(*p).Error())
	}
	if want > uniq {
		r.Notes = append(r.Notes, fmt.Sprintf("%d deliveries missing %v after publishing stopped", want-uniq, *drain))
	}
	return c.emit(r, stdout)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// mqttReceiver reads one subscriber's messages (acknowledging QoS 1 ones,
// the acknowledgements of one read in one write).
type mqttReceiver struct {
	mc       *mqttConn
	perPub   int
	seen     []uint64 // bit s*perPub+n: message n of publisher s arrived
	received atomic.Int64
	uniqueA  atomic.Int64
	winStart int64 // µs; messages sent in [winStart, winEnd) go to h
	winEnd   int64
	h        hist
	unique   int64
	dups     int64
	bad      int64
}

func (r *mqttReceiver) loop() {
	var buf, acks []byte
	for {
		hdr, body, err := r.mc.read(buf)
		if err != nil {
			return
		}
		buf = body
		now := time.Now()
		if hdr>>4 != 3 {
			continue
		}
		payload, qos, id, ok := publishPayload(hdr, body, r.mc.v)
		if ok && qos == 1 {
			acks = append(acks, 4<<4, 2, byte(id>>8), byte(id))
		}
		s, n, t, ok2 := parseMark(payload)
		switch {
		case !ok || !ok2 || n >= r.perPub || s*r.perPub+n >= len(r.seen)*64:
			r.bad++
		default:
			r.received.Add(1)
			bit := s*r.perPub + n
			if r.seen[bit/64]&(1<<(bit%64)) != 0 {
				r.dups++
			} else {
				r.seen[bit/64] |= 1 << (bit % 64)
				r.unique++
				r.uniqueA.Add(1)
				if t >= r.winStart && t < r.winEnd {
					r.h.add(now.Sub(time.UnixMicro(t)))
				}
			}
		}
		if len(acks) > 0 && r.mc.r.Buffered() == 0 {
			if _, err := r.mc.nc.Write(acks); err != nil {
				return
			}
			acks = acks[:0]
		}
	}
}

func sumMQTTReceived(rs []*mqttReceiver) int64 {
	var n int64
	for _, r := range rs {
		n += r.received.Load()
	}
	return n
}

func sumMQTTUnique(rs []*mqttReceiver) int64 {
	var n int64
	for _, r := range rs {
		n += r.uniqueA.Load()
	}
	return n
}
