package redisadapter

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/banter-chat/banter/socketio"
	"github.com/banter-chat/banter/socketio/parser"
	"github.com/banter-chat/banter/socketio/redisadapter/wire"
)

// Adapter is the adapter of one namespace: a socketio.MemoryAdapter for
// this node's sockets plus the Redis side.
type Adapter struct {
	*socketio.MemoryAdapter
	c   *Cluster
	nsp *socketio.Namespace
	uid string // this node's id in this namespace's messages

	channel         string // key#nsp#  (broadcasts; + room# for one room)
	pattern         string // key#nsp#* with glob characters escaped
	requestChannel  string // key-request#nsp#
	responseChannel string // key-response#nsp#
	specificChannel string // key-response#nsp#uid#

	mu       sync.Mutex
	closed   bool
	requests map[string]*pending    // by request id: requests of ours waiting for answers
	acks     map[string]*ackPending // by request id: broadcasts with ack of ours
}

var _ socketio.Adapter = (*Adapter)(nil)

func newAdapter(c *Cluster, n *socketio.Namespace) *Adapter {
	a := &Adapter{
		MemoryAdapter:   socketio.NewMemoryAdapter(n),
		c:               c,
		nsp:             n,
		uid:             randomID(6),
		channel:         c.cfg.Key + "#" + n.Name() + "#",
		requestChannel:  c.cfg.Key + "-request#" + n.Name() + "#",
		responseChannel: c.cfg.Key + "-response#" + n.Name() + "#",
		requests:        make(map[string]*pending),
		acks:            make(map[string]*ackPending),
	}
	a.specificChannel = a.responseChannel + a.uid + "#"
	a.pattern = globEscape(a.channel) + "*"
	return a
}

// globEscape escapes the characters PSUBSCRIBE patterns give a meaning.
func globEscape(s string) string {
	if !strings.ContainsAny(s, `*?[]\`) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// isResponseChannel reports whether channel carries answers to our
// requests.
func (a *Adapter) isResponseChannel(channel string) bool {
	return channel == a.responseChannel || channel == a.specificChannel
}

func (a *Adapter) ownChannels() []string {
	return []string{a.requestChannel, a.responseChannel, a.specificChannel}
}

// pending is a request of ours waiting for the other nodes.
type pending struct {
	typ     int
	want    int // answers expected
	got     int
	sockets []*socketio.RemoteSocket
	rooms   []string
	answers []any
	err     error
	done    chan struct{} // closed when got == want or on failure
}

type ackPending struct {
	onCount func(int)
	onAck   func([]any, error)
}

// --- broadcasts --------------------------------------------------------------

// Broadcast delivers p here and, unless opts.Local, publishes it for the
// other nodes: on key#nsp#room# when exactly one room is targeted, else on
// key#nsp# (as Node's adapter does, so nodes skip rooms they do not have).
// Local clients are served first: they do not wait for Redis.
func (a *Adapter) Broadcast(p *parser.Packet, opts socketio.BroadcastOptions) {
	a.MemoryAdapter.Broadcast(p, opts)
	if !opts.Local {
		a.publishBroadcast(p, opts)
	}
}

func (a *Adapter) publishBroadcast(p *parser.Packet, opts socketio.BroadcastOptions) {
	msg, err := wire.EncodeBroadcast(a.uid, p, wire.Opts(opts))
	if err != nil {
		a.c.log.Warn("redisadapter: cannot encode a broadcast; other nodes miss it", "nsp", a.nsp.Name(), "err", err)
		return
	}
	ch := a.channel
	if rooms := wire.Dedup(opts.Rooms); len(rooms) == 1 {
		ch += rooms[0] + "#"
	}
	if err := a.c.publish(context.Background(), ch, msg); err != nil {
		a.c.log.Warn("redisadapter: broadcast not published; other nodes miss it", "nsp", a.nsp.Name(), "err", err)
	}
}

// onBroadcast handles a message of key#nsp#*.
func (a *Adapter) onBroadcast(channel string, msg []byte) {
	rest, ok := strings.CutPrefix(channel, a.channel)
	if !ok {
		return
	}
	if room := strings.TrimSuffix(rest, "#"); room != "" && !a.HasRoom(room) {
		return // no local member: skip the decoding
	}
	if uid, err := wire.BroadcastUID(msg); err == nil && uid == a.uid {
		return // our own, delivered locally when published
	}
	m, err := wire.DecodeBroadcast(msg)
	if err != nil {
		a.c.log.Warn("redisadapter: dropped a broadcast", "channel", channel, "err", err)
		return
	}
	if m.Packet.Namespace != a.nsp.Name() {
		return
	}
	m.Opts.Local = true
	a.MemoryAdapter.Broadcast(m.Packet, socketio.BroadcastOptions(m.Opts))
}

// BroadcastWithAck delivers p here and, unless opts.Local, asks the other
// nodes to deliver it too; each node answers with its client count, then
// with each client's acknowledgement (its first argument).
func (a *Adapter) BroadcastWithAck(ctx context.Context, p *parser.Packet, opts socketio.BroadcastOptions, onCount func(int), onAck func([]any, error)) {
	if !opts.Local {
		var timeout int64
		if dl, ok := ctx.Deadline(); ok {
			timeout = max(1, time.Until(dl).Milliseconds())
		}
		id := randomID(6)
		msg, err := wire.EncodeBroadcastRequest(a.uid, id, p, wire.Opts(opts), timeout)
		if err != nil {
			a.c.log.Warn("redisadapter: cannot encode a broadcast; other nodes miss it", "nsp", a.nsp.Name(), "err", err)
		} else {
			a.mu.Lock()
			a.acks[id] = &ackPending{onCount: onCount, onAck: onAck}
			a.mu.Unlock()
			// Answers nobody waits for any more are dropped.
			context.AfterFunc(ctx, func() {
				a.mu.Lock()
				delete(a.acks, id)
				a.mu.Unlock()
			})
			if err := a.c.publish(ctx, a.requestChannel, msg); err != nil {
				a.c.log.Warn("redisadapter: broadcast not published; other nodes miss it", "nsp", a.nsp.Name(), "err", err)
			}
		}
	}
	a.MemoryAdapter.BroadcastWithAck(ctx, p, opts, onCount, onAck)
}

// ServerCount counts the nodes subscribed to the namespace's request
// channel (Node does the same; emitters are not counted).
func (a *Adapter) ServerCount(ctx context.Context) (int, error) {
	return a.c.numsub(ctx, a.requestChannel)
}

// --- requests of ours ----------------------------------------------------------

// ask publishes a JSON request and waits for want answers.
func (a *Adapter) ask(ctx context.Context, what string, req *wire.Request, p *pending) error {
	req.UID = a.uid
	req.RequestID = randomID(6)
	msg, err := wire.EncodeJSON(req)
	if err != nil {
		return err
	}
	p.typ = req.Type
	p.done = make(chan struct{})
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return ErrClosed
	}
	a.requests[req.RequestID] = p
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		delete(a.requests, req.RequestID)
		a.mu.Unlock()
	}()
	if err := a.c.publish(ctx, a.requestChannel, msg); err != nil {
		return err
	}
	timer := time.NewTimer(a.c.cfg.RequestsTimeout)
	defer timer.Stop()
	select {
	case <-p.done:
		a.mu.Lock()
		defer a.mu.Unlock()
		return p.err
	case <-timer.C:
	case <-ctx.Done():
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return fmt.Errorf("%w: %s: %d of %d nodes answered", ErrTimeout, what, p.got, p.want)
}

// others returns how many other nodes serve the namespace.
func (a *Adapter) others(ctx context.Context) (int, error) {
	n, err := a.ServerCount(ctx)
	if err != nil {
		return 0, err
	}
	return n - 1, nil
}

// FetchSockets returns this node's matching sockets and, unless
// opts.Local, the other nodes'.
func (a *Adapter) FetchSockets(ctx context.Context, opts socketio.BroadcastOptions) ([]*socketio.RemoteSocket, error) {
	local, err := a.MemoryAdapter.FetchSockets(ctx, opts)
	if err != nil || opts.Local {
		return local, err
	}
	n, err := a.others(ctx)
	if err != nil || n <= 0 {
		return local, err
	}
	p := &pending{want: n, sockets: local}
	err = a.ask(ctx, "fetchSockets", &wire.Request{Type: wire.TypeRemoteFetch, Opts: wire.NewRequestOpts(wire.Opts(opts))}, p)
	a.mu.Lock()
	defer a.mu.Unlock()
	return p.sockets, err
}

// AllRooms returns the rooms of every node.
func (a *Adapter) AllRooms(ctx context.Context) ([]string, error) {
	local, err := a.MemoryAdapter.AllRooms(ctx)
	if err != nil {
		return nil, err
	}
	n, err := a.others(ctx)
	if err != nil || n <= 0 {
		return local, err
	}
	p := &pending{want: n, rooms: local}
	err = a.ask(ctx, "allRooms", &wire.Request{Type: wire.TypeAllRooms}, p)
	a.mu.Lock()
	defer a.mu.Unlock()
	seen := make(map[string]struct{}, len(p.rooms))
	out := make([]string, 0, len(p.rooms))
	for _, r := range p.rooms {
		if _, dup := seen[r]; !dup {
			seen[r] = struct{}{}
			out = append(out, r)
		}
	}
	return out, err
}

// AddSockets makes the matching sockets join rooms: here at once, on the
// other nodes when they read the request.
func (a *Adapter) AddSockets(opts socketio.BroadcastOptions, rooms []string) error {
	_ = a.MemoryAdapter.AddSockets(opts, rooms)
	if opts.Local {
		return nil
	}
	return a.tell(&wire.Request{Type: wire.TypeRemoteJoin, Opts: wire.NewRequestOpts(wire.Opts(opts)), Rooms: rooms})
}

// DelSockets makes the matching sockets leave rooms.
func (a *Adapter) DelSockets(opts socketio.BroadcastOptions, rooms []string) error {
	_ = a.MemoryAdapter.DelSockets(opts, rooms)
	if opts.Local {
		return nil
	}
	return a.tell(&wire.Request{Type: wire.TypeRemoteLeave, Opts: wire.NewRequestOpts(wire.Opts(opts)), Rooms: rooms})
}

// DisconnectSockets disconnects the matching sockets.
func (a *Adapter) DisconnectSockets(opts socketio.BroadcastOptions, close bool) error {
	_ = a.MemoryAdapter.DisconnectSockets(opts, close)
	if opts.Local {
		return nil
	}
	return a.tell(&wire.Request{Type: wire.TypeRemoteDisconnect, Opts: wire.NewRequestOpts(wire.Opts(opts)), Close: close})
}

// tell publishes a request nobody answers.
func (a *Adapter) tell(req *wire.Request) error {
	req.UID = a.uid
	if req.Rooms == nil && (req.Type == wire.TypeRemoteJoin || req.Type == wire.TypeRemoteLeave) {
		req.Rooms = wire.RoomList{}
	}
	msg, err := wire.EncodeJSON(req)
	if err != nil {
		return err
	}
	return a.c.publish(context.Background(), a.requestChannel, msg)
}

// serverSideData encodes [event, args...] as JSON (Node JSON.stringifies
// it too).
func serverSideData(event string, args []any) (json.RawMessage, error) {
	data, err := json.Marshal(append([]any{event}, args...))
	if err != nil {
		return nil, fmt.Errorf("redisadapter: serverSideEmit arguments: %w", err)
	}
	return data, nil
}

// ServerSideEmit sends an event to the other nodes.
func (a *Adapter) ServerSideEmit(event string, args []any) error {
	data, err := serverSideData(event, args)
	if err != nil {
		return err
	}
	return a.tell(&wire.Request{Type: wire.TypeServerSideEmit, Data: data})
}

// ServerSideEmitWithAck sends an event to the other nodes and waits for
// one answer from each.
func (a *Adapter) ServerSideEmitWithAck(ctx context.Context, event string, args []any) ([]any, error) {
	data, err := serverSideData(event, args)
	if err != nil {
		return nil, err
	}
	n, err := a.others(ctx)
	if err != nil {
		return nil, err
	}
	if n <= 0 {
		return []any{}, nil
	}
	p := &pending{want: n, answers: []any{}}
	err = a.ask(ctx, "serverSideEmit", &wire.Request{Type: wire.TypeServerSideEmit, Data: data}, p)
	a.mu.Lock()
	defer a.mu.Unlock()
	return p.answers, err
}

// failPending ends every request of ours with err.
func (a *Adapter) failPending(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closed = true
	for _, p := range a.requests {
		if p.err == nil {
			p.err = err
			close(p.done)
		}
	}
	clear(a.requests)
}

// Close stops the namespace's traffic with the other nodes.
func (a *Adapter) Close() {
	a.failPending(ErrClosed)
	a.c.remove(a)
	a.MemoryAdapter.Close()
}

// --- messages from other nodes -----------------------------------------------

func (a *Adapter) onRequest(msg []byte) {
	req, err := wire.DecodeRequest(msg)
	if err != nil {
		a.c.log.Warn("redisadapter: dropped a request", "nsp", a.nsp.Name(), "err", err)
		return
	}
	if req.UID == a.uid {
		return // ours: applied locally when sent, or answered by nobody here
	}
	switch req.Type {
	case wire.TypeSockets:
		ids := a.Sockets(socketio.BroadcastOptions{Rooms: req.Rooms})
		if ids == nil {
			ids = []string{}
		}
		a.answer(req, map[string]any{"requestId": req.RequestID, "sockets": ids})
	case wire.TypeAllRooms:
		rooms, _ := a.MemoryAdapter.AllRooms(context.Background())
		a.answer(req, map[string]any{"requestId": req.RequestID, "rooms": rooms})
	case wire.TypeRemoteJoin, wire.TypeRemoteLeave, wire.TypeRemoteDisconnect:
		a.onRemoteChange(req)
	case wire.TypeRemoteFetch:
		local, _ := a.MemoryAdapter.FetchSockets(context.Background(), socketio.BroadcastOptions(req.Opts.Opts()))
		sockets := make([]wire.Socket, 0, len(local))
		for _, s := range local {
			w := toWireSocket(s)
			if _, err := json.Marshal(w.Data); err != nil {
				a.c.log.Warn("redisadapter: socket data cannot be sent as JSON; fetchSockets gets null", "sid", s.ID, "err", err)
				w.Data = nil
			}
			sockets = append(sockets, w)
		}
		a.answer(req, map[string]any{"requestId": req.RequestID, "sockets": sockets})
	case wire.TypeServerSideEmit:
		a.onServerSideEmit(req)
	case wire.TypeBroadcast:
		a.onBroadcastRequest(req)
	default:
		a.c.log.Warn("redisadapter: dropped a request of unknown type", "nsp", a.nsp.Name(), "type", req.Type)
	}
}

// onRemoteChange applies REMOTE_JOIN, REMOTE_LEAVE or REMOTE_DISCONNECT:
// to the sockets matching opts, or (older peers) to one socket by id, then
// answered.
func (a *Adapter) onRemoteChange(req *wire.Request) {
	if req.Opts != nil {
		opts := socketio.BroadcastOptions(req.Opts.Opts())
		switch req.Type {
		case wire.TypeRemoteJoin:
			_ = a.MemoryAdapter.AddSockets(opts, req.Rooms)
		case wire.TypeRemoteLeave:
			_ = a.MemoryAdapter.DelSockets(opts, req.Rooms)
		default:
			_ = a.MemoryAdapter.DisconnectSockets(opts, req.Close)
		}
		return
	}
	s := a.nsp.Socket(req.SID)
	if s == nil {
		return
	}
	switch req.Type {
	case wire.TypeRemoteJoin:
		s.Join(req.Room)
	case wire.TypeRemoteLeave:
		s.Leave(req.Room)
	default:
		s.Disconnect(req.Close)
	}
	a.answer(req, map[string]any{"requestId": req.RequestID})
}

func (a *Adapter) onServerSideEmit(req *wire.Request) {
	var data []any
	if err := json.Unmarshal(req.Data, &data); err != nil || len(data) == 0 {
		a.c.log.Warn("redisadapter: dropped a serverSideEmit without [event, args...]", "nsp", a.nsp.Name())
		return
	}
	event, ok := data[0].(string)
	if !ok {
		a.c.log.Warn("redisadapter: dropped a serverSideEmit whose event name is not a string", "nsp", a.nsp.Name())
		return
	}
	var ack func(any)
	if req.RequestID != "" {
		ack = func(v any) {
			// Always on the shared response channel, as Node answers.
			res := map[string]any{"type": wire.TypeServerSideEmit, "requestId": req.RequestID}
			if v != nil {
				res["data"] = v
			}
			msg, err := wire.EncodeJSON(res)
			if err != nil {
				a.c.log.Warn("redisadapter: cannot encode a serverSideEmit answer", "err", err)
				return
			}
			a.c.publishLater(a.responseChannel, msg)
		}
	}
	a.nsp.HandleServerSideEmit(event, data[1:], ack)
}

// onBroadcastRequest delivers another node's broadcast with ack and
// answers with the client count, then each acknowledgement.
func (a *Adapter) onBroadcastRequest(req *wire.Request) {
	a.mu.Lock()
	_, ours := a.acks[req.RequestID]
	a.mu.Unlock()
	if ours || req.Packet == nil {
		return
	}
	if req.Packet.Namespace != a.nsp.Name() {
		return
	}
	ctx := context.Background()
	if req.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(req.Timeout)*time.Millisecond)
		context.AfterFunc(ctx, cancel)
	}
	opts := socketio.BroadcastOptions(req.BroadcastOpts)
	opts.Local = true
	a.MemoryAdapter.BroadcastWithAck(ctx, req.Packet, opts,
		func(n int) {
			a.answer(req, map[string]any{"type": wire.TypeBroadcastClientCount, "requestId": req.RequestID, "clientCount": n})
		},
		func(args []any, err error) {
			if err != nil {
				return // the client left without answering: Node sends nothing either
			}
			msg, err := wire.EncodeBroadcastAck(req.RequestID, args)
			if err != nil {
				a.c.log.Warn("redisadapter: cannot encode an acknowledgement", "err", err)
				return
			}
			a.c.publishLater(a.responseChannelFor(req), msg)
		})
}

// responseChannelFor is where answers to req go.
func (a *Adapter) responseChannelFor(req *wire.Request) string {
	if a.c.cfg.PublishOnSpecificResponseChannel && req.UID != "" {
		return a.responseChannel + req.UID + "#"
	}
	return a.responseChannel
}

// answer queues a JSON answer to req.
func (a *Adapter) answer(req *wire.Request, res any) {
	msg, err := wire.EncodeJSON(res)
	if err != nil {
		a.c.log.Warn("redisadapter: cannot encode an answer", "nsp", a.nsp.Name(), "err", err)
		return
	}
	a.c.publishLater(a.responseChannelFor(req), msg)
}

// onResponse handles an answer to one of our requests.
func (a *Adapter) onResponse(msg []byte) {
	res, err := wire.DecodeResponse(msg)
	if err != nil {
		a.c.log.Warn("redisadapter: dropped a response", "nsp", a.nsp.Name(), "err", err)
		return
	}
	a.mu.Lock()
	ack := a.acks[res.RequestID]
	p := a.requests[res.RequestID]
	a.mu.Unlock()
	if ack != nil {
		switch res.Type {
		case wire.TypeBroadcastClientCount:
			ack.onCount(res.ClientCount)
		case wire.TypeBroadcastAck:
			args := []any{}
			if res.Ack != nil {
				if args, err = parser.DecodeArgs(res.Ack, res.Attachments); err != nil {
					ack.onAck(nil, err)
					return
				}
			}
			ack.onAck(args, nil)
		}
		return
	}
	if p == nil {
		return // not ours, or too late
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if p.err != nil || p.got >= p.want {
		return
	}
	switch p.typ {
	case wire.TypeRemoteFetch:
		var sockets []wire.Socket
		if err := json.Unmarshal(res.Sockets, &sockets); err != nil {
			a.c.log.Warn("redisadapter: dropped a fetchSockets answer", "err", err)
			return
		}
		for i := range sockets {
			p.sockets = append(p.sockets, remoteSocket(&sockets[i]))
		}
	case wire.TypeAllRooms:
		p.rooms = append(p.rooms, res.Rooms...)
	case wire.TypeServerSideEmit:
		var v any
		if len(res.Data) > 0 {
			if err := json.Unmarshal(res.Data, &v); err != nil {
				a.c.log.Warn("redisadapter: dropped a serverSideEmit answer", "err", err)
				return
			}
		}
		p.answers = append(p.answers, v)
	default:
		return
	}
	p.got++
	if p.got == p.want {
		close(p.done)
	}
}
