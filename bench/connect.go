package bench

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// connectResult is what connectMany got.
type connectResult struct {
	conns    []*conn // successful connections, in no particular order
	hist     hist    // connect latency (TCP connect to Socket.IO CONNECT reply)
	failures int
	firstErr error
	elapsed  time.Duration
}

// connectMany opens n connections at up to rate per second (0: unpaced) with
// at most conc handshakes in flight. Connection i uses source address
// c.source(i). onConn, when not nil, is called with each new connection as
// soon as it is open (to start reading it: a server pings while the others
// are still connecting, and to set a session up); an error of it counts as
// a failed connection.
func connectMany(ctx context.Context, c *common, n int, rate float64, conc int, prog *progress, onConn func(*conn) error) *connectResult {
	res := &connectResult{conns: make([]*conn, 0, n)}
	var (
		mu   sync.Mutex
		next atomic.Int64
		done atomic.Int64
		wg   sync.WaitGroup
	)
	start := time.Now()
	conc = max(1, min(conc, n))
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var h hist
			defer func() { mu.Lock(); res.hist.merge(&h); mu.Unlock() }()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if rate > 0 {
					at := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
					if d := time.Until(at); d > 0 {
						t := time.NewTimer(d)
						select {
						case <-t.C:
						case <-ctx.Done():
							t.Stop()
							return
						}
					}
				}
				dctx, cancel := context.WithTimeout(ctx, c.timeout)
				t0 := time.Now()
				cn, err := dial(dctx, c.addr, c.source(i))
				cancel()
				if err == nil && onConn != nil {
					if err = onConn(cn); err != nil {
						_ = cn.close()
					}
				}
				mu.Lock()
				if err != nil {
					res.failures++
					if res.firstErr == nil {
						res.firstErr = err
					}
				} else {
					res.conns = append(res.conns, cn)
				}
				mu.Unlock()
				if err == nil {
					h.add(time.Since(t0))
				}
				done.Add(1)
			}
		}()
	}
	if prog != nil {
		stop := make(chan struct{})
		var pw sync.WaitGroup
		pw.Add(1)
		go func() {
			defer pw.Done()
			tk := time.NewTicker(time.Second)
			defer tk.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tk.C:
					mu.Lock()
					f := res.failures
					mu.Unlock()
					prog.printf("connecting %d/%d (%d failed)", done.Load(), n, f)
				}
			}
		}()
		wg.Wait()
		close(stop)
		pw.Wait()
	} else {
		wg.Wait()
	}
	res.elapsed = time.Since(start)
	return res
}

// closeAll closes every connection.
func closeAll(conns []*conn) {
	for _, c := range conns {
		_ = c.close()
	}
}
