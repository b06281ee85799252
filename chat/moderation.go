package chat

import (
	"context"
	"slices"
	"unicode/utf8"
)

// Kick ends the sessions (every device) of the user named nickname on
// this node: its rooms' members see a "kicked" presence event with the caller as By and
// reason, and the user gets EventDisconnect with ReasonKicked (clients
// are told "bye" and not invited to reconnect; nothing stops them from
// connecting again: there is no ban list). Only an admin may kick.
// Errors: ErrForbidden (not an admin), ErrInvalidNickname, ErrNotFound
// (nobody of that name online on this node), ErrInvalidArgument (the
// caller itself, or a reason over 256 bytes).
func (s *Session) Kick(ctx context.Context, nickname, reason string) error {
	nick, err := NormalizeNickname(nickname)
	if err != nil {
		return err
	}
	if len(reason) > 256 {
		return Errorf(CodeInvalidArgument, "kick reason must be at most 256 bytes")
	}
	if !utf8.ValidString(reason) {
		return Errorf(CodeInvalidArgument, "kick reason must be valid UTF-8")
	}
	svc := s.svc
	if err := s.lockOpen(); err != nil {
		return err
	}
	if s.ident == nil || !s.ident.Admin {
		svc.mu.Unlock()
		return Errorf(CodeForbidden, "only admins may kick")
	}
	target := svc.users[NickKey(nick)]
	switch {
	case target == nil:
		svc.mu.Unlock()
		return Errorf(CodeNotFound, "%s is not online", nick)
	case target == s.u:
		svc.mu.Unlock()
		return Errorf(CodeInvalidArgument, "you cannot kick yourself")
	}
	by := s.nick
	sessions := slices.Clone(target.sessions)
	var evs []*Event
	for _, t := range sessions {
		evs = append(evs, svc.endLocked(t, PresenceKicked, by, reason)...)
	}
	svc.mu.Unlock()
	for _, t := range sessions {
		t.sink.Deliver(&Event{Kind: EventDisconnect, Disconnect: &Disconnect{Reason: ReasonKicked, By: by, Message: reason}})
	}
	svc.publishAll(ctx, evs) // presence "kicked" per room, then the user's "offline"
	u := sessions[0].user()
	svc.log.Info("chat: user kicked", "nickname", u.Nickname, "by", by, "reason", reason)
	return nil
}

// DeleteMessage deletes message seq of room: the Store keeps a tombstone
// (Message.Deleted, no text; seqs stay gap-free, history shows it as
// deleted) and the room's members, on every node and gateway, get
// EventDeleted. Only an admin may delete, in any room (DM rooms
// included: moderation of abuse reports). Deleting a deleted message
// again succeeds and tells the members again. Errors: ErrForbidden,
// ErrInvalidRoom, ErrInvalidArgument (seq < 1), ErrNotFound,
// ErrUnavailable.
func (s *Session) DeleteMessage(ctx context.Context, room string, seq int64) (Message, error) {
	name, err := NormalizeRoom(room)
	if err != nil {
		return Message{}, err
	}
	if err := CheckSeq(seq); err != nil {
		return Message{}, err
	}
	svc := s.svc
	if err := s.lockOpen(); err != nil {
		return Message{}, err
	}
	admin, by := s.ident != nil && s.ident.Admin, s.nick
	svc.mu.Unlock()
	if !admin {
		return Message{}, Errorf(CodeForbidden, "only admins may delete messages")
	}
	m, err := svc.store.Delete(ctx, name, seq)
	if err != nil {
		return Message{}, storeErr(err)
	}
	svc.publish(ctx, name, &Event{Kind: EventDeleted, Room: name, Deleted: &Deleted{Room: name, Seq: seq, By: by}})
	svc.log.Info("chat: message deleted", "room", name, "seq", seq, "by", by)
	return m, nil
}
