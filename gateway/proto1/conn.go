package proto1

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/banter-chat/banter/chat"
)

// Config configures the command side of a gateway. The zero value of every
// field means its default.
type Config struct {
	// Logger receives operational logs. Default: discard.
	Logger *slog.Logger
	// CallTimeout bounds one command's chat calls (a Store read or
	// append). Default 10s.
	CallTimeout time.Duration
	// RequestBurst and RequestsPerSecond shape a per-connection token
	// bucket over every request (Conn.Allow), so that a flood of cheap to
	// send but costly to answer requests (history, join, unknown ones) is
	// refused with rate_limited instead of loading the Store. chat has its
	// own, stricter buckets for messages and typing. Defaults 100 and 50.
	RequestBurst      int
	RequestsPerSecond float64
	// Now is the clock of the request buckets. Default time.Now.
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

// Inherit returns c with its Logger and Now, when unset, taken from the
// gateway's own (nil: keep the defaults).
func (c Config) Inherit(logger *slog.Logger, now func() time.Time) Config {
	if c.Logger == nil {
		c.Logger = logger
	}
	if c.Now == nil {
		c.Now = now
	}
	return c
}

// Server is what a gateway's connections share: the chat Service and the
// configuration.
type Server struct {
	svc *chat.Service
	cfg Config
}

// NewServer returns the command layer of a gateway serving svc.
func NewServer(svc *chat.Service, cfg Config) *Server {
	return &Server{svc: svc, cfg: cfg.WithDefaults()}
}

// Service returns the chat Service.
func (s *Server) Service() *chat.Service { return s.svc }

// Config returns the configuration, defaults applied.
func (s *Server) Config() Config { return s.cfg }

// Context returns the context of one command: parent with the call
// timeout.
func (s *Server) Context(parent context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(parent, s.cfg.CallTimeout)
}

// Authenticate checks a client's token (none: anonymous, unless tokens are
// required), logging what the client is not told: a verifier that cannot
// be reached.
func (s *Server) Authenticate(ctx context.Context, token string) (*chat.Identity, error) {
	id, err := s.svc.Authenticate(ctx, token)
	s.LogFailure("authenticate", err)
	return id, err
}

// LogFailure logs a failed request whose cause is the server's
// (unavailable, internal); the client's own mistakes are not logged.
func (s *Server) LogFailure(request string, err error) {
	if code := chat.ErrorCode(err); err != nil && (code == chat.CodeUnavailable || code == chat.CodeInternal) {
		s.cfg.Logger.Warn("chat request failed", "request", request, "err", err)
	}
}

// Conn is the protocol side of one client connection (a REST client's
// session): its chat session once hello succeeded, its request bucket and
// the identity its transport verified. Initialize it with Init; its zero
// value is not usable. A connection's commands run one at a time (each
// transport's reader does); the other methods are safe for concurrent use.
type Conn struct {
	srv   *Server
	reqs  *chat.Bucket
	ident *chat.Identity // verified by the transport (Socket.IO handshake); nil: none

	mu    sync.Mutex
	sess  *chat.Session
	ended bool
}

// Init prepares c for a new connection of srv whose transport verified
// ident (nil: none; hello may still send a token).
func (c *Conn) Init(srv *Server, ident *chat.Identity) {
	c.srv, c.ident = srv, ident
	c.reqs = chat.NewBucket(srv.cfg.RequestBurst, srv.cfg.RequestsPerSecond, srv.cfg.Now)
}

// Identity returns the identity the transport verified (nil: none).
func (c *Conn) Identity() *chat.Identity { return c.ident }

// Allow takes one request from the connection's bucket; false means
// refuse the request (ErrTooManyRequests), or drop it silently if it is
// lossy (typing).
func (c *Conn) Allow() bool { return c.reqs.Take() }

// Session returns the chat session, nil before hello or after End.
func (c *Conn) Session() *chat.Session {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sess
}

// Attach makes sess the connection's session (a dialect that connects its
// own sessions, like SocketChat). If the connection ended meanwhile, sess
// is ended and Attach returns false.
func (c *Conn) Attach(sess *chat.Session) bool {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		sess.Disconnect("connection closed while connecting")
		return false
	}
	c.sess = sess
	c.mu.Unlock()
	return true
}

// Detach forgets sess if it is the connection's session (the caller ends
// it): later commands need a new hello.
func (c *Conn) Detach(sess *chat.Session) {
	c.mu.Lock()
	if c.sess == sess {
		c.sess = nil
	}
	c.mu.Unlock()
}

// MarkEnded records that the connection is gone and returns its session
// for the caller to end (Session.Disconnect) where no chat lock is held;
// later commands fail and a hello in progress ends its new session.
func (c *Conn) MarkEnded() *chat.Session {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ended = true
	return c.sess
}

// End is MarkEnded, then the session's end with reason (for logs).
func (c *Conn) End(reason string) {
	if sess := c.MarkEnded(); sess != nil {
		sess.Disconnect(reason)
	}
}

// Exec runs one command and returns its result: one of the Result types,
// a chat.JoinResult (join), or nil (kick, typing). sink receives the events
// of the session hello creates (other commands ignore it). Every error is
// a *chat.Error for the client (ErrorFor); failures that are the server's
// are logged.
func (c *Conn) Exec(ctx context.Context, cmd Command, sink chat.Sink) (any, error) {
	ctx, cancel := c.srv.Context(ctx)
	defer cancel()
	res, err := c.exec(ctx, cmd, sink)
	c.srv.LogFailure(cmd.Name, err)
	return res, err
}

var errNoHello = chat.Errorf(chat.CodeNotConnected, "say hello first")

func (c *Conn) exec(ctx context.Context, cmd Command, sink chat.Sink) (any, error) {
	if cmd.Name == CmdHello {
		return c.hello(ctx, cmd, sink)
	}
	if !IsCommand(cmd.Name) {
		return nil, chat.Errorf(chat.CodeInvalidArgument, "unknown command %q", cmd.Name)
	}
	sess := c.Session()
	if sess == nil {
		return nil, errNoHello
	}
	switch cmd.Name {
	case CmdNick:
		if cmd.Nickname == nil {
			return nil, missing(chat.CodeInvalidNickname, CmdNick, "nickname")
		}
		if err := sess.Rename(ctx, *cmd.Nickname); err != nil {
			return nil, err
		}
		return NickResult{Nickname: sess.Nickname()}, nil
	case CmdJoin:
		opt := chat.JoinOptions{Limit: cmd.Limit}
		if cmd.After != nil {
			opt.CatchUp, opt.After = true, *cmd.After
		}
		res, err := sess.Join(ctx, cmd.Room, opt)
		if err != nil {
			return nil, err
		}
		return res, nil
	case CmdLeave:
		if err := sess.Leave(ctx, cmd.Room); err != nil {
			return nil, err
		}
		canon, _ := chat.NormalizeRoom(cmd.Room) // Leave succeeded: valid
		return RoomResult{Room: canon}, nil
	case CmdRooms:
		rooms, err := sess.Rooms(ctx)
		if err != nil {
			return nil, err
		}
		if rooms == nil {
			rooms = []chat.RoomInfo{}
		}
		return RoomsResult{Rooms: rooms}, nil
	case CmdSend, CmdDM:
		if cmd.Text == nil {
			return nil, missing(chat.CodeInvalidArgument, cmd.Name, "text")
		}
		var m chat.Message
		var err error
		if cmd.Name == CmdDM {
			m, err = sess.DirectMessage(ctx, cmd.To, *cmd.Text, cmd.ClientID)
		} else {
			m, err = sess.Send(ctx, cmd.Room, *cmd.Text, cmd.ClientID)
		}
		if err != nil {
			return nil, err
		}
		return SendResult{ID: m.ID, Room: m.Room, Seq: m.Seq, TS: m.TS, Duplicate: m.Duplicate}, nil
	case CmdHistory, CmdSince:
		var msgs []chat.Message
		var err error
		if cmd.Name == CmdHistory {
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
		if msgs == nil {
			msgs = []chat.Message{}
		}
		canon, _ := chat.NormalizeRoom(cmd.Room) // the read succeeded: valid
		return PageResult{Room: canon, Messages: msgs}, nil
	case CmdTyping:
		if cmd.Typing == nil {
			return nil, missing(chat.CodeInvalidArgument, CmdTyping, "typing")
		}
		return nil, sess.Typing(ctx, cmd.Room, *cmd.Typing)
	case CmdKick:
		if cmd.Nickname == nil {
			return nil, missing(chat.CodeInvalidNickname, CmdKick, "nickname")
		}
		return nil, sess.Kick(ctx, *cmd.Nickname, cmd.Reason)
	case CmdMembers:
		names, more, err := sess.Members(cmd.Room, cmd.From, cmd.Limit)
		if err != nil {
			return nil, err
		}
		if names == nil {
			names = []string{}
		}
		canon, _ := chat.NormalizeRoom(cmd.Room) // the read succeeded: valid
		return MembersResult{Room: canon, Members: names, More: more}, nil
	default: // CmdDelete
		m, err := sess.DeleteMessage(ctx, cmd.Room, cmd.Seq)
		if err != nil {
			return nil, err
		}
		return DeleteResult{Room: m.Room, Seq: m.Seq}, nil
	}
}

// hello starts the session: the token (hello's, else the transport's
// identity, else none) decides who the user is, then the rooms are joined.
func (c *Conn) hello(ctx context.Context, cmd Command, sink chat.Sink) (HelloResult, error) {
	if c.Session() != nil {
		return HelloResult{}, chat.Errorf(chat.CodeInvalidArgument, "hello was already said on this connection (use nick to rename)")
	}
	if len(cmd.Rooms)+len(cmd.Since) > MaxHelloRooms {
		return HelloResult{}, chat.Errorf(chat.CodeInvalidArgument, "hello: at most %d rooms in rooms and since", MaxHelloRooms)
	}
	svc := c.srv.svc
	// A token in hello wins over the transport's; with neither, the
	// Service says whether anonymous users are welcome.
	ident := c.ident
	if cmd.Token != "" || ident == nil {
		var err error
		if ident, err = svc.Authenticate(ctx, cmd.Token); err != nil { // logged by Exec
			return HelloResult{}, err
		}
	}
	nickname := ""
	switch {
	case cmd.Nickname != nil:
		nickname = *cmd.Nickname
	case ident == nil:
		return HelloResult{}, chat.Errorf(chat.CodeInvalidNickname, "field \"nickname\" is missing (or send a token)")
	}
	sess, err := svc.Connect(ctx, chat.ConnectParams{
		Nickname: nickname, Identity: ident, Sink: sink, ResumeToken: cmd.Resume, WatchUsers: cmd.WatchUsers,
	})
	if err != nil {
		return HelloResult{}, err
	}
	if !c.Attach(sess) {
		return HelloResult{}, chat.ErrNotConnected
	}
	rooms := make([]JoinOutcome, 0, len(cmd.Rooms)+len(cmd.Since))
	join := func(room string, opt chat.JoinOptions) {
		res, err := sess.Join(ctx, room, opt)
		c.srv.LogFailure("hello: join", err)
		rooms = append(rooms, JoinOutcome{Room: room, Result: res, Err: err})
	}
	since := make(map[string]int64, len(cmd.Since))
	for _, s := range cmd.Since {
		since[s.Room] = s.Seq
	}
	inRooms := make(map[string]bool, len(cmd.Rooms))
	for _, r := range cmd.Rooms {
		inRooms[r] = true
		if seq, ok := since[r]; ok {
			join(r, chat.JoinOptions{CatchUp: true, After: seq})
		} else {
			join(r, chat.JoinOptions{})
		}
	}
	for _, s := range cmd.Since {
		if !inRooms[s.Room] {
			join(s.Room, chat.JoinOptions{CatchUp: true, After: s.Seq})
		}
	}
	res := HelloResult{
		Protocol: ProtocolVersion, ID: sess.ID(), Nickname: sess.Nickname(), Token: sess.Token(),
		Limits: svc.Limits(), DefaultRoom: svc.DefaultRoom(), Rooms: rooms,
	}
	if cmd.WatchUsers {
		res.Users = svc.Users()
	}
	return res, nil
}
