package admin

import (
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"github.com/banter-chat/banter/socketio"
	"github.com/banter-chat/banter/socketio/parser"
)

// kind is what a record reports.
type kind uint8

const (
	kindConnected kind = iota
	kindUpdatedData
	kindDisconnected
	kindJoined
	kindLeft
	kindReceived
	kindSent
)

// record is one observed change, kept until the admin goroutine sends it.
// Only the fields of its kind are set.
type record struct {
	kind   kind
	at     time.Time
	sock   *socketio.Socket
	nsp    string
	id     string   // socket id (the one recipient of a send, or the socket of a change)
	ids    []string // kindSent of a broadcast: every recipient
	room   string
	reason socketio.Reason
	data   json.RawMessage // an event's [name, args...]
	att    [][]byte
}

// recorder is the bounded buffer between the hooks and the admin
// goroutine. A hook takes the mutex for an append: no allocation but the
// record's own slice growth, no channel operation unless the goroutine
// sleeps.
type recorder struct {
	mu      sync.Mutex
	buf     []record
	pending int // records plus the recipients of kindSent records in buf
	max     int
	wake    chan struct{}
	dropped atomic.Uint64
}

func (r *recorder) init(max int) {
	r.max = max
	r.wake = make(chan struct{}, 1)
}

// add queues rec, which weighs n events; it is dropped (and counted) when
// the buffer is full.
func (r *recorder) add(rec record, n int) {
	r.mu.Lock()
	if r.pending+n > r.max {
		r.mu.Unlock()
		r.dropped.Add(uint64(n))
		return
	}
	r.buf = append(r.buf, rec)
	r.pending += n
	first := len(r.buf) == 1
	r.mu.Unlock()
	if first {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
}

// take returns what was queued and empties the buffer; spare is a drained
// slice to reuse.
func (r *recorder) take(spare []record) []record {
	r.mu.Lock()
	out := r.buf
	r.buf = spare[:0]
	r.pending = 0
	r.mu.Unlock()
	return out
}

// observer is the socketio.Observer of an Admin: it records, the admin
// goroutine sends. Events of the admin namespace itself are not reported
// (as Node), which also keeps the admin's own broadcasts from feeding it.
type observer Admin

var _ socketio.Observer = (*observer)(nil)

func (o *observer) own(n *socketio.Namespace) bool { return n.Name() == o.cfg.Namespace }

// live reports whether a dashboard may hear live events: one is connected
// to this node, or the admin namespace has a cluster adapter (other
// nodes' dashboards hear this node's events, as with Node). Otherwise the
// hooks record nothing: a dashboard that connects gets all_sockets.
func (o *observer) live() bool { return o.clustered || o.dashboards.Load() > 0 }

func (o *observer) NamespaceCreated(*socketio.Namespace) {} // server_stats lists them

func (o *observer) SocketConnected(s *socketio.Socket) {
	if !o.live() {
		return
	}
	o.rec.add(record{kind: kindConnected, at: time.Now(), sock: s, nsp: s.Namespace().Name(), id: s.ID()}, 1)
}

func (o *observer) SocketDisconnected(s *socketio.Socket, reason socketio.Reason) {
	if !o.live() {
		return
	}
	o.rec.add(record{kind: kindDisconnected, at: time.Now(), nsp: s.Namespace().Name(), id: s.ID(), reason: reason}, 1)
}

func (o *observer) RoomJoined(n *socketio.Namespace, room, id string) {
	if !o.live() {
		return
	}
	o.rec.add(record{kind: kindJoined, at: time.Now(), nsp: n.Name(), room: room, id: id}, 1)
}

func (o *observer) RoomLeft(n *socketio.Namespace, room, id string) {
	if !o.live() {
		return
	}
	o.rec.add(record{kind: kindLeft, at: time.Now(), nsp: n.Name(), room: room, id: id}, 1)
}

func (o *observer) EventReceived(s *socketio.Socket, data json.RawMessage, att [][]byte) {
	if !o.live() || o.own(s.Namespace()) {
		return
	}
	o.rec.add(record{kind: kindReceived, at: time.Now(), nsp: s.Namespace().Name(), id: s.ID(), data: data, att: att}, 1)
}

func (o *observer) EventSent(n *socketio.Namespace, ids []string, data json.RawMessage, att [][]byte) {
	if !o.live() || o.own(n) {
		return
	}
	o.rec.add(record{kind: kindSent, at: time.Now(), nsp: n.Name(), ids: ids, data: data, att: att}, len(ids))
}

func (o *observer) EventSentTo(s *socketio.Socket, data json.RawMessage, att [][]byte) {
	if !o.live() || o.own(s.Namespace()) {
		return
	}
	o.rec.add(record{kind: kindSent, at: time.Now(), nsp: s.Namespace().Name(), id: s.ID(), data: data, att: att}, 1)
}

func (o *observer) Active() bool { return o.live() }

func (o *observer) DataChanged(s *socketio.Socket) {
	if !o.live() || !s.Connected() { // set by a middleware: socket_connected will carry it
		return
	}
	o.rec.add(record{kind: kindUpdatedData, at: time.Now(), sock: s, nsp: s.Namespace().Name(), id: s.ID()}, 1)
}

// run is the admin goroutine: live events as they are recorded, the
// statistics every StatsInterval.
func (a *Admin) run() {
	stats := newStatsState(a)
	a.sendStats(stats)
	tick := time.NewTicker(a.cfg.StatsInterval)
	defer tick.Stop()
	var spare []record
	for {
		select {
		case <-a.ctx.Done():
			return
		case <-tick.C:
			a.sendStats(stats)
		case <-a.rec.wake:
			recs := a.rec.take(spare)
			for i := range recs {
				a.send(&recs[i], stats)
				recs[i] = record{} // let go of sockets and payloads
			}
			spare = recs
		}
	}
}

// send turns a record into its admin event(s).
func (a *Admin) send(r *record, st *statsState) {
	at := jsonDate(r.at)
	switch r.kind {
	case kindConnected:
		if r.sock.Transport() == "polling" {
			st.polling[r.sock] = "polling" // watched for its upgrade (statsState.upgrades)
		}
		a.emit("socket_connected", serializeSocket(r.sock), at)
	case kindUpdatedData:
		a.emit("socket_updated", map[string]any{"id": r.id, "nsp": r.nsp, "data": serializeData(r.sock.Data())})
	case kindDisconnected:
		a.emit("socket_disconnected", r.nsp, r.id, string(r.reason), at)
	case kindJoined:
		a.emit("room_joined", r.nsp, r.room, r.id, at)
	case kindLeft:
		a.emit("room_left", r.nsp, r.room, r.id, at)
	case kindReceived:
		a.emitArgs("event_received", r.nsp, r.id, r.data, r.att, at)
	case kindSent:
		if r.ids == nil { // one socket
			a.emitArgs("event_sent", r.nsp, r.id, r.data, r.att, at)
		}
		for _, id := range r.ids {
			a.emitArgs("event_sent", r.nsp, id, r.data, r.att, at)
		}
	}
}

// emit broadcasts an admin event to every dashboard (on every node).
func (a *Admin) emit(event string, args ...any) {
	if err := a.nsp.Emit(event, args...); err != nil {
		a.log.Warn("admin: cannot send an event to the dashboards", "event", event, "err", err)
	}
}

// emitArgs broadcasts [event, nsp, id, args, date], where args is an
// observed event's JSON array as is (binary placeholders included, with
// its attachments): encoded without decoding it.
func (a *Admin) emitArgs(event, nsp, id string, args json.RawMessage, att [][]byte, at string) {
	b := make([]byte, 0, len(event)+len(nsp)+len(id)+len(args)+len(at)+16)
	b = append(b, '[')
	b = parser.AppendJSONString(b, event)
	b = append(b, ',')
	b = parser.AppendJSONString(b, nsp)
	b = append(b, ',')
	b = parser.AppendJSONString(b, id)
	b = append(b, ',')
	b = append(b, args...)
	b = append(b, ',')
	b = parser.AppendJSONString(b, at)
	b = append(b, ']')
	a.nsp.Adapter().Broadcast(&parser.Packet{Type: parser.Event, Namespace: a.nsp.Name(), Data: b, Attachments: att}, socketio.BroadcastOptions{})
}

// jsonDate is a time as JavaScript's JSON.stringify(new Date()) writes it.
func jsonDate(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
