package chat

import (
	"slices"
	"strings"
	"time"
)

// Read markers in rooms.
//
// A user who reads a room moves its marker (Session.Mark). Its own
// sessions are told at once on the user's "@" topic, so that every device
// shows the same unread counts. The room's members are told too, so that
// they can show who has seen what, but coalesced: a busy room where every
// member reads every message would otherwise cost N² events per message.
// A room gathers the markers that moved and sends one EventRead with all
// of them at most once per Config.PresenceWindow (the first at once). A
// large room (Config.LargeRoom) sends none: its members ask for counts
// (Session.Seen), never per-user lists.

// roomReads is a room's markers waiting for the window, guarded by
// room.mu.
type roomReads struct {
	pending   map[string]ReadMark // NickKey → the newest marker of that user
	flushedAt time.Time
	timer     *time.Timer
}

// onReadsLocked gathers the markers of an EventRead from the Bus.
func (r *room) onReadsLocked(ev *Event) {
	if r.pres.large || len(r.members) == 0 {
		return
	}
	if r.reads.pending == nil {
		r.reads.pending = make(map[string]ReadMark)
	}
	for _, m := range ev.Reads.Readers {
		key := NickKey(m.Nickname)
		if old, ok := r.reads.pending[key]; ok {
			m.Read, m.Delivered = max(m.Read, old.Read), max(m.Delivered, old.Delivered)
		}
		r.reads.pending[key] = m
	}
	now := r.svc.cfg.Now()
	if due := r.reads.flushedAt.Add(r.svc.cfg.PresenceWindow); now.Before(due) {
		if r.reads.timer == nil {
			r.reads.timer = time.AfterFunc(due.Sub(now), func() { r.svc.runTracked(r.flushReads) })
		}
		return
	}
	r.flushReadsLocked(now)
}

// flushReads runs when a window ends.
func (r *room) flushReads() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reads.timer = nil
	if r.closed {
		return
	}
	r.flushReadsLocked(r.svc.cfg.Now())
}

func (r *room) flushReadsLocked(now time.Time) {
	if len(r.reads.pending) == 0 {
		return
	}
	marks := make([]ReadMark, 0, len(r.reads.pending))
	for _, m := range r.reads.pending {
		marks = append(marks, m)
	}
	clear(r.reads.pending)
	slices.SortFunc(marks, func(a, b ReadMark) int { return strings.Compare(NickKey(a.Nickname), NickKey(b.Nickname)) })
	r.reads.flushedAt = now
	if r.pres.large {
		return
	}
	r.broadcastLocked(&Event{Kind: EventRead, Room: r.name, Reads: &Reads{Room: r.name, Readers: marks}})
}

func (r *room) stopReadsTimerLocked() {
	if r.reads.timer != nil {
		r.reads.timer.Stop()
		r.reads.timer = nil
	}
}
