package bench

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// runMQTTChurn: clients connect, subscribe to a room of their own and
// disconnect (DISCONNECT, then close) at a steady rate: connections per
// second served, server CPU per connection, and the server's RSS before
// and after (a leak shows as growth).
func runMQTTChurn(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench mqtt-churn", flag.ContinueOnError)
	var c common
	var m mqttFlags
	c.register(fs)
	m.register(fs)
	c.sources = 8
	fs.Lookup("sources").DefValue = "8"
	rate := fs.Float64("rate", 2000, "connect+subscribe+disconnect cycles offered per second")
	conc := fs.Int("concurrency", 128, "cycles in flight")
	dur := fs.Duration("duration", 5*time.Second, "how long to churn")
	warmup := fs.Int("warmup", 200, "cycles before the baseline RSS is read")
	settle := fs.Duration("settle", 10*time.Second, "longest wait after churning for the RSS to come back within 10% of the baseline")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if err := c.check(); err != nil {
		return err
	}
	if err := m.check(); err != nil {
		return err
	}
	if *rate <= 0 || *rate > 200_000 || *conc < 1 || *conc > 5000 || *dur <= 0 || *warmup < 0 || *settle < 0 {
		return fmt.Errorf("%w: want --rate 1..200000, --concurrency 1..5000, positive --duration, --warmup ≥ 0", ErrUsage)
	}
	prog := &progress{w: stderr}
	cycle := func(i int) error {
		mc, err := mqttDial(ctx, &c, &m, i, true, 60)
		if err != nil {
			return err
		}
		defer mc.nc.Close()
		if err := mc.subscribe("banter/rooms/churn-"+strconv.Itoa(i%1000), 0, c.timeout); err != nil {
			return err
		}
		disconnect := []byte{0xe0, 0}
		if mc.v == 5 {
			disconnect = []byte{0xe0, 1, 0}
		}
		_, err = mc.nc.Write(disconnect)
		return err
	}
	var seq atomic.Int64
	phase := func(rate float64, conc int, d time.Duration) (ok, fail int64, h *hist, firstErr error) {
		h = &hist{}
		var okN, failN atomic.Int64
		var mu sync.Mutex
		var wg sync.WaitGroup
		var next atomic.Int64
		start := time.Now()
		end := start.Add(d)
		stopProgress := reportEverySecond(prog, "mqtt-churn: cycles", &okN)
		defer stopProgress()
		for range conc {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var lh hist
				defer func() { mu.Lock(); h.merge(&lh); mu.Unlock() }()
				for {
					k := next.Add(1) - 1
					at := start.Add(time.Duration(float64(k) / rate * float64(time.Second)))
					if !at.Before(end) || !time.Now().Before(end) || !sleepUntil(ctx, at) {
						return
					}
					t0 := time.Now()
					if err := cycle(int(seq.Add(1))); err != nil {
						failN.Add(1)
						mu.Lock()
						if firstErr == nil {
							firstErr = err
						}
						mu.Unlock()
						continue
					}
					lh.add(time.Since(t0))
					okN.Add(1)
				}
			}()
		}
		wg.Wait()
		return okN.Load(), failN.Load(), h, firstErr
	}
	if *warmup > 0 {
		if ok, _, _, err := phase(1000, 8, time.Duration(*warmup)*time.Millisecond); ok == 0 {
			return fmt.Errorf("bench mqtt-churn: warm-up: no cycle succeeded: %v", err)
		}
		sleepUntil(ctx, time.Now().Add(time.Second))
	}
	var rss0 int64
	var err error
	if c.serverPID > 0 {
		if rss0, err = procRSS(c.serverPID); err != nil {
			return err
		}
	}
	srv, gen, err := startMeters(c.serverPID)
	if err != nil {
		return err
	}
	ok, fail, h, firstErr := phase(*rate, *conc, *dur)
	srvCPU, gcpu, wall, err := stopMeters(srv, gen)
	if err != nil {
		return err
	}
	prog.done()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	r := &Result{Scenario: "mqtt-churn",
		Params: map[string]float64{"rate": *rate, "concurrency": float64(*conc), "duration_s": dur.Seconds(), "mqtt_version": float64(m.version)},
		Metrics: map[string]float64{
			"connects_s": float64(ok) / wall.Seconds(),
			"connects":   float64(ok),
			"failures":   float64(fail),
		}}
	h.latencyMetrics(r.Metrics, "connect_")
	r.GeneratorCPU = gcpu.Seconds() / wall.Seconds()
	if srvCPU >= 0 && ok > 0 {
		r.Metrics["server_cpu"] = srvCPU.Seconds() / wall.Seconds()
		r.Metrics["cpu_us_per_connect"] = float64(srvCPU.Microseconds()) / float64(ok)
	}
	if c.serverPID > 0 {
		deadline := time.Now().Add(*settle)
		rss, err := procRSS(c.serverPID)
		for err == nil && float64(rss) > 1.1*float64(rss0) && time.Now().Before(deadline) && sleepUntil(ctx, time.Now().Add(250*time.Millisecond)) {
			rss, err = procRSS(c.serverPID)
		}
		if err != nil {
			return err
		}
		r.Metrics["rss_before_mb"] = float64(rss0) / (1 << 20)
		r.Metrics["rss_after_mb"] = float64(rss) / (1 << 20)
		r.Metrics["rss_after_ratio"] = float64(rss) / float64(rss0)
		if float64(rss) > 1.1*float64(rss0) {
			r.Notes = append(r.Notes, fmt.Sprintf("server RSS still %.0f%% above its level before churn after %v", 100*(float64(rss)/float64(rss0)-1), *settle))
		}
	}
	if firstErr != nil {
		r.Notes = append(r.Notes, "first failure: "+firstErr.Error())
	}
	return c.emit(r, stdout)
}
