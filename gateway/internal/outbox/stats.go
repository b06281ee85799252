package outbox

import "sync/atomic"

// ConnStats is a snapshot of a gateway's connections (/ws and TCP), for
// metrics.
type ConnStats struct {
	Connections   int    // open now
	Accepted      uint64 // connections served since the gateway started
	SlowConsumers uint64 // connections closed because their queue overflowed
}

// ConnCounters are a gateway's connection counters.
type ConnCounters struct {
	accepted, slow atomic.Uint64
}

// Accepted counts a connection served.
func (c *ConnCounters) Accepted() { c.accepted.Add(1) }

// SlowConsumer counts a connection closed because its queue overflowed.
func (c *ConnCounters) SlowConsumer() { c.slow.Add(1) }

// Snapshot returns the counters with open, the connections open now.
func (c *ConnCounters) Snapshot(open int) ConnStats {
	return ConnStats{Connections: open, Accepted: c.accepted.Load(), SlowConsumers: c.slow.Load()}
}
