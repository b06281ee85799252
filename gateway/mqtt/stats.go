package mqttgw

import "sync/atomic"

// Stats is a snapshot of the gateway's connections, for metrics.
type Stats struct {
	TCP               int    // clients connected over MQTT/TCP now (with a chat session)
	WebSocket         int    // clients connected over MQTT over WebSocket now
	AcceptedTCP       uint64 // MQTT/TCP connections that got a chat session since New
	AcceptedWebSocket uint64 // the same over WebSocket
	SlowConsumers     uint64 // connections closed because their queue overflowed
}

type counters struct {
	acceptedTCP, acceptedWS, slow atomic.Uint64
}

// Stats returns the gateway's counters (it takes the gateway's lock
// briefly and visits the live connections).
func (g *Gateway) Stats() Stats {
	st := Stats{
		AcceptedTCP: g.stats.acceptedTCP.Load(), AcceptedWebSocket: g.stats.acceptedWS.Load(),
		SlowConsumers: g.stats.slow.Load(),
	}
	g.mu.Lock()
	for cl := range g.conns {
		if cl.Net.Listener == listenerWS {
			st.WebSocket++
		} else {
			st.TCP++
		}
	}
	g.mu.Unlock()
	return st
}
