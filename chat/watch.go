package chat

import "context"

// WatchRoom hands sink the events of room as its members get them —
// messages from every gateway and node in Seq order, each once, with gaps
// filled from the Store; presence, typing and deletions — without a
// session: the watcher is no member, appears in no member list and causes
// no presence. A gateway uses it to serve a whole group of its clients
// from one subscription (the classic Socket.IO dialect's listeners: one
// watcher per node, fanned out by the gateway). Events start after the
// room's last stored message at the time of the call.
//
// The watcher has a sequencer of its own (the room's code, on its own Bus
// subscription), so it costs the node one more subscription to the room's
// topic and one more ordering step per event, whatever the number of
// clients behind it. sink.Deliver runs under the watcher's lock and must
// not block or call the Service (see Sink). Call stop to end it; stop
// waits for nothing and may be called once the Service is closed.
func (s *Service) WatchRoom(ctx context.Context, room string, sink Sink) (stop func(), err error) {
	name, err := NormalizeRoom(room)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, ErrUnavailable
	}
	r := newRoom(s, name)
	// The room's broadcast goes to its members: the watcher is its only
	// one, a Session value that exists for that and nothing else.
	r.members[&Session{svc: s, sink: sink}] = struct{}{}
	unsub, err := s.bus.Subscribe(name, r.onEvent)
	if err != nil {
		return nil, Wrap(CodeUnavailable, ErrUnavailable.Message, err)
	}
	if err := r.initSeq(ctx, 0); err != nil {
		unsub()
		r.close()
		return nil, err
	}
	return func() {
		unsub()
		r.close()
	}, nil
}
