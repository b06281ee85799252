package bench

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// runXMPPFanout: R receivers and S senders in one MUC room; the senders
// send M messages per second in all, interleaved evenly (one every 1/M s,
// taking turns), for a duration. Deliveries per second, latency (each body
// carries its send time) and the server's CPU per delivery.
func runXMPPFanout(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench xmpp-fanout", flag.ContinueOnError)
	var x xmppFlags
	x.register(fs)
	receivers := fs.Int("receivers", 1000, "room members that only receive")
	senders := fs.Int("senders", 10, "room members that send (they receive too)")
	rate := fs.Float64("rate", 100, "messages per second, all senders together")
	dur := fs.Duration("duration", 10*time.Second, "how long to send")
	room := fs.String("room", "fanout", "the room (on rooms.<domain>)")
	conc := fs.Int("concurrency", 32, "logins in flight while setting up")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if err := x.check(); err != nil {
		return err
	}
	if *receivers < 1 || *senders < 1 || *receivers+*senders > 19_000 || *rate <= 0 || *dur <= 0 || *dur > 10*time.Minute {
		return fmt.Errorf("%w: --receivers/--senders 1..19000 in all, --rate > 0, --duration up to 10m", ErrUsage)
	}
	muc := "rooms." + x.domain
	n := *receivers + *senders
	prog := &progress{w: stderr}
	conns, _, failures, firstErr, _ := loginMany(ctx, &x, n, 0, *conc, func(i int) string { return "f" + strconv.Itoa(i) }, prog)
	prog.done()
	defer func() {
		for _, c := range conns {
			c.nc.Close()
		}
	}()
	if failures > 0 {
		return fmt.Errorf("bench xmpp-fanout: %d logins failed: %w", failures, firstErr)
	}
	// Join one by one (a join storm is another benchmark); each joiner's
	// presence reaches those already in: drained by the readers below.
	var (
		delivered atomic.Int64
		measuring atomic.Bool
		mu        sync.Mutex
		h         hist
		wg        sync.WaitGroup
	)
	for i, c := range conns {
		nick := "f" + strconv.Itoa(i)
		if err := c.joinRoom(*room, muc, nick); err != nil {
			return fmt.Errorf("bench xmpp-fanout: join %d: %w", i, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lh hist
			defer func() { mu.Lock(); h.merge(&lh); mu.Unlock() }()
			for {
				el, err := c.next()
				if err != nil {
					return
				}
				if !bytes.HasPrefix(el, []byte("<message")) || !measuring.Load() {
					continue
				}
				i := bytes.Index(el, []byte("<body>t="))
				if i < 0 {
					continue
				}
				j := bytes.IndexByte(el[i+8:], '<')
				if j < 0 {
					continue
				}
				ns, err := strconv.ParseInt(string(el[i+8:i+8+j]), 10, 64)
				if err != nil {
					continue
				}
				delivered.Add(1)
				lh.add(time.Duration(time.Now().UnixNano() - ns))
			}
		}()
		prog.printf("joined %d/%d", i+1, n)
	}
	prog.done()
	// Every join was announced to the members before it: wait until the
	// server has delivered those presences (its CPU goes quiet), so that
	// the measured window holds messages only.
	// A server that sends every join to every member (prosody: n² presences)
	// takes minutes with 1,000 members: measured from the start, its
	// backlog would count as the messages' cost.
	q0 := time.Now()
	quiet := waitQuiet(ctx, x.serverPID, 3*time.Minute)
	quietWait := time.Since(q0)
	var sCPU0 time.Duration
	if x.serverPID > 0 {
		sCPU0, _ = procCPU(x.serverPID)
	}
	cpu0, _ := procCPU(0)
	measuring.Store(true)
	start := time.Now()
	total := int(*rate * dur.Seconds())
	var sent atomic.Int64
	var sendErr atomic.Value
	var sw sync.WaitGroup
	for s := range *senders {
		c := conns[*receivers+s]
		sw.Add(1)
		go func() {
			defer sw.Done()
			for k := s; k < total; k += *senders {
				at := start.Add(time.Duration(float64(k) / *rate * float64(time.Second)))
				if d := time.Until(at); d > 0 {
					select {
					case <-time.After(d):
					case <-ctx.Done():
						return
					}
				}
				body := "t=" + strconv.FormatInt(time.Now().UnixNano(), 10)
				if err := c.send("<message to='" + *room + "@" + muc + "' type='groupchat'><body>" + body + "</body></message>"); err != nil {
					sendErr.Store(err)
					return
				}
				sent.Add(1)
			}
		}()
	}
	sw.Wait()
	// Wait for the stragglers (bounded).
	want := sent.Load() * int64(n)
	deadline := time.Now().Add(5 * time.Second)
	for delivered.Load() < want && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	elapsed := time.Since(start)
	cpu1, _ := procCPU(0)
	var sCPU1 time.Duration
	if x.serverPID > 0 {
		var err error
		if sCPU1, err = procCPU(x.serverPID); err != nil {
			return err
		}
	}
	// The readers hand their latency histograms over when they end.
	for _, c := range conns {
		c.nc.Close()
	}
	wg.Wait()
	conns = nil
	r := &Result{Scenario: "xmpp-fanout",
		Params: map[string]float64{"receivers": float64(*receivers), "senders": float64(*senders), "rate": *rate,
			"duration_s": dur.Seconds(), "tls": b2f(x.tls)},
		Metrics: map[string]float64{
			"sent":             float64(sent.Load()),
			"delivered":        float64(delivered.Load()),
			"expected":         float64(want),
			"lost":             float64(want - delivered.Load()),
			"deliveries_per_s": float64(delivered.Load()) / elapsed.Seconds(),
		}}
	mu.Lock()
	h.latencyMetrics(r.Metrics, "")
	mu.Unlock()
	if x.serverPID > 0 {
		cpu := sCPU1 - sCPU0
		r.Metrics["server_cpu"] = cpu.Seconds() / elapsed.Seconds()
		if d := delivered.Load(); d > 0 {
			r.Metrics["server_cpu_us_per_delivery"] = float64(cpu.Microseconds()) / float64(d)
			r.Metrics["deliveries_per_cpu_s"] = float64(d) / math.Max(cpu.Seconds(), 1e-6)
		}
	}
	r.Metrics["quiet_wait_s"] = quietWait.Seconds()
	if !quiet {
		r.Notes = append(r.Notes, "the server was still busy with the joins when sending started")
	}
	r.GeneratorCPU = (cpu1 - cpu0).Seconds() / elapsed.Seconds()
	if err, _ := sendErr.Load().(error); err != nil {
		r.Notes = append(r.Notes, "a sender failed: "+err.Error())
	}
	return x.emit(r, stdout)
}

// waitQuiet waits until the server process uses less than 5% of a core
// over two 200 ms periods in a row, or max passes (no server pid: 1 s);
// it reports whether the server went quiet.
func waitQuiet(ctx context.Context, pid int, max time.Duration) bool {
	if pid <= 0 {
		time.Sleep(time.Second)
		return true
	}
	deadline := time.Now().Add(max)
	quiet := 0
	last, _ := procCPU(pid)
	for quiet < 2 && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(200 * time.Millisecond)
		now, err := procCPU(pid)
		if err != nil {
			return false
		}
		if now-last < 10*time.Millisecond {
			quiet++
		} else {
			quiet = 0
		}
		last = now
	}
	return quiet >= 2
}
