package ws

import "github.com/banter-chat/banter/gateway/internal/outbox"

// Stats is a snapshot of the gateway's connections, for metrics.
type Stats = outbox.ConnStats

// Stats returns the gateway's counters (it takes the gateway's lock
// briefly).
func (g *Gateway) Stats() Stats {
	g.mu.Lock()
	n := len(g.conns)
	g.mu.Unlock()
	return g.stats.Snapshot(n)
}
