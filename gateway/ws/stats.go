package ws

import "sync/atomic"

// Stats is a snapshot of the gateway's connections, for metrics.
type Stats struct {
	Connections   int    // open now
	Accepted      uint64 // connections served since New
	SlowConsumers uint64 // connections closed because their queue overflowed
}

type counters struct {
	accepted, slow atomic.Uint64
}

// Stats returns the gateway's counters (it takes the gateway's lock
// briefly).
func (g *Gateway) Stats() Stats {
	g.mu.Lock()
	n := len(g.conns)
	g.mu.Unlock()
	return Stats{Connections: n, Accepted: g.stats.accepted.Load(), SlowConsumers: g.stats.slow.Load()}
}
