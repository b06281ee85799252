package chat

import (
	"context"
	"slices"
	"strings"
)

// Typing says whether the user is typing in room (a joined room). Clients
// repeat active=true every few seconds while typing: it lapses after
// Config.TypingTTL. Sending a message, leaving or disconnecting ends it.
// Errors: ErrInvalidRoom, ErrNotMember, ErrRateLimited (signal dropped).
func (s *Session) Typing(ctx context.Context, room string, active bool) error {
	name, err := NormalizeRoom(room)
	if err != nil {
		return err
	}
	if err := s.lockOpen(); err != nil {
		return err
	}
	member, nick, may := s.rooms[name] != nil, s.nick, s.mayPostLocked(name)
	s.svc.mu.Unlock()
	switch {
	case !member:
		return ErrNotMember
	case !may:
		return postForbidden(name)
	}
	if active && !s.lim.typ.Take() {
		s.svc.stats.rateLimited.Add(1)
		return ErrRateLimited
	}
	s.svc.publish(ctx, name, &Event{Kind: EventTypingSignal, Room: name,
		TypingSignal: &TypingSignal{Room: name, Nickname: nick, Active: active}})
	return nil
}

// Users returns the users online, sorted by NickKey: on every node of a
// cluster (Config.Roster; if it cannot answer, this node's, logged).
func (s *Service) Users() []User {
	s.mu.Lock()
	out := make([]User, 0, len(s.users))
	for _, u := range s.users {
		out = append(out, u.info())
	}
	s.mu.Unlock()
	if s.roster != nil {
		ctx, cancel := rosterCtx(context.Background())
		others, err := s.roster.Users(ctx)
		cancel()
		if err != nil {
			s.log.Warn("chat: roster users failed; listing this node's", "err", err)
		}
		seen := make(map[string]bool, len(out))
		for _, u := range out {
			seen[NickKey(u.Nickname)] = true
		}
		for _, u := range others {
			if k := NickKey(u.Nickname); !seen[k] {
				seen[k] = true
				out = append(out, u)
			}
		}
	}
	slices.SortFunc(out, func(a, b User) int { return strings.Compare(NickKey(a.Nickname), NickKey(b.Nickname)) })
	return out
}

// Lookup returns the user online on this node with the given nickname
// (any case).
func (s *Service) Lookup(nickname string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.users[NickKey(strings.TrimSpace(nickname))]; u != nil {
		return u.info(), true
	}
	return User{}, false
}

// onUserEvent delivers EventUser from the Bus to the watchers.
func (s *Service) onUserEvent(ev *Event) {
	if ev.Kind != EventUser {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.delivered(EventUser, len(s.watchers))
	for w := range s.watchers {
		w.sink.Deliver(ev)
	}
}

func presenceEvent(room, nick string, a PresenceAction, from string) *Event {
	return &Event{Kind: EventPresence, Room: room, Presence: &Presence{Room: room, Nickname: nick, Action: a, From: from}}
}
