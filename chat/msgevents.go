package chat

// ReactionEvent is the payload of EventReaction: Nickname added (or
// removed) Emoji on message Seq, which now has Reactions.
type ReactionEvent struct {
	Room      string     `json:"room"`
	Seq       int64      `json:"seq"`
	Rev       int64      `json:"rev"`
	Emoji     string     `json:"emoji"`
	Nickname  string     `json:"nickname"`
	Added     bool       `json:"added"`
	Reactions []Reaction `json:"reactions"`
}

// Reads is the payload of EventRead: where these users' markers are now.
type Reads struct {
	Room    string     `json:"room"`
	Readers []ReadMark `json:"readers"`
}

// changedSeq returns the seq of the message a change event is about, and
// whether ev is one (edited, reaction, deleted).
func changedSeq(ev *Event) (int64, bool) {
	switch ev.Kind {
	case EventEdited:
		return ev.Message.Seq, true
	case EventReaction:
		return ev.Reaction.Seq, true
	case EventDeleted:
		return ev.Deleted.Seq, true
	}
	return 0, false
}

// maxHeldChanges bounds the change events a room holds for messages it has
// not delivered yet.
const maxHeldChanges = 1024

// onChangeLocked handles an edit, reaction or deletion in the room. A
// change of a message the members have not been handed yet (it waits in
// the sequencer behind a gap) is held and delivered right after it, so
// that no member applies a change before the message and then gets the
// message in its older state. Delivered changes need no order between
// themselves: each carries the message's state at its rev, and clients
// keep the higher rev.
func (r *room) onChangeLocked(ev *Event) {
	seq, _ := changedSeq(ev)
	if r.next != 0 && seq < r.next {
		r.broadcastLocked(ev)
		return
	}
	if r.heldChanges >= maxHeldChanges {
		r.svc.log.Warn("chat: too many changes held for undelivered messages; dropped", "room", r.name, "seq", seq)
		return
	}
	if r.held == nil {
		r.held = make(map[int64][]*Event)
	}
	r.held[seq] = append(r.held[seq], ev)
	r.heldChanges++
}

// releaseChangesLocked delivers the changes held for message seq, which
// was just delivered (or is older than what joiners get as events: then
// their snapshot has the current state, and the members have the message).
func (r *room) releaseChangesLocked(seq int64) {
	evs, ok := r.held[seq]
	if !ok {
		return
	}
	delete(r.held, seq)
	r.heldChanges -= len(evs)
	for _, ev := range evs {
		r.broadcastLocked(ev)
	}
}

// releaseOldChangesLocked delivers the changes held for messages older
// than next (a room whose sequencer started, or skipped ahead).
func (r *room) releaseOldChangesLocked() {
	for seq := range r.held {
		if seq < r.next {
			r.releaseChangesLocked(seq)
		}
	}
}
