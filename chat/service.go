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
	// own with the same shape. Defaults 60 and 10: a busy human chat (a
	// pasted block of lines, several devices) fits. A user is an Identity's
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
	// LargeRoom is the number of users above which a room is large: its
	// members no longer get a presence event for every user who joins or
	// leaves (N users joining a room would cost N² of them), but an
	// EventMembers with the count, at most once per PresenceWindow, and
	// join results carry the first MemberPage members (Members lists them
	// all on demand). A room is small again at half of it. Default
	// 200.
	LargeRoom int
	// PresenceWindow is the shortest interval between two member counts
	// of a large room (and between two typing lists of it). Default 1s.
	PresenceWindow time.Duration
	// MemberPage is how many members a join result of a large room lists
	// (sorted by NickKey), and the most Service.MemberPage returns at
	// once. Default 100.
	MemberPage int
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
		c.RateBurst = 60
	}
	if c.RatePerSecond <= 0 {
		c.RatePerSecond = 10
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
	if c.LargeRoom <= 0 {
		c.LargeRoom = 200
	}
	if c.PresenceWindow <= 0 {
		c.PresenceWindow = time.Second
	}
	if c.MemberPage <= 0 {
		c.MemberPage = 100
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

	mu       serviceMutex // guards everything below, and every Session's mutable fields; lock order: doc.go
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
	// Race builds check that these are called without the Service's
	// locks; other builds get them back unchanged.
	s.store, s.bus = checkedStore(s.store), checkedBus(s.bus)
	if s.roster != nil {
		s.roster = checkedRoster(s.roster)
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

// runTracked runs f now, on the caller's goroutine, unless the Service is
// closed; Close waits for it. It takes s.mu, so a caller that holds a lock
// of the Service (or runs on the Bus's goroutine, which must not wait)
// starts it on a goroutine of its own: go s.runTracked(f).
func (s *Service) runTracked(f func()) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.bg.Add(1)
	s.mu.Unlock()
	defer s.bg.Done()
	f()
}

// publish sends ev on the Bus. A failure is logged, not returned: the
// action it reports already happened (a message is stored and acked), and
// the receivers repair gaps from the Store.
func (s *Service) publish(ctx context.Context, topic string, ev *Event) {
	if ev.from == nil {
		ev.from = s
	}
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
