package admin

import (
	"time"

	"github.com/banter-chat/banter/engineio"
	"github.com/banter-chat/banter/socketio"
)

// processStart approximates the process's start for server_stats' uptime
// (Node's process.uptime()).
var processStart = time.Now()

// aggregated is one entry of server_stats' aggregatedEvents: a count per
// second, type and subtype, as the dashboard's charts read them.
type aggregated struct {
	Timestamp int64  `json:"timestamp"`
	Type      string `json:"type"`
	SubType   string `json:"subType,omitempty"`
	Count     uint64 `json:"count"`
}

type namespaceStats struct {
	Name         string `json:"name"`
	SocketsCount int    `json:"socketsCount"`
}

type serverStats struct {
	ServerID            string           `json:"serverId"`
	Hostname            string           `json:"hostname"`
	PID                 int              `json:"pid"`
	Uptime              float64          `json:"uptime"`
	ClientsCount        int              `json:"clientsCount"`
	PollingClientsCount int64            `json:"pollingClientsCount"`
	AggregatedEvents    []aggregated     `json:"aggregatedEvents"`
	Namespaces          []namespaceStats `json:"namespaces"`
}

// statsState is what the admin goroutine remembers between two
// server_stats: the engine's counters (the traffic is their difference),
// and the sockets still on long-polling, whose upgrade becomes a
// socket_updated.
type statsState struct {
	prev    engineio.Stats
	polling map[*socketio.Socket]string
}

func newStatsState(a *Admin) *statsState {
	return &statsState{prev: a.srv.Engine().Stats(), polling: make(map[*socketio.Socket]string)}
}

// sendStats broadcasts this node's server_stats and the upgrades seen
// since the last ones.
func (a *Admin) sendStats(st *statsState) {
	now := time.Now()
	cur := a.srv.Engine().Stats()
	sec := now.Truncate(time.Second).UnixMilli()
	var agg []aggregated
	add := func(typ, sub string, n uint64) {
		if n > 0 {
			agg = append(agg, aggregated{Timestamp: sec, Type: typ, SubType: sub, Count: n})
		}
	}
	p, w, pp, pw := cur.Polling, cur.WebSocket, st.prev.Polling, st.prev.WebSocket
	add("rawConnection", "", p.Handshakes+w.Handshakes-pp.Handshakes-pw.Handshakes)
	for reason, n := range cur.Closes {
		add("rawDisconnection", string(reason), n-st.prev.Closes[reason])
	}
	add("packetsIn", "", p.PacketsReceived+w.PacketsReceived-pp.PacketsReceived-pw.PacketsReceived)
	add("packetsOut", "", p.PacketsSent+w.PacketsSent-pp.PacketsSent-pw.PacketsSent)
	add("bytesIn", "", p.BytesReceived+w.BytesReceived-pp.BytesReceived-pw.BytesReceived)
	add("bytesOut", "", p.BytesSent+w.BytesSent-pp.BytesSent-pw.BytesSent)
	st.prev = cur
	if agg == nil {
		agg = []aggregated{}
	}
	nsps := a.srv.Namespaces()
	ns := make([]namespaceStats, 0, len(nsps))
	for _, n := range nsps {
		ns = append(ns, namespaceStats{Name: n.Name(), SocketsCount: n.Len()})
	}
	a.emit("server_stats", serverStats{
		ServerID: a.server.id, Hostname: a.server.hostname, PID: a.server.pid,
		Uptime:       now.Sub(processStart).Seconds(),
		ClientsCount: a.srv.Engine().Count(), PollingClientsCount: p.Open,
		AggregatedEvents: agg, Namespaces: ns,
	})
	// Sockets that left long-polling since their connection.
	for s, was := range st.polling {
		switch t := s.Transport(); {
		case !s.Connected():
			delete(st.polling, s)
		case t != was:
			delete(st.polling, s)
			a.emit("socket_updated", map[string]any{"id": s.ID(), "nsp": s.Namespace().Name(), "transport": t})
		}
	}
}
