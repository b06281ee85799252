package chat

import (
	"slices"
	"time"
)

// Session is one client connection's view of the Service, created by
// Service.Connect. Its methods are safe for concurrent use. After
// Disconnect (or Service.Close, or replacement by a resumed connection)
// every method fails with ErrNotConnected.
type Session struct {
	svc       *Service
	id, token string
	sink      Sink
	since     int64
	ident     *Identity   // nil: anonymous
	lim       *userLimit  // the user's buckets, shared by its sessions
	expiry    *time.Timer // ends the session when its token expires; set before it is shared

	// Guarded by svc.mu.
	u       *user // its user (several sessions: multi-device)
	nick    string
	closed  bool
	rooms   map[string]*room
	unsubDM func()
}

// ID identifies the session (and its user while online) to other users.
func (s *Session) ID() string { return s.id }

// Token is a secret for ConnectParams.ResumeToken: give it to the client
// only.
func (s *Session) Token() string { return s.token }

// Nickname returns the current nickname.
func (s *Session) Nickname() string {
	s.svc.mu.Lock()
	defer s.svc.mu.Unlock()
	return s.nick
}

// Joined returns the rooms the session is in, sorted.
func (s *Session) Joined() []string {
	s.svc.mu.Lock()
	out := make([]string, 0, len(s.rooms))
	for name := range s.rooms {
		out = append(out, name)
	}
	s.svc.mu.Unlock()
	slices.Sort(out)
	return out
}

// user is called with svc.mu held, or before the session is shared.
func (s *Session) user() User { return User{ID: s.id, Nickname: s.nick, Since: s.since} }

// lockOpen locks svc.mu if the session is still open.
func (s *Session) lockOpen() error {
	s.svc.mu.Lock()
	if s.closed {
		s.svc.mu.Unlock()
		return ErrNotConnected
	}
	return nil
}

// Identity returns the verified identity, nil for an anonymous session.
func (s *Session) Identity() *Identity { return s.ident }

// mayReadLocked reports whether the session may join and read room
// (canonical): the public rooms its Identity allows (all when anonymous),
// and the DM rooms it is one of the two users of.
func (s *Session) mayReadLocked(room string) bool {
	a, b, ok := DMParticipants(room)
	if !ok {
		return s.ident.MayRead(room)
	}
	me := NickKey(s.nick)
	return me == a || me == b
}

// mayPostLocked is mayReadLocked for posting and typing.
func (s *Session) mayPostLocked(room string) bool {
	if IsDMRoom(room) {
		return s.mayReadLocked(room)
	}
	return s.ident.MayPost(room)
}

// MayRead reports whether the session may join and read room (any
// spelling; false for an invalid name).
func (s *Session) MayRead(room string) bool {
	name, err := NormalizeRoom(room)
	if err != nil {
		return false
	}
	s.svc.mu.Lock()
	defer s.svc.mu.Unlock()
	return s.mayReadLocked(name)
}

// MayPost reports whether the session may post to room.
func (s *Session) MayPost(room string) bool {
	name, err := NormalizeRoom(room)
	if err != nil {
		return false
	}
	s.svc.mu.Lock()
	defer s.svc.mu.Unlock()
	return s.mayPostLocked(name)
}

// readForbidden is the error for a room the session may not read.
func readForbidden(room string) error {
	if IsDMRoom(room) {
		return ErrForbidden
	}
	return Errorf(CodeForbidden, "your token does not allow room %q", room)
}

func postForbidden(room string) error {
	if IsDMRoom(room) {
		return ErrForbidden
	}
	return Errorf(CodeForbidden, "your token does not allow posting in room %q", room)
}
