package socketio

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/banter-chat/banter/socketio/parser"
)

// BroadcastOptions selects the recipients of a broadcast.
type BroadcastOptions struct {
	Rooms    []string // empty: every socket of the namespace
	Except   []string // sockets in any of these rooms are skipped
	Volatile bool     // may be dropped for a client with a backlog
	Local    bool     // this node only (cluster adapters)
}

// RecoveryState is what is kept of a socket for connection state recovery
// (Node's adapter calls it a session: PersistSession, RestoreSession).
type RecoveryState struct {
	SID   string
	PID   string
	Rooms []string
	Data  any
}

// Adapter stores room membership and delivers broadcasts. The in-memory
// adapter serves one node; a cluster adapter (package
// socketio/redisadapter) implements the same interface and forwards
// broadcasts and requests to the other nodes. A cluster adapter usually
// embeds a *MemoryAdapter for the local part and overrides the methods
// that reach other nodes.
//
// Methods without a context never wait for other nodes' answers (they may
// publish, within a bounded time): they run on connections' goroutines.
type Adapter interface {
	AddAll(id string, rooms []string)
	Del(id, room string)
	DelAll(id string)
	SocketRooms(id string) []string
	// Sockets returns the ids of local sockets matching opts.
	Sockets(opts BroadcastOptions) []string
	// Broadcast delivers p to the sockets matching opts, encoding it once
	// (and, unless opts.Local, to the other nodes).
	Broadcast(p *parser.Packet, opts BroadcastOptions)
	// BroadcastWithAck delivers p (with an ack id set by the adapter per
	// socket) and calls onAck for every answer. Every node that handled it
	// calls onCount once with how many of its sockets were sent the packet
	// (ServerCount nodes in all, unless opts.Local: then only this one).
	// Answers still pending when ctx ends are no longer awaited.
	BroadcastWithAck(ctx context.Context, p *parser.Packet, opts BroadcastOptions, onCount func(clients int), onAck func(args []any, err error))
	// ServerCount returns the number of nodes serving the namespace,
	// this one included (1 for a single node).
	ServerCount(ctx context.Context) (int, error)
	// FetchSockets returns the sockets matching opts on every node (on this
	// one only with opts.Local).
	FetchSockets(ctx context.Context, opts BroadcastOptions) ([]*RemoteSocket, error)
	// AddSockets, DelSockets and DisconnectSockets make the sockets
	// matching opts, on every node unless opts.Local, join rooms, leave
	// rooms or disconnect. Local sockets are handled before they return;
	// other nodes' asynchronously (the error says the request could not be
	// sent).
	AddSockets(opts BroadcastOptions, rooms []string) error
	DelSockets(opts BroadcastOptions, rooms []string) error
	DisconnectSockets(opts BroadcastOptions, close bool) error
	// AllRooms returns the rooms of every node (a socket's own room
	// included, as Node lists it).
	AllRooms(ctx context.Context) ([]string, error)
	// ServerSideEmit sends an event to the other nodes' namespaces (see
	// Namespace.ServerSideEmit); ServerSideEmitWithAck waits for one
	// answer from every other node.
	ServerSideEmit(event string, args []any) error
	ServerSideEmitWithAck(ctx context.Context, event string, args []any) ([]any, error)
	// PersistSession and RestoreSession support connection state recovery:
	// RestoreSession takes back the session of pid if it can be recovered
	// from offset (the last packet the client saw).
	PersistSession(s *RecoveryState)
	RestoreSession(pid, offset string) (*RecoveryState, bool)
	// Attach makes socket id part of the namespace atomically with respect
	// to broadcasts: it joins the socket's own room (and, when restored is
	// not nil, the restored rooms) and calls attach with the packets the
	// restored session missed after offset. attach registers the socket
	// and writes those packets and the CONNECT reply; a broadcast is then
	// either among the missed packets or delivered after attach, never lost,
	// duplicated or ahead of the CONNECT reply.
	Attach(id string, restored *RecoveryState, offset string, attach func(missed []*parser.Packet))
	Close()
}

// MemoryAdapter is the default single-node adapter.
type MemoryAdapter struct {
	nsp *Namespace

	// bmu orders broadcasts (read side: store, targets, enqueue) against
	// Attach (write side).
	bmu sync.RWMutex

	mu    sync.RWMutex
	rooms map[string]map[string]struct{} // room → socket ids
	sids  map[string]map[string]struct{} // socket id → rooms other than its own

	// Connection state recovery.
	recMu    sync.Mutex
	sessions map[string]*persisted // by pid
	// sessionRooms counts the persisted sessions in each room (HasRoom).
	sessionRooms map[string]int
	packets      []storedPacket // ring of broadcast event packets, oldest first
	offset       atomic.Uint64
}

type persisted struct {
	s       *RecoveryState
	expires time.Time
}

type storedPacket struct {
	id   uint64
	at   time.Time
	opts BroadcastOptions
	p    *parser.Packet
}

// NewMemoryAdapter returns an in-memory adapter for n.
func NewMemoryAdapter(n *Namespace) *MemoryAdapter {
	return &MemoryAdapter{
		nsp:          n,
		rooms:        make(map[string]map[string]struct{}),
		sids:         make(map[string]map[string]struct{}),
		sessions:     make(map[string]*persisted),
		sessionRooms: make(map[string]int),
	}
}

var _ Adapter = (*MemoryAdapter)(nil)

// A socket's own room (named by its id) is implicit: it is not stored in
// the maps, so a socket that joins no other room costs no map entries.
// Broadcasts to "everyone" enumerate the namespace's sockets.

func (a *MemoryAdapter) AddAll(id string, rooms []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	mine := a.sids[id]
	for _, r := range rooms {
		if r == id {
			continue
		}
		if mine == nil {
			mine = make(map[string]struct{}, len(rooms))
			a.sids[id] = mine
		}
		mine[r] = struct{}{}
		members := a.rooms[r]
		if members == nil {
			members = make(map[string]struct{})
			a.rooms[r] = members
		}
		members[id] = struct{}{}
	}
}

func (a *MemoryAdapter) Del(id, room string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if mine := a.sids[id]; mine != nil {
		delete(mine, room)
		if len(mine) == 0 {
			delete(a.sids, id)
		}
	}
	if m := a.rooms[room]; m != nil {
		delete(m, id)
		if len(m) == 0 {
			delete(a.rooms, room)
		}
	}
}

func (a *MemoryAdapter) DelAll(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for r := range a.sids[id] {
		if m := a.rooms[r]; m != nil {
			delete(m, id)
			if len(m) == 0 {
				delete(a.rooms, r)
			}
		}
	}
	delete(a.sids, id)
}

func (a *MemoryAdapter) SocketRooms(id string) []string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	out := make([]string, 0, len(a.sids[id])+1)
	if a.nsp.Socket(id) != nil {
		out = append(out, id)
	}
	for r := range a.sids[id] {
		out = append(out, r)
	}
	return out
}

// inRoom reports whether socket id is in room (its own room included).
// Called with a.mu held.
func (a *MemoryAdapter) inRoom(id, room string) bool {
	if id == room {
		return true
	}
	_, ok := a.rooms[room][id]
	return ok
}

// members calls fn for every local socket in room. Called with a.mu held.
func (a *MemoryAdapter) members(room string, fn func(id string)) {
	m := a.rooms[room]
	for id := range m {
		fn(id)
	}
	// The socket whose own room this is (other sockets may have joined it).
	if _, listed := m[room]; !listed && a.nsp.Socket(room) != nil {
		fn(room)
	}
}

// match calls fn for every socket id matching opts, under the read lock.
func (a *MemoryAdapter) match(opts BroadcastOptions, fn func(id string)) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	excluded := func(id string) bool {
		for _, r := range opts.Except {
			if a.inRoom(id, r) {
				return true
			}
		}
		return false
	}
	visit := func(id string) {
		if !excluded(id) {
			fn(id)
		}
	}
	switch len(opts.Rooms) {
	case 0:
		a.nsp.mu.RLock()
		ids := make([]string, 0, len(a.nsp.sockets))
		for id := range a.nsp.sockets {
			ids = append(ids, id)
		}
		a.nsp.mu.RUnlock()
		for _, id := range ids {
			visit(id)
		}
	case 1:
		a.members(opts.Rooms[0], visit)
	default:
		seen := make(map[string]struct{})
		for _, r := range opts.Rooms {
			a.members(r, func(id string) {
				if _, dup := seen[id]; !dup {
					seen[id] = struct{}{}
					visit(id)
				}
			})
		}
	}
}

func (a *MemoryAdapter) Sockets(opts BroadcastOptions) []string {
	var out []string
	a.match(opts, func(id string) { out = append(out, id) })
	return out
}

func (a *MemoryAdapter) targets(opts BroadcastOptions) []*Socket {
	ids := a.Sockets(opts)
	out := make([]*Socket, 0, len(ids))
	a.nsp.mu.RLock()
	for _, id := range ids {
		if s := a.nsp.sockets[id]; s != nil {
			out = append(out, s)
		}
	}
	a.nsp.mu.RUnlock()
	return out
}

func (a *MemoryAdapter) Broadcast(p *parser.Packet, opts BroadcastOptions) {
	a.bmu.RLock()
	defer a.bmu.RUnlock()
	if a.nsp.srv.cfg.Recovery != nil && p.Type == parser.Event && !p.HasID && !opts.Volatile {
		p = a.store(p, opts)
	}
	msgs := encodePacket(p)
	targets := a.targets(opts)
	for _, s := range targets {
		switch {
		case opts.Volatile:
			_ = s.client.conn.SendVolatile(msgs...)
		case len(targets) == 1:
			_ = s.client.conn.SendMany(msgs...)
		default:
			_ = s.client.conn.Enqueue(msgs...)
		}
	}
}

func (a *MemoryAdapter) BroadcastWithAck(ctx context.Context, p *parser.Packet, opts BroadcastOptions, onCount func(int), onAck func([]any, error)) {
	targets := a.targets(opts)
	type pending struct {
		s  *Socket
		id uint64
	}
	sent := make([]pending, 0, len(targets))
	for _, s := range targets {
		data, att := p.Data, p.Attachments
		s.mu.Lock()
		if !s.connected.Load() {
			s.mu.Unlock()
			continue
		}
		id := s.nextAck
		s.nextAck++
		if s.acks == nil {
			s.acks = make(map[uint64]func([]json.RawMessage, [][]byte, error))
		}
		s.acks[id] = func(raw []json.RawMessage, att [][]byte, err error) {
			if err != nil {
				onAck(nil, err)
				return
			}
			vals, err := decodeRawArgs(raw, att)
			onAck(vals, err)
		}
		s.mu.Unlock()
		s.client.writePacket(&parser.Packet{Type: p.Type, Namespace: p.Namespace, ID: id, HasID: true, Data: data, Attachments: att})
		sent = append(sent, pending{s, id})
	}
	onCount(len(sent))
	if len(sent) > 0 && ctx.Done() != nil {
		// Forget the callbacks of answers nobody waits for any more, so a
		// socket that never answers does not keep them until it leaves.
		context.AfterFunc(ctx, func() {
			for _, ps := range sent {
				ps.s.mu.Lock()
				delete(ps.s.acks, ps.id)
				ps.s.mu.Unlock()
			}
		})
	}
}

// ServerCount implements Adapter: one node.
func (a *MemoryAdapter) ServerCount(context.Context) (int, error) { return 1, nil }

// FetchSockets implements Adapter with this node's sockets.
func (a *MemoryAdapter) FetchSockets(_ context.Context, opts BroadcastOptions) ([]*RemoteSocket, error) {
	targets := a.targets(opts)
	out := make([]*RemoteSocket, 0, len(targets))
	for _, s := range targets {
		out = append(out, s.remote())
	}
	return out, nil
}

// AddSockets implements Adapter with this node's sockets.
func (a *MemoryAdapter) AddSockets(opts BroadcastOptions, rooms []string) error {
	for _, s := range a.targets(opts) {
		s.Join(rooms...)
	}
	return nil
}

// DelSockets implements Adapter with this node's sockets.
func (a *MemoryAdapter) DelSockets(opts BroadcastOptions, rooms []string) error {
	for _, s := range a.targets(opts) {
		for _, r := range rooms {
			s.Leave(r)
		}
	}
	return nil
}

// DisconnectSockets implements Adapter with this node's sockets.
func (a *MemoryAdapter) DisconnectSockets(opts BroadcastOptions, close bool) error {
	for _, s := range a.targets(opts) {
		s.Disconnect(close)
	}
	return nil
}

// AllRooms implements Adapter with this node's rooms.
func (a *MemoryAdapter) AllRooms(context.Context) ([]string, error) {
	a.nsp.mu.RLock()
	out := make([]string, 0, len(a.nsp.sockets))
	for id := range a.nsp.sockets {
		out = append(out, id)
	}
	a.nsp.mu.RUnlock()
	a.mu.RLock()
	for r := range a.rooms {
		if a.nsp.Socket(r) == nil {
			out = append(out, r)
		}
	}
	a.mu.RUnlock()
	return out, nil
}

// HasRoom reports whether a local socket is in room (a socket's own room
// included), or a disconnected session kept for connection state recovery
// was. Cluster adapters use it to skip broadcasts for rooms this node has
// no member in: a broadcast a recoverable session missed must still be
// stored for it.
func (a *MemoryAdapter) HasRoom(room string) bool {
	a.mu.RLock()
	_, ok := a.rooms[room]
	a.mu.RUnlock()
	if ok || a.nsp.Socket(room) != nil {
		return true
	}
	if a.nsp.srv.cfg.Recovery == nil {
		return false
	}
	a.recMu.Lock()
	defer a.recMu.Unlock()
	return a.sessionRooms[room] > 0
}

// ServerSideEmit implements Adapter: there is no other node.
func (a *MemoryAdapter) ServerSideEmit(string, []any) error { return nil }

// ServerSideEmitWithAck implements Adapter: there is no other node, so no
// answer to wait for.
func (a *MemoryAdapter) ServerSideEmitWithAck(context.Context, string, []any) ([]any, error) {
	return []any{}, nil
}

// store appends an offset (a string, as Node does) to the event's arguments
// and keeps the packet for recovery.
func (a *MemoryAdapter) store(p *parser.Packet, opts BroadcastOptions) *parser.Packet {
	id := a.offset.Add(1)
	off := strconv.FormatUint(id, 36)
	data := make([]byte, 0, len(p.Data)+len(off)+3)
	data = append(data, p.Data[:len(p.Data)-1]...) // drop ']'
	data = append(data, ',', '"')
	data = append(data, off...)
	data = append(data, '"', ']')
	cp := *p
	cp.Data = data
	now := time.Now()
	a.recMu.Lock()
	a.packets = append(a.packets, storedPacket{id: id, at: now, opts: opts, p: &cp})
	a.expireLocked(now)
	a.recMu.Unlock()
	return &cp
}

func (a *MemoryAdapter) expireLocked(now time.Time) {
	window := a.nsp.srv.cfg.Recovery.MaxDisconnectionDuration
	i := 0
	for i < len(a.packets) && now.Sub(a.packets[i].at) > window {
		i++
	}
	if i > 0 {
		a.packets = append(a.packets[:0], a.packets[i:]...)
	}
	for pid, s := range a.sessions {
		if now.After(s.expires) {
			a.forgetSessionLocked(pid)
		}
	}
}

func (a *MemoryAdapter) PersistSession(s *RecoveryState) {
	if a.nsp.srv.cfg.Recovery == nil {
		return
	}
	a.recMu.Lock()
	a.forgetSessionLocked(s.PID)
	a.sessions[s.PID] = &persisted{s: s, expires: time.Now().Add(a.nsp.srv.cfg.Recovery.MaxDisconnectionDuration)}
	for _, r := range s.Rooms {
		a.sessionRooms[r]++
	}
	a.recMu.Unlock()
}

// forgetSessionLocked drops the persisted session of pid, if any. Called
// with a.recMu held.
func (a *MemoryAdapter) forgetSessionLocked(pid string) {
	ps := a.sessions[pid]
	if ps == nil {
		return
	}
	delete(a.sessions, pid)
	for _, r := range ps.s.Rooms {
		if a.sessionRooms[r]--; a.sessionRooms[r] <= 0 {
			delete(a.sessionRooms, r)
		}
	}
}

func (a *MemoryAdapter) RestoreSession(pid, offset string) (*RecoveryState, bool) {
	if a.nsp.srv.cfg.Recovery == nil {
		return nil, false
	}
	off, err := strconv.ParseUint(offset, 36, 64)
	if err != nil {
		return nil, false
	}
	a.recMu.Lock()
	defer a.recMu.Unlock()
	a.expireLocked(time.Now())
	ps := a.sessions[pid]
	if ps == nil {
		return nil, false
	}
	i := a.packetIndexLocked(off)
	if i < 0 {
		// Its offset left the buffer: packets were lost, the state cannot
		// be recovered.
		return nil, false
	}
	if missed := a.missedBytesLocked(i+1, ps.s); missed > a.nsp.srv.cfg.Recovery.MaxMissedBytes {
		a.nsp.srv.log.Debug("socket.io: session not recovered: it missed too much", "pid", pid, "bytes", missed)
		return nil, false
	}
	a.forgetSessionLocked(pid)
	return ps.s, true
}

// missedBytesLocked is the size of the packets from index i on that s
// would have received (payloads and attachments; framing is negligible).
func (a *MemoryAdapter) missedBytesLocked(i int, s *RecoveryState) int {
	rooms := make(map[string]bool, len(s.Rooms)+1)
	rooms[s.SID] = true
	for _, r := range s.Rooms {
		rooms[r] = true
	}
	n := 0
	for _, sp := range a.packets[i:] {
		if packetFor(sp.opts, rooms) {
			n += len(sp.p.Data)
			for _, b := range sp.p.Attachments {
				n += len(b)
			}
		}
	}
	return n
}

func (a *MemoryAdapter) packetIndexLocked(off uint64) int {
	for i, sp := range a.packets {
		if sp.id == off {
			return i
		}
	}
	return -1
}

func (a *MemoryAdapter) Attach(id string, restored *RecoveryState, offset string, attach func(missed []*parser.Packet)) {
	a.bmu.Lock()
	defer a.bmu.Unlock()
	var missed []*parser.Packet
	if restored != nil {
		a.AddAll(id, restored.Rooms)
		off, _ := strconv.ParseUint(offset, 36, 64)
		rooms := make(map[string]bool, len(restored.Rooms)+1)
		rooms[id] = true
		for _, r := range restored.Rooms {
			rooms[r] = true
		}
		a.recMu.Lock()
		for _, sp := range a.packets {
			if sp.id > off && packetFor(sp.opts, rooms) {
				missed = append(missed, sp.p)
			}
		}
		a.recMu.Unlock()
	}
	a.AddAll(id, []string{id})
	attach(missed)
}

// packetFor reports whether a session in rooms would have received a
// broadcast with opts.
func packetFor(opts BroadcastOptions, rooms map[string]bool) bool {
	for _, r := range opts.Except {
		if rooms[r] {
			return false
		}
	}
	if len(opts.Rooms) == 0 {
		return true
	}
	for _, r := range opts.Rooms {
		if rooms[r] {
			return true
		}
	}
	return false
}

func (a *MemoryAdapter) Close() {}
