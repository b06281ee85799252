// Package chatclient is a client of Banter's chat protocol 1 over Socket.IO
// (docs/protocol.md), built on package client: sessions, rooms, messages,
// direct messages, history, typing, presence, and catch-up after
// reconnects, so that every message of a room reaches the program once and
// in seq order across reconnects and server restarts.
//
// Entry points: [Dial] connects and starts a session; [Client.Join],
// [Client.Send], [Client.DM], [Client.History], [Client.Nick],
// [Client.Typing] act; everything the server pushes arrives as an [Event]
// at Config.OnEvent.
//
// Concurrency: methods are safe for concurrent use. OnEvent is called on
// one goroutine, one event at a time, in order; it may call the client's
// methods (those that wait for the server do not need that goroutine).
// Close waits for every goroutine the client started, but must not be
// called from OnEvent.
package chatclient

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/banter-chat/banter/client"
)

// Config configures a Client.
type Config struct {
	// Nickname to connect with (required without Token).
	Nickname string
	// Token is a JWT for servers that verify them: it is sent in the
	// Socket.IO handshake's auth, and the session then has the token's
	// nickname (Nickname is ignored).
	Token string
	// Rooms to join in the hello.
	Rooms []string
	// WatchUsers asks for user events (online/offline/renamed).
	WatchUsers bool
	// OnEvent receives every event; nil drops them.
	OnEvent func(Event)
	// Client configures the Socket.IO connection (reconnection, transports).
	Client client.Config
	// Logger: default discard.
	Logger *slog.Logger
}

// Client is a chat session that survives reconnects.
type Client struct {
	cfg  Config
	sock *client.Socket
	log  *slog.Logger
	q    *queue
	wg   sync.WaitGroup

	idPrefix string
	nextID   uint64

	mu       sync.Mutex
	nick     string
	token    string
	greeting *Hello        // the last hello ack
	ready    chan struct{} // closed while a session is established
	rooms    map[string]*room
	closed   bool
	ended    error // ErrReplaced: no more sessions
	ctx      context.Context
	cancel   context.CancelFunc
}

// Dial connects to the Banter server at url and starts a session.
func Dial(ctx context.Context, url string, cfg Config) (*Client, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	m, err := client.NewManager(url, cfg.Client)
	if err != nil {
		return nil, err
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	c := &Client{
		cfg: cfg, log: cfg.Logger, q: newQueue(), nick: cfg.Nickname,
		idPrefix: hex.EncodeToString(b[:]) + "-",
		ready:    make(chan struct{}), rooms: map[string]*room{},
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	for _, r := range cfg.Rooms {
		c.rooms[r] = &room{name: r, joining: true}
	}
	var opts client.SocketOptions
	if cfg.Token != "" {
		opts.Auth = map[string]any{"token": cfg.Token}
	}
	c.sock = m.Socket("/", opts)
	c.sock.On("message", c.onMessage)
	c.sock.On("presence", func(ev *client.Event) {
		var p PresenceEvent
		if ev.Bind(0, &struct {
			Room     *string `json:"room"`
			Nickname *string `json:"nickname"`
			Action   *string `json:"action"`
			From     *string `json:"from"`
		}{&p.Room, &p.Nickname, &p.Action, &p.From}) == nil {
			c.emit(p)
		}
	})
	c.sock.On("typing", func(ev *client.Event) {
		var t TypingEvent
		if ev.Bind(0, &struct {
			Room      *string   `json:"room"`
			Nicknames *[]string `json:"nicknames"`
		}{&t.Room, &t.Nicknames}) == nil {
			c.emit(t)
		}
	})
	c.sock.On("user", func(ev *client.Event) {
		var u struct {
			UserInfo
			Status string `json:"status"`
			From   string `json:"from"`
		}
		if ev.Bind(0, &u) == nil {
			c.emit(UserEvent{User: u.UserInfo, Status: u.Status, From: u.From})
		}
	})
	c.sock.On("error", func(ev *client.Event) {
		e := &Error{}
		if ev.Bind(0, e) == nil {
			c.emit(ErrorEvent{Err: e})
		}
	})
	c.sock.On("bye", func(ev *client.Event) {
		var b struct{ Reason string }
		_ = ev.Bind(0, &b)
		if b.Reason == "replaced" {
			c.mu.Lock()
			c.ended = ErrReplaced
			c.mu.Unlock()
		}
		c.emit(ByeEvent{Reason: b.Reason})
	})
	c.sock.OnDisconnect(func(r client.Reason) {
		c.mu.Lock()
		select {
		case <-c.ready:
			c.ready = make(chan struct{})
		default:
		}
		for _, rm := range c.rooms {
			rm.catchingUp = false
		}
		c.mu.Unlock()
		c.emit(StateEvent{Reason: string(r)})
	})
	m.OnReconnectAttempt(func(n int, d time.Duration) {
		c.emit(StateEvent{Reason: "reconnecting", Attempt: n, Delay: d})
	})
	// Every connection after the first resumes the session.
	first := true
	c.sock.OnConnect(func() {
		if first {
			first = false
			return
		}
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			if err := c.hello(c.ctx); err != nil && c.ctx.Err() == nil {
				c.emit(ErrorEvent{Err: fmt.Errorf("chat: resuming the session: %w", err)})
			}
		}()
	})
	if err := c.sock.Connect(ctx); err != nil {
		_ = c.Close()
		return nil, err
	}
	if err := c.hello(ctx); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

// hello starts (or resumes) the session: the rooms the client was in are
// joined in catch-up mode from the last seq it holds.
func (c *Client) hello(ctx context.Context) error {
	c.mu.Lock()
	args := map[string]any{"watchUsers": c.cfg.WatchUsers}
	if c.nick != "" && c.cfg.Token == "" { // with a token, the token names the user
		args["nickname"] = c.nick
	}
	if c.token != "" {
		args["resume"] = c.token
	}
	since := map[string]int64{}
	var fresh []string
	for _, name := range slices.Sorted(maps.Keys(c.rooms)) {
		rm := c.rooms[name]
		rm.catchingUp = true
		if rm.lastSeen > 0 {
			since[name] = rm.lastSeen
		} else {
			fresh = append(fresh, name)
		}
	}
	if len(since) > 0 {
		args["since"] = since
	}
	// The results come in this order: rooms, then since's keys (sorted,
	// as encoding/json writes them).
	sent := append(append([]string(nil), fresh...), slices.Sorted(maps.Keys(since))...)
	if len(fresh) > 0 {
		args["rooms"] = fresh
	}
	c.mu.Unlock()
	var s Hello
	if err := c.call(ctx, "hello", &s, args); err != nil {
		return err
	}
	c.mu.Lock()
	c.greeting = &s
	c.token = s.Token
	c.nick = s.Nickname
	c.mu.Unlock()
	for i, jr := range s.Rooms {
		if i < len(sent) && sent[i] != jr.Room {
			c.renameRoom(sent[i], jr.Room)
		}
		if !jr.OK {
			c.mu.Lock()
			delete(c.rooms, jr.Room)
			c.mu.Unlock()
			c.emit(ErrorEvent{Err: fmt.Errorf("chat: joining %s: %w", jr.Room, jr.Error)})
			continue
		}
		if err := c.applyJoin(ctx, jr); err != nil {
			return err
		}
	}
	c.mu.Lock()
	select {
	case <-c.ready:
	default:
		close(c.ready)
	}
	c.mu.Unlock()
	c.emit(StateEvent{Connected: true, Nickname: s.Nickname})
	return nil
}

// call emits event with args and decodes the protocol-1 ack into v.
func (c *Client) call(ctx context.Context, event string, v any, args ...any) error {
	ack, err := c.sock.EmitWithAck(ctx, event, args...)
	if err != nil {
		return err
	}
	raw := ack.Raw(0)
	if raw == nil {
		return &Error{Code: "internal", Message: "empty ack"}
	}
	return decodeAck(raw, v)
}

// session waits until a session is established (after a reconnect).
func (c *Client) waitSession(ctx context.Context) error {
	for {
		c.mu.Lock()
		ready, ended, closed := c.ready, c.ended, c.closed
		c.mu.Unlock()
		if closed {
			return ErrClosed
		}
		if ended != nil {
			return ended
		}
		select {
		case <-ready:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-c.ctx.Done():
			return ErrClosed
		}
	}
}

// retry runs a request until it is answered: across reconnects (the
// request is sent again once the session is back) and rate limits.
func (c *Client) retry(ctx context.Context, event string, v any, args ...any) error {
	for {
		if err := c.waitSession(ctx); err != nil {
			return err
		}
		err := c.call(ctx, event, v, args...)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, client.ErrDisconnected), errors.Is(err, ErrNotConnected):
			continue
		case errors.Is(err, ErrRateLimited), errors.Is(err, ErrUnavailable):
			t := time.NewTimer(time.Second)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			}
		default:
			return err
		}
	}
}

func (c *Client) clientID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nextID++
	return c.idPrefix + strconv.FormatUint(c.nextID, 10)
}

// Nickname is the session's nickname.
func (c *Client) Nickname() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nick
}

// Hello is the last hello ack (limits, default room, ...).
func (c *Client) Hello() Hello {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.greeting == nil {
		return Hello{}
	}
	return *c.greeting
}

// Connected reports whether a session is established now.
func (c *Client) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.ready:
		return true
	default:
		return false
	}
}

// Rooms the client is in, sorted.
func (c *Client) Joined() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Sorted(maps.Keys(c.rooms))
}

// Send posts text to room and returns once it is stored. A message whose
// acknowledgement was lost to a disconnect is sent again with the same
// client id after the reconnect: stored once, never twice.
func (c *Client) Send(ctx context.Context, room, text string) (SendResult, error) {
	var r SendResult
	err := c.retry(ctx, "send", &r, map[string]any{"room": room, "text": text, "clientId": c.clientID()})
	return r, err
}

// DM sends a direct message to the user nicknamed to.
func (c *Client) DM(ctx context.Context, to, text string) (SendResult, error) {
	var r SendResult
	err := c.retry(ctx, "dm", &r, map[string]any{"to": to, "text": text, "clientId": c.clientID()})
	if err == nil {
		c.mu.Lock()
		if c.rooms[r.Room] == nil {
			// The server joined us; the message arrives as an event.
			c.rooms[r.Room] = &room{name: r.Room, lastSeen: r.Seq - 1}
		}
		c.mu.Unlock()
	}
	return r, err
}

// Join joins room; its history arrives as MessageEvents (the latest page,
// or everything after the last message seen if the client was in it), then
// a JoinedEvent.
func (c *Client) Join(ctx context.Context, name string) (JoinResult, error) {
	c.mu.Lock()
	rm := c.rooms[name]
	args := map[string]any{"room": name}
	if rm != nil && rm.lastSeen > 0 {
		args["after"] = rm.lastSeen
	}
	if rm == nil {
		rm = &room{name: name, joining: true}
		c.rooms[name] = rm
	}
	rm.catchingUp = true
	c.mu.Unlock()
	var jr JoinResult
	err := c.retry(ctx, "join", &jr, args)
	if err != nil {
		c.mu.Lock()
		if rm.joining {
			delete(c.rooms, name)
		}
		rm.catchingUp = false
		c.mu.Unlock()
		return jr, err
	}
	c.renameRoom(name, jr.Room)
	return jr, c.applyJoin(ctx, jr)
}

// renameRoom moves the state of a room asked for as name to the server's
// canonical name (General → general).
func (c *Client) renameRoom(name, canonical string) {
	if name == canonical {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	rm := c.rooms[name]
	delete(c.rooms, name)
	if rm != nil && c.rooms[canonical] == nil {
		rm.name = canonical
		c.rooms[canonical] = rm
	}
}

// Leave leaves room.
func (c *Client) Leave(ctx context.Context, name string) error {
	var r struct{ Room string }
	if err := c.retry(ctx, "leave", &r, name); err != nil {
		return err
	}
	c.mu.Lock()
	delete(c.rooms, r.Room)
	c.mu.Unlock()
	c.emit(LeftEvent{Room: r.Room})
	return nil
}

// History returns up to limit messages of room older than seq before
// (0: the latest), oldest first. They are not delivered as events.
func (c *Client) History(ctx context.Context, room string, before int64, limit int) ([]Message, error) {
	var r struct{ Messages []Message }
	args := map[string]any{"room": room, "before": before}
	if limit > 0 {
		args["limit"] = limit
	}
	err := c.retry(ctx, "history", &r, args)
	return r.Messages, err
}

// RoomList lists public rooms with messages and the caller's DM rooms.
func (c *Client) RoomList(ctx context.Context) ([]RoomInfo, error) {
	var r struct{ Rooms []RoomInfo }
	err := c.retry(ctx, "rooms", &r)
	return r.Rooms, err
}

// Nick renames the session's user.
func (c *Client) Nick(ctx context.Context, nickname string) error {
	var r struct{ Nickname string }
	if err := c.retry(ctx, "nick", &r, nickname); err != nil {
		return err
	}
	c.mu.Lock()
	c.nick = r.Nickname
	// DM rooms belong to the old name: the server made us leave them.
	for name := range c.rooms {
		if len(name) > 3 && name[:3] == "dm:" {
			delete(c.rooms, name)
		}
	}
	c.mu.Unlock()
	c.emit(RenamedEvent{Nickname: r.Nickname})
	return nil
}

// Typing says whether the user is typing in room (lossy: not acknowledged,
// dropped while disconnected).
func (c *Client) Typing(room string, typing bool) {
	if c.Connected() {
		_ = c.sock.Emit("typing", map[string]any{"room": room, "typing": typing})
	}
}

// Transport is the Socket.IO transport in use, "" while disconnected.
func (c *Client) Transport() string { return c.sock.Manager().Transport() }

// Close ends the session and the connection, and waits.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	err := c.sock.Manager().Close()
	c.wg.Wait()
	c.q.close()
	return err
}

// emit queues an event for OnEvent.
func (c *Client) emit(ev Event) {
	if c.cfg.OnEvent != nil {
		c.q.do(func() { c.cfg.OnEvent(ev) })
	}
}

// onMessage takes a message event from the server.
func (c *Client) onMessage(ev *client.Event) {
	var m Message
	if err := ev.Bind(0, &m); err != nil {
		c.log.Debug("chat: bad message event", "err", err)
		return
	}
	c.mu.Lock()
	rm := c.rooms[m.Room]
	if rm == nil {
		// A DM whose room we were joined to by the server.
		rm = &room{name: m.Room, lastSeen: m.Seq - 1}
		c.rooms[m.Room] = rm
	}
	gap := c.takeLocked(rm, m)
	c.mu.Unlock()
	if gap {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.fillGap(rm.name)
		}()
	}
}

// queue runs callbacks one at a time, in order, on one goroutine.
type queue struct {
	mu     sync.Mutex
	cond   *sync.Cond
	q      []func()
	closed bool
	done   chan struct{}
}

func newQueue() *queue {
	q := &queue{done: make(chan struct{})}
	q.cond = sync.NewCond(&q.mu)
	go q.loop()
	return q
}

func (q *queue) do(f func()) {
	q.mu.Lock()
	if !q.closed {
		q.q = append(q.q, f)
		q.cond.Signal()
	}
	q.mu.Unlock()
}

func (q *queue) loop() {
	defer close(q.done)
	for {
		q.mu.Lock()
		for len(q.q) == 0 && !q.closed {
			q.cond.Wait()
		}
		if len(q.q) == 0 {
			q.mu.Unlock()
			return
		}
		f := q.q[0]
		q.q[0] = nil
		q.q = q.q[1:]
		q.mu.Unlock()
		f()
	}
}

func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.cond.Signal()
	q.mu.Unlock()
	<-q.done
}
