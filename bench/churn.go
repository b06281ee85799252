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
// the server's memory comes back afterwards. The baseline is read after a
// warm-up (a few hundred connections opened and closed: code pages, pools
// and runtime structures a first connection touches are not memory that
// churn should give back), and the churn runs twice: the RSS after the
// second phase against the first shows whether anything accumulates.
func runChurn(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench churn", flag.ContinueOnError)
	var c common
	c.register(fs)
	c.sources = 8
	rate := fs.Float64("rate", 2000, "connect+close cycles offered per second (high: find the ceiling)")
	conc := fs.Int("concurrency", 128, "handshakes in flight")
	dur := fs.Duration("duration", 5*time.Second, "how long to churn, per phase (two phases)")
	settle := fs.Duration("settle", 10*time.Second, "longest wait, after each phase, for the server's RSS to return within 10% of its baseline")
	warmup := fs.Int("warmup", 200, "connections opened and closed before the baseline is read")
	fs.Lookup("sources").DefValue = "8"
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if err := c.check(); err != nil {
		return err
	}
	if *rate <= 0 || *rate > 200_000 || *conc < 1 || *conc > 5000 || *dur <= 0 || *settle < 0 || *warmup < 0 || *warmup > 100_000 {
		return fmt.Errorf("%w: want --rate 1..200000, --concurrency 1..5000, positive --duration, --warmup 0..100000", ErrUsage)
	}
	prog := &progress{w: stderr}
	var rssCold, rss0 int64
	var err error
	if c.serverPID > 0 {
		if rssCold, err = procRSS(c.serverPID); err != nil {
			return err
		}
	}
	if *warmup > 0 {
		w := churnPhase(ctx, &c, 1000, 8, time.Duration(*warmup)*time.Millisecond, 0, prog)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if w.ok.Load() == 0 {
			return fmt.Errorf("bench churn: warm-up: no connection succeeded: %v", w.firstErr)
		}
		sleepUntil(ctx, time.Now().Add(time.Second))
	}
	if c.serverPID > 0 {
		if rss0, err = procRSS(c.serverPID); err != nil {
			return err
		}
	}
	srv, gen, err := startMeters(c.serverPID)
	if err != nil {
		return err
	}
	p1 := churnPhase(ctx, &c, *rate, *conc, *dur, c.serverPID, prog)
	srvCPU, gcpu, wall, err := stopMeters(srv, gen)
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	// settled waits up to --settle for the RSS to come within 10% of the
	// baseline and returns it.
	settled := func() (int64, error) {
		deadline := time.Now().Add(*settle)
		rss, err := procRSS(c.serverPID)
		for err == nil && float64(rss) > 1.1*float64(rss0) && time.Now().Before(deadline) && sleepUntil(ctx, time.Now().Add(250*time.Millisecond)) {
			rss, err = procRSS(c.serverPID)
		}
		return rss, err
	}
	var rss1, rss2 int64
	var p2 *churnResult
	if c.serverPID > 0 {
		if rss1, err = settled(); err != nil {
			return err
		}
		p2 = churnPhase(ctx, &c, *rate, *conc, *dur, c.serverPID, prog)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if rss2, err = settled(); err != nil {
			return err
		}
	}
	prog.done()
	r := &Result{Scenario: "churn",
		Params: map[string]float64{"rate": *rate, "concurrency": float64(*conc), "duration_s": dur.Seconds()},
		Metrics: map[string]float64{
			"handshakes_s": float64(p1.ok.Load()) / wall.Seconds(),
			"handshakes":   float64(p1.ok.Load()),
			"failures":     float64(p1.fail.Load()),
		}}
	p1.h.latencyMetrics(r.Metrics, "connect_")
	r.GeneratorCPU = gcpu.Seconds() / wall.Seconds()
	if srvCPU >= 0 {
		r.Metrics["server_cpu"] = srvCPU.Seconds() / wall.Seconds()
		if p1.ok.Load() > 0 {
			r.Metrics["cpu_us_per_handshake"] = float64(srvCPU.Microseconds()) / float64(p1.ok.Load())
		}
		r.Metrics["failures"] += float64(p2.fail.Load())
		r.Metrics["rss_cold_mb"] = float64(rssCold) / (1 << 20)
		r.Metrics["rss_before_mb"] = float64(rss0) / (1 << 20)
		r.Metrics["rss_peak_mb"] = float64(max(p1.rssPeak, p2.rssPeak)) / (1 << 20)
		r.Metrics["rss_after_first_mb"] = float64(rss1) / (1 << 20)
		r.Metrics["rss_after_mb"] = float64(rss2) / (1 << 20)
		r.Metrics["rss_after_ratio"] = float64(rss2) / float64(rss0)
		r.Metrics["rss_growth_mb"] = float64(rss2-rss0) / (1 << 20)
		r.Metrics["rss_growth_second_mb"] = float64(rss2-rss1) / (1 << 20)
		if float64(rss2) > 1.1*float64(rss0) {
			r.Notes = append(r.Notes, fmt.Sprintf("server RSS still %.0f%% above its level before churn after %v", 100*(float64(rss2)/float64(rss0)-1), *settle))
		}
	}
	if p1.firstErr != nil {
		r.Notes = append(r.Notes, "first failure: "+p1.firstErr.Error())
	}
	return c.emit(r, stdout)
}

type churnResult struct {
	ok, fail atomic.Int64
	h        hist
	firstErr error
	rssPeak  int64
}

// churnPhase connects and closes at rate with conc handshakes in flight for
// dur, sampling the server's RSS (pid > 0) for its peak.
func churnPhase(ctx context.Context, c *common, rate float64, conc int, dur time.Duration, pid int, prog *progress) *churnResult {
	res := &churnResult{}
	start := time.Now()
	end := start.Add(dur)
	var (
		next atomic.Int64
		mu   sync.Mutex
		wg   sync.WaitGroup
	)
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lh hist
			defer func() { mu.Lock(); res.h.merge(&lh); mu.Unlock() }()
			for {
				i := next.Add(1) - 1
				at := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
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
					res.fail.Add(1)
					mu.Lock()
					if res.firstErr == nil {
						res.firstErr = err
					}
					mu.Unlock()
					continue
				}
				lh.add(time.Since(t0))
				_ = cn.close()
				res.ok.Add(1)
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	tk := time.NewTicker(250 * time.Millisecond)
	defer tk.Stop()
	for {
		select {
		case <-done:
			return res
		case <-tk.C:
			if pid > 0 {
				if v, err := procRSS(pid); err == nil {
					res.rssPeak = max(res.rssPeak, v)
				}
			}
			prog.printf("churn: %d handshakes, %d failed", res.ok.Load(), res.fail.Load())
		}
	}
}
