package chat

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Roster shares who is online, and in which rooms, between the nodes of
// a cluster (Config.Roster; the Redis one is redis.Roster). The
// Service keeps its own users and members as always and asks the Roster
// about the other nodes': nickname uniqueness, Users, Members and
// JoinResult.Members then cover the cluster. Without one (the default) the
// node is alone and its own maps are the whole truth, at no extra cost.
//
// The Service calls these methods outside its locks, on the goroutine of
// the client's request (never on a Bus handler's), so they may do network
// I/O; they should bound it (a second or two). Errors other than
// ErrNicknameTaken are logged by the Service, which then carries on with
// what it knows locally: presence is best-effort, messages are not.
type Roster interface {
	// Claim takes c.User's nickname for its session cluster-wide. It fails
	// with ErrNicknameTaken when a session on another live node holds it,
	// unless c.Resume equals that session's c.Token (a resumed
	// connection): the claim is then taken over and the displaced user is
	// returned, so that its node can be told (see Service.Connect).
	Claim(ctx context.Context, c Claim) (displaced *User, err error)
	// Release frees a nickname (NickKey) if the session sessionID still
	// holds it.
	Release(ctx context.Context, nickKey, sessionID string) error
	// Join records that session sessionID of this node, named nickname,
	// is in room, and returns the nicknames in room on the other nodes.
	Join(ctx context.Context, room, sessionID, nickname string) (others []string, err error)
	// Leave records that session sessionID, named nickname, left the
	// rooms (a membership recorded by another session is kept).
	Leave(ctx context.Context, sessionID, nickname string, rooms []string) error
	// Users returns the users online on the other nodes.
	Users(ctx context.Context) ([]User, error)
	// Members returns the nicknames in room on the other nodes.
	Members(ctx context.Context, room string) ([]string, error)
	// OnNodeGone registers the function called when a node stopped
	// without cleaning up (it crashed, or lost its network): what it had
	// online. One surviving node calls it per dead node, on a goroutine of
	// its own; the Service then publishes the departures (presence "left",
	// user "offline") to everyone. The Service registers it in New.
	OnNodeGone(f func(Gone))
	// OnRejoin registers the function called when this node finds that
	// the others had declared it gone (Redis unreachable for longer than
	// the liveness TTL, or restarted empty) and cleaned up after it: its
	// users and memberships are no longer recorded and everyone was told
	// they left. The Service then claims and joins everything again and
	// announces it; if that fails (Redis still flaky) f returns the error
	// and the Roster calls it again later. Called on a goroutine of its
	// own, never twice at once; registered in New.
	OnRejoin(f func() error)
}

// Claim is a session's claim on its nickname (Roster.Claim). Token and
// Resume are digests (TokenDigest) of the session's resume token and of
// the one the client presented, never the secrets themselves.
type Claim struct {
	User   User
	Token  string
	Resume string // "" when the client presented none
	// Subject is the verified user's subject ("" when anonymous): a claim
	// held on another node by the same subject (another device of the
	// user) is shared, not a conflict.
	Subject string
}

// Gone is what a dead node had: its users and their room memberships.
type Gone struct {
	Users   []User
	Members []RoomMember
}

// RoomMember is one user in one room.
type RoomMember struct {
	Room     string `json:"room"`
	Nickname string `json:"nickname"`
}

// TokenDigest is what a Roster stores of a resume token: enough to
// recognize it, useless to steal.
func TokenDigest(token string) string {
	if token == "" {
		return ""
	}
	d := sha256.Sum256([]byte(token))
	return hex.EncodeToString(d[:16])
}

// rosterTimeout bounds the Roster calls made on a client's behalf when
// its own context does not end sooner.
const rosterTimeout = 3 * time.Second

func rosterCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), rosterTimeout)
}

// mergeNicks returns the union of two nickname lists (one entry per
// NickKey; the first list wins), sorted by NickKey.
func mergeNicks(local, others []string) []string {
	if len(others) == 0 {
		return local
	}
	seen := make(map[string]bool, len(local)+len(others))
	out := make([]string, 0, len(local)+len(others))
	for _, l := range [][]string{local, others} {
		for _, n := range l {
			if k := NickKey(n); !seen[k] {
				seen[k] = true
				out = append(out, n)
			}
		}
	}
	slices.SortFunc(out, func(a, b string) int { return strings.Compare(NickKey(a), NickKey(b)) })
	return out
}

// onNodeGone publishes the departures of a dead node's users: "left" in
// each of their rooms (members everywhere see it, and typing ends), and
// "offline" for watchers.
func (s *Service) onNodeGone(g Gone) {
	s.runTracked(func() {
		ctx := context.Background()
		for _, m := range g.Members {
			ev := presenceEvent(m.Room, m.Nickname, PresenceLeft, "")
			ev.remoteUser = true
			s.publish(ctx, m.Room, ev)
		}
		for _, u := range g.Users {
			s.publish(ctx, "", &Event{Kind: EventUser, User: &UserEvent{User: u, Status: UserOffline}})
		}
		s.log.Info("chat: a node stopped; its users left", "users", len(g.Users), "memberships", len(g.Members))
	})
}

// onRejoin records this node's users and memberships again after the
// cluster forgot them, and once all is recorded tells everyone they are
// back. A nickname another node's user took meanwhile stays theirs: the
// local session ends as replaced.
func (s *Service) onRejoin() error {
	var err error
	s.runTracked(func() { err = s.rejoin() })
	return err
}

func (s *Service) rejoin() error {
	type membership struct{ session, room string }
	type entry struct {
		sessions []*Session
		user     User // ID: the session id of the user's claim
		token    string
		subject  string
		members  []membership
		rooms    []string // distinct, for the announcements
	}
	s.mu.Lock()
	all := make([]entry, 0, len(s.users))
	for _, u := range s.users {
		info := u.info()
		info.ID = u.claimID
		e := entry{sessions: slices.Clone(u.sessions), user: info, token: u.sessions[0].token}
		if u.ident != nil {
			e.subject = u.ident.Subject
		}
		seen := map[string]bool{}
		for _, sess := range u.sessions {
			for name := range sess.rooms {
				e.members = append(e.members, membership{sess.id, name})
				if !seen[name] {
					seen[name] = true
					e.rooms = append(e.rooms, name)
				}
			}
		}
		all = append(all, e)
	}
	s.mu.Unlock()
	ctx := context.Background()
	back := all[:0]
	for _, e := range all {
		cctx, cancel := rosterCtx(ctx)
		_, err := s.roster.Claim(cctx, Claim{User: e.user, Token: TokenDigest(e.token), Subject: e.subject})
		cancel()
		if errors.Is(err, ErrNicknameTaken) {
			s.log.Warn("chat: a nickname was taken on another node while this one was cut off; ending the local sessions", "nickname", e.user.Nickname)
			for _, sess := range e.sessions {
				sess.replacedRemotely()
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("chat: rejoin the cluster: claim %s: %w", e.user.Nickname, err)
		}
		for _, m := range e.members {
			jctx, cancel := rosterCtx(ctx)
			_, err := s.roster.Join(jctx, m.room, m.session, e.user.Nickname)
			cancel()
			if err != nil {
				return fmt.Errorf("chat: rejoin the cluster: join %s to %s: %w", e.user.Nickname, m.room, err)
			}
		}
		back = append(back, e)
	}
	for _, e := range back {
		for _, room := range e.rooms {
			s.publish(ctx, room, presenceEvent(room, e.user.Nickname, PresenceJoined, ""))
		}
		s.publish(ctx, "", &Event{Kind: EventUser, User: &UserEvent{User: e.user, Status: UserOnline}})
	}
	s.log.Warn("chat: this node had been declared gone by the cluster; its users are back", "users", len(back))
	return nil
}

// rosterEnd records, in the background, that an ended session left its
// rooms and, with w.claimID, that its user's nickname is free (the Roster
// releases it only if that claim still holds it). The session is over, so
// nothing it does later can race with this; records of other sessions (a
// reconnect with the same nickname, another device) are kept because they
// carry another session id.
func (s *Service) rosterEnd(w rosterEndWork) {
	if s.roster == nil {
		return
	}
	go s.runTracked(func() {
		ctx, cancel := rosterCtx(context.Background())
		defer cancel()
		if len(w.rooms) > 0 {
			if err := s.roster.Leave(ctx, w.session, w.nick, w.rooms); err != nil {
				s.log.Warn("chat: roster leave failed", "nickname", w.nick, "err", err)
			}
		}
		if w.claimID != "" {
			if err := s.roster.Release(ctx, NickKey(w.nick), w.claimID); err != nil {
				s.log.Warn("chat: roster release failed", "nickname", w.nick, "err", err)
			}
		}
	})
}

// rosterEndWork is what the Roster must learn of an ended session: the
// rooms it leaves, and the nickname claim to release when it was its
// user's last session here.
type rosterEndWork struct {
	session, nick string
	rooms         []string
	claimID       string
}

// roomsOf returns the rooms of presence "left" events.
func roomsOf(evs []*Event) []string {
	out := make([]string, 0, len(evs))
	for _, ev := range evs {
		if ev.Kind == EventPresence && ev.Presence.Action == PresenceLeft {
			out = append(out, ev.Room)
		}
	}
	return out
}
