package chat

import (
	"context"
	"errors"
)

// Rename changes the nickname. Members of the session's rooms get a
// "renamed" presence event; the DM rooms of the old nickname are left (they
// belong to that name). Errors: ErrInvalidNickname, ErrNicknameTaken,
// ErrForbidden (an authenticated session: its token sets the nickname).
func (s *Session) Rename(ctx context.Context, nickname string) error {
	nn, err := NormalizeNickname(nickname)
	if err != nil {
		return err
	}
	svc := s.svc
	if svc.roster != nil {
		if err := s.claimRename(ctx, nn); err != nil {
			return err
		}
	}
	if err := s.lockOpen(); err != nil {
		if svc.roster != nil { // ended meanwhile: nobody will release the claim
			s.rosterRelease(ctx, NickKey(nn))
		}
		return err
	}
	old := s.nick
	oldKey, newKey := NickKey(old), NickKey(nn)
	if nn == old {
		svc.mu.Unlock()
		return nil
	}
	if s.ident != nil {
		svc.mu.Unlock()
		return Errorf(CodeForbidden, "your nickname is set by your token and cannot be changed")
	}
	if newKey != oldKey {
		if svc.users[newKey] != nil {
			svc.mu.Unlock()
			if svc.roster != nil { // claimed above; no longer wanted
				s.rosterRelease(ctx, newKey)
			}
			return ErrNicknameTaken
		}
		unsub, err := svc.bus.Subscribe("@"+newKey, s.onDMNotice)
		if err != nil {
			svc.mu.Unlock()
			return Wrap(CodeUnavailable, ErrUnavailable.Message, err)
		}
		s.unsubDM()
		s.unsubDM = unsub
		// An anonymous user: exactly one session.
		delete(svc.users, oldKey)
		s.u.key = newKey
		svc.users[newKey] = s.u
	}
	var evs []*Event
	for name, r := range s.rooms {
		if IsDMRoom(name) && newKey != oldKey {
			if ev, _ := s.leaveLocked(name); ev != nil {
				evs = append(evs, ev)
			}
			continue
		}
		r.renameMember(oldKey, newKey)
		evs = append(evs, presenceEvent(name, nn, PresenceRenamed, old))
	}
	s.nick = nn
	u := s.user()
	var stay []string // rooms the new name is in
	for name := range s.rooms {
		stay = append(stay, name)
	}
	svc.mu.Unlock()
	if svc.roster != nil {
		s.rosterRenamed(ctx, old, nn, roomsOf(evs), stay)
	}
	svc.publishAll(ctx, evs)
	svc.publish(ctx, "", &Event{Kind: EventUser, User: &UserEvent{User: u, Status: UserRenamed, From: old}})
	return nil
}

// claimRename takes nickname nn cluster-wide before a rename (when only
// its case changes, the claim is refreshed with it).
func (s *Session) claimRename(ctx context.Context, nn string) error {
	svc := s.svc
	if err := s.lockOpen(); err != nil {
		return err
	}
	u := s.user()
	u.Nickname = nn
	token := s.token
	svc.mu.Unlock()
	pctx, cancel := rosterCtx(ctx)
	defer cancel()
	_, err := svc.roster.Claim(pctx, Claim{User: u, Token: TokenDigest(token)})
	switch {
	case errors.Is(err, ErrNicknameTaken):
		return ErrNicknameTaken
	case err != nil:
		svc.log.Warn("chat: roster claim failed; nickname checked on this node only", "nickname", nn, "err", err)
	}
	return nil
}

func (s *Session) rosterRelease(ctx context.Context, key string) {
	pctx, cancel := rosterCtx(ctx)
	defer cancel()
	if err := s.svc.roster.Release(pctx, key, s.id); err != nil {
		s.svc.log.Warn("chat: roster release failed", "nickname", key, "err", err)
	}
}

// rosterRenamed moves the session's records from old to nn: the old
// name is released (unless only its case changed), its memberships are
// replaced by nn's in the rooms it stays in, and dropped in the DM rooms
// it left.
func (s *Session) rosterRenamed(ctx context.Context, old, nn string, left, stay []string) {
	svc := s.svc
	pctx, cancel := rosterCtx(ctx)
	defer cancel()
	if NickKey(old) != NickKey(nn) {
		if err := svc.roster.Release(pctx, NickKey(old), s.id); err != nil {
			svc.log.Warn("chat: roster release failed", "nickname", old, "err", err)
		}
	}
	if err := svc.roster.Leave(pctx, s.id, old, append(left, stay...)); err != nil {
		svc.log.Warn("chat: roster leave failed", "nickname", old, "err", err)
	}
	for _, room := range stay {
		if _, err := svc.roster.Join(pctx, room, s.id, nn); err != nil {
			svc.log.Warn("chat: roster join failed", "room", room, "nickname", nn, "err", err)
		}
	}
}
