package engineio

import (
	"sync"
	"time"
)

// Heartbeat timers.
//
// Every open session has one heartbeat timer, and every timer of a server
// is set to "now + d" for one of three durations: PingInterval (v4, waiting
// to ping), PingTimeout (v4, waiting for the pong) and PingInterval +
// PingTimeout (v3, waiting for the client's ping). Appending to a FIFO list
// per duration therefore keeps each list in deadline order, so starting,
// resetting and stopping a timer are O(1) list operations on links embedded
// in the Socket, and one runtime timer per server wakes up for the earliest
// deadline. A runtime timer per session (time.AfterFunc) cost ~130 bytes
// per connection with its closure, and a heap operation on every pong.

// hbKind names a heartbeat list.
type hbKind uint8

const (
	hbNone     hbKind = iota // not scheduled
	hbInterval               // v4: ping when due
	hbTimeout                // v4: ping sent, close when due
	hbV3                     // v3: close when due (each client ping restarts it)
	hbKinds
)

// hbLink is a session's place in its server's heartbeat lists. Guarded by
// heartbeats.mu; changed only with the session's mu held too.
type hbLink struct {
	prev, next *Socket
	when       int64  // deadline, unix ns; kept after the timer fired
	gen        uint32 // bumped by every reset and stop: a firing for an older generation is stale
	kind       hbKind
}

type hbList struct {
	head, tail *Socket
	d          time.Duration
}

type heartbeats struct {
	mu    sync.Mutex
	lists [hbKinds]hbList
	timer *time.Timer // fires fire; armed for armed (0: stopped)
	armed int64
	on    func(s *Socket, gen uint32)
}

func newHeartbeats(cfg *Config, on func(s *Socket, gen uint32)) *heartbeats {
	h := &heartbeats{on: on}
	h.lists[hbInterval].d = cfg.PingInterval
	h.lists[hbTimeout].d = cfg.PingTimeout
	h.lists[hbV3].d = cfg.PingInterval + cfg.PingTimeout
	return h
}

// reset (re)starts s's timer on list k: it fires after that list's
// duration. Callers hold s.mu.
func (h *heartbeats) reset(s *Socket, k hbKind) {
	now := time.Now().UnixNano()
	h.mu.Lock()
	h.unlinkLocked(s)
	l := &h.lists[k]
	s.hb.kind = k
	s.hb.when = now + int64(l.d)
	s.hb.gen++
	s.hb.prev = l.tail
	if l.tail != nil {
		l.tail.hb.next = s
	} else {
		l.head = s
	}
	l.tail = s
	// Only a deadline earlier than the armed one moves the runtime timer:
	// a later one is picked up when the timer fires.
	if h.armed == 0 || s.hb.when < h.armed {
		h.armLocked(s.hb.when, now)
	}
	h.mu.Unlock()
}

// stop cancels s's timer. Callers hold s.mu. The runtime timer stays armed:
// a firing that finds nothing due only re-arms.
func (h *heartbeats) stop(s *Socket) {
	h.mu.Lock()
	h.unlinkLocked(s)
	s.hb.gen++
	h.mu.Unlock()
}

func (h *heartbeats) unlinkLocked(s *Socket) {
	if s.hb.kind == hbNone {
		return
	}
	l := &h.lists[s.hb.kind]
	if s.hb.prev != nil {
		s.hb.prev.hb.next = s.hb.next
	} else {
		l.head = s.hb.next
	}
	if s.hb.next != nil {
		s.hb.next.hb.prev = s.hb.prev
	} else {
		l.tail = s.hb.prev
	}
	s.hb.prev, s.hb.next, s.hb.kind = nil, nil, hbNone
}

func (h *heartbeats) armLocked(when, now int64) {
	h.armed = when
	d := time.Duration(when - now)
	if h.timer == nil {
		h.timer = time.AfterFunc(d, h.fire)
		return
	}
	h.timer.Reset(d)
}

type hbDue struct {
	s   *Socket
	gen uint32
}

// fire takes every timer that is due off its list, re-arms the runtime
// timer for the earliest one left, and runs the due ones.
func (h *heartbeats) fire() {
	now := time.Now().UnixNano()
	var due []hbDue
	h.mu.Lock()
	next := int64(0)
	for k := hbInterval; k < hbKinds; k++ {
		l := &h.lists[k]
		for l.head != nil && l.head.hb.when <= now {
			s := l.head
			due = append(due, hbDue{s, s.hb.gen})
			h.unlinkLocked(s)
		}
		if l.head != nil && (next == 0 || l.head.hb.when < next) {
			next = l.head.hb.when
		}
	}
	if next != 0 {
		h.armLocked(next, now)
	} else {
		h.armed = 0
	}
	h.mu.Unlock()
	for _, d := range due {
		h.on(d.s, d.gen)
	}
}

// stopAll stops the runtime timer (server shutdown: every session is
// closed, which unlinks it).
func (h *heartbeats) stopAll() {
	h.mu.Lock()
	if h.timer != nil {
		h.timer.Stop()
	}
	h.armed = 0
	h.mu.Unlock()
}
