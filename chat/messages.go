package chat

import (
	"context"
	"slices"
)

// Send appends a message to a room the session has joined and fans it
// out. The returned Message has the server id, Seq and TS; the sender's
// sink also receives it as an EventMessage. If clientID was used before by
// this user in this room, nothing is stored and the original message is
// returned with Duplicate set (safe retries). Errors: ErrInvalidRoom,
// ErrNotMember, ErrEmptyMessage, ErrInvalidMessage, ErrMessageTooLarge,
// ErrInvalidArgument (clientID), ErrRateLimited, ErrUnavailable.
func (s *Session) Send(ctx context.Context, room, text, clientID string) (Message, error) {
	name, err := NormalizeRoom(room)
	if err != nil {
		return Message{}, err
	}
	if err := s.svc.checkMessage(text, clientID); err != nil {
		return Message{}, err
	}
	if err := s.lockOpen(); err != nil {
		return Message{}, err
	}
	member, nick, may := s.rooms[name] != nil, s.nick, s.mayPostLocked(name)
	s.svc.mu.Unlock()
	switch {
	case !member:
		return Message{}, ErrNotMember
	case !may:
		return Message{}, postForbidden(name)
	}
	return s.send(ctx, name, nick, text, clientID, "")
}

// send rate-limits, stores and publishes. notify, if set, is the "@" topic
// of a DM recipient, told before the room so that it joins in time.
func (s *Session) send(ctx context.Context, room, nick, text, clientID, notify string) (Message, error) {
	if !s.lim.msg.Take() {
		s.svc.stats.rateLimited.Add(1)
		return Message{}, ErrRateLimited
	}
	m, err := s.svc.store.Append(ctx, Draft{Room: room, Sender: nick, Text: text, ClientID: clientID})
	if err != nil {
		return Message{}, storeErr(err)
	}
	if m.Duplicate {
		s.svc.stats.duplicates.Add(1)
		return m, nil // published when it was first stored
	}
	s.svc.stats.stored.Add(1)
	ev := &Event{Kind: EventMessage, Room: room, Message: &m}
	if notify != "" {
		s.svc.publish(ctx, notify, ev)
	}
	s.svc.publish(ctx, room, ev)
	return m, nil
}

// DirectMessage sends text to the user named to, in their DM room
// (DMRoom). The sender joins the DM room if it had not; the recipient, if
// online, joins it when the message arrives, and receives it. The
// recipient need not be online: the message waits in the room's history.
// Errors: those of Send, ErrInvalidNickname (to), ErrInvalidArgument
// (to is the sender).
func (s *Session) DirectMessage(ctx context.Context, to, text, clientID string) (Message, error) {
	toNick, err := NormalizeNickname(to)
	if err != nil {
		return Message{}, err
	}
	if err := s.svc.checkMessage(text, clientID); err != nil {
		return Message{}, err
	}
	if err := s.lockOpen(); err != nil {
		return Message{}, err
	}
	nick := s.nick
	s.svc.mu.Unlock()
	if NickKey(toNick) == NickKey(nick) {
		return Message{}, Errorf(CodeInvalidArgument, "cannot send a direct message to yourself")
	}
	name, err := DMRoom(nick, toNick)
	if err != nil {
		return Message{}, err
	}
	if _, _, err := s.join(ctx, name, 0); err != nil {
		return Message{}, err
	}
	return s.send(ctx, name, nick, text, clientID, "@"+NickKey(toNick))
}

// onDMNotice handles what the Bus carries on the user's "@" topic: a DM
// addressed to the user (join the DM room if needed, so that this and
// later messages are delivered), or the notice that a connection on
// another node resumed this very session (end it as replaced).
func (s *Session) onDMNotice(ev *Event) {
	if ev.Kind == EventUser && ev.User.Status == UserOffline && ev.User.ID == s.id {
		// Not in the Bus's goroutine: ending publishes.
		go s.svc.runTracked(s.replacedRemotely)
		return
	}
	if ev.Kind != EventMessage {
		return
	}
	svc := s.svc
	svc.mu.Lock()
	skip := s.closed || s.rooms[ev.Room] != nil || !s.mayReadLocked(ev.Room)
	svc.mu.Unlock()
	if skip {
		return
	}
	// at = this message: no Store read here, in the Bus's goroutine.
	floor, _, err := s.join(context.Background(), ev.Room, ev.Message.Seq)
	if err != nil {
		svc.log.Debug("chat: DM auto-join failed", "room", ev.Room, "session", s.id, "err", err)
		return
	}
	if floor >= ev.Message.Seq {
		// The room was already live here and delivered it before we
		// joined: hand this one over directly.
		svc.stats.delivered(EventMessage, 1)
		s.sink.Deliver(ev)
		return
	}
	// The room has just become live on this node: a networked Bus may
	// have published this message on the room's topic before our
	// subscription took effect, so hand it to the room's sequencer too
	// (which drops a seq it has already delivered).
	svc.mu.Lock()
	r := s.rooms[ev.Room]
	svc.mu.Unlock()
	if r != nil {
		r.onEvent(ev)
	}
}

// History returns up to limit messages of room before Seq before (0 =
// latest), ascending. A public room can be read without joining; a DM room
// only by its two users (ErrForbidden).
func (s *Session) History(ctx context.Context, room string, before int64, limit int) ([]Message, error) {
	return s.read(ctx, room, before, limit, s.svc.store.History)
}

// Since returns up to limit messages of room after Seq after, ascending:
// the catch-up after a reconnect. Same rights as History.
func (s *Session) Since(ctx context.Context, room string, after int64, limit int) ([]Message, error) {
	return s.read(ctx, room, after, limit, s.svc.store.Since)
}

func (s *Session) read(ctx context.Context, room string, seq int64, limit int,
	f func(context.Context, string, int64, int) ([]Message, error)) ([]Message, error) {
	name, err := NormalizeRoom(room)
	if err != nil {
		return nil, err
	}
	if seq < 0 {
		return nil, Errorf(CodeInvalidArgument, "sequence number must not be negative")
	}
	if limit, err = s.svc.pageLimit(limit); err != nil {
		return nil, err
	}
	if err := s.lockOpen(); err != nil {
		return nil, err
	}
	ok := s.mayReadLocked(name)
	s.svc.mu.Unlock()
	if !ok {
		return nil, readForbidden(name)
	}
	msgs, err := f(ctx, name, seq, limit)
	if msgs == nil && err == nil {
		msgs = []Message{}
	}
	return msgs, storeErr(err)
}

// Rooms lists the public rooms that have messages and the session's own
// DM rooms, with their counters: what a client shows as its room list.
func (s *Session) Rooms(ctx context.Context) ([]RoomInfo, error) {
	if err := s.lockOpen(); err != nil {
		return nil, err
	}
	me, id := NickKey(s.nick), s.ident
	s.svc.mu.Unlock()
	all, err := s.svc.store.Rooms(ctx)
	if err != nil {
		return nil, storeErr(err)
	}
	return slices.DeleteFunc(all, func(r RoomInfo) bool {
		a, b, dm := DMParticipants(r.Name)
		if !dm {
			return !id.MayRead(r.Name)
		}
		return a != me && b != me
	}), nil
}
