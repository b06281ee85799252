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

// runEcho: C clients each emit "echo" with an ack request and wait for the
// ack before the next one (closed loop).
func runEcho(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench echo", flag.ContinueOnError)
	var c common
	c.register(fs)
	clients := fs.Int("clients", 10, "clients in closed loop")
	warmup := fs.Duration("warmup", time.Second, "run before the measured window")
	dur := fs.Duration("duration", 5*time.Second, "measured window")
	size := fs.Int("size", 32, "bytes of text in each payload")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if err := c.check(); err != nil {
		return err
	}
	if *clients < 1 || *clients > 10_000 || *dur <= 0 || *warmup < 0 || *size < 0 || *size > 100_000 {
		return fmt.Errorf("%w: want 1..10000 --clients, positive --duration, --size 0..100000", ErrUsage)
	}
	prog := &progress{w: stderr}
	cr := connectMany(ctx, &c, *clients, 0, 64, nil, nil)
	defer closeAll(cr.conns)
	if len(cr.conns) < *clients {
		return fmt.Errorf("bench echo: %d of %d connections failed: %v", cr.failures, *clients, cr.firstErr)
	}
	start := time.Now()
	winStart, winEnd := start.Add(*warmup), start.Add(*warmup+*dur)
	payload := strings.Repeat("x", *size)
	var (
		acks     atomic.Int64
		mu       sync.Mutex
		h        hist
		firstErr error
		wg       sync.WaitGroup
	)
	for _, cn := range cr.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lh hist
			err := echoLoop(ctx, cn, payload, winStart, winEnd, &lh, &acks)
			mu.Lock()
			h.merge(&lh)
			if err != nil && firstErr == nil {
				firstErr = err
			}
			mu.Unlock()
		}()
	}
	if !sleepUntil(ctx, winStart) {
		closeAll(cr.conns)
		wg.Wait()
		return ctx.Err()
	}
	a0 := acks.Load()
	srv, gen, err := startMeters(c.serverPID)
	if err != nil {
		return err
	}
	for time.Now().Before(winEnd) {
		next := min(time.Second, time.Until(winEnd))
		if !sleepUntil(ctx, time.Now().Add(next)) {
			break
		}
		prog.printf("echo: %d acks", acks.Load())
	}
	a1 := acks.Load()
	srvCPU, gcpu, wall, err := stopMeters(srv, gen)
	prog.done()
	wg.Wait()
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	r := &Result{Scenario: "echo",
		Params:  map[string]float64{"clients": float64(*clients), "duration_s": dur.Seconds(), "size": float64(*size)},
		Metrics: map[string]float64{"acks_s": float64(a1-a0) / wall.Seconds()}}
	h.latencyMetrics(r.Metrics, "rtt_")
	if srvCPU >= 0 {
		r.Metrics["server_cpu"] = srvCPU.Seconds() / wall.Seconds()
		if a1 > a0 {
			r.Metrics["cpu_us_per_ack"] = float64(srvCPU.Microseconds()) / float64(a1-a0)
		}
	}
	r.GeneratorCPU = gcpu.Seconds() / wall.Seconds()
	if firstErr != nil {
		r.Notes = append(r.Notes, "client error: "+firstErr.Error())
	}
	return c.emit(r, stdout)
}

// echoLoop sends echo requests one at a time until end, recording the RTT of
// those sent in [winStart, end).
func echoLoop(ctx context.Context, c *conn, payload string, winStart, end time.Time, h *hist, acks *atomic.Int64) error {
	var buf []byte
	for id := uint64(1); ctx.Err() == nil; id++ {
		t0 := time.Now()
		if !t0.Before(end) {
			return nil
		}
		buf = append(buf[:0], "42"...)
		buf = strconv.AppendUint(buf, id, 10)
		buf = append(buf, `["echo",{"p":"`...)
		buf = append(buf, payload...)
		buf = append(buf, `"}]`...)
		if err := c.writeText(buf); err != nil {
			return err
		}
		want := strconv.AppendUint([]byte("43"), id, 10)
		want = append(want, '[')
		for {
			p, err := c.readText()
			if err != nil {
				return err
			}
			if bytes.HasPrefix(p, want) {
				break
			}
		}
		acks.Add(1)
		if !t0.Before(winStart) {
			h.add(time.Since(t0))
		}
	}
	return nil
}
