package chat

import (
	"slices"
	"strings"
	"time"
)

// Presence in large rooms.
//
// Every user who joins a room is announced to its members, and a joiner
// gets the member list: N users joining one room cost N² presence events
// and N² nicknames in join results, which is what a room that fills up at
// once (a class, a stream, a company channel) does to a server and to its
// clients. So a room above Config.LargeRoom users stops announcing users:
// its members get an EventMembers with the count when it becomes large,
// then at most once per Config.PresenceWindow while the count changes;
// join results list the first Config.MemberPage members (a snapshot
// refreshed at most once per window) with the count; Service.MemberPage
// lists the members on demand. Typing lists of a large room go out at most
// once per window too. At half of LargeRoom or below the room is small again:
// the members get the whole list once, then per-user presence as before.
// The work per join is then constant, whatever the room's size.
//
// Counts are this node's users plus those on other nodes as known from the
// Roster at the first join and from the presence events of the other
// nodes since (best effort, as presence is).

// roomPresence is a room's large-room state, guarded by room.mu.
type roomPresence struct {
	large     bool
	remote    int       // users in the room on other nodes
	countSent int       // the count the members were last told
	flushedAt time.Time // when a count or typing list last went out
	timer     *time.Timer
	typing    bool     // a typing list is waiting for the window
	page      []string // the first members, for join results
	pageAt    time.Time
}

// usersLocked is the number of users in the room (cluster-wide, as known).
func (r *room) usersLocked() int { return len(r.nicks) + r.pres.remote }

// onPresenceLocked handles a presence event of the room and reports whether
// the room is large (the event is then not delivered to the members).
func (r *room) onPresenceLocked(ev *Event) bool {
	if ev.from != r.svc || ev.remoteUser {
		// Another node's user (a local one is counted by add/removeMember).
		switch ev.Presence.Action {
		case PresenceJoined:
			r.pres.remote++
		case PresenceLeft, PresenceKicked:
			r.pres.remote = max(0, r.pres.remote-1)
		}
	}
	cfg := &r.svc.cfg
	n := r.usersLocked()
	switch {
	case !r.pres.large && n > cfg.LargeRoom:
		r.pres.large = true
		r.pres.page = nil
		r.sendCountLocked(r.svc.cfg.Now())
		return true
	case r.pres.large && n <= cfg.LargeRoom/2:
		r.pres.large = false
		r.pres.page = nil
		r.stopPresenceTimerLocked()
		// The whole list, read outside the room's lock (a Roster call).
		go r.svc.runTracked(r.sendSmallList)
		return true
	case r.pres.large:
		r.presenceChangedLocked()
		return true
	}
	return false
}

// sendSmallList tells the members of a room that became small again who
// is in it: from then on they get per-user presence.
func (r *room) sendSmallList() {
	names, err := r.svc.Members(r.name)
	if err != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.pres.large {
		return
	}
	r.broadcastLocked(&Event{Kind: EventMembers, Room: r.name, Members: &Members{Room: r.name, Count: len(names), Nicknames: names}})
}

// presenceChangedLocked sends the count now, or arms the window's timer.
func (r *room) presenceChangedLocked() {
	now := r.svc.cfg.Now()
	if due := r.pres.flushedAt.Add(r.svc.cfg.PresenceWindow); now.Before(due) {
		if r.pres.timer == nil {
			r.pres.timer = time.AfterFunc(due.Sub(now), func() { r.svc.runTracked(r.flushPresence) })
		}
		return
	}
	r.flushPresenceLocked(now)
}

// flushPresence runs when a window ends.
func (r *room) flushPresence() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pres.timer = nil
	if r.closed || !r.pres.large {
		return
	}
	r.flushPresenceLocked(r.svc.cfg.Now())
}

func (r *room) flushPresenceLocked(now time.Time) {
	if r.usersLocked() != r.pres.countSent {
		r.sendCountLocked(now)
	}
	if r.pres.typing {
		r.pres.typing = false
		r.pres.flushedAt = now
		r.sendTypingLocked()
	}
}

func (r *room) sendCountLocked(now time.Time) {
	n := r.usersLocked()
	r.pres.countSent = n
	r.pres.flushedAt = now
	r.broadcastLocked(&Event{Kind: EventMembers, Room: r.name, Members: &Members{Room: r.name, Count: n, Large: true}})
}

func (r *room) stopPresenceTimerLocked() {
	if r.pres.timer != nil {
		r.pres.timer.Stop()
		r.pres.timer = nil
	}
}

// typingChangedLocked sends the typing list, at once in a small room, at
// most once per window in a large one.
func (r *room) typingChangedLocked() {
	if !r.pres.large {
		r.sendTypingLocked()
		return
	}
	r.pres.typing = true
	r.presenceChangedLocked()
}

// memberSnapshot is what a join result says about the members.
type memberSnapshot struct {
	names []string // all members, or the first page of a large room
	count int      // users in the room
	more  bool     // names is only the first page
}

// snapshotLocked returns the member snapshot for a join result, under
// svc.mu (nicknames are guarded by it) and r.mu. In a large room the page
// is recomputed at most once per window.
func (r *room) snapshotLocked() memberSnapshot {
	n := r.usersLocked()
	if !r.pres.large && n <= r.svc.cfg.LargeRoom { // (the joiner may tip it over)
		return memberSnapshot{names: r.localNicksLocked(), count: n}
	}
	now := r.svc.cfg.Now()
	if r.pres.page == nil || now.Sub(r.pres.pageAt) >= r.svc.cfg.PresenceWindow {
		r.pres.page = r.firstNicksLocked(r.svc.cfg.MemberPage)
		r.pres.pageAt = now
	}
	return memberSnapshot{names: r.pres.page, count: n, more: true}
}

// withJoiner returns a large room's first page of members with the joiner
// in it: the page is made at most once per PresenceWindow (a join storm
// must not sort the room at every join) and may predate the join. The
// cached page is not modified.
func withJoiner(snap memberSnapshot, nick string, limit int) []string {
	if !snap.more {
		return snap.names
	}
	key := NickKey(nick)
	i, found := slices.BinarySearchFunc(snap.names, key, func(n, k string) int { return strings.Compare(NickKey(n), k) })
	if found || (i == len(snap.names) && i >= limit) {
		return snap.names
	}
	out := make([]string, 0, min(len(snap.names)+1, limit))
	out = append(out, snap.names[:i]...)
	out = append(out, nick)
	out = append(out, snap.names[i:]...)
	return out[:min(len(out), limit)]
}

// localNicksLocked lists this node's members once each, sorted by NickKey.
func (r *room) localNicksLocked() []string {
	out := make([]string, 0, len(r.nicks))
	seen := make(map[string]bool, len(r.nicks))
	for m := range r.members {
		if k := NickKey(m.nick); !seen[k] {
			seen[k] = true
			out = append(out, m.nick)
		}
	}
	sortNicks(out)
	return out
}

// firstNicksLocked returns the first n members by NickKey (this node's).
func (r *room) firstNicksLocked(n int) []string {
	all := r.localNicksLocked()
	if len(all) > n {
		all = slices.Clip(all[:n])
	}
	return all
}

func sortNicks(s []string) {
	slices.SortFunc(s, func(a, b string) int { return strings.Compare(NickKey(a), NickKey(b)) })
}

// MemberPage returns up to limit members of room (cluster-wide with a
// Roster) whose NickKey sorts after after (""; the first page), sorted,
// and whether more follow: the member list of a large room, on demand.
// limit ≤ 0 or above Config.MemberPage means MemberPage.
func (s *Service) MemberPage(room, after string, limit int) (names []string, more bool, err error) {
	all, err := s.Members(room)
	if err != nil {
		return nil, false, err
	}
	if limit <= 0 || limit > s.cfg.MemberPage {
		limit = s.cfg.MemberPage
	}
	key := NickKey(after)
	i, _ := slices.BinarySearchFunc(all, key, func(n, k string) int { return strings.Compare(NickKey(n), k) })
	for i < len(all) && after != "" && NickKey(all[i]) == key {
		i++
	}
	all = all[i:]
	if len(all) > limit {
		return all[:limit], true, nil
	}
	return all, false, nil
}

// Members returns a page of room's members (Service.MemberPage), for a
// session that may read the room (it need not be in it).
// Errors: ErrInvalidRoom, ErrForbidden.
func (s *Session) Members(room, after string, limit int) (names []string, more bool, err error) {
	name, err := NormalizeRoom(room)
	if err != nil {
		return nil, false, err
	}
	if !s.MayRead(name) {
		return nil, false, readForbidden(name)
	}
	return s.svc.MemberPage(name, after, limit)
}
