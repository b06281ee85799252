package rest

import "sync/atomic"

// Stats is a snapshot of the gateway's sessions and event streams, for
// metrics.
type Stats struct {
	Sessions        int    // REST sessions (POST /sessions) alive now, publish senders included
	SessionsCreated uint64 // REST sessions created since New, publish senders included
	Streams         int64  // SSE streams open now
	StreamsOpened   uint64 // SSE streams opened since New
	SlowConsumers   uint64 // streams closed because their queue overflowed
}

type counters struct {
	streams                              atomic.Int64
	sessionsCreated, streamsOpened, slow atomic.Uint64
}

// Stats returns the gateway's counters (it takes the gateway's lock
// briefly).
func (g *Gateway) Stats() Stats {
	g.mu.Lock()
	n := len(g.sessions) + len(g.backends)
	g.mu.Unlock()
	return Stats{
		Sessions: n, SessionsCreated: g.stats.sessionsCreated.Load(), Streams: g.stats.streams.Load(),
		StreamsOpened: g.stats.streamsOpened.Load(), SlowConsumers: g.stats.slow.Load(),
	}
}
