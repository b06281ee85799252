package jsonproto

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/banter-chat/banter/chat"
)

// ProtocolVersion is the chat protocol version (docs/protocol.md): the
// JSON protocol uses the same names, shapes and codes as protocol 1.
const ProtocolVersion = 1

// Config configures the protocol side of connections. The zero value of
// every field means its default.
type Config struct {
	// Logger receives operational logs. Default: discard.
	Logger *slog.Logger
	// CallTimeout bounds one chat call (a Store read or append). Default 10s.
	CallTimeout time.Duration
	// RequestBurst and RequestsPerSecond shape a per-connection token
	// bucket over every command, as on Socket.IO. Defaults 100 and 50.
	RequestBurst      int
	RequestsPerSecond float64
	// Now is the clock of the request bucket. Default time.Now.
	Now func() time.Time
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.CallTimeout <= 0 {
		c.CallTimeout = 10 * time.Second
	}
	if c.RequestBurst <= 0 {
		c.RequestBurst = 100
	}
	if c.RequestsPerSecond <= 0 {
		c.RequestsPerSecond = 50
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Transport is the connection under a Conn.
type Transport interface {
	// Send queues one frame for the client and never blocks. Lossy frames
	// (typing) may be dropped when the client has a backlog; anything
	// else that does not fit closes the connection as a slow consumer.
	Send(frame []byte, lossy bool)
	// Close closes the connection once what is queued is written. It must
	// not block: it is called from Deliver, under chat's locks.
	Close(reason string)
}

// Format is how a connection renders chat events; JSON by default (the TCP
// gateway's text mode has its own).
type Format struct {
	// Key identifies the format for chat.Event.Encoded, so each event is
	// encoded once per format for all recipients.
	Key any
	// Event encodes a chat event; nil bytes mean "not sent".
	Event func(*chat.Event) ([]byte, error)
	// Bye encodes the frame sent before the server ends a session.
	Bye func(d *chat.Disconnect) []byte
}

type keyJSON struct{}

// JSON is the format of docs/protocol.md, "Plain WebSocket".
var JSON = &Format{Key: keyJSON{}, Event: EncodeChatEvent, Bye: EncodeDisconnect}

// Conn is the chat side of one client connection: it runs commands against
// the chat Service and is its session's chat.Sink. Commands of one
// connection must be run one at a time (the transport's reader does);
// Deliver and End may be called from any goroutine.
type Conn struct {
	svc    *chat.Service
	cfg    Config
	t      Transport
	reqs   *chat.Bucket
	format atomic.Pointer[Format]

	mu    sync.Mutex
	sess  *chat.Session
	ended bool
}

// identity verifies the token of hello (Service.Authenticate: none is
// fine in anonymous mode, and then the nickname is the client's choice).
func (c *Conn) identity(ctx context.Context, token string) (*chat.Identity, error) {
	id, err := c.svc.Authenticate(ctx, token)
	if code := chat.ErrorCode(err); code == chat.CodeUnavailable || code == chat.CodeInternal {
		c.cfg.Logger.Warn("jsonproto: cannot verify a token", "err", err)
	}
	return id, err
}

// NewConn returns the protocol state of a new connection on t. cfg must
// have its defaults applied (Config.WithDefaults).
func NewConn(svc *chat.Service, t Transport, cfg Config) *Conn {
	c := &Conn{svc: svc, cfg: cfg, t: t, reqs: chat.NewBucket(cfg.RequestBurst, cfg.RequestsPerSecond, cfg.Now)}
	c.format.Store(JSON)
	return c
}

// SetFormat selects how events are rendered; call it before hello.
func (c *Conn) SetFormat(f *Format) { c.format.Store(f) }

// Session returns the chat session, nil before hello.
func (c *Conn) Session() *chat.Session {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sess
}

// End ends the session (the connection is gone). Later commands fail.
func (c *Conn) End(reason string) {
	c.mu.Lock()
	sess := c.sess
	c.ended = true
	c.mu.Unlock()
	if sess != nil {
		sess.Disconnect(reason)
	}
}

// Deliver implements chat.Sink: encode once per event and format, enqueue.
func (c *Conn) Deliver(ev *chat.Event) {
	f := c.format.Load()
	if ev.Kind == chat.EventDisconnect {
		c.t.Send(f.Bye(ev.Disconnect), false)
		c.t.Close(string(ev.Disconnect.Reason))
		return
	}
	data, err := ev.Encoded(f.Key, f.Event)
	if err != nil {
		c.cfg.Logger.Error("jsonproto: cannot encode event", "kind", ev.Kind.String(), "err", err)
		return
	}
	if len(data) > 0 {
		c.t.Send(data, ev.Kind == chat.EventTyping)
	}
}

// HandleFrame runs one JSON command and sends its reply (or, for a command
// without id that failed, an "error" event).
func (c *Conn) HandleFrame(data []byte) {
	cmd, err := DecodeCommand(data)
	if err == nil && !c.reqs.Take() {
		if cmd.Type == "typing" || cmd.Type == "pong" {
			return // lossy: dropped silently
		}
		err = errTooManyRequests
	}
	var res any
	if err == nil {
		if cmd.Type == "ping" {
			c.t.Send(encodePong(cmd.ID), false)
			return
		}
		res, err = c.Exec(cmd)
	}
	defer func() {
		if cmd.Type == "hello" && IsAuthError(err) {
			// A refused token ends the connection: the client must
			// come back with a good one (docs/protocol.md).
			c.t.Close(string(chat.ErrorCode(err)))
		}
	}()
	switch {
	case err == nil && cmd.HasID():
		c.t.Send(EncodeReply(cmd.ID, res), false)
	case err == nil:
	case cmd.HasID():
		c.logFailure(cmd.Type, err)
		c.t.Send(EncodeFailure(cmd.ID, ErrorFor(err)), false)
	case cmd.Type == "typing":
		// Typing is lossy: no error unless the client asked for a reply.
	default:
		c.logFailure(cmd.Type, err)
		body := ErrorFor(err)
		body.Command = cmd.Type
		b, _ := EncodeEvent("error", body)
		c.t.Send(b, false)
	}
}

// IsAuthError reports whether err refused a token (or its absence).
func IsAuthError(err error) bool {
	switch chat.ErrorCode(err) {
	case chat.CodeUnauthenticated, chat.CodeTokenExpired, chat.CodeTokenInvalid:
		return true
	}
	return false
}

func (c *Conn) logFailure(cmd string, err error) {
	if code := chat.ErrorCode(err); code == chat.CodeInternal || code == chat.CodeUnavailable {
		c.cfg.Logger.Warn("jsonproto: command failed", "command", cmd, "err", err)
	}
}

func encodePong(id json.RawMessage) []byte {
	if len(id) == 0 {
		return []byte(`{"type":"pong"}`)
	}
	return append(append([]byte(`{"type":"pong","ref":`), id...), '}')
}

var errTooManyRequests = chat.Errorf(chat.CodeRateLimited, "too many requests, slow down")

// Results of the commands: the ack shapes of protocol 1 without "ok"
// (EncodeReply adds it).
type (
	// HelloResult answers hello.
	HelloResult struct {
		Protocol    int         `json:"protocol"`
		ID          string      `json:"id"`
		Nickname    string      `json:"nickname"`
		Token       string      `json:"token"`
		Limits      chat.Limits `json:"limits"`
		DefaultRoom string      `json:"defaultRoom"`
		Rooms       []any       `json:"rooms"`
		Users       []chat.User `json:"users,omitempty"`
	}
	// JoinResult answers join (and is an element of HelloResult.Rooms).
	JoinResult struct {
		OK bool `json:"ok"`
		chat.JoinResult
	}
	// JoinFailure is an element of HelloResult.Rooms for a room that
	// could not be joined.
	JoinFailure struct {
		Room  string    `json:"room"`
		OK    bool      `json:"ok"`
		Error ErrorBody `json:"error"`
	}
	// NickResult answers nick.
	NickResult struct {
		Nickname string `json:"nickname"`
	}
	// RoomResult answers leave.
	RoomResult struct {
		Room string `json:"room"`
	}
	// RoomsResult answers rooms.
	RoomsResult struct {
		Rooms []chat.RoomInfo `json:"rooms"`
	}
	// SendResult answers send and dm.
	SendResult struct {
		ID        string `json:"id"`
		Room      string `json:"room"`
		Seq       int64  `json:"seq"`
		TS        int64  `json:"ts"`
		Duplicate bool   `json:"duplicate,omitempty"`
	}
	// DeleteResult answers delete.
	DeleteResult struct {
		Room string `json:"room"`
		Seq  int64  `json:"seq"`
	}
	// PageResult answers history and since.
	PageResult struct {
		Room     string         `json:"room"`
		Messages []chat.Message `json:"messages"`
	}
)

// Exec runs one decoded command and returns its result (one of the Result
// types above, or nil for commands without fields).
func (c *Conn) Exec(cmd Command) (any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.CallTimeout)
	defer cancel()
	switch cmd.Type {
	case "hello":
		return c.hello(ctx, cmd)
	case "pong":
		return nil, nil // the answer to a server ping; reading it was the point
	case "nick", "join", "leave", "rooms", "send", "dm", "history", "since", "typing", "kick", "delete":
	default:
		return nil, chat.Errorf(chat.CodeInvalidArgument, "unknown command %q", cmd.Type)
	}
	sess := c.Session()
	if sess == nil {
		return nil, chat.Errorf(chat.CodeNotConnected, "say hello first")
	}
	switch cmd.Type {
	case "delete":
		if cmd.Room == "" {
			return nil, chat.Errorf(chat.CodeInvalidRoom, "delete: field \"room\" is missing")
		}
		m, err := sess.DeleteMessage(ctx, cmd.Room, cmd.Seq)
		if err != nil {
			return nil, err
		}
		return DeleteResult{Room: m.Room, Seq: m.Seq}, nil
	case "kick":
		if cmd.Nickname == "" {
			return nil, chat.Errorf(chat.CodeInvalidNickname, "kick: field \"nickname\" is missing")
		}
		return nil, sess.Kick(ctx, cmd.Nickname, cmd.Reason)
	case "nick":
		if err := sess.Rename(ctx, cmd.Nickname); err != nil {
			return nil, err
		}
		return NickResult{Nickname: sess.Nickname()}, nil
	case "join":
		if cmd.Room == "" {
			return nil, chat.Errorf(chat.CodeInvalidArgument, "join: field \"room\" is missing")
		}
		opt := chat.JoinOptions{Limit: cmd.Limit}
		if cmd.After != nil {
			opt.CatchUp, opt.After = true, *cmd.After
		}
		res, err := sess.Join(ctx, cmd.Room, opt)
		if err != nil {
			return nil, err
		}
		return JoinResult{OK: true, JoinResult: res}, nil
	case "leave":
		if err := sess.Leave(ctx, cmd.Room); err != nil {
			return nil, err
		}
		canon, _ := chat.NormalizeRoom(cmd.Room) // Leave succeeded: valid
		return RoomResult{Room: canon}, nil
	case "rooms":
		rooms, err := sess.Rooms(ctx)
		if err != nil {
			return nil, err
		}
		if rooms == nil {
			rooms = []chat.RoomInfo{}
		}
		return RoomsResult{Rooms: rooms}, nil
	case "send", "dm":
		if cmd.Text == nil {
			return nil, chat.Errorf(chat.CodeInvalidArgument, "%s: field \"text\" is missing", cmd.Type)
		}
		var m chat.Message
		var err error
		if cmd.Type == "dm" {
			if cmd.To == "" {
				return nil, chat.Errorf(chat.CodeInvalidArgument, "dm: field \"to\" is missing")
			}
			m, err = sess.DirectMessage(ctx, cmd.To, *cmd.Text, cmd.ClientID)
		} else {
			m, err = sess.Send(ctx, cmd.Room, *cmd.Text, cmd.ClientID)
		}
		if err != nil {
			return nil, err
		}
		return SendResult{ID: m.ID, Room: m.Room, Seq: m.Seq, TS: m.TS, Duplicate: m.Duplicate}, nil
	case "history", "since":
		var msgs []chat.Message
		var err error
		if cmd.Type == "history" {
			msgs, err = sess.History(ctx, cmd.Room, cmd.Before, cmd.Limit)
		} else {
			var after int64
			if cmd.After != nil {
				after = *cmd.After
			}
			msgs, err = sess.Since(ctx, cmd.Room, after, cmd.Limit)
		}
		if err != nil {
			return nil, err
		}
		canon, _ := chat.NormalizeRoom(cmd.Room)
		return PageResult{Room: canon, Messages: msgs}, nil
	default: // typing
		if cmd.Typing == nil {
			return nil, chat.Errorf(chat.CodeInvalidArgument, "typing: field \"typing\" is missing")
		}
		return nil, sess.Typing(ctx, cmd.Room, *cmd.Typing)
	}
}

func (c *Conn) hello(ctx context.Context, cmd Command) (any, error) {
	if c.Session() != nil {
		return nil, chat.Errorf(chat.CodeInvalidArgument, "hello was already said on this connection (use nick to rename)")
	}
	if len(cmd.Rooms)+len(cmd.Since) > MaxHelloRooms {
		return nil, chat.Errorf(chat.CodeInvalidArgument, "hello: at most %d rooms in rooms and since", MaxHelloRooms)
	}
	ident, err := c.identity(ctx, cmd.Token)
	if err != nil {
		return nil, err
	}
	sess, err := c.svc.Connect(ctx, chat.ConnectParams{
		Nickname: cmd.Nickname, Identity: ident, Sink: c, ResumeToken: cmd.Resume, WatchUsers: cmd.WatchUsers,
	})
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		sess.Disconnect("connection closed during hello")
		return nil, chat.ErrNotConnected
	}
	c.sess = sess
	c.mu.Unlock()

	results := []any{}
	join := func(room string, opt chat.JoinOptions) {
		res, err := sess.Join(ctx, room, opt)
		if err != nil {
			results = append(results, JoinFailure{Room: room, Error: ErrorFor(err)})
			return
		}
		results = append(results, JoinResult{OK: true, JoinResult: res})
	}
	inRooms := make(map[string]bool, len(cmd.Rooms))
	for _, r := range cmd.Rooms {
		inRooms[r] = true
		if seq, ok := cmd.Since[r]; ok {
			join(r, chat.JoinOptions{CatchUp: true, After: seq})
		} else {
			join(r, chat.JoinOptions{})
		}
	}
	// A JSON object's key order is lost in a Go map: rooms only in since
	// are joined in name order.
	rest := make([]string, 0, len(cmd.Since))
	for r := range cmd.Since {
		if !inRooms[r] {
			rest = append(rest, r)
		}
	}
	slices.Sort(rest)
	for _, r := range rest {
		join(r, chat.JoinOptions{CatchUp: true, After: cmd.Since[r]})
	}
	res := HelloResult{
		Protocol: ProtocolVersion, ID: sess.ID(), Nickname: sess.Nickname(), Token: sess.Token(),
		Limits: c.svc.Limits(), DefaultRoom: c.svc.DefaultRoom(), Rooms: results,
	}
	if cmd.WatchUsers {
		res.Users = c.svc.Users()
	}
	return res, nil
}
