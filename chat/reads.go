package chat

import "context"

// Read state: each user's read and delivered marker per room, kept by the
// Store (so across reconnects, devices and nodes), unread and mention
// counts in the room list, and "seen by" (roomreads.go has how markers
// reach the other members).

// Mark moves the user's marker in room forward: read is the seq of the
// last message the user has seen, delivered the last one a device of the
// user received (0 leaves either as it is; delivered is raised to read).
// The user's sessions on every node get EventRead at once; the room's
// members get it coalesced unless the room is large. Any room the user
// may read, without joining. Errors: ErrInvalidRoom, ErrInvalidArgument
// (nothing to mark, a negative seq, a seq past the room's last message),
// ErrForbidden, ErrUnavailable.
func (s *Session) Mark(ctx context.Context, room string, read, delivered int64) (ReadMark, error) {
	name, err := NormalizeRoom(room)
	if err != nil {
		return ReadMark{}, err
	}
	if read < 0 || delivered < 0 {
		return ReadMark{}, Errorf(CodeInvalidArgument, "sequence number must not be negative")
	}
	if read == 0 && delivered == 0 {
		return ReadMark{}, Errorf(CodeInvalidArgument, "give the seq read or delivered")
	}
	if err := s.lockOpen(); err != nil {
		return ReadMark{}, err
	}
	nick, may := s.nick, s.mayReadLocked(name)
	s.svc.mu.Unlock()
	if !may {
		return ReadMark{}, readForbidden(name)
	}
	key := NickKey(nick)
	m, changed, err := s.svc.store.Mark(ctx, name, key, nick, read, delivered)
	if err != nil {
		return ReadMark{}, storeErr(err)
	}
	if changed {
		ev := &Event{Kind: EventRead, Room: name, Reads: &Reads{Room: name, Readers: []ReadMark{m}}}
		s.svc.publish(ctx, "@"+key, ev) // the user's sessions, every node
		s.svc.publish(ctx, name, ev)    // the members, coalesced
	}
	return m, nil
}

// Seen tells how many users other than its sender have read message seq of
// room and, unless more than Config.LargeRoom did or the room is large,
// who (the first readers first): "seen by". Errors: ErrInvalidRoom,
// ErrInvalidArgument, ErrForbidden, ErrNotFound, ErrUnavailable.
func (s *Session) Seen(ctx context.Context, room string, seq int64) (Seen, error) {
	name, err := NormalizeRoom(room)
	if err != nil {
		return Seen{}, err
	}
	if err := CheckSeq(seq); err != nil {
		return Seen{}, err
	}
	if err := s.lockOpen(); err != nil {
		return Seen{}, err
	}
	may := s.mayReadLocked(name)
	limit := s.svc.cfg.LargeRoom
	if r := s.svc.rooms[name]; r != nil && r.isLarge() {
		limit = 0
	}
	s.svc.mu.Unlock()
	if !may {
		return Seen{}, readForbidden(name)
	}
	seen, err := s.svc.store.SeenBy(ctx, name, seq, limit)
	if err != nil {
		return Seen{}, storeErr(err)
	}
	if seen.Count > s.svc.cfg.LargeRoom {
		seen.Nicknames = []string{} // counts only, never per-user lists
	}
	return seen, nil
}

// isLarge reports whether the room is large (roompresence.go).
func (r *room) isLarge() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pres.large
}

// withUnread adds the user's read state to a room list (Session.Rooms):
// rooms it has marked, and its DM rooms.
func (s *Service) withUnread(ctx context.Context, user string, rooms []RoomInfo) ([]RoomInfo, error) {
	names := make([]string, len(rooms))
	for i, r := range rooms {
		names[i] = r.Name
	}
	counts, err := s.store.Unread(ctx, user, names)
	if err != nil {
		return nil, storeErr(err)
	}
	by := make(map[string]Unread, len(counts))
	for _, u := range counts {
		by[u.Room] = u
	}
	for i := range rooms {
		if u, ok := by[rooms[i].Name]; ok {
			rooms[i].Read = &RoomRead{Seq: u.Read, Delivered: u.Delivered, Unread: u.Unread, Mentions: u.Mentions}
		}
	}
	return rooms, nil
}

// joinState adds the room's rev and the read markers to a join result:
// the joiner's own, and in a DM or small room the others' (for "seen
// by"; at most Config.LargeRoom).
func (s *Session) joinState(ctx context.Context, res *JoinResult, nick string) error {
	readers := s.svc.cfg.LargeRoom
	if res.MoreMembers || res.MemberCount > s.svc.cfg.LargeRoom {
		readers = 0
	}
	st, err := s.svc.store.RoomState(ctx, res.Room, NickKey(nick), readers)
	if err != nil {
		return storeErr(err)
	}
	res.LastRev = st.LastRev
	if st.Mine.Read > 0 || st.Mine.Delivered > 0 {
		mine := st.Mine
		res.Read = &mine
	}
	if !st.More && len(st.Readers) > 0 {
		res.Readers = st.Readers
	}
	return nil
}
