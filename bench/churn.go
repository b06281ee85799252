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

// runChurn opens and closes connections at an offered rate and checks that
// the server's memory comes back afterwards.
func runChurn(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench churn", flag.ContinueOnError)
	var c common
	c.register(fs)
	c.sources = 8
	rate := fs.Float64("rate", 2000, "connect+close cycles offered per second (high: find the ceiling)")
	conc := fs.Int("concurrency", 128, "handshakes in flight")
	dur := fs.Duration("duration", 5*time.Second, "how long to churn")
	settle := fs.Duration("settle", 10*time.Second, "longest wait for the server's RSS to return within 10% of its level before churn")
	fs.Lookup("sources").DefValue = "8"
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if err := c.check(); err != nil {
		return err
	}
	if *rate <= 0 || *rate > 200_000 || *conc < 1 || *conc > 5000 || *dur <= 0 || *settle < 0 {
		return fmt.Errorf("%w: want --rate 1..200000, --concurrency 1..5000, positive --duration", ErrUsage)
	}
	var rss0, rssPeak int64
	var err error
	if c.serverPID > 0 {
		if rss0, err = procRSS(c.serverPID); err != nil {
			return err
		}
		rssPeak = rss0
	}
	prog := &progress{w: stderr}
	srv, gen, err := startMeters(c.serverPID)
	if err != nil {
		return err
	}
	start := time.Now()
	end := start.Add(*dur)
	var (
		next     atomic.Int64
		ok, fail atomic.Int64
		mu       sync.Mutex
		h        hist
		firstErr error
		wg       sync.WaitGroup
	)
	for range *conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lh hist
			defer func() { mu.Lock(); h.merge(&lh); mu.Unlock() }()
			for {
				i := next.Add(1) - 1
				at := start.Add(time.Duration(float64(i) / *rate * float64(time.Second)))
				// Behind schedule, the backlog is not worked off after the
				// end: the achieved rate is what counts.
				if !at.Before(end) || !time.Now().Before(end) || !sleepUntil(ctx, at) {
					return
				}
				dctx, cancel := context.WithTimeout(ctx, c.timeout)
				t0 := time.Now()
				cn, err := dial(dctx, c.addr, c.source(int(i)))
				cancel()
				if err != nil {
					fail.Add(1)
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					continue
				}
				lh.add(time.Since(t0))
				_ = cn.close()
				ok.Add(1)
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	tk := time.NewTicker(250 * time.Millisecond)
wait:
	for {
		select {
		case <-done:
			break wait
		case <-tk.C:
			if c.serverPID > 0 {
				if v, err := procRSS(c.serverPID); err == nil {
					rssPeak = max(rssPeak, v)
				}
			}
			prog.printf("churn: %d handshakes, %d failed", ok.Load(), fail.Load())
		}
	}
	tk.Stop()
	srvCPU, gcpu, wall, err := stopMeters(srv, gen)
	prog.done()
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	r := &Result{Scenario: "churn",
		Params: map[string]float64{"rate": *rate, "concurrency": float64(*conc), "duration_s": dur.Seconds()},
		Metrics: map[string]float64{
			"handshakes_s": float64(ok.Load()) / wall.Seconds(),
			"handshakes":   float64(ok.Load()),
			"failures":     float64(fail.Load()),
		}}
	h.latencyMetrics(r.Metrics, "connect_")
	r.GeneratorCPU = gcpu.Seconds() / wall.Seconds()
	if srvCPU >= 0 {
		r.Metrics["server_cpu"] = srvCPU.Seconds() / wall.Seconds()
		if ok.Load() > 0 {
			r.Metrics["cpu_us_per_handshake"] = float64(srvCPU.Microseconds()) / float64(ok.Load())
		}
		// Memory must come back once the connections are gone; give the
		// server (its GC, its close timers) up to --settle to get there.
		deadline := time.Now().Add(*settle)
		rss1, err := procRSS(c.serverPID)
		for err == nil && float64(rss1) > 1.1*float64(rss0) && time.Now().Before(deadline) && sleepUntil(ctx, time.Now().Add(250*time.Millisecond)) {
			rss1, err = procRSS(c.serverPID)
		}
		if err != nil {
			return err
		}
		r.Metrics["rss_before_mb"] = float64(rss0) / (1 << 20)
		r.Metrics["rss_peak_mb"] = float64(rssPeak) / (1 << 20)
		r.Metrics["rss_after_mb"] = float64(rss1) / (1 << 20)
		r.Metrics["rss_after_ratio"] = float64(rss1) / float64(rss0)
		r.Metrics["rss_growth_mb"] = float64(rss1-rss0) / (1 << 20)
		if float64(rss1) > 1.1*float64(rss0) {
			r.Notes = append(r.Notes, fmt.Sprintf("server RSS still %.0f%% above its level before churn after %v", 100*(float64(rss1)/float64(rss0)-1), *settle))
		}
	}
	if firstErr != nil {
		r.Notes = append(r.Notes, "first failure: "+firstErr.Error())
	}
	return c.emit(r, stdout)
}
