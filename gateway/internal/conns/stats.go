package conns

import (
	"context"
	"sync"
	"sync/atomic"
)

// Stats is a snapshot of a gateway's connections (/ws and TCP), for
// metrics.
type Stats struct {
	Connections   int    // open now
	Accepted      uint64 // connections served since the gateway started
	SlowConsumers uint64 // connections closed because their queue overflowed
}

// Counters are a gateway's connection counters.
type Counters struct {
	open           atomic.Int64
	accepted, slow atomic.Uint64
}

// Opened counts a connection served; call Closed when it ends.
func (c *Counters) Opened() {
	c.accepted.Add(1)
	c.open.Add(1)
}

// Closed counts the end of a connection Opened counted.
func (c *Counters) Closed() { c.open.Add(-1) }

// Snapshot returns the counters.
func (c *Counters) Snapshot() Stats {
	return Stats{Connections: int(c.open.Load()), Accepted: c.accepted.Load(), SlowConsumers: c.slow.Load()}
}

// Wait waits for every wg (a gateway's connection goroutines) or for ctx,
// whichever comes first, and returns ctx's error in the second case.
func Wait(ctx context.Context, wgs ...*sync.WaitGroup) error {
	done := make(chan struct{})
	go func() {
		for _, wg := range wgs {
			wg.Wait()
		}
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
