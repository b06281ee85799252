package chat

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
)

// Config configures a Service. The zero value of every field means its
// documented default.
type Config struct {
	// Store keeps message history. Default: a new MemStore, owned by the
	// Service and closed by Close. A Store passed in is not closed.
	Store Store
	// Bus carries events between nodes. Default: a new LocalBus.
	Bus Bus
	// Roster shares users and room members with the other nodes of a
	// cluster (roster.go). Default: none, the node is alone.
	Roster Roster
	// Logger receives operational logs. Default: discard.
	Logger *slog.Logger
	// MaxMessageBytes is the largest message text, in bytes. Default 4096;
	// at most MaxStoredTextBytes.
	MaxMessageBytes int
	// TypingTTL is how long "typing" lasts without a refresh. Default 5s.
	TypingTTL time.Duration
	// RateBurst and RatePerSecond shape each user's token bucket for
	// messages (Send, DirectMessage); typing signals have a bucket of their
	// own with the same shape. Defaults 20 and 5. A user is an Identity's
	// Subject (all its sessions, on every gateway, share the buckets) or,
	// for anonymous sessions, a nickname; a bucket outlives its sessions
	// until it is full again, so reconnecting does not refill it.
	RateBurst     int
	RatePerSecond float64
	// MaxRoomsPerSession caps the rooms a session is in (DM rooms
	// included). Joining past it, or opening a new DM, fails with
	// ErrTooManyRooms; a DM that arrives always joins its room (a
	// session cannot refuse to be written to). Default 100.
	MaxRoomsPerSession int
	// DefaultRoom is the room of the SocketChat compatibility events.
	// Default "general".
	DefaultRoom string
	// PageLimit is the number of messages returned when a client does not
	// say (join, history, since); MaxPageLimit caps what it may ask for.
	// Defaults 50 and 200 (at most the Store's MaxPageLimit).
	PageLimit    int
	MaxPageLimit int
	// GapWait is how long a message that arrived ahead of an earlier one
	// (concurrent senders, or a lost Bus publication) is held before the
	// missing ones are read from the Store. Default 200ms.
	GapWait time.Duration
	// Now is the clock for rate limiting and timestamps. Default time.Now.
	Now func() time.Time
	// Authenticator verifies tokens (Service.Authenticate). nil: tokens
	// are refused.
	Authenticator Authenticator
	// RequireIdentity makes Connect refuse sessions without an Identity
	// (ErrUnauthenticated): the "required" authentication mode. It needs
	// an Authenticator.
	RequireIdentity bool
}

func (c Config) withDefaults() (Config, error) {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = 4096
	}
	if c.MaxMessageBytes < 0 || c.MaxMessageBytes > MaxStoredTextBytes {
		return c, fmt.Errorf("chat: MaxMessageBytes %d: want 1..%d", c.MaxMessageBytes, MaxStoredTextBytes)
	}
	if c.TypingTTL <= 0 {
		c.TypingTTL = 5 * time.Second
	}
	if c.RateBurst <= 0 {
		c.RateBurst = 20
	}
	if c.RatePerSecond <= 0 {
		c.RatePerSecond = 5
	}
	if c.MaxRoomsPerSession <= 0 {
		c.MaxRoomsPerSession = 100
	}
	if c.DefaultRoom == "" {
		c.DefaultRoom = "general"
	}
	room, err := NormalizeRoom(c.DefaultRoom)
	if err != nil || IsDMRoom(room) {
		return c, fmt.Errorf("chat: DefaultRoom %q: not a public room name", c.DefaultRoom)
	}
	c.DefaultRoom = room
	if c.MaxPageLimit <= 0 {
		c.MaxPageLimit = 200
	}
	c.MaxPageLimit = min(c.MaxPageLimit, MaxPageLimit)
	if c.PageLimit <= 0 {
		c.PageLimit = 50
	}
	c.PageLimit = min(c.PageLimit, c.MaxPageLimit)
	if c.GapWait <= 0 {
		c.GapWait = 200 * time.Millisecond
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.RequireIdentity && c.Authenticator == nil {
		return c, fmt.Errorf("chat: RequireIdentity needs an Authenticator")
	}
	return c, nil
}

// Service is the chat domain: online users, room membership, typing, and
// message fan-out. See the package documentation.
type Service struct {
	cfg       Config
	log       *slog.Logger
	store     Store
	ownsStore bool
	bus       Bus
	roster    Roster // nil: single node

	mu       sync.Mutex // guards everything below, and every Session's mutable fields
	closed   bool
	users    map[string]*user // NickKey → user; nicknames are unique
	subjects map[string]*user // Identity.Subject → its user
	limits   map[string]*userLimit
	sweepAt  int              // len(limits) that triggers the next sweep
	rooms    map[string]*room // rooms with local members (or joins in progress)
	watchers map[*Session]struct{}
	unsubAll func()

	bg sync.WaitGroup // timers' callbacks in progress

	stats counters // stats.go
}

// New returns a running Service. Close it to end every session.
func New(cfg Config) (*Service, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Service{
		cfg:      cfg,
		log:      cfg.Logger,
		store:    cfg.Store,
		bus:      cfg.Bus,
		roster:   cfg.Roster,
		users:    make(map[string]*user),
		subjects: make(map[string]*user),
		limits:   make(map[string]*userLimit),
		sweepAt:  1024,
		rooms:    make(map[string]*room),
		watchers: make(map[*Session]struct{}),
	}
	if s.store == nil {
		s.store, s.ownsStore = NewMemStore(), true
	}
	if s.bus == nil {
		s.bus = NewLocalBus()
	}
	s.unsubAll, err = s.bus.Subscribe("", s.onUserEvent)
	if err != nil {
		return nil, fmt.Errorf("chat: subscribe to user events: %w", err)
	}
	if s.roster != nil {
		s.roster.OnNodeGone(s.onNodeGone)
		s.roster.OnRejoin(s.onRejoin)
	}
	return s, nil
}

// DefaultRoom returns the canonical name of the default room.
func (s *Service) DefaultRoom() string { return s.cfg.DefaultRoom }

// MaxMessageBytes returns the configured message size limit.
func (s *Service) MaxMessageBytes() int { return s.cfg.MaxMessageBytes }

// Limits are the limits a client must respect, as configured; gateways
// send them to clients (the hello ack's "limits" in docs/protocol.md).
type Limits struct {
	MaxMessageBytes int     `json:"maxMessageBytes"`
	PageLimit       int     `json:"pageLimit"`
	MaxPageLimit    int     `json:"maxPageLimit"`
	TypingTTLMillis int64   `json:"typingTtlMs"`
	RateBurst       int     `json:"rateBurst"`
	RatePerSecond   float64 `json:"ratePerSecond"`
	MaxRooms        int     `json:"maxRooms"`
}

// Limits returns the effective limits.
func (s *Service) Limits() Limits {
	return Limits{
		MaxMessageBytes: s.cfg.MaxMessageBytes,
		PageLimit:       s.cfg.PageLimit,
		MaxPageLimit:    s.cfg.MaxPageLimit,
		TypingTTLMillis: s.cfg.TypingTTL.Milliseconds(),
		RateBurst:       s.cfg.RateBurst,
		RatePerSecond:   s.cfg.RatePerSecond,
		MaxRooms:        s.cfg.MaxRoomsPerSession,
	}
}

// ConnectParams describes a new session.
type ConnectParams struct {
	// Nickname is the anonymous user's choice; ignored with an Identity
	// (its Nickname is used).
	Nickname string
	// Identity is the verified user (Service.Authenticate), nil for an
	// anonymous session. A verified user may have several sessions (one
	// per device); an anonymous session holding its nickname, or its
	// sessions under another nickname (the token's name changed), are
	// replaced (EventDisconnect with ReasonReplaced).
	Identity *Identity
	// Sink receives the session's events. Required.
	Sink Sink
	// ResumeToken, if it equals the Token of the session currently holding
	// Nickname, replaces that session (it gets EventDisconnect with
	// ReasonReplaced) instead of failing with ErrNicknameTaken. This lets a
	// client reconnect before the server noticed its old connection died.
	ResumeToken string
	// WatchUsers subscribes the session to EventUser events.
	WatchUsers bool
}

// Connect creates a session for a client connection. It fails with
// ErrInvalidNickname, ErrNicknameTaken or ErrUnavailable (closed Service).
//
// In a cluster (Config.Roster) the nickname must also be free on the
// other nodes; a ResumeToken of a session on another node takes its
// nickname over, and that node ends the old session (ReasonReplaced).
func (s *Service) Connect(ctx context.Context, p ConnectParams) (*Session, error) {
	if p.Sink == nil {
		return nil, Errorf(CodeInvalidArgument, "no sink")
	}
	id := p.Identity
	if id == nil && s.cfg.RequireIdentity {
		return nil, ErrUnauthenticated
	}
	nickname := p.Nickname
	if id != nil {
		if id.Subject == "" {
			return nil, Errorf(CodeTokenInvalid, "token has no subject")
		}
		if !id.Expires.IsZero() && !id.Expires.After(s.cfg.Now()) {
			return nil, ErrTokenExpired
		}
		nickname = id.Nickname
	}
	nick, err := NormalizeNickname(nickname)
	if err != nil {
		return nil, err
	}
	key := NickKey(nick)
	sess := &Session{
		svc:   s,
		id:    randomHex(8),
		token: randomHex(16),
		sink:  p.Sink,
		ident: id,
		nick:  nick,
		since: s.cfg.Now().UnixMilli(),
		rooms: make(map[string]*room),
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrUnavailable
	}
	// Which user the session belongs to, and the sessions it replaces.
	u := s.users[key]
	var replaced []*Session
	joins := false // sess joins u, which stays online throughout
	switch {
	case u == nil:
	case u.ident == nil && id != nil:
		// An anonymous holder of a verified user's nickname.
		replaced = append(replaced, u.sessions...)
	case p.ResumeToken != "" && u.session(p.ResumeToken) != nil && (u.ident == nil || (id != nil && id.Subject == u.ident.Subject)):
		// A reconnect before the old connection was noticed dead. A
		// verified session is resumed only by the same user.
		replaced, joins = append(replaced, u.session(p.ResumeToken)), true
	case id != nil && u.ident.Subject == id.Subject:
		joins = true // another device
	default:
		s.mu.Unlock()
		return nil, ErrNicknameTaken
	}
	if id != nil {
		if su := s.subjects[id.Subject]; su != nil && su != u {
			replaced = append(replaced, su.sessions...) // the token's name changed
		}
	}
	if joins {
		sess.u = u
		u.sessions = append(u.sessions, sess)
	}
	var oldEvs []*Event
	for _, old := range replaced {
		oldEvs = append(oldEvs, s.endLocked(old, PresenceLeft, "", "")...)
	}
	if !joins {
		u = &user{key: key, ident: id, sessions: []*Session{sess}, claimID: sess.id}
		sess.u = u
		s.users[key] = u
		if id != nil {
			s.subjects[id.Subject] = u
		}
	}
	sess.lim = s.acquireLimitLocked(sess.limitKey())
	if id != nil && !id.Expires.IsZero() {
		// A timer, not a goroutine: idle sessions stay cheap.
		sess.expiry = time.AfterFunc(id.Expires.Sub(s.cfg.Now()), func() { s.goBackground(sess.expire) })
	}
	if p.WatchUsers {
		s.watchers[sess] = struct{}{}
	}
	s.stats.started.Add(1)
	sess.unsubDM, err = s.bus.Subscribe("@"+key, sess.onDMNotice)
	if err != nil {
		// Ended unseen: its events (an "offline" for a user never
		// announced) are not published.
		s.endLocked(sess, PresenceLeft, "", "")
		s.mu.Unlock()
		for _, old := range replaced {
			old.sink.Deliver(&Event{Kind: EventDisconnect, Disconnect: &Disconnect{Reason: ReasonReplaced}})
		}
		s.publishAll(ctx, oldEvs)
		return nil, Wrap(CodeUnavailable, ErrUnavailable.Message, err)
	}
	s.mu.Unlock()
	if s.roster != nil && !joins {
		// A new user on this node: take the nickname cluster-wide.
		displaced, err := s.claim(ctx, sess, p.ResumeToken)
		if err != nil {
			s.mu.Lock()
			s.endLocked(sess, PresenceLeft, "", "") // it joined nothing yet: no events
			s.mu.Unlock()
			for _, old := range replaced { // replaced here, but another node holds the name
				old.sink.Deliver(&Event{Kind: EventDisconnect, Disconnect: &Disconnect{Reason: ReasonReplaced}})
			}
			s.publishAll(ctx, oldEvs)
			return nil, err
		}
		if displaced != nil {
			// Resumed from another node: that node ends the old session
			// (Session.onDMNotice); the user never went offline.
			for _, old := range replaced {
				old.sink.Deliver(&Event{Kind: EventDisconnect, Disconnect: &Disconnect{Reason: ReasonReplaced}})
			}
			s.publishAll(ctx, oldEvs)
			s.publish(ctx, "@"+key, &Event{Kind: EventUser, User: &UserEvent{User: *displaced, Status: UserOffline}})
			s.log.Info("chat: session resumed from another node", "nickname", nick, "old", displaced.ID, "new", sess.id)
			return sess, nil
		}
	}
	for _, old := range replaced {
		old.sink.Deliver(&Event{Kind: EventDisconnect, Disconnect: &Disconnect{Reason: ReasonReplaced}})
	}
	s.publishAll(ctx, oldEvs)
	if len(replaced) > 0 {
		s.log.Info("chat: session replaced", "nickname", nick, "new", sess.id)
	}
	if s.log.Enabled(ctx, slog.LevelDebug) { // checked first: on the churn path
		s.log.Debug("chat: session started", "session", sess.id, "nickname", nick)
	}
	if !joins {
		s.publish(ctx, "", &Event{Kind: EventUser, User: &UserEvent{User: sess.user(), Status: UserOnline}})
	}
	return sess, nil
}

// claim takes sess's nickname cluster-wide (Roster.Claim). Only
// ErrNicknameTaken is returned: when the Roster cannot answer, the node
// carries on with local uniqueness (logged).
func (s *Service) claim(ctx context.Context, sess *Session, resume string) (*User, error) {
	pctx, cancel := rosterCtx(ctx)
	defer cancel()
	var subject string
	if sess.ident != nil {
		subject = sess.ident.Subject
	}
	displaced, err := s.roster.Claim(pctx, Claim{User: sess.user(), Token: TokenDigest(sess.token), Resume: TokenDigest(resume), Subject: subject})
	switch {
	case errors.Is(err, ErrNicknameTaken):
		return nil, ErrNicknameTaken
	case err != nil:
		s.log.Warn("chat: roster claim failed; nickname checked on this node only", "nickname", sess.nick, "err", err)
		return nil, nil
	}
	return displaced, nil
}

// Users returns the users online, sorted by NickKey: on every node of a
// cluster (Config.Roster; if it cannot answer, this node's, logged).
func (s *Service) Users() []User {
	s.mu.Lock()
	out := make([]User, 0, len(s.users))
	for _, u := range s.users {
		out = append(out, u.info())
	}
	s.mu.Unlock()
	if s.roster != nil {
		ctx, cancel := rosterCtx(context.Background())
		others, err := s.roster.Users(ctx)
		cancel()
		if err != nil {
			s.log.Warn("chat: roster users failed; listing this node's", "err", err)
		}
		seen := make(map[string]bool, len(out))
		for _, u := range out {
			seen[NickKey(u.Nickname)] = true
		}
		for _, u := range others {
			if k := NickKey(u.Nickname); !seen[k] {
				seen[k] = true
				out = append(out, u)
			}
		}
	}
	slices.SortFunc(out, func(a, b User) int { return strings.Compare(NickKey(a.Nickname), NickKey(b.Nickname)) })
	return out
}

// Lookup returns the user online on this node with the given nickname
// (any case).
func (s *Service) Lookup(nickname string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.users[NickKey(strings.TrimSpace(nickname))]; u != nil {
		return u.info(), true
	}
	return User{}, false
}

// Members returns the nicknames of the sessions that joined room, sorted
// by NickKey: on every node of a cluster (Config.Roster; if it cannot
// answer, this node's, logged). room is normalized first.
func (s *Service) Members(room string) ([]string, error) {
	name, err := NormalizeRoom(room)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	local := []string{}
	if r := s.rooms[name]; r != nil {
		local = r.memberNicks()
	}
	s.mu.Unlock()
	return s.withRemoteMembers(name, local), nil
}

// withRemoteMembers adds the members of room on other nodes to local.
func (s *Service) withRemoteMembers(room string, local []string) []string {
	if s.roster == nil {
		return local
	}
	ctx, cancel := rosterCtx(context.Background())
	defer cancel()
	others, err := s.roster.Members(ctx, room)
	if err != nil {
		s.log.Warn("chat: roster members failed; listing this node's", "room", room, "err", err)
	}
	return mergeNicks(local, others)
}

// Rooms lists the public rooms that have messages, with their counters.
// DM rooms are private and not listed.
func (s *Service) Rooms(ctx context.Context) ([]RoomInfo, error) {
	all, err := s.store.Rooms(ctx)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(r RoomInfo) bool { return IsDMRoom(r.Name) }), nil
}

// Close ends every session (their sinks get EventDisconnect with
// ReasonShutdown), waits for background work, and closes the Store if the
// Service created it. It does not update the Roster: closing the node's
// Roster afterwards withdraws everything of the node at once. Later calls
// on the Service or its sessions fail with
// ErrUnavailable or ErrNotConnected.
func (s *Service) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	var ended []*Session
	var evs []*Event
	for _, u := range s.users {
		// Other nodes must hear that these users left.
		for _, sess := range slices.Clone(u.sessions) {
			evs = append(evs, s.endLocked(sess, PresenceLeft, "", "")...)
			ended = append(ended, sess)
		}
	}
	s.unsubAll()
	for _, r := range s.rooms { // rooms still joining
		r.close()
	}
	s.mu.Unlock()
	ctx := context.Background()
	for _, ev := range evs {
		s.publish(ctx, ev.Room, ev) // ev.Room is "" for EventUser: the users topic
	}
	for _, u := range ended {
		u.sink.Deliver(&Event{Kind: EventDisconnect, Disconnect: &Disconnect{Reason: ReasonShutdown}})
	}
	s.bg.Wait()
	if s.ownsStore {
		return s.store.Close()
	}
	return nil
}

// goBackground runs f unless the Service is closed; Close waits for it.
func (s *Service) goBackground(f func()) bool {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false
	}
	s.bg.Add(1)
	s.mu.Unlock()
	defer s.bg.Done()
	f()
	return true
}

// publish sends ev on the Bus. A failure is logged, not returned: the
// action it reports already happened (a message is stored and acked), and
// the receivers repair gaps from the Store.
func (s *Service) publish(ctx context.Context, topic string, ev *Event) {
	if err := s.bus.Publish(context.WithoutCancel(ctx), topic, ev); err != nil {
		s.stats.publishErrors.Add(1)
		s.log.Warn("chat: bus publish failed", "topic", topic, "kind", ev.Kind.String(), "err", err)
	}
}

func (s *Service) publishAll(ctx context.Context, evs []*Event) {
	for _, ev := range evs {
		s.publish(ctx, ev.Room, ev)
	}
}

// onUserEvent delivers EventUser from the Bus to the watchers.
func (s *Service) onUserEvent(ev *Event) {
	if ev.Kind != EventUser {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.delivered(EventUser, len(s.watchers))
	for w := range s.watchers {
		w.sink.Deliver(ev)
	}
}

// roomLocked returns the local state of room, creating it (and
// subscribing to its topic) if needed, with one more reference.
func (s *Service) roomLocked(name string) (*room, error) {
	if r := s.rooms[name]; r != nil {
		r.refs++
		return r, nil
	}
	r := newRoom(s, name)
	unsub, err := s.bus.Subscribe(name, r.onEvent)
	if err != nil {
		return nil, Wrap(CodeUnavailable, ErrUnavailable.Message, err)
	}
	r.unsub = unsub
	r.refs = 1
	s.rooms[name] = r
	return r, nil
}

// releaseLocked drops one reference to r and forgets the room when none is
// left, so idle rooms cost nothing.
func (s *Service) releaseLocked(r *room) {
	r.refs--
	if r.refs > 0 {
		return
	}
	if s.rooms[r.name] == r {
		delete(s.rooms, r.name)
	}
	r.unsub()
	r.close()
}

// endLocked removes sess from everything and returns the events to
// publish after unlocking: presence (action, by, reason) in each room the
// user leaves with it, and the user's "offline" when it was its last
// session.
func (s *Service) endLocked(sess *Session, action PresenceAction, by, reason string) []*Event {
	if sess.closed {
		return nil
	}
	sess.closed = true
	s.stats.ended.Add(1)
	u := sess.u
	last := u.remove(sess)
	if last {
		if s.users[u.key] == u {
			delete(s.users, u.key)
		}
		if u.ident != nil && s.subjects[u.ident.Subject] == u {
			delete(s.subjects, u.ident.Subject)
		}
	}
	if sess.lim != nil {
		sess.lim.refs--
	}
	if sess.expiry != nil {
		sess.expiry.Stop()
	}
	delete(s.watchers, sess)
	if sess.unsubDM != nil {
		sess.unsubDM()
	}
	if s.roster != nil {
		// Sent to the Roster in the background (it waits for the lock).
		w := rosterEndWork{session: sess.id, nick: sess.nick}
		for name := range sess.rooms {
			w.rooms = append(w.rooms, name)
		}
		if last {
			w.claimID = u.claimID
		}
		s.rosterEnd(w)
	}
	var evs []*Event
	for name, r := range sess.rooms {
		gone := r.removeMember(sess)
		s.releaseLocked(r)
		if gone {
			ev := presenceEvent(name, sess.nick, action, "")
			ev.Presence.By, ev.Presence.Reason = by, reason
			evs = append(evs, ev)
		}
	}
	clear(sess.rooms)
	if last {
		evs = append(evs, &Event{Kind: EventUser, User: &UserEvent{User: sess.user(), Status: UserOffline}})
	}
	return evs
}

func presenceEvent(room, nick string, a PresenceAction, from string) *Event {
	return &Event{Kind: EventPresence, Room: room, Presence: &Presence{Room: room, Nickname: nick, Action: a, From: from}}
}

func constantTimeEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand since Go 1.24)
	return hex.EncodeToString(b)
}

// storeErr passes *Error values through and classifies anything else (a
// Store that does not follow the contract) as unavailable.
func storeErr(err error) error {
	var e *Error
	if err == nil || errors.As(err, &e) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return Wrap(CodeUnavailable, ErrUnavailable.Message, err)
}

func (s *Service) checkMessage(text, clientID string) error {
	if err := CheckMessageText(text, s.cfg.MaxMessageBytes); err != nil {
		return err
	}
	return CheckClientID(clientID)
}

// pageLimit applies the defaults and cap to a client's limit.
func (s *Service) pageLimit(limit int) (int, error) {
	switch {
	case limit < 0:
		return 0, Errorf(CodeInvalidArgument, "limit must not be negative")
	case limit == 0:
		return s.cfg.PageLimit, nil
	}
	return min(limit, s.cfg.MaxPageLimit), nil
}
