package chat_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/banter-chat/banter/chat"
)

// tokens is a test Authenticator: the token is a key of the map.
type tokens map[string]*chat.Identity

func (t tokens) Authenticate(_ context.Context, tok string) (*chat.Identity, error) {
	if id, ok := t[tok]; ok {
		return id, nil
	}
	if tok == "expired" {
		return nil, chat.ErrTokenExpired
	}
	return nil, chat.ErrTokenInvalid
}

func connectAs(t *testing.T, svc *chat.Service, token string) client {
	t.Helper()
	id, err := svc.Authenticate(ctx, token)
	if err != nil {
		t.Fatalf("Authenticate(%q): %v", token, err)
	}
	rec := newRecorder()
	s, err := svc.Connect(ctx, chat.ConnectParams{Nickname: "chosen", Identity: id, Sink: rec})
	if err != nil {
		t.Fatalf("Connect(%q): %v", token, err)
	}
	return client{s, rec}
}

var testTokens = tokens{
	"alice": {Subject: "u-alice", Nickname: "Alice"},
	"bob":   {Subject: "u-bob", Nickname: "bob", Rooms: []string{"general", "team-*"}, Post: []string{"team-*"}},
	"eve":   {Subject: "u-eve", Nickname: "eve", Rooms: []string{}},
	"admin": {Subject: "u-admin", Nickname: "mod", Admin: true, Rooms: []string{}},
}

func TestAuthenticateModes(t *testing.T) {
	anon := newService(t, chat.Config{})
	if id, err := anon.Authenticate(ctx, ""); id != nil || err != nil {
		t.Fatalf("anonymous, no token: %v %v", id, err)
	}
	_, err := anon.Authenticate(ctx, "alice")
	wantErr(t, "token without an Authenticator", err, chat.ErrTokenInvalid)

	if _, err := chat.New(chat.Config{RequireIdentity: true}); err == nil {
		t.Fatal("RequireIdentity without an Authenticator accepted")
	}
	req := newService(t, chat.Config{Authenticator: testTokens, RequireIdentity: true})
	_, err = req.Authenticate(ctx, "")
	wantErr(t, "required, no token", err, chat.ErrUnauthenticated)
	_, err = req.Connect(ctx, chat.ConnectParams{Nickname: "sneaky", Sink: newRecorder()})
	wantErr(t, "required, Connect without identity", err, chat.ErrUnauthenticated)
	_, err = req.Authenticate(ctx, "expired")
	wantErr(t, "expired", err, chat.ErrTokenExpired)
	_, err = req.Authenticate(ctx, "forged")
	wantErr(t, "forged", err, chat.ErrTokenInvalid)

	a := connectAs(t, req, "alice")
	if a.Nickname() != "Alice" || a.Identity().Subject != "u-alice" {
		t.Fatalf("nickname %q identity %+v: the token's, not the chosen one", a.Nickname(), a.Identity())
	}
	err = a.Rename(ctx, "Alicia")
	wantErr(t, "rename with a token", err, chat.ErrForbidden)
}

func TestRoomRights(t *testing.T) {
	svc := newService(t, chat.Config{Authenticator: testTokens})
	bob := connectAs(t, svc, "bob")
	eve := connectAs(t, svc, "eve")
	anon := connect(t, svc, "anon", false)

	join(t, bob, "general")
	_, err := bob.Send(ctx, "general", "hi", "")
	wantErr(t, "bob posts to general (read only)", err, chat.ErrForbidden)
	err = bob.Typing(ctx, "general", true)
	wantErr(t, "bob types in general", err, chat.ErrForbidden)
	join(t, bob, "Team-A")
	send(t, bob, "team-a", "hello team")
	_, err = bob.Join(ctx, "random", chat.JoinOptions{})
	wantErr(t, "bob joins random", err, chat.ErrForbidden)
	_, err = bob.History(ctx, "random", 0, 10)
	wantErr(t, "bob reads random", err, chat.ErrForbidden)
	if !bob.MayRead("general") || bob.MayPost("general") || !bob.MayPost("team-b") || bob.MayRead("random") {
		t.Fatal("MayRead/MayPost disagree with the token")
	}

	// No public room at all for eve; DMs still work.
	_, err = eve.Join(ctx, "general", chat.JoinOptions{})
	wantErr(t, "eve joins general", err, chat.ErrForbidden)
	if _, err := eve.DirectMessage(ctx, "bob", "psst", ""); err != nil {
		t.Fatalf("eve DMs bob: %v", err)
	}
	// Anonymous users keep today's rights.
	join(t, anon, "random")
	send(t, anon, "random", "free for all")

	// Room lists show only what the user may read.
	rooms, err := bob.Rooms(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range rooms {
		names = append(names, r.Name)
	}
	if !slices.Equal(names, []string{"dm:bob:eve", "team-a"}) {
		t.Fatalf("bob's rooms %v", names)
	}
}

// TestIdentitySessions: a verified user may be connected several times
// (devices, gateways): one user online, one member per room, each session
// gets the room's messages; an anonymous squatter of the name is replaced.
func TestIdentitySessions(t *testing.T) {
	svc := newService(t, chat.Config{Authenticator: testTokens})
	watcher := connect(t, svc, "watcher", true)
	join(t, watcher, "general")
	watcher.take(chat.EventPresence)
	squatter := connect(t, svc, "alice", false) // an anonymous user took the verified name
	a1 := connectAs(t, svc, "alice")
	if ev := squatter.take(chat.EventDisconnect); len(ev) != 1 || ev[0].Disconnect.Reason != chat.ReasonReplaced {
		t.Fatalf("squatter got %v, want a replaced disconnect", ev)
	}
	join(t, a1, "general")
	a2 := connectAs(t, svc, "alice") // the same user on another device
	if ev := a1.take(chat.EventDisconnect); len(ev) != 0 {
		t.Fatalf("the first device was disconnected: %v", ev)
	}
	res := join(t, a2, "general")
	if !slices.Equal(res.Members, []string{"Alice", "watcher"}) {
		t.Fatalf("members %v: Alice once", res.Members)
	}
	if p := presences(watcher.take(chat.EventPresence)); !slices.Equal(p, []string{"general:Alice:joined"}) {
		t.Fatalf("watcher saw %v: one join for two devices", p)
	}
	m := send(t, a1, "general", "from the phone")
	for _, c := range []client{a1, a2, watcher} {
		if got := messages(c.take(chat.EventMessage)); !slices.Equal(got, []string{fmt.Sprintf("general#%d:from the phone", m.Seq)}) {
			t.Fatalf("%s got %v", c.Nickname(), got)
		}
	}
	if users := svc.Users(); len(users) != 2 || users[0].Nickname != "Alice" || users[0].ID != a1.ID() {
		t.Fatalf("users %+v: Alice once, as her first session", users)
	}
	// Not even with a verified session's resume token may an anonymous
	// client take the name; nor may another subject.
	_, err := svc.Connect(ctx, chat.ConnectParams{Nickname: "Alice", ResumeToken: a2.Token(), Sink: newRecorder()})
	wantErr(t, "anonymous resume of a verified session", err, chat.ErrNicknameTaken)
	_, err = svc.Connect(ctx, chat.ConnectParams{Nickname: "ALICE", Sink: newRecorder()})
	wantErr(t, "anonymous takes Alice", err, chat.ErrNicknameTaken)
	_, err = svc.Connect(ctx, chat.ConnectParams{Identity: &chat.Identity{Subject: "u-third", Nickname: "Alice"}, Sink: newRecorder()})
	wantErr(t, "another subject named alice", err, chat.ErrNicknameTaken)
	// A reconnect with a session's resume token replaces that session only.
	a3 := connectAs(t, svc, "alice")
	rec := newRecorder()
	s4, err := svc.Connect(ctx, chat.ConnectParams{Identity: testTokens["alice"], ResumeToken: a3.Token(), Sink: rec})
	if err != nil {
		t.Fatal(err)
	}
	if len(a3.take(chat.EventDisconnect)) != 1 || len(a1.take(chat.EventDisconnect)) != 0 {
		t.Fatal("resume replaced the wrong session")
	}
	s4.Disconnect("test")

	// Leaving with one device keeps the user in the room; the last one
	// leaving is "left", and the last session ending "offline".
	if err := a1.Leave(ctx, "general"); err != nil {
		t.Fatal(err)
	}
	a1.Disconnect("test")
	if p := watcher.take(chat.EventPresence); len(p) != 0 {
		t.Fatalf("watcher saw %v while Alice is still there", presences(p))
	}
	a2.Disconnect("test")
	if p := presences(watcher.take(chat.EventPresence)); !slices.Equal(p, []string{"general:Alice:left"}) {
		t.Fatalf("watcher saw %v", p)
	}
	var seen []string
	for _, ev := range watcher.take(chat.EventUser) {
		seen = append(seen, ev.User.Nickname+":"+string(ev.User.Status))
	}
	if want := []string{"watcher:online", "alice:online", "alice:offline", "Alice:online", "Alice:offline"}; !slices.Equal(seen, want) {
		t.Fatalf("user events %v, want %v", seen, want)
	}
}

func TestSharedRateLimit(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(1e9, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	svc := newService(t, chat.Config{Authenticator: testTokens, RateBurst: 3, RatePerSecond: 1, Now: clock})
	a := connectAs(t, svc, "alice")
	join(t, a, "r")
	send(t, a, "r", "1")
	send(t, a, "r", "2")
	// Another device shares the bucket; reconnecting does not refill it.
	a2 := connectAs(t, svc, "alice")
	join(t, a2, "r")
	send(t, a2, "r", "3")
	_, err := a.Send(ctx, "r", "4", "")
	wantErr(t, "4th message across two devices", err, chat.ErrRateLimited)
	a.Disconnect("test")
	a2.Disconnect("test")
	a = connectAs(t, svc, "alice")
	join(t, a, "r")
	_, err = a.Send(ctx, "r", "5", "")
	wantErr(t, "after reconnecting", err, chat.ErrRateLimited)
	// The same for an anonymous nickname.
	b := connect(t, svc, "bob", false)
	join(t, b, "r")
	for i := range 3 {
		send(t, b, "r", fmt.Sprint(i))
	}
	b.Disconnect("test")
	b = connect(t, svc, "bob", false)
	join(t, b, "r")
	_, err = b.Send(ctx, "r", "again", "")
	wantErr(t, "anonymous reconnect", err, chat.ErrRateLimited)
	mu.Lock()
	now = now.Add(time.Second)
	mu.Unlock()
	send(t, b, "r", "one token later")
}

func TestKick(t *testing.T) {
	svc := newService(t, chat.Config{Authenticator: testTokens})
	mod := connectAs(t, svc, "admin")
	alice := connectAs(t, svc, "alice")
	anon := connect(t, svc, "troll", false)
	join(t, alice, "general")
	join(t, anon, "general")
	alice.take(chat.EventPresence)

	err := alice.Kick(ctx, "troll", "spam")
	wantErr(t, "non-admin kicks", err, chat.ErrForbidden)
	err = mod.Kick(ctx, "nobody", "")
	wantErr(t, "kick nobody", err, chat.ErrNotFound)
	err = mod.Kick(ctx, "mod", "")
	wantErr(t, "kick yourself", err, chat.ErrInvalidArgument)

	if err := mod.Kick(ctx, "Troll", "spam"); err != nil {
		t.Fatalf("kick: %v", err)
	}
	ev := anon.take(chat.EventDisconnect)
	if len(ev) != 1 || ev[0].Disconnect.Reason != chat.ReasonKicked || ev[0].Disconnect.By != "mod" || ev[0].Disconnect.Message != "spam" {
		t.Fatalf("kicked user got %+v", ev)
	}
	p := alice.take(chat.EventPresence)
	if len(p) != 1 || p[0].Presence.Action != chat.PresenceKicked || p[0].Presence.Nickname != "troll" || p[0].Presence.By != "mod" || p[0].Presence.Reason != "spam" {
		t.Fatalf("room members got %v", presences(p))
	}
	if _, err := anon.Send(ctx, "general", "still here?", ""); !errors.Is(err, chat.ErrNotConnected) {
		t.Fatalf("kicked session sends: %v", err)
	}
	if _, ok := svc.Lookup("troll"); ok {
		t.Fatal("kicked user still online")
	}
	// Every device of a verified user is kicked.
	phone := connectAs(t, svc, "alice")
	if err := mod.Kick(ctx, "alice", ""); err != nil {
		t.Fatal(err)
	}
	if len(alice.take(chat.EventDisconnect)) != 1 || len(phone.take(chat.EventDisconnect)) != 1 {
		t.Fatal("a device of the kicked user was not told")
	}
	if _, ok := svc.Lookup("alice"); ok {
		t.Fatal("kicked user still online")
	}
	// The admin's empty room rights do not stop it from joining.
	join(t, mod, "anything")
}

func TestDeleteMessage(t *testing.T) {
	svc := newService(t, chat.Config{Authenticator: testTokens})
	mod := connectAs(t, svc, "admin")
	alice := connectAs(t, svc, "alice")
	join(t, alice, "general")
	send(t, alice, "general", "one")
	bad := send(t, alice, "general", "abuse")
	send(t, alice, "general", "three")

	bob := connectAs(t, svc, "bob")
	_, err := bob.DeleteMessage(ctx, "general", bad.Seq)
	wantErr(t, "non-admin deletes someone else's message", err, chat.ErrForbidden)
	_, err = mod.DeleteMessage(ctx, "general", 99)
	wantErr(t, "delete a seq not stored", err, chat.ErrNotFound)
	_, err = mod.DeleteMessage(ctx, "general", 0)
	wantErr(t, "delete seq 0", err, chat.ErrInvalidArgument)

	// The admin need not be a member (nor allowed to read: Rooms is []).
	m, err := mod.DeleteMessage(ctx, "General", bad.Seq)
	if err != nil || !m.Deleted || m.Text != "" || m.Seq != bad.Seq || m.Sender != "Alice" {
		t.Fatalf("delete: %+v %v", m, err)
	}
	ev := alice.take(chat.EventDeleted)
	if len(ev) != 1 || *ev[0].Deleted != (chat.Deleted{Room: "general", Seq: bad.Seq, By: "mod", Rev: 1}) {
		t.Fatalf("members got %v", ev)
	}
	if name, payload, ok := ev[0].ClientEvent(); !ok || name != "deleted" || payload != ev[0].Deleted {
		t.Fatalf("client event %q %v %v", name, payload, ok)
	}
	hist, err := alice.History(ctx, "general", 0, 10)
	if err != nil || len(hist) != 3 || !hist[1].Deleted || hist[1].Text != "" || hist[0].Text != "one" {
		t.Fatalf("history after delete: %+v %v", hist, err)
	}
}

func TestSessionEndsWithItsToken(t *testing.T) {
	svc := newService(t, chat.Config{Authenticator: testTokens})
	watcher := connect(t, svc, "watcher", false)
	join(t, watcher, "general")
	_, err := svc.Connect(ctx, chat.ConnectParams{Sink: newRecorder(),
		Identity: &chat.Identity{Subject: "u-x", Nickname: "late", Expires: time.Now().Add(-time.Second)}})
	wantErr(t, "an identity already expired", err, chat.ErrTokenExpired)

	rec := newRecorder()
	s, err := svc.Connect(ctx, chat.ConnectParams{Sink: rec,
		Identity: &chat.Identity{Subject: "u-s", Nickname: "short", Expires: time.Now().Add(100 * time.Millisecond)}})
	if err != nil {
		t.Fatal(err)
	}
	short := client{s, rec}
	join(t, short, "general")
	short.waitFor(t, chat.EventDisconnect, "the token's expiry", func(ev *chat.Event) bool {
		return ev.Disconnect.Reason == chat.ReasonExpired
	})
	watcher.waitFor(t, chat.EventPresence, "short left", func(ev *chat.Event) bool {
		return ev.Presence.Nickname == "short" && ev.Presence.Action == chat.PresenceLeft
	})
	if _, err := short.Send(ctx, "general", "still here?", ""); !errors.Is(err, chat.ErrNotConnected) {
		t.Fatalf("expired session sends: %v", err)
	}
	// A session that ends first stops its timer (nothing fires later).
	rec2 := newRecorder()
	s2, err := svc.Connect(ctx, chat.ConnectParams{Sink: rec2,
		Identity: &chat.Identity{Subject: "u-s", Nickname: "short", Expires: time.Now().Add(time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	s2.Disconnect("test")
	if ev := rec2.take(chat.EventDisconnect); len(ev) != 0 {
		t.Fatalf("a disconnected session was told %v", ev)
	}
}
