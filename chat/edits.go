package chat

import (
	"context"
	"fmt"
	"time"
)

// Edits and deletions of one's own messages, and catch-up of changes.
//
// A user may edit and delete its own messages (same NickKey as the
// sender: a verified user's token nickname, an anonymous user whoever
// holds the nickname) for Config.EditWindow after sending; admins may
// delete any message at any time (moderation.go). An edit or deletion is
// a change of the stored message (msgstore.go): it keeps its Seq, takes the
// room's next rev, and the members get EventEdited or EventDeleted with
// the message's new state. A client that was offline catches up with
// Changes after the rev it has.

// Edit replaces the text of message seq of room, which the session's user
// sent less than Config.EditWindow ago, and tells the room's members
// (EventEdited: the message with Edited set and its new Rev; mentions
// follow the new text). Editing takes a token from the user's message
// bucket. Errors: ErrInvalidRoom, ErrInvalidArgument (seq, a deleted
// message), the text's errors (as Send), ErrNotFound, ErrForbidden
// (someone else's message, past the window, a room the user may not post
// in), ErrRateLimited, ErrUnavailable.
func (s *Session) Edit(ctx context.Context, room string, seq int64, text string) (Message, error) {
	name, err := NormalizeRoom(room)
	if err != nil {
		return Message{}, err
	}
	if err := CheckSeq(seq); err != nil {
		return Message{}, err
	}
	if err := CheckMessageText(text, s.svc.cfg.MaxMessageBytes); err != nil {
		return Message{}, err
	}
	if err := s.lockOpen(); err != nil {
		return Message{}, err
	}
	nick, may := s.nick, s.mayPostLocked(name)
	s.svc.mu.Unlock()
	if !may {
		return Message{}, postForbidden(name)
	}
	if !s.lim.msg.Take() {
		s.svc.stats.rateLimited.Add(1)
		return Message{}, ErrRateLimited
	}
	orig, err := s.svc.message(ctx, name, seq)
	if err != nil {
		return Message{}, err
	}
	if err := s.svc.checkOwn(orig, nick, "edit"); err != nil {
		return Message{}, err
	}
	if orig.Deleted {
		return Message{}, Errorf(CodeInvalidArgument, "message %d was deleted", seq)
	}
	m, err := s.svc.store.Edit(ctx, Edit{Room: name, Seq: seq, Text: text, Mentions: ParseMentions(text)})
	if err != nil {
		return Message{}, storeErr(err)
	}
	s.svc.publish(ctx, name, &Event{Kind: EventEdited, Room: name, Message: &m})
	return m, nil
}

// message reads message seq of room from the Store, or ErrNotFound.
func (s *Service) message(ctx context.Context, room string, seq int64) (Message, error) {
	msgs, err := s.store.Since(ctx, room, seq-1, 1)
	if err != nil {
		return Message{}, storeErr(err)
	}
	if len(msgs) != 1 || msgs[0].Seq != seq {
		return Message{}, Errorf(CodeNotFound, "room %s has no message %d", room, seq)
	}
	return msgs[0], nil
}

// checkOwn refuses an edit or deletion (what) of m by nick unless nick
// sent it within the edit window.
func (s *Service) checkOwn(m Message, nick, what string) error {
	if NickKey(m.Sender) != NickKey(nick) {
		if what == "delete" {
			return Errorf(CodeForbidden, "you can only delete your own messages (admins may delete any)")
		}
		return Errorf(CodeForbidden, "you can only %s your own messages", what)
	}
	w := s.cfg.EditWindow
	if age := s.cfg.Now().UnixMilli() - m.TS; age > w.Milliseconds() {
		return Errorf(CodeForbidden, "too late to %s this message: messages can be changed for %s after they are sent", what, humanDuration(w))
	}
	return nil
}

// humanDuration writes d the way people say it: "24 hours", "15 minutes",
// "1 hour 30 minutes".
func humanDuration(d time.Duration) string {
	unit := func(n int64, one string) string {
		if n == 1 {
			return "1 " + one
		}
		return fmt.Sprintf("%d %ss", n, one)
	}
	switch {
	case d < time.Minute:
		return unit(int64(d/time.Second), "second")
	case d < time.Hour:
		return unit(int64(d/time.Minute), "minute")
	case d%time.Hour == 0 || d >= 48*time.Hour:
		if d >= 48*time.Hour && d%(24*time.Hour) == 0 {
			return unit(int64(d/(24*time.Hour)), "day")
		}
		return unit(int64(d/time.Hour), "hour")
	}
	return unit(int64(d/time.Hour), "hour") + " " + unit(int64(d%time.Hour/time.Minute), "minute")
}

// Changes returns up to limit messages of room changed after rev after
// (edited, deleted, reacted to), in rev order and in their current state:
// a client's catch-up of changes, as Since is of new messages. Same rights
// as History. Errors: ErrInvalidRoom, ErrInvalidArgument, ErrForbidden,
// ErrUnavailable.
func (s *Session) Changes(ctx context.Context, room string, after int64, limit int) ([]Message, error) {
	name, err := NormalizeRoom(room)
	if err != nil {
		return nil, err
	}
	if after < 0 {
		return nil, Errorf(CodeInvalidArgument, "rev must not be negative")
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
	msgs, err := s.svc.store.Changes(ctx, name, after, limit)
	if msgs == nil && err == nil {
		msgs = []Message{}
	}
	return msgs, storeErr(err)
}

// PageLimit applies the page size default and cap to a client's limit (0:
// the default), as History, Since and Changes do.
func (s *Service) PageLimit(limit int) (int, error) { return s.pageLimit(limit) }
