package rest

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/gateway/proto1"
)

// session is a REST client's chat session and its open event streams: its
// proto1.Conn runs the client's commands (and holds its request bucket).
// It is the session's chat.Sink.
type session struct {
	proto1.Conn
	g       *Gateway
	sess    *chat.Session // set once, before the session is shared
	backend bool          // a publish sender: no token, no streams

	mu       sync.Mutex
	lastUsed time.Time
	streams  map[*stream]struct{}
	ended    bool
}

func (g *Gateway) newSession(backend bool) *session {
	s := &session{g: g, backend: backend, lastUsed: g.cfg.Now(), streams: make(map[*stream]struct{})}
	s.Init(g.proto, nil)
	return s
}

// Deliver implements chat.Sink: events go to the session's open streams of
// their room. Without a stream there is no one to tell; the client reads
// history (short polling) instead.
func (s *session) Deliver(ev *chat.Event) {
	if ev.Kind == chat.EventDisconnect {
		// The Service ended the session (shutdown, or replaced by a resume).
		s.g.forget(s)
		s.closeStreams(string(ev.Disconnect.Reason))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for st := range s.streams {
		if st.room == ev.Room {
			st.push(ev)
		}
	}
}

// touch records a use of the session (a request).
func (s *session) touch() {
	s.mu.Lock()
	s.lastUsed = s.g.cfg.Now()
	s.mu.Unlock()
}

// idle reports whether the session has been unused long enough to end.
func (s *session) idle(now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.streams) == 0 && now.Sub(s.lastUsed) >= s.g.cfg.SessionIdle
}

func (s *session) addStream(st *stream) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return false
	}
	s.streams[st] = struct{}{}
	return true
}

func (s *session) removeStream(st *stream) {
	s.mu.Lock()
	delete(s.streams, st)
	s.lastUsed = s.g.cfg.Now() // idle from now on, not from the stream's start
	s.mu.Unlock()
}

func (s *session) closeStreams(reason string) {
	s.mu.Lock()
	s.ended = true
	for st := range s.streams {
		st.close(reason)
	}
	s.mu.Unlock()
}

// end ends the chat session and closes the streams with reason (for the
// client's "bye").
func (s *session) end(why string, reason chat.DisconnectReason) {
	s.closeStreams(string(reason))
	s.sess.Disconnect("rest: " + why)
}

// forget removes s from the gateway's tables.
func (g *Gateway) forget(s *session) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if s.sess == nil {
		return
	}
	if g.sessions[s.sess.Token()] == s {
		delete(g.sessions, s.sess.Token())
	}
	key := chat.NickKey(s.sess.Nickname())
	if g.backends[key] == s {
		delete(g.backends, key)
	}
}

// runJanitor ends idle sessions.
func (g *Gateway) runJanitor() {
	defer g.janitor.Done()
	t := time.NewTicker(max(g.cfg.SessionIdle/4, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-t.C:
		}
		g.expireIdle()
	}
}

// expireIdle ends the sessions idle for Config.SessionIdle.
func (g *Gateway) expireIdle() {
	now := g.cfg.Now()
	var idle []*session
	g.mu.Lock()
	for tok, s := range g.sessions {
		if s.idle(now) {
			delete(g.sessions, tok)
			idle = append(idle, s)
		}
	}
	for key, s := range g.backends {
		if s.idle(now) {
			delete(g.backends, key)
			idle = append(idle, s)
		}
	}
	g.mu.Unlock()
	for _, s := range idle {
		s.end("idle", "idle")
	}
}

// token returns the bearer token of r ("" if none). allowQuery accepts
// ?token= too (event streams: EventSource cannot send headers).
func token(r *http.Request, allowQuery bool) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if t, ok := strings.CutPrefix(h, "Bearer "); ok {
			return strings.TrimSpace(t)
		}
		return ""
	}
	if allowQuery {
		return r.URL.Query().Get("token")
	}
	return ""
}

var (
	errNoToken  = chat.Errorf(chat.CodeNotConnected, "no session: send Authorization: Bearer <token> from POST /api/v1/sessions")
	errJWT      = chat.Errorf(chat.CodeNotConnected, "this route takes the session token of POST /api/v1/sessions, not a JWT: send the JWT to POST /api/v1/sessions first")
	errBadToken = chat.Errorf(chat.CodeNotConnected, "unknown or expired session token: create a session with POST /api/v1/sessions")
)

// lookup returns the session of r's token, counting the request against
// the session's bucket.
func (g *Gateway) lookup(r *http.Request, allowQuery bool) (*session, error) {
	tok := token(r, allowQuery)
	if tok == "" {
		return nil, errNoToken
	}
	g.mu.Lock()
	s := g.sessions[tok]
	g.mu.Unlock()
	if s == nil {
		if strings.Count(tok, ".") == 2 {
			return nil, errJWT
		}
		return nil, errBadToken
	}
	if !s.Allow() {
		return nil, proto1.ErrTooManyRequests
	}
	s.touch()
	return s, nil
}

// auth wraps a handler that needs a session.
func (g *Gateway) auth(h func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, err := g.lookup(r, false)
		if err != nil {
			g.fail(w, r, err)
			return
		}
		h(w, r, s)
	}
}

// connect runs hello for a REST client: a new session, registered under
// its token.
func (g *Gateway) connect(ctx context.Context, hello proto1.Command) (proto1.HelloResult, error) {
	if g.isClosed() {
		return proto1.HelloResult{}, chat.ErrUnavailable
	}
	s := g.newSession(false)
	res, err := s.Exec(ctx, hello, s)
	if err != nil {
		return proto1.HelloResult{}, err
	}
	if err := g.register(s, s.Session()); err != nil {
		return proto1.HelloResult{}, err
	}
	return res.(proto1.HelloResult), nil
}

// connectBackend connects a publish sender with nickname (ident: its
// identity when clients need tokens).
func (g *Gateway) connectBackend(ctx context.Context, nickname string, ident *chat.Identity) (*session, error) {
	if g.isClosed() {
		return nil, chat.ErrUnavailable
	}
	s := g.newSession(true)
	cctx, cancel := g.proto.Context(ctx)
	defer cancel()
	sess, err := g.svc.Connect(cctx, chat.ConnectParams{Nickname: nickname, Identity: ident, Sink: s})
	if err != nil {
		return nil, err
	}
	s.Attach(sess)
	return s, g.register(s, sess)
}

func (g *Gateway) isClosed() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.closed
}

// register makes s, whose chat session is sess, known to the gateway,
// unless the gateway closed meanwhile (then the session ends).
func (g *Gateway) register(s *session, sess *chat.Session) error {
	s.sess = sess
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		sess.Disconnect("rest: gateway closed")
		return chat.ErrUnavailable
	}
	if s.backend {
		g.backends[chat.NickKey(sess.Nickname())] = s
	} else {
		g.sessions[sess.Token()] = s
	}
	g.mu.Unlock()
	g.stats.sessionsCreated.Add(1)
	return nil
}
