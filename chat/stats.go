package chat

import "sync/atomic"

// Stats is a snapshot of a Service's state and counters, for metrics and
// the operator's status page. Counters (the fields ending in a verb in the
// past tense or "s") only grow for the life of the Service.
type Stats struct {
	// Sessions is the number of sessions (users online) on this node.
	Sessions int
	// Rooms is the number of rooms with members on this node.
	Rooms int
	// SessionsStarted and SessionsEnded count Connect and the end of a
	// session (Disconnect, replacement, Close).
	SessionsStarted uint64
	SessionsEnded   uint64
	// MessagesStored counts messages appended (Send and DirectMessage);
	// Duplicates counts sends whose client id had been seen (nothing
	// stored).
	MessagesStored uint64
	Duplicates     uint64
	// RateLimited counts messages and typing signals refused by the
	// session buckets.
	RateLimited uint64
	// Deliveries counts events handed to sinks, by kind (each recipient
	// counts once): EventMessage, EventPresence, EventTyping, EventUser,
	// EventMembers.
	Deliveries map[EventKind]uint64
	// GapFills counts reads of the Store made to fill a gap in a room's
	// sequence (messages that arrived out of order, or lost on the Bus);
	// Refilled counts the messages those reads delivered.
	GapFills uint64
	Refilled uint64
	// PublishErrors counts Bus publications that failed.
	PublishErrors uint64
}

// DeliveryKinds are the Stats.Deliveries keys, in a stable order.
var DeliveryKinds = []EventKind{EventMessage, EventPresence, EventTyping, EventUser, EventMembers}

// counters of a Service. Deliveries are counted once per broadcast
// (len(members)), not per recipient: the fan-out path pays one atomic add
// per event.
type counters struct {
	started, ended     atomic.Uint64
	stored, duplicates atomic.Uint64
	rateLimited        atomic.Uint64
	deliveries         [EventMembers + 1]atomic.Uint64 // by EventKind
	gapFills, refilled atomic.Uint64
	publishErrors      atomic.Uint64
}

func (c *counters) delivered(k EventKind, n int) {
	if n > 0 && int(k) < len(c.deliveries) {
		c.deliveries[k].Add(uint64(n))
	}
}

// Stats returns the Service's state and counters. It takes the Service's
// lock briefly (to count users and rooms).
func (s *Service) Stats() Stats {
	s.mu.Lock()
	st := Stats{Sessions: len(s.users), Rooms: len(s.rooms)}
	s.mu.Unlock()
	c := &s.stats
	st.SessionsStarted = c.started.Load()
	st.SessionsEnded = c.ended.Load()
	st.MessagesStored = c.stored.Load()
	st.Duplicates = c.duplicates.Load()
	st.RateLimited = c.rateLimited.Load()
	st.Deliveries = make(map[EventKind]uint64, len(DeliveryKinds))
	for _, k := range DeliveryKinds {
		st.Deliveries[k] = c.deliveries[k].Load()
	}
	st.GapFills = c.gapFills.Load()
	st.Refilled = c.refilled.Load()
	st.PublishErrors = c.publishErrors.Load()
	return st
}
