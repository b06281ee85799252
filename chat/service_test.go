package chat_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/banter-chat/banter/chat"
)

var ctx = context.Background()

// recorder is a test Sink. With the LocalBus, publication is synchronous:
// when a Session method returns, its local deliveries have happened, so
// tests can inspect what arrived without waiting. Timers (typing expiry,
// gap fill) are awaited with waitFor.
type recorder struct {
	mu     sync.Mutex
	evs    []*chat.Event
	notify chan struct{}
}

func newRecorder() *recorder { return &recorder{notify: make(chan struct{}, 1)} }

func (r *recorder) Deliver(ev *chat.Event) {
	r.mu.Lock()
	r.evs = append(r.evs, ev)
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

// take returns and forgets the events of the given kind received so far.
func (r *recorder) take(kind chat.EventKind) []*chat.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*chat.Event
	r.evs = slices.DeleteFunc(r.evs, func(ev *chat.Event) bool {
		if ev.Kind == kind {
			out = append(out, ev)
			return true
		}
		return false
	})
	return out
}

// waitFor waits until pred holds for an event of kind, removing events of
// that kind up to and including the match.
func (r *recorder) waitFor(t *testing.T, kind chat.EventKind, what string, pred func(*chat.Event) bool) *chat.Event {
	t.Helper()
	timeout := time.After(10 * time.Second) // a hang guard, not a timing assertion
	for {
		r.mu.Lock()
		for i, ev := range r.evs {
			if ev.Kind == kind && pred(ev) {
				rest := slices.DeleteFunc(slices.Clone(r.evs[:i+1]), func(e *chat.Event) bool { return e.Kind == kind })
				r.evs = append(rest, r.evs[i+1:]...)
				r.mu.Unlock()
				return ev
			}
		}
		r.mu.Unlock()
		select {
		case <-r.notify:
		case <-timeout:
			t.Fatalf("no %s event: %s", kind, what)
		}
	}
}

func messages(evs []*chat.Event) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, fmt.Sprintf("%s#%d:%s", ev.Room, ev.Message.Seq, ev.Message.Text))
	}
	return out
}

func presences(evs []*chat.Event) []string {
	var out []string
	for _, ev := range evs {
		p := ev.Presence
		out = append(out, fmt.Sprintf("%s:%s:%s%s", p.Room, p.Nickname, p.Action, p.From))
	}
	return out
}

func newService(t *testing.T, cfg chat.Config) *chat.Service {
	t.Helper()
	svc, err := chat.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := svc.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return svc
}

type client struct {
	*chat.Session
	*recorder
}

func connect(t *testing.T, svc *chat.Service, nick string, watch bool) client {
	t.Helper()
	rec := newRecorder()
	s, err := svc.Connect(ctx, chat.ConnectParams{Nickname: nick, Sink: rec, WatchUsers: watch})
	if err != nil {
		t.Fatalf("Connect(%q): %v", nick, err)
	}
	return client{s, rec}
}

func join(t *testing.T, c client, room string) chat.JoinResult {
	t.Helper()
	res, err := c.Join(ctx, room, chat.JoinOptions{})
	if err != nil {
		t.Fatalf("%s joins %s: %v", c.Nickname(), room, err)
	}
	return res
}

func send(t *testing.T, c client, room, text string) chat.Message {
	t.Helper()
	m, err := c.Send(ctx, room, text, "")
	if err != nil {
		t.Fatalf("%s sends to %s: %v", c.Nickname(), room, err)
	}
	return m
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: error %v, want %v", what, err, want)
	}
}

func TestConfigRejected(t *testing.T) {
	for _, cfg := range []chat.Config{
		{MaxMessageBytes: chat.MaxStoredTextBytes + 1},
		{MaxMessageBytes: -1},
		{DefaultRoom: "Not A Room"},
		{DefaultRoom: "dm:a:b"},
	} {
		if svc, err := chat.New(cfg); err == nil {
			svc.Close()
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
	svc := newService(t, chat.Config{DefaultRoom: "Lobby"})
	want := chat.Limits{MaxMessageBytes: 4096, PageLimit: 50, MaxPageLimit: 200, TypingTTLMillis: 5000, RateBurst: 60, RatePerSecond: 10, MaxRooms: 100}
	if svc.DefaultRoom() != "lobby" || svc.MaxMessageBytes() != 4096 || svc.Limits() != want {
		t.Fatalf("defaults: %q %d %+v", svc.DefaultRoom(), svc.MaxMessageBytes(), svc.Limits())
	}
}

func TestConnectNicknames(t *testing.T) {
	svc := newService(t, chat.Config{})
	alice := connect(t, svc, " Alice ", false)
	if alice.Nickname() != "Alice" || alice.ID() == "" || alice.Token() == "" || alice.ID() == alice.Token() {
		t.Fatalf("session %q %q %q", alice.Nickname(), alice.ID(), alice.Token())
	}
	_, err := svc.Connect(ctx, chat.ConnectParams{Nickname: "ALICE", Sink: newRecorder()})
	wantErr(t, "same nickname in another case", err, chat.ErrNicknameTaken)
	_, err = svc.Connect(ctx, chat.ConnectParams{Nickname: "a:b", Sink: newRecorder()})
	wantErr(t, "bad nickname", err, chat.ErrInvalidNickname)
	_, err = svc.Connect(ctx, chat.ConnectParams{Nickname: "x"})
	wantErr(t, "no sink", err, chat.ErrInvalidArgument)
	_, err = svc.Connect(ctx, chat.ConnectParams{Nickname: "alice", Sink: newRecorder(), ResumeToken: "wrong"})
	wantErr(t, "wrong resume token", err, chat.ErrNicknameTaken)

	if u, ok := svc.Lookup("alice"); !ok || u.ID != alice.ID() || u.Nickname != "Alice" {
		t.Fatalf("Lookup = %+v %v", u, ok)
	}
	alice.Disconnect("test")
	alice.Disconnect("twice is harmless")
	if _, ok := svc.Lookup("alice"); ok {
		t.Fatal("user still online after Disconnect")
	}
	_, err = alice.Send(ctx, "general", "hi", "")
	wantErr(t, "Send after Disconnect", err, chat.ErrNotConnected)
	again := connect(t, svc, "aLiCe", false)
	if again.ID() == alice.ID() {
		t.Fatal("session id reused")
	}
}

func TestResumeReplacesSession(t *testing.T) {
	svc := newService(t, chat.Config{})
	watcher := connect(t, svc, "watcher", true)
	old := connect(t, svc, "alice", false)
	join(t, old, "general")
	watcher.take(chat.EventUser)
	rec := newRecorder()
	s, err := svc.Connect(ctx, chat.ConnectParams{Nickname: "Alice", Sink: rec, ResumeToken: old.Token()})
	if err != nil {
		t.Fatalf("resume: %v", err)
	}
	if evs := old.take(chat.EventDisconnect); len(evs) != 1 || evs[0].Disconnect.Reason != chat.ReasonReplaced {
		t.Fatalf("old session got %v, want one EventDisconnect replaced", evs)
	}
	_, err = old.Join(ctx, "general", chat.JoinOptions{})
	wantErr(t, "old session after takeover", err, chat.ErrNotConnected)
	if evs := watcher.take(chat.EventUser); len(evs) != 0 {
		t.Fatalf("a resume is not offline+online, watchers got %+v", evs[0].User)
	}
	if u, _ := svc.Lookup("alice"); u.ID != s.ID() || u.Nickname != "Alice" {
		t.Fatalf("Lookup after resume = %+v", u)
	}
}

func TestJoinSendFanOut(t *testing.T) {
	svc := newService(t, chat.Config{})
	alice := connect(t, svc, "alice", false)
	bob := connect(t, svc, "Bob", false)
	res := join(t, alice, "General")
	if res.Room != "general" || res.LastSeq != 0 || len(res.Messages) != 0 || res.More || !slices.Equal(res.Members, []string{"alice"}) {
		t.Fatalf("first join = %+v", res)
	}
	res = join(t, bob, "general")
	if !slices.Equal(res.Members, []string{"alice", "Bob"}) {
		t.Fatalf("members = %v", res.Members)
	}
	if got := presences(alice.take(chat.EventPresence)); !slices.Equal(got, []string{"general:alice:joined", "general:Bob:joined"}) {
		t.Fatalf("alice saw presence %v", got)
	}
	m := send(t, alice, "general", "hello")
	if m.Seq != 1 || m.ID == "" || m.TS <= 0 || m.Sender != "alice" || m.Room != "general" {
		t.Fatalf("ack %+v", m)
	}
	for _, c := range []client{alice, bob} {
		evs := c.take(chat.EventMessage)
		if len(evs) != 1 || *evs[0].Message != m {
			t.Fatalf("%s got %v, want the message", c.Nickname(), messages(evs))
		}
	}
	carol := connect(t, svc, "carol", false)
	_, err := carol.Send(ctx, "general", "not joined", "")
	wantErr(t, "send without joining", err, chat.ErrNotMember)
	if err := bob.Leave(ctx, "general"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "leave twice", bob.Leave(ctx, "general"), chat.ErrNotMember)
	send(t, alice, "general", "bob is gone")
	if evs := bob.take(chat.EventMessage); len(evs) != 0 {
		t.Fatalf("bob got %v after leaving", messages(evs))
	}
	if got := presences(alice.take(chat.EventPresence)); !slices.Equal(got, []string{"general:Bob:left"}) {
		t.Fatalf("alice saw presence %v", got)
	}
	if got, _ := svc.Members("GENERAL"); !slices.Equal(got, []string{"alice"}) {
		t.Fatalf("Members = %v", got)
	}
	alice.Disconnect("bye")
	if got, _ := svc.Members("general"); len(got) != 0 {
		t.Fatalf("Members after everyone left = %v", got)
	}
}

func TestJoinSnapshotAndCatchUp(t *testing.T) {
	svc := newService(t, chat.Config{})
	alice := connect(t, svc, "alice", false)
	join(t, alice, "r")
	for i := 1; i <= 5; i++ {
		send(t, alice, "r", fmt.Sprintf("m%d", i))
	}
	bob := connect(t, svc, "bob", false)
	seqsOf := func(ms []chat.Message) []int64 {
		var out []int64
		for _, m := range ms {
			out = append(out, m.Seq)
		}
		return out
	}
	for _, c := range []struct {
		opt  chat.JoinOptions
		want []int64
		more bool
	}{
		{chat.JoinOptions{}, []int64{1, 2, 3, 4, 5}, false},
		{chat.JoinOptions{Limit: 2}, []int64{4, 5}, true},
		{chat.JoinOptions{CatchUp: true, After: 3}, []int64{4, 5}, false},
		{chat.JoinOptions{CatchUp: true, After: 1, Limit: 2}, []int64{2, 3}, true},
		{chat.JoinOptions{CatchUp: true, After: 5}, nil, false},
		{chat.JoinOptions{CatchUp: true, After: 99}, nil, false},
	} {
		res, err := bob.Join(ctx, "r", c.opt) // joining again returns a fresh snapshot
		if err != nil {
			t.Fatal(err)
		}
		if res.LastSeq != 5 || !slices.Equal(seqsOf(res.Messages), c.want) || res.More != c.more {
			t.Fatalf("Join(%+v) = lastSeq %d, seqs %v, more %v; want 5, %v, %v", c.opt, res.LastSeq, seqsOf(res.Messages), res.More, c.want, c.more)
		}
	}
	_, err := bob.Join(ctx, "r", chat.JoinOptions{CatchUp: true, After: -1})
	wantErr(t, "negative after", err, chat.ErrInvalidArgument)
	_, err = bob.Join(ctx, "r", chat.JoinOptions{Limit: -1})
	wantErr(t, "negative limit", err, chat.ErrInvalidArgument)
	_, err = bob.Join(ctx, "no way", chat.JoinOptions{})
	wantErr(t, "bad room", err, chat.ErrInvalidRoom)

	got, err := bob.History(ctx, "r", 4, 2)
	if err != nil || !slices.Equal(seqsOf(got), []int64{2, 3}) {
		t.Fatalf("History = %v, %v", seqsOf(got), err)
	}
	got, err = bob.Since(ctx, "R", 3, 0)
	if err != nil || !slices.Equal(seqsOf(got), []int64{4, 5}) {
		t.Fatalf("Since = %v, %v", seqsOf(got), err)
	}
	got, err = bob.History(ctx, "empty", 0, 10)
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("History of an empty room = %#v, %v; want [] (not nil)", got, err)
	}
	_, err = bob.Since(ctx, "r", -1, 10)
	wantErr(t, "negative since", err, chat.ErrInvalidArgument)
}

func TestSendValidation(t *testing.T) {
	svc := newService(t, chat.Config{MaxMessageBytes: 10})
	alice := connect(t, svc, "alice", false)
	join(t, alice, "r")
	for _, c := range []struct {
		room, text, clientID string
		want                 error
	}{
		{"r", "", "", chat.ErrEmptyMessage},
		{"r", "   ", "", chat.ErrEmptyMessage},
		{"r", "12345678901", "", chat.ErrMessageTooLarge},
		{"r", "\xff", "", chat.ErrInvalidMessage},
		{"r", "ok", "has space", chat.ErrInvalidArgument},
		{"bad room", "ok", "", chat.ErrInvalidRoom},
		{"other", "ok", "", chat.ErrNotMember},
	} {
		_, err := alice.Send(ctx, c.room, c.text, c.clientID)
		wantErr(t, fmt.Sprintf("Send(%q, %q, %q)", c.room, c.text, c.clientID), err, c.want)
	}
	if evs := alice.take(chat.EventMessage); len(evs) != 0 {
		t.Fatalf("rejected sends delivered %v", messages(evs))
	}
	if got, _ := alice.Since(ctx, "r", 0, 10); len(got) != 0 {
		t.Fatalf("rejected sends stored %d messages", len(got))
	}
	if m := send(t, alice, "r", "1234567890"); m.Seq != 1 {
		t.Fatalf("a message of exactly MaxMessageBytes: %+v", m)
	}
}

func TestDuplicateClientID(t *testing.T) {
	svc := newService(t, chat.Config{})
	alice := connect(t, svc, "alice", false)
	bob := connect(t, svc, "bob", false)
	join(t, alice, "r")
	join(t, bob, "r")
	m1, err := alice.Send(ctx, "r", "hello", "c-1")
	if err != nil {
		t.Fatal(err)
	}
	m2, err := alice.Send(ctx, "r", "hello", "c-1")
	if err != nil || !m2.Duplicate || m2.ID != m1.ID || m2.Seq != m1.Seq {
		t.Fatalf("retry = %+v, %v; want duplicate of %+v", m2, err, m1)
	}
	if evs := bob.take(chat.EventMessage); len(evs) != 1 {
		t.Fatalf("bob got %v, want the message once", messages(evs))
	}
}

func TestRateLimit(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(1e9, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	svc := newService(t, chat.Config{RateBurst: 3, RatePerSecond: 1, Now: clock})
	alice := connect(t, svc, "alice", false)
	join(t, alice, "r")
	for i := range 3 {
		send(t, alice, "r", fmt.Sprint(i))
	}
	_, err := alice.Send(ctx, "r", "too fast", "")
	wantErr(t, "4th message of a burst of 3", err, chat.ErrRateLimited)
	if seq := alice.take(chat.EventMessage); len(seq) != 3 {
		t.Fatalf("%d messages delivered, want 3", len(seq))
	}
	mu.Lock()
	now = now.Add(time.Second)
	mu.Unlock()
	send(t, alice, "r", "one token later")
	_, err = alice.Send(ctx, "r", "again too fast", "")
	wantErr(t, "after spending the refilled token", err, chat.ErrRateLimited)
	// Another session has its own bucket.
	bob := connect(t, svc, "bob", false)
	join(t, bob, "r")
	send(t, bob, "r", "hi")
}

func TestDirectMessages(t *testing.T) {
	svc := newService(t, chat.Config{})
	alice := connect(t, svc, "Alice", false)
	bob := connect(t, svc, "bob", false)
	carol := connect(t, svc, "carol", false)

	m, err := alice.DirectMessage(ctx, "BOB", "psst", "d1")
	if err != nil {
		t.Fatal(err)
	}
	if m.Room != "dm:alice:bob" || m.Seq != 1 || m.Sender != "Alice" {
		t.Fatalf("DM ack %+v", m)
	}
	// bob had not joined: the message reaches him anyway, and he is now in
	// the room.
	if got := messages(bob.take(chat.EventMessage)); !slices.Equal(got, []string{"dm:alice:bob#1:psst"}) {
		t.Fatalf("bob got %v", got)
	}
	if got := messages(alice.take(chat.EventMessage)); !slices.Equal(got, []string{"dm:alice:bob#1:psst"}) {
		t.Fatalf("alice got %v", got)
	}
	if !slices.Contains(bob.Joined(), "dm:alice:bob") || !slices.Contains(alice.Joined(), "dm:alice:bob") {
		t.Fatalf("joined: alice %v, bob %v", alice.Joined(), bob.Joined())
	}
	if _, err := bob.DirectMessage(ctx, "alice", "hi back", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Send(ctx, "dm:bob:alice", "via Send", ""); err != nil {
		t.Fatal(err)
	}
	if got := messages(alice.take(chat.EventMessage)); !slices.Equal(got, []string{"dm:alice:bob#2:hi back", "dm:alice:bob#3:via Send"}) {
		t.Fatalf("alice got %v", got)
	}
	// Only the two may read or join.
	_, err = carol.Join(ctx, "dm:alice:bob", chat.JoinOptions{})
	wantErr(t, "carol joins their DM", err, chat.ErrForbidden)
	_, err = carol.History(ctx, "dm:alice:bob", 0, 10)
	wantErr(t, "carol reads their DM", err, chat.ErrForbidden)
	_, err = carol.Since(ctx, "dm:alice:bob", 0, 10)
	wantErr(t, "carol catches up their DM", err, chat.ErrForbidden)
	if evs := carol.take(chat.EventMessage); len(evs) != 0 {
		t.Fatalf("carol got %v", messages(evs))
	}
	_, err = alice.DirectMessage(ctx, "alice", "me", "")
	wantErr(t, "DM to oneself", err, chat.ErrInvalidArgument)
	_, err = alice.DirectMessage(ctx, "", "x", "")
	wantErr(t, "DM to nobody", err, chat.ErrInvalidNickname)

	// An offline recipient finds the DM in its room list and history.
	if _, err := carol.DirectMessage(ctx, "dave", "for later", ""); err != nil {
		t.Fatal(err)
	}
	dave := connect(t, svc, "Dave", false)
	rooms, err := dave.Rooms(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range rooms {
		names = append(names, r.Name)
	}
	if !slices.Equal(names, []string{"dm:carol:dave"}) {
		t.Fatalf("dave's rooms %v", names)
	}
	res := join(t, dave, "dm:dave:carol")
	if res.LastSeq != 1 || len(res.Messages) != 1 || res.Messages[0].Text != "for later" {
		t.Fatalf("dave's DM snapshot %+v", res)
	}
	public, err := svc.Rooms(ctx)
	if err != nil || len(public) != 0 {
		t.Fatalf("Service.Rooms lists DM rooms: %+v %v", public, err)
	}
}

func TestTyping(t *testing.T) {
	svc := newService(t, chat.Config{TypingTTL: 50 * time.Millisecond})
	alice := connect(t, svc, "alice", false)
	bob := connect(t, svc, "bob", false)
	join(t, alice, "r")
	join(t, bob, "r")
	typing := func(c client) []string {
		var out []string
		for _, ev := range c.take(chat.EventTyping) {
			out = append(out, strings.Join(ev.Typing.Nicknames, ","))
		}
		return out
	}
	wantErr(t, "typing in a room not joined", alice.Typing(ctx, "other", true), chat.ErrNotMember)
	if err := alice.Typing(ctx, "r", true); err != nil {
		t.Fatal(err)
	}
	if err := bob.Typing(ctx, "r", true); err != nil {
		t.Fatal(err)
	}
	if err := alice.Typing(ctx, "r", true); err != nil { // a refresh changes nothing
		t.Fatal(err)
	}
	if got := typing(bob); !slices.Equal(got, []string{"alice", "alice,bob"}) {
		t.Fatalf("bob saw typing %q", got)
	}
	send(t, alice, "r", "done typing")
	if got := typing(bob); !slices.Equal(got, []string{"bob"}) {
		t.Fatalf("after alice's message bob saw typing %q", got)
	}
	if err := bob.Typing(ctx, "r", false); err != nil {
		t.Fatal(err)
	}
	if got := typing(alice); !slices.Equal(got, []string{"alice", "alice,bob", "bob", ""}) {
		t.Fatalf("alice saw typing %q", got)
	}
	// Not refreshed: lapses by itself.
	if err := alice.Typing(ctx, "r", true); err != nil {
		t.Fatal(err)
	}
	bob.waitFor(t, chat.EventTyping, "alice typing", func(ev *chat.Event) bool { return len(ev.Typing.Nicknames) == 1 })
	bob.waitFor(t, chat.EventTyping, "alice's typing expiring", func(ev *chat.Event) bool { return len(ev.Typing.Nicknames) == 0 })
	// Leaving ends it at once.
	if err := alice.Typing(ctx, "r", true); err != nil {
		t.Fatal(err)
	}
	if err := alice.Leave(ctx, "r"); err != nil {
		t.Fatal(err)
	}
	if got := typing(bob); !slices.Equal(got, []string{"alice", ""}) {
		t.Fatalf("bob saw typing %q around alice leaving", got)
	}
}

func TestUsersAndRename(t *testing.T) {
	svc := newService(t, chat.Config{})
	w := connect(t, svc, "watcher", true)
	alice := connect(t, svc, "alice", false)
	bob := connect(t, svc, "bob", false)
	join(t, alice, "r")
	join(t, bob, "r")
	if _, err := alice.DirectMessage(ctx, "bob", "x", ""); err != nil {
		t.Fatal(err)
	}
	users := svc.Users()
	if len(users) != 3 || users[0].Nickname != "alice" || users[1].Nickname != "bob" || users[0].ID != alice.ID() {
		t.Fatalf("Users = %+v", users)
	}
	wantErr(t, "rename to a taken name", alice.Rename(ctx, "BOB"), chat.ErrNicknameTaken)
	wantErr(t, "rename to a bad name", alice.Rename(ctx, ""), chat.ErrInvalidNickname)
	bob.take(chat.EventPresence)
	if err := alice.Rename(ctx, "Alicia"); err != nil {
		t.Fatal(err)
	}
	got := presences(bob.take(chat.EventPresence))
	slices.Sort(got)
	if !slices.Equal(got, []string{"dm:alice:bob:alice:left", "r:Alicia:renamedalice"}) {
		t.Fatalf("bob saw %v", got)
	}
	if got := alice.Joined(); !slices.Equal(got, []string{"r"}) {
		t.Fatalf("after rename alice is in %v, want the old DM room left", got)
	}
	if err := alice.Rename(ctx, "ALICIA"); err != nil { // case change only
		t.Fatal(err)
	}
	if _, err := svc.Connect(ctx, chat.ConnectParams{Nickname: "alice", Sink: newRecorder()}); err != nil {
		t.Fatalf("the old nickname should be free: %v", err)
	}
	alice.Disconnect("bye")
	got = nil
	for _, ev := range w.take(chat.EventUser) {
		got = append(got, fmt.Sprintf("%s:%s:%s", ev.User.Nickname, ev.User.Status, ev.User.From))
	}
	want := []string{"watcher:online:", "alice:online:", "bob:online:", "Alicia:renamed:alice", "ALICIA:renamed:Alicia", "alice:online:", "ALICIA:offline:"}
	if !slices.Equal(got, want) {
		t.Fatalf("watcher saw %v, want %v", got, want)
	}
	if evs := bob.take(chat.EventUser); len(evs) != 0 {
		t.Fatal("a session without WatchUsers got user events")
	}
}

func TestCloseEndsSessions(t *testing.T) {
	svc, err := chat.New(chat.Config{})
	if err != nil {
		t.Fatal(err)
	}
	alice := connect(t, svc, "alice", false)
	join(t, alice, "r")
	if err := alice.Typing(ctx, "r", true); err != nil {
		t.Fatal(err)
	}
	if err := svc.Close(); err != nil {
		t.Fatal(err)
	}
	if err := svc.Close(); err != nil {
		t.Fatal(err)
	}
	if evs := alice.take(chat.EventDisconnect); len(evs) != 1 || evs[0].Disconnect.Reason != chat.ReasonShutdown {
		t.Fatalf("got %v, want EventDisconnect shutdown", evs)
	}
	_, err = alice.Send(ctx, "r", "x", "")
	wantErr(t, "Send after Close", err, chat.ErrNotConnected)
	_, err = svc.Connect(ctx, chat.ConnectParams{Nickname: "bob", Sink: newRecorder()})
	wantErr(t, "Connect after Close", err, chat.ErrUnavailable)
}

func TestEventEncodedOnce(t *testing.T) {
	ev := &chat.Event{Kind: chat.EventMessage, Message: &chat.Message{Text: "x"}}
	type jsonKey struct{}
	type otherKey struct{}
	var calls sync.Map
	enc := func(key any) func(*chat.Event) ([]byte, error) {
		return func(e *chat.Event) ([]byte, error) {
			n, _ := calls.LoadOrStore(key, new(int))
			*n.(*int)++
			return []byte(fmt.Sprintf("%T:%s", key, e.Message.Text)), nil
		}
	}
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for _, k := range []any{jsonKey{}, otherKey{}} {
				b, err := ev.Encoded(k, enc(k))
				if err != nil || !strings.HasSuffix(string(b), ":x") {
					t.Errorf("Encoded = %q, %v", b, err)
				}
			}
		})
	}
	wg.Wait()
	calls.Range(func(k, v any) bool {
		if *v.(*int) != 1 {
			t.Errorf("encoder for %T called %d times", k, *v.(*int))
		}
		return true
	})
}

// MaxRoomsPerSession bounds what one session can make the server hold;
// an incoming DM still reaches a session at its limit.
func TestMaxRoomsPerSession(t *testing.T) {
	svc := newService(t, chat.Config{MaxRoomsPerSession: 2})
	a := connect(t, svc, "alice", false)
	b := connect(t, svc, "bob", false)
	join(t, a, "one")
	join(t, a, "two")
	join(t, a, "two") // already a member: not a new room
	_, err := a.Join(ctx, "three", chat.JoinOptions{})
	wantErr(t, "third room", err, chat.ErrTooManyRooms)
	_, err = a.DirectMessage(ctx, "bob", "hi", "")
	wantErr(t, "a new DM room past the limit", err, chat.ErrTooManyRooms)
	if got := svc.Limits().MaxRooms; got != 2 {
		t.Errorf("Limits().MaxRooms = %d, want 2", got)
	}
	// bob writes to alice: her DM room joins although she is at her limit.
	if _, err := b.DirectMessage(ctx, "alice", "hello alice", ""); err != nil {
		t.Fatal(err)
	}
	a.waitFor(t, chat.EventMessage, "the DM", func(ev *chat.Event) bool { return ev.Message.Text == "hello alice" })
	if n := len(a.Joined()); n != 3 {
		t.Errorf("alice is in %d rooms, want 3 (two joined, one DM received)", n)
	}
	if err := a.Leave(ctx, "one"); err != nil {
		t.Fatal(err)
	}
	if err := a.Leave(ctx, "two"); err != nil {
		t.Fatal(err)
	}
	join(t, a, "three")
}
