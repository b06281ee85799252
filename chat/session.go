package chat

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"time"
	"unicode/utf8"
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

// JoinOptions selects what Join returns besides membership.
type JoinOptions struct {
	// CatchUp asks for the messages after After (the last Seq the client
	// has) instead of the latest page.
	CatchUp bool
	After   int64
	// Limit caps the messages returned: 0 means Config.PageLimit, more
	// than Config.MaxPageLimit is capped.
	Limit int
}

// JoinResult is the snapshot a joiner starts from. Every message with
// Seq <= LastSeq is history (ask with History/Since); every message after
// LastSeq reaches the sink as an EventMessage, in order, once.
type JoinResult struct {
	Room     string    `json:"room"`
	Members  []string  `json:"members"` // nicknames in the room (cluster-wide with a Roster), the joiner included
	LastSeq  int64     `json:"lastSeq"`
	Messages []Message `json:"messages"` // ascending; the latest page, or the catch-up page
	// More: older messages exist before Messages (latest page), or newer
	// ones up to LastSeq after it (catch-up: call Since again).
	More bool `json:"more"`
}

// Join makes the session a member of room (a public room is created by the
// first join). Joining a room again is harmless and returns a fresh
// snapshot. Errors: ErrInvalidRoom, ErrForbidden (a DM room of others),
// ErrInvalidArgument, ErrUnavailable. If reading the snapshot fails the
// session may stay joined: retrying is the remedy.
func (s *Session) Join(ctx context.Context, room string, opt JoinOptions) (JoinResult, error) {
	name, err := NormalizeRoom(room)
	if err != nil {
		return JoinResult{}, err
	}
	if opt.CatchUp && opt.After < 0 {
		return JoinResult{}, Errorf(CodeInvalidArgument, "after must not be negative")
	}
	limit, err := s.svc.pageLimit(opt.Limit)
	if err != nil {
		return JoinResult{}, err
	}
	floor, members, err := s.join(ctx, name, 0)
	if err != nil {
		return JoinResult{}, err
	}
	res := JoinResult{Room: name, Members: members, LastSeq: floor, Messages: []Message{}}
	var msgs []Message
	switch {
	case opt.CatchUp && opt.After < floor:
		msgs, err = s.svc.store.Since(ctx, name, opt.After, limit)
		msgs = slices.DeleteFunc(msgs, func(m Message) bool { return m.Seq > floor })
		res.More = len(msgs) == 0 || msgs[len(msgs)-1].Seq < floor
	case !opt.CatchUp && floor > 0:
		msgs, err = s.svc.store.History(ctx, name, floor+1, limit)
		res.More = len(msgs) > 0 && msgs[0].Seq > 1
	}
	if err != nil {
		return JoinResult{}, storeErr(err)
	}
	if msgs != nil {
		res.Messages = msgs
	}
	return res, nil
}

// join adds the session to room (canonical) and returns the snapshot floor
// and the members. at > 0 starts a new room's sequencer at that Seq (see
// onDMNotice).
func (s *Session) join(ctx context.Context, name string, at int64) (int64, []string, error) {
	svc := s.svc
	if err := s.lockOpen(); err != nil {
		return 0, nil, err
	}
	if !s.mayReadLocked(name) {
		svc.mu.Unlock()
		return 0, nil, readForbidden(name)
	}
	if r := s.rooms[name]; r != nil { // already a member
		r.mu.Lock()
		floor := r.next - 1
		r.mu.Unlock()
		members := r.memberNicks()
		svc.mu.Unlock()
		return floor, svc.withRemoteMembers(name, members), nil
	}
	if at == 0 && len(s.rooms) >= svc.cfg.MaxRoomsPerSession {
		svc.mu.Unlock()
		return 0, nil, ErrTooManyRooms
	}
	r, err := svc.roomLocked(name)
	svc.mu.Unlock()
	if err != nil {
		return 0, nil, err
	}
	// Outside the lock: this may read the Store.
	err = r.initSeq(ctx, at)
	svc.mu.Lock()
	switch {
	case err == nil && s.closed:
		err = ErrNotConnected
	case err == nil && s.rooms[name] != nil: // a concurrent Join won
		err = errJoinedMeanwhile
	}
	if err != nil {
		svc.releaseLocked(r)
		svc.mu.Unlock()
		if err == errJoinedMeanwhile {
			return s.join(ctx, name, at)
		}
		return 0, nil, err
	}
	s.rooms[name] = r
	floor, first := r.addMember(s)
	members := r.memberNicks()
	nick := s.nick
	svc.mu.Unlock()
	if svc.roster != nil {
		members = s.rosterJoin(ctx, name, nick, members, at > 0)
	}
	if first { // another session of the user was there already: no news
		svc.publish(ctx, name, presenceEvent(name, nick, PresenceJoined, ""))
	}
	return floor, members, nil
}

// rosterJoin records the membership with the Roster and adds the other
// nodes' members to local. inBus: called from a Bus handler (a DM
// auto-join), which must not wait for the network: recorded in the
// background, members not asked.
func (s *Session) rosterJoin(ctx context.Context, room, nick string, local []string, inBus bool) []string {
	svc := s.svc
	record := func(ctx context.Context) []string {
		pctx, cancel := rosterCtx(ctx)
		defer cancel()
		others, err := svc.roster.Join(pctx, room, s.id, nick)
		if err != nil {
			svc.log.Warn("chat: roster join failed", "room", room, "nickname", nick, "err", err)
		}
		// The session may have left or ended meanwhile, its Leave recorded
		// before this Join: take the stale record back.
		svc.mu.Lock()
		stale := s.closed || s.rooms[room] == nil || s.nick != nick
		svc.mu.Unlock()
		if stale {
			if err := svc.roster.Leave(pctx, s.id, nick, []string{room}); err != nil {
				svc.log.Warn("chat: roster leave failed", "room", room, "nickname", nick, "err", err)
			}
		}
		return others
	}
	if inBus {
		go svc.goBackground(func() { record(context.Background()) })
		return local
	}
	return mergeNicks(local, record(ctx))
}

var errJoinedMeanwhile = Errorf(CodeInternal, "joined meanwhile")

// Leave removes the session from room. ErrNotMember if it was not in it.
func (s *Session) Leave(ctx context.Context, room string) error {
	name, err := NormalizeRoom(room)
	if err != nil {
		return err
	}
	if err := s.lockOpen(); err != nil {
		return err
	}
	ev, err := s.leaveLocked(name)
	nick := s.nick
	s.svc.mu.Unlock()
	if err != nil {
		return err
	}
	if p := s.svc.roster; p != nil {
		// Synchronous: a Join right after must not be undone by it.
		pctx, cancel := rosterCtx(ctx)
		if err := p.Leave(pctx, s.id, nick, []string{name}); err != nil {
			s.svc.log.Warn("chat: roster leave failed", "room", name, "nickname", nick, "err", err)
		}
		cancel()
	}
	if ev != nil { // nil: another session of the user stays in the room
		s.svc.publish(ctx, name, ev)
	}
	return nil
}

func (s *Session) leaveLocked(name string) (*Event, error) {
	r := s.rooms[name]
	if r == nil {
		return nil, ErrNotMember
	}
	delete(s.rooms, name)
	last := r.removeMember(s)
	s.svc.releaseLocked(r)
	if !last { // the user is still there with another session
		return nil, nil
	}
	return presenceEvent(name, s.nick, PresenceLeft, ""), nil
}

// Send appends a message to a room the session has joined and fans it
// out. The returned Message has the server id, Seq and TS; the sender's
// sink also receives it as an EventMessage. If clientID was used before by
// this user in this room, nothing is stored and the original message is
// returned with Duplicate set (safe retries). Errors: ErrInvalidRoom,
// ErrNotMember, ErrEmptyMessage, ErrInvalidMessage, ErrMessageTooLarge,
// ErrInvalidArgument (clientID), ErrRateLimited, ErrUnavailable.
func (s *Session) Send(ctx context.Context, room, text, clientID string) (Message, error) {
	name, err := NormalizeRoom(room)
	if err != nil {
		return Message{}, err
	}
	if err := s.svc.checkMessage(text, clientID); err != nil {
		return Message{}, err
	}
	if err := s.lockOpen(); err != nil {
		return Message{}, err
	}
	member, nick, may := s.rooms[name] != nil, s.nick, s.mayPostLocked(name)
	s.svc.mu.Unlock()
	switch {
	case !member:
		return Message{}, ErrNotMember
	case !may:
		return Message{}, postForbidden(name)
	}
	return s.send(ctx, name, nick, text, clientID, "")
}

// send rate-limits, stores and publishes. notify, if set, is the "@" topic
// of a DM recipient, told before the room so that it joins in time.
func (s *Session) send(ctx context.Context, room, nick, text, clientID, notify string) (Message, error) {
	if !s.lim.msg.Take() {
		s.svc.stats.rateLimited.Add(1)
		return Message{}, ErrRateLimited
	}
	m, err := s.svc.store.Append(ctx, Draft{Room: room, Sender: nick, Text: text, ClientID: clientID})
	if err != nil {
		return Message{}, storeErr(err)
	}
	if m.Duplicate {
		s.svc.stats.duplicates.Add(1)
		return m, nil // published when it was first stored
	}
	s.svc.stats.stored.Add(1)
	ev := &Event{Kind: EventMessage, Room: room, Message: &m}
	if notify != "" {
		s.svc.publish(ctx, notify, ev)
	}
	s.svc.publish(ctx, room, ev)
	return m, nil
}

// DirectMessage sends text to the user named to, in their DM room
// (DMRoom). The sender joins the DM room if it had not; the recipient, if
// online, joins it when the message arrives, and receives it. The
// recipient need not be online: the message waits in the room's history.
// Errors: those of Send, ErrInvalidNickname (to), ErrInvalidArgument
// (to is the sender).
func (s *Session) DirectMessage(ctx context.Context, to, text, clientID string) (Message, error) {
	toNick, err := NormalizeNickname(to)
	if err != nil {
		return Message{}, err
	}
	if err := s.svc.checkMessage(text, clientID); err != nil {
		return Message{}, err
	}
	if err := s.lockOpen(); err != nil {
		return Message{}, err
	}
	nick := s.nick
	s.svc.mu.Unlock()
	if NickKey(toNick) == NickKey(nick) {
		return Message{}, Errorf(CodeInvalidArgument, "cannot send a direct message to yourself")
	}
	name, err := DMRoom(nick, toNick)
	if err != nil {
		return Message{}, err
	}
	if _, _, err := s.join(ctx, name, 0); err != nil {
		return Message{}, err
	}
	return s.send(ctx, name, nick, text, clientID, "@"+NickKey(toNick))
}

// onDMNotice handles what the Bus carries on the user's "@" topic: a DM
// addressed to the user (join the DM room if needed, so that this and
// later messages are delivered), or the notice that a connection on
// another node resumed this very session (end it as replaced).
func (s *Session) onDMNotice(ev *Event) {
	if ev.Kind == EventUser && ev.User.Status == UserOffline && ev.User.ID == s.id {
		// Not in the Bus's goroutine: ending publishes.
		go s.svc.goBackground(s.replacedRemotely)
		return
	}
	if ev.Kind != EventMessage {
		return
	}
	svc := s.svc
	svc.mu.Lock()
	skip := s.closed || s.rooms[ev.Room] != nil || !s.mayReadLocked(ev.Room)
	svc.mu.Unlock()
	if skip {
		return
	}
	// at = this message: no Store read here, in the Bus's goroutine.
	floor, _, err := s.join(context.Background(), ev.Room, ev.Message.Seq)
	if err != nil {
		svc.log.Debug("chat: DM auto-join failed", "room", ev.Room, "session", s.id, "err", err)
		return
	}
	if floor >= ev.Message.Seq {
		// The room was already live here and delivered it before we
		// joined: hand this one over directly.
		svc.stats.delivered(EventMessage, 1)
		s.sink.Deliver(ev)
		return
	}
	// The room has just become live on this node: a networked Bus may
	// have published this message on the room's topic before our
	// subscription took effect, so hand it to the room's sequencer too
	// (which drops a seq it has already delivered).
	svc.mu.Lock()
	r := s.rooms[ev.Room]
	svc.mu.Unlock()
	if r != nil {
		r.onEvent(ev)
	}
}

// History returns up to limit messages of room before Seq before (0 =
// latest), ascending. A public room can be read without joining; a DM room
// only by its two users (ErrForbidden).
func (s *Session) History(ctx context.Context, room string, before int64, limit int) ([]Message, error) {
	return s.read(ctx, room, before, limit, s.svc.store.History)
}

// Since returns up to limit messages of room after Seq after, ascending:
// the catch-up after a reconnect. Same rights as History.
func (s *Session) Since(ctx context.Context, room string, after int64, limit int) ([]Message, error) {
	return s.read(ctx, room, after, limit, s.svc.store.Since)
}

func (s *Session) read(ctx context.Context, room string, seq int64, limit int,
	f func(context.Context, string, int64, int) ([]Message, error)) ([]Message, error) {
	name, err := NormalizeRoom(room)
	if err != nil {
		return nil, err
	}
	if seq < 0 {
		return nil, Errorf(CodeInvalidArgument, "sequence number must not be negative")
	}
	if limit, err = s.svc.pageLimit(limit); err != nil {
		return nil, err
	}
	if err := s.lockOpen(); err != nil {
		return nil, err
	}
	ok := s.mayReadLocked(name)
	s.svc.mu.Unlock()
	if !ok {
		return nil, readForbidden(name)
	}
	msgs, err := f(ctx, name, seq, limit)
	if msgs == nil && err == nil {
		msgs = []Message{}
	}
	return msgs, storeErr(err)
}

// Rooms lists the public rooms that have messages and the session's own
// DM rooms, with their counters: what a client shows as its room list.
func (s *Session) Rooms(ctx context.Context) ([]RoomInfo, error) {
	if err := s.lockOpen(); err != nil {
		return nil, err
	}
	me, id := NickKey(s.nick), s.ident
	s.svc.mu.Unlock()
	all, err := s.svc.store.Rooms(ctx)
	if err != nil {
		return nil, storeErr(err)
	}
	return slices.DeleteFunc(all, func(r RoomInfo) bool {
		a, b, dm := DMParticipants(r.Name)
		if !dm {
			return !id.MayRead(r.Name)
		}
		return a != me && b != me
	}), nil
}

// Typing says whether the user is typing in room (a joined room). Clients
// repeat active=true every few seconds while typing: it lapses after
// Config.TypingTTL. Sending a message, leaving or disconnecting ends it.
// Errors: ErrInvalidRoom, ErrNotMember, ErrRateLimited (signal dropped).
func (s *Session) Typing(ctx context.Context, room string, active bool) error {
	name, err := NormalizeRoom(room)
	if err != nil {
		return err
	}
	if err := s.lockOpen(); err != nil {
		return err
	}
	member, nick, may := s.rooms[name] != nil, s.nick, s.mayPostLocked(name)
	s.svc.mu.Unlock()
	switch {
	case !member:
		return ErrNotMember
	case !may:
		return postForbidden(name)
	}
	if active && !s.lim.typ.Take() {
		s.svc.stats.rateLimited.Add(1)
		return ErrRateLimited
	}
	s.svc.publish(ctx, name, &Event{Kind: EventTypingSignal, Room: name,
		TypingSignal: &TypingSignal{Room: name, Nickname: nick, Active: active}})
	return nil
}

// Rename changes the nickname. Members of the session's rooms get a
// "renamed" presence event; the DM rooms of the old nickname are left (they
// belong to that name). Errors: ErrInvalidNickname, ErrNicknameTaken,
// ErrForbidden (an authenticated session: its token sets the nickname).
func (s *Session) Rename(ctx context.Context, nickname string) error {
	nn, err := NormalizeNickname(nickname)
	if err != nil {
		return err
	}
	svc := s.svc
	if svc.roster != nil {
		if err := s.claimRename(ctx, nn); err != nil {
			return err
		}
	}
	if err := s.lockOpen(); err != nil {
		if svc.roster != nil { // ended meanwhile: nobody will release the claim
			s.rosterRelease(ctx, NickKey(nn))
		}
		return err
	}
	old := s.nick
	oldKey, newKey := NickKey(old), NickKey(nn)
	if nn == old {
		svc.mu.Unlock()
		return nil
	}
	if s.ident != nil {
		svc.mu.Unlock()
		return Errorf(CodeForbidden, "your nickname is set by your token and cannot be changed")
	}
	if newKey != oldKey {
		if svc.users[newKey] != nil {
			svc.mu.Unlock()
			if svc.roster != nil { // claimed above; no longer wanted
				s.rosterRelease(ctx, newKey)
			}
			return ErrNicknameTaken
		}
		unsub, err := svc.bus.Subscribe("@"+newKey, s.onDMNotice)
		if err != nil {
			svc.mu.Unlock()
			return Wrap(CodeUnavailable, ErrUnavailable.Message, err)
		}
		s.unsubDM()
		s.unsubDM = unsub
		// An anonymous user: exactly one session.
		delete(svc.users, oldKey)
		s.u.key = newKey
		svc.users[newKey] = s.u
	}
	var evs []*Event
	for name, r := range s.rooms {
		if IsDMRoom(name) && newKey != oldKey {
			if ev, _ := s.leaveLocked(name); ev != nil {
				evs = append(evs, ev)
			}
			continue
		}
		r.renameMember(oldKey, newKey)
		evs = append(evs, presenceEvent(name, nn, PresenceRenamed, old))
	}
	s.nick = nn
	u := s.user()
	var stay []string // rooms the new name is in
	for name := range s.rooms {
		stay = append(stay, name)
	}
	svc.mu.Unlock()
	if svc.roster != nil {
		s.rosterRenamed(ctx, old, nn, roomsOf(evs), stay)
	}
	svc.publishAll(ctx, evs)
	svc.publish(ctx, "", &Event{Kind: EventUser, User: &UserEvent{User: u, Status: UserRenamed, From: old}})
	return nil
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

// claimRename takes nickname nn cluster-wide before a rename (when only
// its case changes, the claim is refreshed with it).
func (s *Session) claimRename(ctx context.Context, nn string) error {
	svc := s.svc
	if err := s.lockOpen(); err != nil {
		return err
	}
	u := s.user()
	u.Nickname = nn
	token := s.token
	svc.mu.Unlock()
	pctx, cancel := rosterCtx(ctx)
	defer cancel()
	_, err := svc.roster.Claim(pctx, Claim{User: u, Token: TokenDigest(token)})
	switch {
	case errors.Is(err, ErrNicknameTaken):
		return ErrNicknameTaken
	case err != nil:
		svc.log.Warn("chat: roster claim failed; nickname checked on this node only", "nickname", nn, "err", err)
	}
	return nil
}

func (s *Session) rosterRelease(ctx context.Context, key string) {
	pctx, cancel := rosterCtx(ctx)
	defer cancel()
	if err := s.svc.roster.Release(pctx, key, s.id); err != nil {
		s.svc.log.Warn("chat: roster release failed", "nickname", key, "err", err)
	}
}

// rosterRenamed moves the session's records from old to nn: the old
// name is released (unless only its case changed), its memberships are
// replaced by nn's in the rooms it stays in, and dropped in the DM rooms
// it left.
func (s *Session) rosterRenamed(ctx context.Context, old, nn string, left, stay []string) {
	svc := s.svc
	pctx, cancel := rosterCtx(ctx)
	defer cancel()
	if NickKey(old) != NickKey(nn) {
		if err := svc.roster.Release(pctx, NickKey(old), s.id); err != nil {
			svc.log.Warn("chat: roster release failed", "nickname", old, "err", err)
		}
	}
	if err := svc.roster.Leave(pctx, s.id, old, append(left, stay...)); err != nil {
		svc.log.Warn("chat: roster leave failed", "nickname", old, "err", err)
	}
	for _, room := range stay {
		if _, err := svc.roster.Join(pctx, room, s.id, nn); err != nil {
			svc.log.Warn("chat: roster join failed", "room", room, "nickname", nn, "err", err)
		}
	}
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

// Kick ends the sessions (every device) of the user named nickname on
// this node: its rooms' members see a "kicked" presence event with the caller as By and
// reason, and the user gets EventDisconnect with ReasonKicked (clients
// are told "bye" and not invited to reconnect; nothing stops them from
// connecting again: there is no ban list). Only an admin may kick.
// Errors: ErrForbidden (not an admin), ErrInvalidNickname, ErrNotFound
// (nobody of that name online on this node), ErrInvalidArgument (the
// caller itself, or a reason over 256 bytes).
func (s *Session) Kick(ctx context.Context, nickname, reason string) error {
	nick, err := NormalizeNickname(nickname)
	if err != nil {
		return err
	}
	if len(reason) > 256 {
		return Errorf(CodeInvalidArgument, "kick reason must be at most 256 bytes")
	}
	if !utf8.ValidString(reason) {
		return Errorf(CodeInvalidArgument, "kick reason must be valid UTF-8")
	}
	svc := s.svc
	if err := s.lockOpen(); err != nil {
		return err
	}
	if s.ident == nil || !s.ident.Admin {
		svc.mu.Unlock()
		return Errorf(CodeForbidden, "only admins may kick")
	}
	target := svc.users[NickKey(nick)]
	switch {
	case target == nil:
		svc.mu.Unlock()
		return Errorf(CodeNotFound, "%s is not online", nick)
	case target == s.u:
		svc.mu.Unlock()
		return Errorf(CodeInvalidArgument, "you cannot kick yourself")
	}
	by := s.nick
	sessions := slices.Clone(target.sessions)
	var evs []*Event
	for _, t := range sessions {
		evs = append(evs, svc.endLocked(t, PresenceKicked, by, reason)...)
	}
	svc.mu.Unlock()
	for _, t := range sessions {
		t.sink.Deliver(&Event{Kind: EventDisconnect, Disconnect: &Disconnect{Reason: ReasonKicked, By: by, Message: reason}})
	}
	svc.publishAll(ctx, evs) // presence "kicked" per room, then the user's "offline"
	u := sessions[0].user()
	svc.log.Info("chat: user kicked", "nickname", u.Nickname, "by", by, "reason", reason)
	return nil
}

// DeleteMessage deletes message seq of room: the Store keeps a tombstone
// (Message.Deleted, no text; seqs stay gap-free, history shows it as
// deleted) and the room's members, on every node and gateway, get
// EventDeleted. Only an admin may delete, in any room (DM rooms
// included: moderation of abuse reports). Deleting a deleted message
// again succeeds and tells the members again. Errors: ErrForbidden,
// ErrInvalidRoom, ErrInvalidArgument (seq < 1), ErrNotFound,
// ErrUnavailable.
func (s *Session) DeleteMessage(ctx context.Context, room string, seq int64) (Message, error) {
	name, err := NormalizeRoom(room)
	if err != nil {
		return Message{}, err
	}
	if err := CheckSeq(seq); err != nil {
		return Message{}, err
	}
	svc := s.svc
	if err := s.lockOpen(); err != nil {
		return Message{}, err
	}
	admin, by := s.ident != nil && s.ident.Admin, s.nick
	svc.mu.Unlock()
	if !admin {
		return Message{}, Errorf(CodeForbidden, "only admins may delete messages")
	}
	m, err := svc.store.Delete(ctx, name, seq)
	if err != nil {
		return Message{}, storeErr(err)
	}
	svc.publish(ctx, name, &Event{Kind: EventDeleted, Room: name, Deleted: &Deleted{Room: name, Seq: seq, By: by}})
	svc.log.Info("chat: message deleted", "room", name, "seq", seq, "by", by)
	return m, nil
}
