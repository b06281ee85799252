package redis_test

import (
	"context"
	"errors"
	neturl "net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/internal/testutil"
	"github.com/banter-chat/banter/redis"
)

// A node of an in-process cluster: a chat Service on its own Bus and Roster,
// sharing one store and one Redis prefix with the others.
type rosterNode struct {
	bus    *redis.Bus
	roster *redis.Roster
	svc    *chat.Service
}

const (
	testHeartbeat = 100 * time.Millisecond
	testTTL       = 400 * time.Millisecond
)

func startRosterNode(t *testing.T, prefix string, store chat.Store) *rosterNode {
	t.Helper()
	bus := open(t, prefix)
	ro, err := redis.NewRoster(context.Background(), bus, redis.RosterConfig{
		Heartbeat: testHeartbeat, TTL: testTTL, Address: "http://node-" + bus.NodeID(),
	})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := chat.New(chat.Config{Store: store, Bus: bus, Roster: ro, GapWait: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	n := &rosterNode{bus: bus, roster: ro, svc: svc}
	t.Cleanup(func() {
		_ = svc.Close()
		_ = ro.Close()
	})
	return n
}

func rosterCluster(t *testing.T, n int) []*rosterNode {
	prefix := uniquePrefix(t)
	store := chat.NewMemStore()
	t.Cleanup(func() { _ = store.Close() })
	var out []*rosterNode
	for range n {
		out = append(out, startRosterNode(t, prefix, store))
	}
	return out
}

// sink records what a session receives.
type sink struct {
	mu  sync.Mutex
	evs []*chat.Event
}

func (s *sink) Deliver(ev *chat.Event) {
	s.mu.Lock()
	s.evs = append(s.evs, ev)
	s.mu.Unlock()
}

func (s *sink) has(pred func(*chat.Event) bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.ContainsFunc(s.evs, pred)
}

func connect(t *testing.T, n *rosterNode, nick string, p chat.ConnectParams) (*chat.Session, *sink) {
	t.Helper()
	sk := &sink{}
	p.Nickname, p.Sink = nick, sk
	sess, err := n.svc.Connect(context.Background(), p)
	if err != nil {
		t.Fatalf("connect %s: %v", nick, err)
	}
	return sess, sk
}

func nicks(us []chat.User) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.Nickname)
	}
	return out
}

func TestRosterNicknamesAcrossNodes(t *testing.T) {
	ns := rosterCluster(t, 2)
	a, b := ns[0], ns[1]
	alice, _ := connect(t, a, "Alice", chat.ConnectParams{})
	// Claims are keyed by chat.NickKey: look-alikes (fullwidth, Cyrillic А)
	// claim the same key.
	for _, nick := range []string{"Alice", "ALICE", "Ａｌｉｃｅ", "\u0410lice"} {
		if _, err := b.svc.Connect(context.Background(), chat.ConnectParams{Nickname: nick, Sink: &sink{}}); !errors.Is(err, chat.ErrNicknameTaken) {
			t.Fatalf("%s on node B while Alice is on A: %v, want nickname taken", nick, err)
		}
	}
	// A refused claim leaves nothing behind on B.
	if got := b.svc.Users(); !slices.Equal(nicks(got), []string{"Alice"}) {
		t.Fatalf("B's users after a refused connect: %v", nicks(got))
	}
	bob, _ := connect(t, b, "bob", chat.ConnectParams{})
	for _, nick := range []string{"alice", "\u0430lice"} {
		if err := bob.Rename(context.Background(), nick); !errors.Is(err, chat.ErrNicknameTaken) {
			t.Fatalf("rename to %q, held on another node: %v", nick, err)
		}
	}
	if err := bob.Rename(context.Background(), "robert"); err != nil {
		t.Fatal(err)
	}
	for _, n := range ns {
		if got := nicks(n.svc.Users()); !slices.Equal(got, []string{"Alice", "robert"}) {
			t.Fatalf("users: %v", got)
		}
	}
	// bob is free again cluster-wide.
	connect(t, a, "bob", chat.ConnectParams{})

	alice.Disconnect("test")
	testutil.Eventually(t, 5*time.Second, func() bool {
		s, err := b.svc.Connect(context.Background(), chat.ConnectParams{Nickname: "alice", Sink: &sink{}})
		if err == nil {
			s.Disconnect("test")
		}
		return err == nil
	}, "Alice's nickname not released after she disconnected")
}

func TestRosterMembersAcrossNodes(t *testing.T) {
	ns := rosterCluster(t, 3)
	ctx := context.Background()
	alice, _ := connect(t, ns[0], "alice", chat.ConnectParams{})
	bob, _ := connect(t, ns[1], "bob", chat.ConnectParams{})
	if _, err := alice.Join(ctx, "general", chat.JoinOptions{}); err != nil {
		t.Fatal(err)
	}
	jr, err := bob.Join(ctx, "General", chat.JoinOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(jr.Members, []string{"alice", "bob"}) {
		t.Fatalf("bob's join members: %v", jr.Members)
	}
	// Asked on a node without members of the room.
	for i, n := range ns {
		got, err := n.svc.Members("general")
		if err != nil || !slices.Equal(got, []string{"alice", "bob"}) {
			t.Fatalf("node %d members: %v %v", i, got, err)
		}
	}
	if err := bob.Leave(ctx, "general"); err != nil {
		t.Fatal(err)
	}
	if got, _ := ns[2].svc.Members("general"); !slices.Equal(got, []string{"alice"}) {
		t.Fatalf("members after bob left: %v", got)
	}
	// Rejoining at once is not undone by the leave.
	if _, err := bob.Join(ctx, "general", chat.JoinOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, _ := ns[2].svc.Members("general"); !slices.Equal(got, []string{"alice", "bob"}) {
		t.Fatalf("members after bob rejoined: %v", got)
	}
	// A rename carries the membership.
	if err := bob.Rename(ctx, "Bobby"); err != nil {
		t.Fatal(err)
	}
	if got, _ := ns[0].svc.Members("general"); !slices.Equal(got, []string{"alice", "Bobby"}) {
		t.Fatalf("members after bob's rename: %v", got)
	}
	bob.Disconnect("test")
	testutil.Eventually(t, 5*time.Second, func() bool {
		got, _ := ns[0].svc.Members("general")
		return slices.Equal(got, []string{"alice"})
	}, "Bobby still a member after disconnecting")
}

func TestRosterResumeOnAnotherNode(t *testing.T) {
	ns := rosterCluster(t, 2)
	ctx := context.Background()
	old, oldSink := connect(t, ns[0], "alice", chat.ConnectParams{})
	if _, err := old.Join(ctx, "general", chat.JoinOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := ns[1].svc.Connect(ctx, chat.ConnectParams{Nickname: "alice", Sink: &sink{}, ResumeToken: "wrong"}); !errors.Is(err, chat.ErrNicknameTaken) {
		t.Fatalf("resume with a wrong token: %v", err)
	}
	// The notice to the old node travels on the Bus, at most once: like
	// any long-lived session, the old one must be listening.
	testutil.Eventually(t, 5*time.Second, func() bool { return ns[0].bus.Subscribed("@alice") }, "A never subscribed to @alice")
	sess, _ := connect(t, ns[1], "alice", chat.ConnectParams{ResumeToken: old.Token()})
	testutil.Eventually(t, 5*time.Second, func() bool {
		return oldSink.has(func(ev *chat.Event) bool {
			return ev.Kind == chat.EventDisconnect && ev.Disconnect.Reason == chat.ReasonReplaced
		})
	}, "the old session on node A was not ended as replaced")
	if _, err := sess.Join(ctx, "general", chat.JoinOptions{}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, func() bool {
		got, _ := ns[0].svc.Members("general")
		return slices.Equal(got, []string{"alice"}) && slices.Equal(nicks(ns[0].svc.Users()), []string{"alice"})
	}, "after the resume: members %v", func() []string { m, _ := ns[0].svc.Members("general"); return m }())
}

// TestRosterNodeGone: a node that stops heartbeating without cleaning up
// (its Redis connection is gone: a crash) loses its users for everyone
// within the TTL, and members elsewhere see them leave.
func TestRosterNodeGone(t *testing.T) {
	prefix := uniquePrefix(t)
	store := chat.NewMemStore()
	t.Cleanup(func() { _ = store.Close() })
	a := startRosterNode(t, prefix, store)
	c := startRosterNode(t, prefix, store)
	ctx := context.Background()
	watcher, wsink := connect(t, a, "watcher", chat.ConnectParams{WatchUsers: true})
	if _, err := watcher.Join(ctx, "general", chat.JoinOptions{}); err != nil {
		t.Fatal(err)
	}
	carol, _ := connect(t, c, "carol", chat.ConnectParams{})
	if _, err := carol.Join(ctx, "general", chat.JoinOptions{}); err != nil {
		t.Fatal(err)
	}
	// Typing is lossy: send it once A hears the room.
	testutil.Eventually(t, 5*time.Second, func() bool { return a.bus.Subscribed("general") }, "A never subscribed to general")
	if err := carol.Typing(ctx, "general", true); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, func() bool {
		return wsink.has(func(ev *chat.Event) bool {
			return ev.Kind == chat.EventTyping && slices.Equal(ev.Typing.Nicknames, []string{"carol"})
		})
	}, "watcher never saw carol typing")
	if got, _ := a.svc.Members("general"); !slices.Equal(got, []string{"carol", "watcher"}) {
		t.Fatalf("members: %v", got)
	}

	// The crash: node C's Redis connection goes away; nothing is cleaned.
	_ = c.bus.Close()
	died := time.Now()
	testutil.Eventually(t, 5*time.Second, func() bool {
		return wsink.has(func(ev *chat.Event) bool {
			return ev.Kind == chat.EventPresence && ev.Presence.Nickname == "carol" && ev.Presence.Action == chat.PresenceLeft
		})
	}, "watcher never saw carol leave")
	took := time.Since(died)
	if took > testTTL+3*testHeartbeat+time.Second {
		t.Errorf("carol left %v after her node died; TTL %v, heartbeat %v", took, testTTL, testHeartbeat)
	}
	testutil.Eventually(t, 5*time.Second, func() bool {
		return wsink.has(func(ev *chat.Event) bool {
			return ev.Kind == chat.EventUser && ev.User.Nickname == "carol" && ev.User.Status == chat.UserOffline
		})
	}, "watcher got no offline event for carol")
	testutil.Eventually(t, 5*time.Second, func() bool {
		return wsink.has(func(ev *chat.Event) bool { return ev.Kind == chat.EventTyping && len(ev.Typing.Nicknames) == 0 })
	}, "carol still typing for the watcher")
	if got, _ := a.svc.Members("general"); !slices.Equal(got, []string{"watcher"}) {
		t.Fatalf("members after carol's node died: %v", got)
	}
	if got := nicks(a.svc.Users()); !slices.Equal(got, []string{"watcher"}) {
		t.Fatalf("users after carol's node died: %v", got)
	}
	// Her nickname is free.
	connect(t, a, "carol", chat.ConnectParams{})
}

// TestRosterWithdraw: a node that shuts down cleanly removes its entries at
// once, without waiting for the TTL.
func TestRosterWithdraw(t *testing.T) {
	prefix := uniquePrefix(t)
	store := chat.NewMemStore()
	t.Cleanup(func() { _ = store.Close() })
	a := startRosterNode(t, prefix, store)
	b := startRosterNode(t, prefix, store)
	connect(t, b, "bob", chat.ConnectParams{})
	if got := nicks(a.svc.Users()); !slices.Equal(got, []string{"bob"}) {
		t.Fatalf("users: %v", got)
	}
	if addr, ok := a.roster.NodeAddress(context.Background(), b.bus.NodeID()); !ok || addr != "http://node-"+b.bus.NodeID() {
		t.Fatalf("B's address seen from A: %q %v", addr, ok)
	}
	_ = b.svc.Close()
	if err := b.roster.Close(); err != nil {
		t.Fatal(err)
	}
	if got := nicks(a.svc.Users()); len(got) != 0 {
		t.Fatalf("users after B withdrew: %v", got)
	}
	// A's cached view forgets B at its next heartbeat.
	testutil.Eventually(t, 5*time.Second, func() bool {
		_, ok := a.roster.NodeAddress(context.Background(), b.bus.NodeID())
		return !ok
	}, "B's address still known after it withdrew")
	connect(t, a, "bob", chat.ConnectParams{})
}

func TestRosterConfig(t *testing.T) {
	bus := open(t, uniquePrefix(t))
	if _, err := redis.NewRoster(context.Background(), bus, redis.RosterConfig{Heartbeat: time.Second, TTL: time.Second}); err == nil {
		t.Fatal("a TTL shorter than two heartbeats was accepted")
	}
}

// TestRosterRejoinAfterCutOff: a node cut off from Redis for longer than the
// TTL is declared gone (its user leaves for the others); when it can reach
// Redis again it notices and records and announces its users again.
func TestRosterRejoinAfterCutOff(t *testing.T) {
	prefix := uniquePrefix(t)
	store := chat.NewMemStore()
	t.Cleanup(func() { _ = store.Close() })
	a := startRosterNode(t, prefix, store)
	u, err := neturl.Parse(testURL())
	if err != nil {
		t.Fatal(err)
	}
	proxy, proxyURL := testutil.StartProxy(t, "http://"+u.Host)
	u.Host = strings.TrimPrefix(proxyURL, "http://")
	bus, err := redis.Open(context.Background(), u.String(), redis.Config{Prefix: prefix, RetryDelay: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	ro, err := redis.NewRoster(context.Background(), bus, redis.RosterConfig{Heartbeat: testHeartbeat, TTL: testTTL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ro.Close() })
	svc, err := chat.New(chat.Config{Store: store, Bus: bus, Roster: ro})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close() })
	c := &rosterNode{bus: bus, roster: ro, svc: svc}

	ctx := context.Background()
	watcher, wsink := connect(t, a, "watcher", chat.ConnectParams{WatchUsers: true})
	if _, err := watcher.Join(ctx, "general", chat.JoinOptions{}); err != nil {
		t.Fatal(err)
	}
	carol, _ := connect(t, c, "carol", chat.ConnectParams{})
	if _, err := carol.Join(ctx, "general", chat.JoinOptions{}); err != nil {
		t.Fatal(err)
	}
	event := func(kind chat.EventKind, what string) func(*chat.Event) bool {
		return func(ev *chat.Event) bool {
			switch {
			case kind == chat.EventPresence && ev.Kind == kind:
				return ev.Presence.Nickname == "carol" && string(ev.Presence.Action) == what
			case kind == chat.EventUser && ev.Kind == kind:
				return ev.User.Nickname == "carol" && string(ev.User.Status) == what
			}
			return false
		}
	}

	proxy.Down.Store(true)
	proxy.Cut()
	testutil.Eventually(t, 10*time.Second, func() bool {
		return wsink.has(event(chat.EventPresence, "left")) && wsink.has(event(chat.EventUser, "offline"))
	}, "carol's node was cut off, but she never left for the watcher")
	if got, _ := a.svc.Members("general"); !slices.Equal(got, []string{"watcher"}) {
		t.Fatalf("members while carol's node is cut off: %v", got)
	}
	wsink.mu.Lock()
	mark := len(wsink.evs)
	wsink.mu.Unlock()

	proxy.Down.Store(false)
	testutil.Eventually(t, 10*time.Second, func() bool {
		got, _ := a.svc.Members("general")
		return slices.Equal(got, []string{"carol", "watcher"}) && slices.Equal(nicks(a.svc.Users()), []string{"carol", "watcher"})
	}, "carol not back in the lists after her node reached Redis again")
	testutil.Eventually(t, 5*time.Second, func() bool {
		wsink.mu.Lock()
		later := &sink{evs: append([]*chat.Event(nil), wsink.evs[mark:]...)}
		wsink.mu.Unlock()
		return later.has(event(chat.EventUser, "online")) && later.has(event(chat.EventPresence, "joined"))
	}, "the watcher was not told carol is back")
	if _, err := a.svc.Connect(ctx, chat.ConnectParams{Nickname: "carol", Sink: &sink{}}); !errors.Is(err, chat.ErrNicknameTaken) {
		t.Fatalf("carol's nickname after her node rejoined: %v, want taken", err)
	}
}

// A verified user's devices may be on different nodes (a round-robin
// balancer puts them anywhere): the same subject shares its nickname
// across nodes, another subject or an anonymous user is refused, and the
// user is listed once.
func TestRosterSameSubjectOnTwoNodes(t *testing.T) {
	ns := rosterCluster(t, 2)
	a, b := ns[0], ns[1]
	id := func(sub string) *chat.Identity { return &chat.Identity{Subject: sub, Nickname: "Carol"} }
	phone, _ := connect(t, a, "", chat.ConnectParams{Identity: id("u-carol")})
	laptop, _ := connect(t, b, "", chat.ConnectParams{Identity: id("u-carol")})
	if _, err := b.svc.Connect(context.Background(), chat.ConnectParams{Identity: id("u-other"), Sink: &sink{}}); !errors.Is(err, chat.ErrNicknameTaken) {
		t.Fatalf("another subject named Carol on node B: %v, want nickname taken", err)
	}
	if _, err := b.svc.Connect(context.Background(), chat.ConnectParams{Nickname: "carol", Sink: &sink{}}); !errors.Is(err, chat.ErrNicknameTaken) {
		t.Fatalf("an anonymous carol on node B: %v, want nickname taken", err)
	}
	for _, n := range ns {
		if got := nicks(n.svc.Users()); !slices.Equal(got, []string{"Carol"}) {
			t.Fatalf("users: %v, want Carol once", got)
		}
	}
	laptop.Disconnect("test")
	phone.Disconnect("test")
	testutil.Eventually(t, 5*time.Second, func() bool {
		s, err := b.svc.Connect(context.Background(), chat.ConnectParams{Nickname: "carol", Sink: &sink{}})
		if err == nil {
			s.Disconnect("test")
		}
		return err == nil
	}, "Carol's nickname not released after both devices left")
}

// A kicked user's nickname and memberships are released cluster-wide, as
// when it disconnects.
func TestRosterKickReleases(t *testing.T) {
	ns := rosterCluster(t, 2)
	a, b := ns[0], ns[1]
	admin, _ := connect(t, a, "", chat.ConnectParams{Identity: &chat.Identity{Subject: "u-admin", Nickname: "Boss", Admin: true}})
	dave, _ := connect(t, a, "dave", chat.ConnectParams{})
	if _, err := dave.Join(context.Background(), "hall", chat.JoinOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := admin.Kick(context.Background(), "dave", "spam"); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, func() bool {
		m, _ := b.svc.Members("hall")
		return !slices.Contains(m, "dave")
	}, "dave still a member of hall after the kick")
	testutil.Eventually(t, 5*time.Second, func() bool {
		s, err := b.svc.Connect(context.Background(), chat.ConnectParams{Nickname: "dave", Sink: &sink{}})
		if err == nil {
			s.Disconnect("test")
		}
		return err == nil
	}, "dave's nickname not released after the kick")
}
