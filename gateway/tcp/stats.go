package tcp

import "github.com/banter-chat/banter/gateway/internal/conns"

// Stats is a snapshot of the gateway's connections, for metrics.
type Stats = conns.Stats

// Stats returns the gateway's counters.
func (g *Gateway) Stats() Stats { return g.hub.Stats.Snapshot() }
