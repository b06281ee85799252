package chat

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

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
		sess.expiry = time.AfterFunc(id.Expires.Sub(s.cfg.Now()), func() { s.runTracked(sess.expire) })
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
		s.tellReplaced(ctx, replaced, oldEvs)
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
			s.tellReplaced(ctx, replaced, oldEvs) // replaced here, but another node holds the name
			return nil, err
		}
		if displaced != nil {
			// Resumed from another node: that node ends the old session
			// (Session.onDMNotice); the user never went offline.
			s.tellReplaced(ctx, replaced, oldEvs)
			s.publish(ctx, "@"+key, &Event{Kind: EventUser, User: &UserEvent{User: *displaced, Status: UserOffline}})
			s.log.Info("chat: session resumed from another node", "nickname", nick, "old", displaced.ID, "new", sess.id)
			return sess, nil
		}
	}
	s.tellReplaced(ctx, replaced, oldEvs)
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

// tellReplaced is the tail Connect runs, whatever its outcome, for the
// sessions it replaced (ended under s.mu, their events in evs): each sink
// is told ReasonReplaced, then the events (presence "left", the user's
// "offline") are published. Called without locks.
func (s *Service) tellReplaced(ctx context.Context, replaced []*Session, evs []*Event) {
	for _, old := range replaced {
		old.sink.Deliver(&Event{Kind: EventDisconnect, Disconnect: &Disconnect{Reason: ReasonReplaced}})
	}
	s.publishAll(ctx, evs)
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

// endLocked removes sess from everything and returns the events to
// publish after unlocking: presence (action, by, reason) in each room the
// user leaves with it, and the user's "offline" when it was its last
// session.
func (s *Service) endLocked(sess *Session, action PresenceAction, by, reason string) []*Event {
	assertHeld(rankService, "Service.endLocked")
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

// expire ends the session because its token expired: like Disconnect,
// and its sink is told (the client reconnects with a fresh token).
func (s *Session) expire() {
	svc := s.svc
	evs, nick, ok := s.end()
	if !ok {
		return
	}
	s.sink.Deliver(&Event{Kind: EventDisconnect, Disconnect: &Disconnect{Reason: ReasonExpired}})
	svc.publishAll(context.Background(), evs)
	svc.log.Debug("chat: session token expired", "session", s.id, "nickname", nick)
}

// replacedRemotely ends the session whose nickname a resumed connection on
// another node took over. Unlike a local resume it publishes no "left":
// the new session may already be back in the same rooms (a resuming client
// rejoins them at once), and a late "left" would wrongly show the user
// gone. It does not go "offline" either, and the nickname's claim is no
// longer this node's (the Roster's release of it is a no-op).
func (s *Session) replacedRemotely() {
	svc := s.svc
	_, nick, ok := s.end() // its events are not published (above)
	if !ok {
		return
	}
	s.sink.Deliver(&Event{Kind: EventDisconnect, Disconnect: &Disconnect{Reason: ReasonReplaced}})
	svc.log.Info("chat: session resumed on another node", "nickname", nick, "session", s.id)
}

// end ends the session (endLocked under the Service's lock) and returns
// the events to publish and its nickname; ok is false when it had ended
// already.
func (s *Session) end() (evs []*Event, nick string, ok bool) {
	svc := s.svc
	svc.mu.Lock()
	defer svc.mu.Unlock()
	if s.closed {
		return nil, "", false
	}
	return svc.endLocked(s, PresenceLeft, "", ""), s.nick, true
}

// Disconnect ends the session: it leaves its rooms (members see "left"),
// stops typing, and its user goes offline. reason is for logs. Calling it
// again does nothing.
func (s *Session) Disconnect(reason string) {
	svc := s.svc
	evs, nick, ok := s.end()
	if !ok {
		return
	}
	ctx := context.Background()
	svc.publishAll(ctx, evs)                   // with the user's "offline" when this was its last session
	if svc.log.Enabled(ctx, slog.LevelDebug) { // checked first: on the churn path
		svc.log.Debug("chat: session ended", "session", s.id, "nickname", nick, "reason", reason)
	}
}
