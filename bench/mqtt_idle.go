package bench

import (
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

// runMQTTIdle: N MQTT clients connect (clean session, keepalive 60 s) and
// subscribe at QoS 0, each to a room of its own or all to one room; the
// time to connect and subscribe them all is measured, then the clients are
// held idle and the server's RSS per client read.
func runMQTTIdle(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench mqtt-idle", flag.ContinueOnError)
	var c common
	var m mqttFlags
	c.register(fs)
	m.register(fs)
	n := fs.Int("n", 5000, "clients (one process: at most 19,000)")
	rooms := fs.String("rooms", "each", "each: a room per client; one: every client in one room")
	rate := fs.Float64("rate", 0, "clients started per second (0: as fast as --concurrency allows)")
	conc := fs.Int("concurrency", 64, "connect+subscribe handshakes in flight")
	hold := fs.Duration("hold", 15*time.Second, "how long the clients are held idle before the server's RSS is read")
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
	case *n < 1 || *n > 19_000:
		return fmt.Errorf("%w: --n %d: want 1..19000", ErrUsage, *n)
	case *rooms != "each" && *rooms != "one":
		return fmt.Errorf("%w: --rooms %q: want each or one", ErrUsage, *rooms)
	case *conc < 1 || *conc > 5000 || *rate < 0 || *hold < 0:
		return fmt.Errorf("%w: want --concurrency 1..5000, --rate ≥ 0, --hold ≥ 0", ErrUsage)
	}
	var rss0 int64
	if c.serverPID > 0 {
		var err error
		if rss0, err = procRSS(c.serverPID); err != nil {
			return err
		}
	}
	prog := &progress{w: stderr}
	srv, gen, err := startMeters(c.serverPID)
	if err != nil {
		return err
	}
	conns := make([]*mqttConn, *n)
	var (
		next, ok, failed atomic.Int64
		firstErr         atomic.Pointer[error]
		mu               sync.Mutex
		h                hist
		wg               sync.WaitGroup
	)
	start := time.Now()
	stopProgress := reportEverySecond(prog, "mqtt-idle: clients connected", &ok)
	for range *conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lh hist
			defer func() { mu.Lock(); h.merge(&lh); mu.Unlock() }()
			for {
				i := int(next.Add(1) - 1)
				if i >= *n || ctx.Err() != nil {
					return
				}
				if *rate > 0 && !sleepUntil(ctx, start.Add(time.Duration(float64(i) / *rate * float64(time.Second)))) {
					return
				}
				t0 := time.Now()
				mc, err := mqttDial(ctx, &c, &m, i, true, 60)
				if err == nil {
					topic := "banter/rooms/idle"
					if *rooms == "each" {
						topic = "banter/rooms/idle-" + strconv.Itoa(i)
					}
					if err = mc.subscribe(topic, 0, c.timeout); err != nil {
						mc.nc.Close()
					}
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, &err)
					continue
				}
				lh.add(time.Since(t0))
				mc.r = nil // idle from now on: nothing more arrives
				conns[i] = mc
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	stopProgress()
	srvCPU, gcpu, wall, err := stopMeters(srv, gen)
	if err != nil {
		return err
	}
	prog.done()
	defer func() {
		for _, mc := range conns {
			if mc != nil {
				mc.nc.Close()
			}
		}
	}()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if !sleepUntil(ctx, time.Now().Add(*hold)) {
		return ctx.Err()
	}
	roomsOne := 0.0
	if *rooms == "one" {
		roomsOne = 1
	}
	connected := ok.Load()
	r := &Result{Scenario: "mqtt-idle",
		Params: map[string]float64{"clients": float64(*n), "one_room": roomsOne, "hold_s": hold.Seconds(),
			"mqtt_version": float64(m.version)},
		Metrics: map[string]float64{
			"connected":       float64(connected),
			"failures":        float64(failed.Load()),
			"connect_seconds": elapsed.Seconds(),
			"connects_per_s":  float64(connected) / math.Max(elapsed.Seconds(), 1e-3),
		}}
	h.latencyMetrics(r.Metrics, "connect_")
	r.GeneratorCPU = gcpu.Seconds() / wall.Seconds()
	if c.serverPID > 0 {
		rss1, err := procRSS(c.serverPID)
		if err != nil {
			return err
		}
		r.Metrics["rss_before_mb"] = float64(rss0) / (1 << 20)
		r.Metrics["rss_after_mb"] = float64(rss1) / (1 << 20)
		if connected > 0 {
			r.Metrics["bytes_per_client"] = float64(rss1-rss0) / float64(connected)
		}
		if srvCPU >= 0 && connected > 0 {
			r.Metrics["cpu_us_per_connect"] = float64(srvCPU.Microseconds()) / float64(connected)
		}
	}
	if p := firstErr.Load(); p != nil {
		r.Notes = append(r.Notes, "first failure: "+(*p).Error())
	}
	return c.emit(r, stdout)
}
