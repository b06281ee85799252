package chat

import "context"

// React adds (add) or removes the user's emoji reaction to message seq of
// room (one per user and emoji; CheckEmoji says what an emoji is) and
// returns the message with its reactions. When something changed, the
// room's members get EventReaction with the message's reactions now; the
// same reaction again changes nothing and tells no one. Reacting needs the
// rights to post in the room (membership is not needed) and takes a token
// from the user's message bucket. Errors: ErrInvalidRoom,
// ErrInvalidArgument (seq, not an emoji, a deleted message, one emoji too
// many), ErrNotFound, ErrForbidden (a room the user may not read or post
// in), ErrRateLimited, ErrUnavailable.
func (s *Session) React(ctx context.Context, room string, seq int64, emoji string, add bool) (Message, error) {
	name, err := NormalizeRoom(room)
	if err != nil {
		return Message{}, err
	}
	if err := CheckSeq(seq); err != nil {
		return Message{}, err
	}
	if err := CheckEmoji(emoji); err != nil {
		return Message{}, err
	}
	if err := s.lockOpen(); err != nil {
		return Message{}, err
	}
	nick, read, post := s.nick, s.mayReadLocked(name), s.mayPostLocked(name)
	s.svc.mu.Unlock()
	switch {
	case !read:
		return Message{}, readForbidden(name)
	case !post:
		return Message{}, postForbidden(name)
	}
	if !s.lim.msg.Take() {
		s.svc.stats.rateLimited.Add(1)
		return Message{}, ErrRateLimited
	}
	m, changed, err := s.svc.store.React(ctx, ReactionChange{Room: name, Seq: seq, Emoji: emoji, User: NickKey(nick), Nickname: nick, Add: add})
	if err != nil {
		return Message{}, storeErr(err)
	}
	if changed {
		s.svc.publish(ctx, name, &Event{Kind: EventReaction, Room: name, Reaction: &ReactionEvent{
			Room: name, Seq: seq, Rev: m.Rev, Emoji: emoji, Nickname: nick, Added: add, Reactions: m.Reactions,
		}})
	}
	return m, nil
}
