package chat

import (
	"context"
	"slices"
)

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
	Room string `json:"room"`
	// Members are the nicknames in the room (cluster-wide with a Roster),
	// the joiner included, sorted by NickKey; in a large room
	// (Config.LargeRoom) only the first Config.MemberPage of them, and
	// MoreMembers is set (Service.MemberPage lists the others).
	Members     []string  `json:"members"`
	MemberCount int       `json:"memberCount"`
	MoreMembers bool      `json:"moreMembers,omitempty"`
	LastSeq     int64     `json:"lastSeq"`
	Messages    []Message `json:"messages"` // ascending; the latest page, or the catch-up page
	// More: older messages exist before Messages (latest page), or newer
	// ones up to LastSeq after it (catch-up: call Since again).
	More bool `json:"more"`
	// LastRev is the room's change counter when the snapshot was read
	// (reads.go): Messages are in their state at LastRev or later, and
	// every later edit, deletion or reaction reaches the sink as an
	// event. A client that holds older messages asks Changes after the
	// rev it has.
	LastRev int64 `json:"lastRev,omitempty"`
	// Read is the joiner's read marker in the room (nil: none yet).
	Read *ReadMark `json:"read,omitempty"`
	// Readers are the other users' markers, most recent first, in a DM or
	// a room that is not large (Config.LargeRoom): "seen by".
	Readers []ReadMark `json:"readers,omitempty"`
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
	floor, snap, err := s.join(ctx, name, 0)
	if err != nil {
		return JoinResult{}, err
	}
	res := JoinResult{Room: name, Members: snap.names, MemberCount: snap.count, MoreMembers: snap.more,
		LastSeq: floor, Messages: []Message{}}
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
	// After the membership: a change stored after this read reaches the
	// sink as an event.
	if err := s.joinState(ctx, &res, s.Nickname()); err != nil {
		return JoinResult{}, err
	}
	return res, nil
}

// join adds the session to room (canonical) and returns the snapshot floor
// and the members. at > 0 starts a new room's sequencer at that Seq (see
// onDMNotice).
func (s *Session) join(ctx context.Context, name string, at int64) (int64, memberSnapshot, error) {
	svc := s.svc
	if err := s.lockOpen(); err != nil {
		return 0, memberSnapshot{}, err
	}
	if !s.mayReadLocked(name) {
		svc.mu.Unlock()
		return 0, memberSnapshot{}, readForbidden(name)
	}
	if r := s.rooms[name]; r != nil { // already a member
		r.mu.Lock()
		floor := r.next - 1
		snap := r.snapshotLocked()
		r.mu.Unlock()
		svc.mu.Unlock()
		if !snap.more {
			snap.names = svc.withRemoteMembers(name, snap.names)
			snap.count = len(snap.names)
		}
		return floor, snap, nil
	}
	if at == 0 && len(s.rooms) >= svc.cfg.MaxRoomsPerSession {
		svc.mu.Unlock()
		return 0, memberSnapshot{}, ErrTooManyRooms
	}
	r, err := svc.roomLocked(name)
	svc.mu.Unlock()
	if err != nil {
		return 0, memberSnapshot{}, err
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
		return 0, memberSnapshot{}, err
	}
	s.rooms[name] = r
	floor, first := r.addMember(s)
	snap := r.snapshot()
	nick := s.nick
	snap.names = withJoiner(snap, nick, svc.cfg.MemberPage)
	svc.mu.Unlock()
	if svc.roster != nil {
		snap = s.rosterJoin(ctx, r, nick, snap, at > 0)
	}
	if first { // another session of the user was there already: no news
		svc.publish(ctx, name, presenceEvent(name, nick, PresenceJoined, ""))
	}
	return floor, snap, nil
}

// rosterJoin records the membership with the Roster and adds the other
// nodes' members to the snapshot (a large room's: their count). inBus:
// called from a Bus handler (a DM auto-join), which must not wait for the
// network: recorded in the background, members not asked.
func (s *Session) rosterJoin(ctx context.Context, r *room, nick string, snap memberSnapshot, inBus bool) memberSnapshot {
	svc := s.svc
	room := r.name
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
		go svc.runTracked(func() { record(context.Background()) })
		return snap
	}
	others := record(ctx)
	r.mu.Lock()
	remote := 0
	for _, n := range others {
		if _, here := r.nicks[NickKey(n)]; !here {
			remote++
		}
	}
	r.pres.remote = remote // the Roster's answer is the freshest count
	count := r.usersLocked()
	r.mu.Unlock()
	if snap.more {
		snap.count = count
		return snap
	}
	names := mergeNicks(snap.names, others)
	return memberSnapshot{names: names, count: len(names)}
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
