package chat

import (
	"context"
	"slices"
	"time"
)

// room is the state of one room on this node while it has local members:
// who is in it, who is typing, and the sequencer that hands messages to the
// members in Seq order exactly once.
//
// Sequencer: next is the Seq the members expect next. A message with a
// smaller Seq is a duplicate (or older than what members got in their join
// snapshot) and is dropped; a larger one waits in pending until the missing
// ones arrive or GapWait passes, when they are read from the Store. Every
// member therefore sees every message after the one its join snapshot ended
// with, in order, once.
type room struct {
	svc  *Service
	name string

	// refs counts members plus joins in progress; guarded by svc.mu.
	refs  int
	unsub func()

	mu        roomMutex // after Service.mu (doc.go, "Lock order")
	closed    bool
	members   map[*Session]struct{}
	nicks     map[string]int // NickKey → member sessions of that user (several: multi-device)
	next      int64          // 0 until known (initSeq)
	pending   map[int64]*Event
	gapTimer  *time.Timer
	filling   bool
	refill    bool              // a fillFrom(true) arrived during a fill: run one after it
	typing    map[string]typist // NickKey → typist
	typTimer  *time.Timer
	typNextAt time.Time
	pres      roomPresence // large rooms (roompresence.go)
}

type typist struct {
	nick    string
	expires time.Time
}

// maxPending bounds the messages held back by a gap; past it the gap is
// filled from the Store at once.
const maxPending = 1024

func newRoom(s *Service, name string) *room {
	return &room{
		svc:     s,
		name:    name,
		members: make(map[*Session]struct{}),
		nicks:   make(map[string]int),
		pending: make(map[int64]*Event),
		typing:  make(map[string]typist),
	}
}

func (r *room) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	if r.gapTimer != nil {
		r.gapTimer.Stop()
	}
	if r.typTimer != nil {
		r.typTimer.Stop()
	}
	r.stopPresenceTimerLocked()
	clear(r.pending)
}

// initSeq makes next known, reading the Store's last Seq if nobody did yet.
// at > 0 (a DM notification for message at) starts the sequencer at that
// message instead, so that it is delivered even though it is stored.
func (r *room) initSeq(ctx context.Context, at int64) error {
	r.mu.Lock()
	known := r.next > 0
	r.mu.Unlock()
	if known {
		return nil
	}
	next := at
	if next == 0 {
		last, err := r.svc.store.LastSeq(ctx, r.name)
		if err != nil {
			return storeErr(err)
		}
		next = last + 1
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.next == 0 {
		r.next = next
		r.flushLocked()
	}
	return nil
}

// addMember adds sess and returns the Seq of the last message it will not
// receive as an event (its snapshot, history, ends there), and whether it
// is its user's first session in the room (then the user joined). Called
// with svc.mu held (nicknames are guarded by it).
func (r *room) addMember(sess *Session) (floor int64, first bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.members[sess] = struct{}{}
	key := NickKey(sess.nick)
	r.nicks[key]++
	return r.next - 1, r.nicks[key] == 1
}

// removeMember removes sess and reports whether it was its user's last
// session in the room (then the user left). Called with svc.mu held.
func (r *room) removeMember(sess *Session) (last bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.members[sess]; !ok {
		return false
	}
	delete(r.members, sess)
	key := NickKey(sess.nick)
	if r.nicks[key]--; r.nicks[key] > 0 {
		return false
	}
	delete(r.nicks, key)
	return true
}

// renameMember moves a member's count to its new nickname (Rename).
func (r *room) renameMember(oldKey, newKey string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n := r.nicks[oldKey]; n > 0 {
		delete(r.nicks, oldKey)
		r.nicks[newKey] += n
	}
}

// snapshot returns the member snapshot of a join result. Called with
// svc.mu held (nicknames are guarded by it).
func (r *room) snapshot() memberSnapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.snapshotLocked()
}

// memberNicks lists this node's members, once each, sorted by NickKey.
// Called with svc.mu held (nicknames are guarded by it).
func (r *room) memberNicks() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.localNicksLocked()
}

// onEvent is the room's Bus handler.
func (r *room) onEvent(ev *Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	switch ev.Kind {
	case EventMessage:
		r.onMessageLocked(ev)
	case EventPresence:
		if !r.onPresenceLocked(ev) { // a large room counts instead
			r.broadcastLocked(ev)
		}
		if p := ev.Presence; p.Action != PresenceJoined {
			old := p.Nickname
			if p.Action == PresenceRenamed {
				old = p.From
			}
			r.setTypingLocked(old, false)
		}
	case EventTypingSignal:
		r.setTypingLocked(ev.TypingSignal.Nickname, ev.TypingSignal.Active)
	case EventSubscribed:
		// Messages published between our first join (or a Bus outage) and
		// now did not reach us: look for them in the Store. Not in the
		// Bus's goroutine.
		if r.next > 0 {
			go r.svc.runTracked(func() { r.fillFrom(true) })
		}
	case EventDeleted:
		r.broadcastLocked(ev)
	}
}

func (r *room) onMessageLocked(ev *Event) {
	seq := ev.Message.Seq
	switch {
	case r.next == 0 || seq > r.next:
		if len(r.pending) < maxPending { // past it, the fill reads it back
			r.pending[seq] = ev
		}
		if r.next > 0 {
			r.scheduleFillLocked(len(r.pending) >= maxPending)
		}
	case seq == r.next:
		r.deliverMessageLocked(ev)
		r.flushLocked()
	}
	// seq < next: already delivered, or part of every member's snapshot.
}

func (r *room) deliverMessageLocked(ev *Event) {
	r.next = ev.Message.Seq + 1
	r.broadcastLocked(ev)
	// A message ends its sender's typing (on every node: each node sees
	// the message).
	r.setTypingLocked(ev.Message.Sender, false)
}

// flushLocked delivers the pending messages that became next in line and
// arranges a fill if a gap remains.
func (r *room) flushLocked() {
	for {
		ev, ok := r.pending[r.next]
		if !ok {
			break
		}
		delete(r.pending, r.next)
		r.deliverMessageLocked(ev)
	}
	for seq := range r.pending {
		if seq < r.next {
			delete(r.pending, seq)
		}
	}
	if len(r.pending) > 0 {
		r.scheduleFillLocked(false)
	}
}

func (r *room) scheduleFillLocked(now bool) {
	if r.filling {
		return
	}
	wait := r.svc.cfg.GapWait
	if now {
		wait = 0
	}
	if r.gapTimer != nil {
		if !now {
			return
		}
		r.gapTimer.Stop()
	}
	r.gapTimer = time.AfterFunc(wait, func() { r.svc.runTracked(r.fill) })
}

// fill reads the messages missing before the pending ones from the Store
// and delivers them in order.
func (r *room) fill() { r.fillFrom(false) }

// fillFrom is fill; with all, it also reads messages when none is pending
// (the Bus may have lost the latest ones).
func (r *room) fillFrom(all bool) {
	r.mu.Lock()
	if !all {
		r.gapTimer = nil
	}
	if r.filling && all {
		r.refill = true // that fill may have read the Store too early
	}
	if r.closed || len(r.pending) == 0 && !all || r.filling {
		r.mu.Unlock()
		return
	}
	r.filling = true
	after := r.next - 1
	r.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	msgs, err := r.svc.store.Since(ctx, r.name, after, MaxPageLimit)
	cancel()

	r.mu.Lock()
	defer r.mu.Unlock()
	r.filling = false
	if r.closed {
		return
	}
	r.svc.stats.gapFills.Add(1)
	if err != nil {
		r.svc.log.Warn("chat: cannot fill a message gap from the store", "room", r.name, "after", after, "err", err)
	}
	for i := range msgs {
		if msgs[i].Seq != r.next {
			continue
		}
		ev := r.pending[msgs[i].Seq]
		if ev == nil {
			r.svc.stats.refilled.Add(1)
			ev = &Event{Kind: EventMessage, Room: r.name, Message: &msgs[i]}
		}
		delete(r.pending, msgs[i].Seq)
		r.deliverMessageLocked(ev)
	}
	if r.refill || all && len(msgs) == MaxPageLimit { // more may follow
		r.refill = false
		go r.svc.runTracked(func() { r.fillFrom(true) })
	}
	r.flushLocked() // retries after GapWait if the store failed
}

// broadcastLocked hands ev to every member's Sink, under r.mu.
func (r *room) broadcastLocked(ev *Event) {
	assertHeld(rankRoom, "room.broadcastLocked")
	r.svc.stats.delivered(ev.Kind, len(r.members))
	for m := range r.members {
		m.sink.Deliver(ev)
	}
}

// setTypingLocked records that nick is (not) typing and tells the members
// when the list changed. A refresh only pushes the expiry back.
func (r *room) setTypingLocked(nick string, active bool) {
	key := NickKey(nick)
	_, was := r.typing[key]
	if active {
		exp := r.svc.cfg.Now().Add(r.svc.cfg.TypingTTL)
		r.typing[key] = typist{nick: nick, expires: exp}
		r.armTypingLocked(exp)
	} else {
		delete(r.typing, key)
	}
	if was != active {
		r.typingChangedLocked()
	}
}

// sendTypingLocked tells the members who is typing.
func (r *room) sendTypingLocked() {
	if len(r.members) == 0 {
		return
	}
	keys := make([]string, 0, len(r.typing))
	for k := range r.typing {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	nicks := make([]string, len(keys))
	for i, k := range keys {
		nicks[i] = r.typing[k].nick
	}
	r.broadcastLocked(&Event{Kind: EventTyping, Room: r.name, Typing: &Typing{Room: r.name, Nicknames: nicks}})
}

// armTypingLocked makes sure the expiry timer fires by at.
func (r *room) armTypingLocked(at time.Time) {
	if r.typTimer != nil && !r.typNextAt.After(at) {
		return
	}
	if r.typTimer != nil {
		r.typTimer.Stop()
	}
	r.typNextAt = at
	r.typTimer = time.AfterFunc(at.Sub(r.svc.cfg.Now()), func() { r.svc.runTracked(r.expireTyping) })
}

func (r *room) expireTyping() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.typTimer = nil
	if r.closed {
		return
	}
	now := r.svc.cfg.Now()
	changed := false
	var next time.Time
	for k, t := range r.typing {
		if !t.expires.After(now) {
			delete(r.typing, k)
			changed = true
		} else if next.IsZero() || t.expires.Before(next) {
			next = t.expires
		}
	}
	if !next.IsZero() {
		r.armTypingLocked(next)
	}
	if changed {
		r.typingChangedLocked()
	}
}
