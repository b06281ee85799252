package bench

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// XMPP scenarios, run against Banter (--xmpp) and prosody side by side by
// scripts/bench.sh with the same certificate:
//
//	xmpp-idle    N idle authenticated connections (SASL ANONYMOUS, bound,
//	             presence sent): server RSS per connection, logins/s
//	xmpp-logins  full logins (and stream closes) by C clients in a loop for
//	             a duration: logins/s and server CPU per login; with --tls a
//	             full TLS handshake each, or with --resume a resumed TLS
//	             session (each client keeps the server's session tickets)
//	xmpp-fanout  xmpp_fanout.go
//
// Banter must run in anonymous mode (the default) and prosody with an
// anonymous virtual host.

// xmppFlags are the flags of every XMPP scenario.
type xmppFlags struct {
	common
	domain string
	tls    bool
}

func (x *xmppFlags) register(fs *flag.FlagSet) {
	x.common.register(fs)
	fs.StringVar(&x.domain, "domain", "localhost", "the XMPP domain")
	fs.BoolVar(&x.tls, "tls", false, "STARTTLS (the server's certificate is not checked)")
}

func (x *xmppFlags) opts() xmppOpts { return xmppOpts{domain: x.domain, tls: x.tls} }

// loginMany logs n clients in at up to rate per second (0: unpaced) with
// conc logins in flight; onConn (may be nil) takes each connection.
func loginMany(ctx context.Context, x *xmppFlags, n int, rate float64, conc int, nick func(int) string, prog *progress) ([]*xconn, *hist, int, error, time.Duration) {
	var (
		mu       sync.Mutex
		conns    = make([]*xconn, 0, n)
		h        hist
		failures int
		firstErr error
		next     atomic.Int64
		wg       sync.WaitGroup
	)
	start := time.Now()
	for range max(1, min(conc, n)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if rate > 0 {
					if d := time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second)))); d > 0 {
						select {
						case <-time.After(d):
						case <-ctx.Done():
							return
						}
					}
				}
				lctx, cancel := context.WithTimeout(ctx, x.timeout)
				t0 := time.Now()
				c, err := xmppLogin(lctx, x.addr, x.source(i), x.opts(), nick(i))
				cancel()
				mu.Lock()
				if err != nil {
					failures++
					if firstErr == nil {
						firstErr = err
					}
				} else {
					h.add(time.Since(t0))
					conns = append(conns, c)
				}
				done := len(conns) + failures
				mu.Unlock()
				if prog != nil {
					prog.printf("logged in %d/%d", done, n)
				}
			}
		}()
	}
	wg.Wait()
	return conns, &h, failures, firstErr, time.Since(start)
}

// runXMPPIdle holds n idle authenticated connections and measures the
// server's RSS per connection.
func runXMPPIdle(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench xmpp-idle", flag.ContinueOnError)
	var x xmppFlags
	x.register(fs)
	n := fs.Int("n", 2000, "connections")
	rate := fs.Float64("rate", 0, "logins per second (0: unpaced)")
	conc := fs.Int("concurrency", 32, "logins in flight")
	settle := fs.Duration("settle", 5*time.Second, "wait after the last login before reading the server's RSS")
	warmup := fs.Int("warmup", 100, "connections logged in (and kept) before the server's RSS is read the first time: what starts with the first connections (event loop, pools, caches) is not counted per connection")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if err := x.check(); err != nil {
		return err
	}
	if *n <= 0 || *n > 19_000 {
		return fmt.Errorf("%w: --n %d: want 1..19000 (one process's descriptors)", ErrUsage, *n)
	}
	prog := &progress{w: stderr}
	warm, _, wfail, werr, _ := loginMany(ctx, &x, *warmup, *rate, *conc, func(int) string { return "" }, nil)
	defer func() {
		for _, c := range warm {
			c.nc.Close()
		}
	}()
	if wfail > 0 {
		return fmt.Errorf("bench xmpp-idle: warm-up: %d failed: %w", wfail, werr)
	}
	rss0 := int64(0)
	if x.serverPID > 0 {
		select {
		case <-time.After(time.Second):
		case <-ctx.Done():
			return ctx.Err()
		}
		var err error
		if rss0, err = procRSS(x.serverPID); err != nil {
			return err
		}
	}
	cpu0, _ := procCPU(0)
	conns, h, failures, firstErr, elapsed := loginMany(ctx, &x, *n, *rate, *conc, func(int) string { return "" }, prog)
	prog.done()
	cpu1, _ := procCPU(0)
	defer func() {
		for _, c := range conns {
			c.nc.Close()
		}
	}()
	select {
	case <-time.After(*settle):
	case <-ctx.Done():
		return ctx.Err()
	}
	r := &Result{Scenario: "xmpp-idle",
		Params: map[string]float64{"connections": float64(*n), "warmup": float64(*warmup), "rate": *rate, "concurrency": float64(*conc), "tls": b2f(x.tls)},
		Metrics: map[string]float64{
			"connected":     float64(len(conns)),
			"failures":      float64(failures),
			"logins_per_s":  float64(len(conns)) / math.Max(elapsed.Seconds(), 1e-3),
			"login_seconds": elapsed.Seconds(),
		}}
	h.latencyMetrics(r.Metrics, "login_")
	if len(conns) > 0 {
		r.Params["ecdsa"] = b2f(conns[0].keyAlg == x509.ECDSA)
	}
	if x.serverPID > 0 {
		rss1, err := procRSS(x.serverPID)
		if err != nil {
			return err
		}
		r.Metrics["rss_before_mb"] = float64(rss0) / (1 << 20)
		r.Metrics["rss_after_mb"] = float64(rss1) / (1 << 20)
		if len(conns) > 0 {
			r.Metrics["bytes_per_conn"] = float64(rss1-rss0) / float64(len(conns))
		}
	}
	r.GeneratorCPU = (cpu1 - cpu0).Seconds() / math.Max(elapsed.Seconds(), 1e-3)
	if firstErr != nil {
		r.Notes = append(r.Notes, "first failure: "+firstErr.Error())
	}
	return x.emit(r, stdout)
}

// runXMPPLogins logs clients in and out in a loop: logins per second and
// the server's CPU per login (TLS handshake included with --tls).
func runXMPPLogins(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench xmpp-logins", flag.ContinueOnError)
	var x xmppFlags
	x.register(fs)
	conc := fs.Int("concurrency", 16, "clients logging in at once")
	dur := fs.Duration("duration", 10*time.Second, "how long to log in and out")
	resume := fs.Bool("resume", false, "with --tls: each client keeps the server's TLS session tickets and resumes its session at the next login (a full handshake the first time)")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if err := x.check(); err != nil {
		return err
	}
	if *resume && !x.tls {
		return fmt.Errorf("%w: --resume needs --tls", ErrUsage)
	}
	if *conc <= 0 || *conc > 1000 || *dur <= 0 || *dur > 10*time.Minute {
		return fmt.Errorf("%w: --concurrency 1..1000, --duration up to 10m", ErrUsage)
	}
	var sCPU0 time.Duration
	if x.serverPID > 0 {
		sCPU0, _ = procCPU(x.serverPID)
	}
	cpu0, _ := procCPU(0)
	var (
		logins, failures atomic.Int64
		resumed          atomic.Int64
		ecdsa            atomic.Bool
		mu               sync.Mutex
		h                hist
		firstErr         error
		wg               sync.WaitGroup
		seq              atomic.Int64
	)
	start := time.Now()
	end := start.Add(*dur)
	for w := range *conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lh hist
			defer func() { mu.Lock(); h.merge(&lh); mu.Unlock() }()
			o := x.opts()
			if *resume {
				o.sessions = tls.NewLRUClientSessionCache(1) // this client's own
			}
			for time.Now().Before(end) && ctx.Err() == nil {
				lctx, cancel := context.WithTimeout(ctx, x.timeout)
				t0 := time.Now()
				c, err := xmppLogin(lctx, x.addr, x.source(w+int(seq.Add(1))), o, "")
				cancel()
				if err != nil {
					failures.Add(1)
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					continue
				}
				lh.add(time.Since(t0))
				logins.Add(1)
				if c.resumed {
					resumed.Add(1)
				}
				if c.keyAlg == x509.ECDSA {
					ecdsa.Store(true)
				}
				c.close()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu1, _ := procCPU(0)
	r := &Result{Scenario: "xmpp-logins",
		Params: map[string]float64{"concurrency": float64(*conc), "duration_s": dur.Seconds(), "tls": b2f(x.tls),
			"resume": b2f(*resume), "ecdsa": b2f(ecdsa.Load())},
		Metrics: map[string]float64{
			"logins":       float64(logins.Load()),
			"failures":     float64(failures.Load()),
			"logins_per_s": float64(logins.Load()) / elapsed.Seconds(),
		}}
	if x.tls {
		// Counted apart: a resumed session skips the certificate's
		// signature, the bulk of a full handshake's cost.
		r.Metrics["tls_resumed"] = float64(resumed.Load())
		r.Metrics["tls_full"] = float64(logins.Load() - resumed.Load())
	}
	h.latencyMetrics(r.Metrics, "login_")
	if x.serverPID > 0 {
		sCPU1, err := procCPU(x.serverPID)
		if err != nil {
			return err
		}
		r.Metrics["server_cpu"] = (sCPU1 - sCPU0).Seconds() / elapsed.Seconds()
		if n := logins.Load(); n > 0 {
			r.Metrics["server_cpu_us_per_login"] = float64((sCPU1 - sCPU0).Microseconds()) / float64(n)
		}
	}
	r.GeneratorCPU = (cpu1 - cpu0).Seconds() / elapsed.Seconds()
	if firstErr != nil {
		r.Notes = append(r.Notes, "first failure: "+firstErr.Error())
	}
	return x.emit(r, stdout)
}

// runXMPP dispatches the XMPP scenarios (one line in main.go).
func runXMPP(ctx context.Context, sub string, args []string, stdout, stderr io.Writer) error {
	switch sub {
	case "xmpp-idle":
		return runXMPPIdle(ctx, args, stdout, stderr)
	case "xmpp-logins":
		return runXMPPLogins(ctx, args, stdout, stderr)
	}
	return runXMPPFanout(ctx, args, stdout, stderr)
}
