package chatclient

import (
	"context"
	"time"
)

// room is what the client knows of one room: the highest seq delivered and
// messages that arrived ahead of a gap.
type room struct {
	name       string
	lastSeen   int64
	firstSeq   int64
	pending    map[int64]Message
	catchingUp bool  // a join/catch-up is filling the room: no gap fetches
	joining    bool  // first join not answered yet
	lastRev    int64 // the highest change rev seen (msgs.go)
}

// takeLocked delivers m if it is the next of its room (then any pending
// ones that follow), keeps it if it is ahead, drops it if already seen. It
// reports whether a gap should be fetched.
func (c *Client) takeLocked(rm *room, m Message) (gap bool) {
	switch {
	case m.Seq <= rm.lastSeen:
		return false
	case m.Seq == rm.lastSeen+1 || rm.joining:
		if rm.joining {
			// No position yet: keep it until the join result says where
			// history ends.
			break
		}
		c.deliverLocked(rm, m)
		for {
			next, ok := rm.pending[rm.lastSeen+1]
			if !ok {
				break
			}
			delete(rm.pending, next.Seq)
			c.deliverLocked(rm, next)
		}
		return false
	}
	if rm.pending == nil {
		rm.pending = map[int64]Message{}
	}
	rm.pending[m.Seq] = m
	if rm.catchingUp || rm.joining {
		return false
	}
	rm.catchingUp = true
	return true
}

func (c *Client) deliverLocked(rm *room, m Message) {
	rm.lastSeen = m.Seq
	if rm.firstSeq == 0 || m.Seq < rm.firstSeq {
		rm.firstSeq = m.Seq
	}
	c.linkLocked(&m)
	c.emit(MessageEvent{Message: m})
}

// applyJoin takes a join result: a fresh join delivers the page and places
// the room at lastSeq; a catch-up delivers what follows lastSeen and asks
// `since` for the rest up to lastSeq.
func (c *Client) applyJoin(ctx context.Context, jr JoinResult) error {
	c.mu.Lock()
	rm := c.rooms[jr.Room]
	if rm == nil {
		rm = &room{name: jr.Room, joining: true}
		c.rooms[jr.Room] = rm
	}
	fresh := rm.lastSeen == 0
	changesAfter := int64(-1) // a room the client held: catch up with its changes
	if !fresh && jr.LastRev > rm.lastRev {
		changesAfter = rm.lastRev
	}
	if fresh {
		rm.lastRev = max(rm.lastRev, jr.LastRev)
	}
	if fresh {
		rm.joining = false
		if len(jr.Messages) > 0 {
			rm.lastSeen = jr.Messages[0].Seq - 1
		} else {
			rm.lastSeen = jr.LastSeq
		}
	}
	rm.joining = false
	for _, m := range jr.Messages {
		c.takeLocked(rm, m)
	}
	more := jr.More && rm.lastSeen < jr.LastSeq
	first := rm.firstSeq
	c.mu.Unlock()
	if more {
		if err := c.fetchUpTo(ctx, jr.Room, jr.LastSeq); err != nil {
			return err
		}
	}
	c.mu.Lock()
	if fresh && rm.lastSeen < jr.LastSeq {
		// An empty page of a room with history: start from its end.
		rm.lastSeen = jr.LastSeq
	}
	rm.catchingUp = false
	gap := c.drainLocked(rm)
	c.mu.Unlock()
	if changesAfter >= 0 {
		if err := c.catchUpChanges(ctx, jr.Room, changesAfter); err != nil {
			return err
		}
	}
	c.emit(JoinedEvent{Room: jr.Room, Members: jr.Members, LastSeq: jr.LastSeq, More: fresh && jr.More, FirstSeq: first})
	if gap {
		c.fillGap(jr.Room)
	}
	return nil
}

// drainLocked delivers pending messages that now follow; reports a gap.
func (c *Client) drainLocked(rm *room) bool {
	for {
		next, ok := rm.pending[rm.lastSeen+1]
		if !ok {
			break
		}
		delete(rm.pending, next.Seq)
		c.deliverLocked(rm, next)
	}
	for seq := range rm.pending {
		if seq <= rm.lastSeen {
			delete(rm.pending, seq)
		}
	}
	if len(rm.pending) > 0 && !rm.catchingUp {
		rm.catchingUp = true
		return true
	}
	return false
}

// fetchUpTo calls since until the room has every message up to seq.
func (c *Client) fetchUpTo(ctx context.Context, name string, upTo int64) error {
	for {
		c.mu.Lock()
		rm := c.rooms[name]
		if rm == nil || rm.lastSeen >= upTo {
			c.mu.Unlock()
			return nil
		}
		after := rm.lastSeen
		c.mu.Unlock()
		var r struct{ Messages []Message }
		if err := c.call(ctx, "since", &r, map[string]any{"room": name, "after": after, "limit": 200}); err != nil {
			return err
		}
		if len(r.Messages) == 0 {
			return nil
		}
		c.mu.Lock()
		for _, m := range r.Messages {
			c.takeLocked(rm, m)
		}
		c.mu.Unlock()
	}
}

// fillGap fetches the messages missing before the pending ones of a room
// (should not happen within a session; protocol.md says to ask `since`).
func (c *Client) fillGap(name string) {
	ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
	defer cancel()
	c.mu.Lock()
	rm := c.rooms[name]
	var upTo int64
	if rm != nil {
		for seq := range rm.pending {
			upTo = max(upTo, seq)
		}
	}
	c.mu.Unlock()
	if rm == nil {
		return
	}
	if err := c.fetchUpTo(ctx, name, upTo); err != nil {
		c.log.Debug("chat: filling a gap failed", "room", name, "err", err)
	}
	c.mu.Lock()
	rm.catchingUp = false
	gap := c.drainLocked(rm)
	c.mu.Unlock()
	if gap {
		c.fillGap(name)
	}
}
