package mqttgw

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// client is the MQTT session of one client id: what outlives a connection.
// A clean session's client lives as long as its connection; a persistent
// one (3.1.1 clean_session=0, MQTT 5 session expiry) until it expires.
type client struct {
	id   string
	nick string // NickKey of the owner: the client id is bound to it

	// Guarded by Gateway.mu.
	cur    *conn       // the live connection; nil while offline
	expiry *time.Timer // an offline persistent session is forgotten then

	// subs is read by Deliver under chat's locks, lock-free; it is
	// replaced (copy on write) by the connection's handler.
	subs atomic.Pointer[subSet]

	// Guarded by mu (lock order: client.mu before conn.mu).
	mu       sync.Mutex
	inflight map[uint16]inflight // QoS 1 packets written and not acknowledged
	awaitRel *[]uint16           // QoS 2 publishes received, PUBREL not yet (inbound)
	seen     map[string]int64    // persistent sessions: last Seq written per room

	expire    uint32 // session expiry interval, seconds (0: ends with the connection); Gateway.mu
	nextID    uint16 // mu
	dmTracked bool   // the DM rooms existing at subscribe time are in seen; mu
}

// subscription is one granted topic filter, classified once.
type subscription struct {
	filter  string
	room    string // canonical room of a room topic
	kind    topicKind
	qos     byte // granted (0-2); chat events go out at min(qos, 1)
	noLocal bool // MQTT 5 no-local
}

// inflight is a QoS 1 packet awaiting its PUBACK.
type inflight struct {
	w    *wire
	room string
	seq  int64
}

func newClient(id, nick string, persistent bool) *client {
	cl := &client{id: id, nick: nick}
	if persistent {
		cl.seen = make(map[string]int64)
	}
	return cl
}

func (cl *client) persistent() bool { return cl.seen != nil }

// subSet is a client's subscriptions: one allocation for the list and, in
// the common case of a single subscription, its element.
type subSet struct {
	list []subscription
	one  [1]subscription
}

func newSubSet(list []subscription) *subSet {
	if len(list) == 1 {
		return oneSub(list[0])
	}
	return &subSet{list: list}
}

func oneSub(s subscription) *subSet {
	ss := &subSet{one: [1]subscription{s}}
	ss.list = ss.one[:]
	return ss
}

// subscriptions returns the granted subscriptions (do not modify).
func (cl *client) subscriptions() []subscription {
	if p := cl.subs.Load(); p != nil {
		return p.list
	}
	return nil
}

// sub returns the subscription of kind (and room) and whether there is one.
func (cl *client) sub(kind topicKind, room string) (subscription, bool) {
	for _, s := range cl.subscriptions() {
		if s.kind == kind && s.room == room {
			return s, true
		}
	}
	return subscription{}, false
}

// bySubFilter returns the subscription of filter.
func (cl *client) byFilter(filter string) (subscription, bool) {
	for _, s := range cl.subscriptions() {
		if s.filter == filter {
			return s, true
		}
	}
	return subscription{}, false
}

// setSub adds or replaces s (by filter).
func (cl *client) setSub(s subscription) {
	old := cl.subscriptions()
	if len(old) == 0 {
		cl.subs.Store(oneSub(s))
		return
	}
	next := make([]subscription, 0, len(old)+1)
	for _, o := range old {
		if o.filter != s.filter {
			next = append(next, o)
		}
	}
	next = append(next, s)
	cl.subs.Store(newSubSet(next))
}

// removeSub removes filter's subscription and reports whether there was
// one.
func (cl *client) removeSub(filter string) bool {
	old := cl.subscriptions()
	i := slices.IndexFunc(old, func(s subscription) bool { return s.filter == filter })
	if i < 0 {
		return false
	}
	next := slices.Delete(slices.Clone(old), i, i+1)
	if len(next) == 0 {
		cl.subs.Store(nil)
		return true
	}
	cl.subs.Store(newSubSet(next))
	return true
}

// roomSubscribed reports whether any topic of room is subscribed.
func (cl *client) roomSubscribed(room string) bool {
	for _, s := range cl.subscriptions() {
		if s.room == room {
			return true
		}
	}
	return false
}

// register gives o a packet identifier and records it as inflight (and as
// seen for a persistent session: it will be resent if not acknowledged).
// Called with mu held.
func (cl *client) register(o out) uint16 {
	if cl.inflight == nil {
		cl.inflight = make(map[uint16]inflight)
	}
	for {
		cl.nextID++
		if cl.nextID == 0 {
			cl.nextID = 1
		}
		if _, used := cl.inflight[cl.nextID]; !used {
			break
		}
	}
	cl.inflight[cl.nextID] = inflight{w: o.w, room: o.room, seq: o.seq}
	cl.markSeenLocked(o.room, o.seq)
	return cl.nextID
}

// ack forgets an acknowledged packet.
func (cl *client) ack(id uint16) bool {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if _, ok := cl.inflight[id]; !ok {
		return false
	}
	delete(cl.inflight, id)
	if len(cl.inflight) == 0 {
		cl.inflight = nil // an idle client holds no map
	}
	return true
}

func (cl *client) markSeenLocked(room string, seq int64) {
	if cl.seen == nil || room == "" {
		return
	}
	if seq > cl.seen[room] {
		cl.seen[room] = seq
	}
}

// markSeenAll records QoS 0 messages written by c (unless c was taken over
// meanwhile).
func (cl *client) markSeenAll(c *conn, os []out) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if c.detachedLocked() {
		return
	}
	for _, o := range os {
		cl.markSeenLocked(o.room, o.seq)
	}
}

func (cl *client) lastSeen(room string) (int64, bool) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	seq, ok := cl.seen[room]
	return seq, ok
}

func (cl *client) setSeen(room string, seq int64) {
	cl.mu.Lock()
	if cl.seen != nil {
		cl.seen[room] = seq
	}
	cl.mu.Unlock()
}

// pendingResend returns the unacknowledged packets in identifier order, for
// a reconnecting session.
func (cl *client) pendingResend() []resend {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	out := make([]resend, 0, len(cl.inflight))
	for id, f := range cl.inflight {
		out = append(out, resend{id: id, w: f.w})
	}
	// Identifiers are handed out in increasing order (wrapping at 65535):
	// the order of the original sends, from the one after nextID.
	slices.SortFunc(out, func(a, b resend) int {
		return int(a.id-cl.nextID-1) - int(b.id-cl.nextID-1)
	})
	return out
}

type resend struct {
	id uint16
	w  *wire
}

// awaitingRel reports whether a QoS 2 publish with id waits for its PUBREL.
func (cl *client) awaitingRel(id uint16) bool {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.awaitRel != nil && slices.Contains(*cl.awaitRel, id)
}

// awaiting returns how many QoS 2 publishes wait for their PUBREL.
func (cl *client) awaiting() int {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.awaitRel == nil {
		return 0
	}
	return len(*cl.awaitRel)
}

func (cl *client) addAwaitRel(id uint16) int {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.awaitRel == nil {
		cl.awaitRel = new([]uint16)
	}
	if !slices.Contains(*cl.awaitRel, id) {
		*cl.awaitRel = append(*cl.awaitRel, id)
	}
	return len(*cl.awaitRel)
}

func (cl *client) release(id uint16) bool {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.awaitRel == nil {
		return false
	}
	i := slices.Index(*cl.awaitRel, id)
	if i < 0 {
		return false
	}
	*cl.awaitRel = slices.Delete(*cl.awaitRel, i, i+1)
	if len(*cl.awaitRel) == 0 {
		cl.awaitRel = nil // an idle client holds no list
	}
	return true
}
