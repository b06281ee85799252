package chatclient_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/banter-chat/banter/app"
	"github.com/banter-chat/banter/auth"
	"github.com/banter-chat/banter/client"
	"github.com/banter-chat/banter/client/chatclient"
	"github.com/banter-chat/banter/internal/apptest"
	"github.com/banter-chat/banter/internal/testutil"
)

const waitTimeout = 15 * time.Second

func startApp(t *testing.T) string {
	t.Helper()
	return startAppWith(t, auth.Config{})
}

func startAppWith(t *testing.T, ac auth.Config) string {
	t.Helper()
	base, _ := apptest.Serve(t, app.Config{
		// Generous limits: the tests send bursts.
		RateBurst: 1000, RatePerSecond: 1000,
		Auth: ac,
	})
	return base
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// user is a test client that records its events.
type user struct {
	*chatclient.Client
	mu     sync.Mutex
	events []chatclient.Event
}

func (u *user) record(ev chatclient.Event) {
	u.mu.Lock()
	u.events = append(u.events, ev)
	u.mu.Unlock()
}

// texts returns the texts of the messages received in room, in order.
func (u *user) texts(room string) []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []string
	for _, ev := range u.events {
		if m, ok := ev.(chatclient.MessageEvent); ok && m.Message.Room == room {
			out = append(out, m.Message.Text)
		}
	}
	return out
}

// seqs checks that the messages of room came in seq order without
// duplicates or gaps from the first one, and returns them.
func (u *user) seqs(t *testing.T, room string) []int64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []int64
	for _, ev := range u.events {
		if m, ok := ev.(chatclient.MessageEvent); ok && m.Message.Room == room {
			if n := len(out); n > 0 && m.Message.Seq != out[n-1]+1 {
				t.Errorf("%s: seq %d after %d", room, m.Message.Seq, out[n-1])
			}
			out = append(out, m.Message.Seq)
		}
	}
	return out
}

func (u *user) has(f func(chatclient.Event) bool) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, ev := range u.events {
		if f(ev) {
			return true
		}
	}
	return false
}

func dial(t *testing.T, url, nick string, rooms []string, cfg client.Config) *user {
	t.Helper()
	u := &user{}
	c, err := chatclient.Dial(ctxT(t), url, chatclient.Config{
		Nickname: nick, Rooms: rooms, OnEvent: u.record, Client: cfg, WatchUsers: true,
	})
	if err != nil {
		t.Fatalf("Dial %s: %v", nick, err)
	}
	u.Client = c
	t.Cleanup(func() { _ = c.Close() })
	return u
}

func TestChat(t *testing.T) {
	testutil.CheckGoroutineLeaks(t)
	url := startApp(t)
	alice := dial(t, url, "alice", []string{"General"}, client.Config{})
	bob := dial(t, url, "bob", []string{"general"}, client.Config{Transports: []string{"websocket"}})
	if got := alice.Joined(); len(got) != 1 || got[0] != "general" {
		t.Fatalf("alice joined %v, want the canonical [general]", got)
	}
	r, err := alice.Send(ctxT(t), "general", "hi bob")
	if err != nil || r.Seq != 1 || r.Room != "general" {
		t.Fatalf("send: %+v %v", r, err)
	}
	testutil.Eventually(t, waitTimeout, func() bool { return len(bob.texts("general")) == 1 }, "bob gets the message")
	testutil.Eventually(t, waitTimeout, func() bool { return len(alice.texts("general")) == 1 }, "alice gets her own")
	if !bob.has(func(ev chatclient.Event) bool {
		p, ok := ev.(chatclient.PresenceEvent)
		return ok && p.Nickname == "bob" && p.Action == "joined"
	}) {
		t.Error("no presence event for bob's join")
	}

	// Errors come back typed.
	if _, err := alice.Send(ctxT(t), "general", "   "); !errors.Is(err, chatclient.ErrEmptyMessage) {
		t.Fatalf("empty message: %v", err)
	}
	if _, err := alice.Send(ctxT(t), "elsewhere", "x"); !errors.Is(err, chatclient.ErrNotMember) {
		t.Fatalf("not a member: %v", err)
	}
	_, err = chatclient.Dial(ctxT(t), url, chatclient.Config{Nickname: "ALICE"})
	if !errors.Is(err, chatclient.ErrNicknameTaken) {
		t.Fatalf("taken nickname: %v", err)
	}

	// Direct messages reach a user who never joined the room.
	if _, err := bob.DM(ctxT(t), "alice", "psst"); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, waitTimeout, func() bool { return len(alice.texts("dm:alice:bob")) == 1 }, "alice gets the DM")

	// Typing and rename.
	alice.Typing("general", true)
	testutil.Eventually(t, waitTimeout, func() bool {
		return bob.has(func(ev chatclient.Event) bool {
			ty, ok := ev.(chatclient.TypingEvent)
			return ok && len(ty.Nicknames) == 1 && ty.Nicknames[0] == "alice"
		})
	}, "bob sees alice typing")
	if err := alice.Nick(ctxT(t), "Alicia"); err != nil || alice.Nickname() != "Alicia" {
		t.Fatalf("nick: %v %q", err, alice.Nickname())
	}

	// History: a newcomer gets the latest page, and pages back.
	for i := range 60 {
		if _, err := alice.Send(ctxT(t), "general", fmt.Sprint("m", i)); err != nil {
			t.Fatal(err)
		}
	}
	carol := dial(t, url, "carol", []string{"general"}, client.Config{})
	testutil.Eventually(t, waitTimeout, func() bool { return len(carol.texts("general")) == 50 }, "carol gets a page of 50")
	seqs := carol.seqs(t, "general")
	if seqs[0] != 12 || seqs[49] != 61 {
		t.Fatalf("carol's page %d..%d, want 12..61", seqs[0], seqs[49])
	}
	older, err := carol.History(ctxT(t), "general", seqs[0], 20)
	if err != nil || len(older) != 11 || older[0].Seq != 1 || older[10].Seq != 11 {
		t.Fatalf("history: %d messages, %v", len(older), err)
	}
	if !carol.has(func(ev chatclient.Event) bool {
		j, ok := ev.(chatclient.JoinedEvent)
		return ok && j.Room == "general" && j.More && j.FirstSeq == 12
	}) {
		t.Error("no JoinedEvent with More and FirstSeq")
	}
	// Leave.
	if err := carol.Leave(ctxT(t), "general"); err != nil {
		t.Fatal(err)
	}
	if len(carol.Joined()) != 0 {
		t.Fatalf("carol still in %v", carol.Joined())
	}
}

// TestCatchUp: a client whose connection drops gets every message it
// missed once, in order, after it reconnects; a message it sends while
// disconnected is stored once when the session is back.
func TestCatchUp(t *testing.T) {
	testutil.CheckGoroutineLeaks(t)
	url := startApp(t)
	p, purl := startProxy(t, url)
	alice := dial(t, url, "alice", []string{"general", "random"}, client.Config{})
	bob := dial(t, purl, "bob", []string{"general", "random"}, client.Config{ReconnectDelay: 10 * time.Millisecond, ReconnectDelayMax: 50 * time.Millisecond})
	if _, err := alice.Send(ctxT(t), "general", "before"); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, waitTimeout, func() bool { return len(bob.texts("general")) == 1 }, "bob online")

	p.Down.Store(true)
	p.Cut()
	testutil.Eventually(t, waitTimeout, func() bool { return !bob.Connected() }, "bob disconnected")
	// The server may not have noticed yet (a polling client is only noticed
	// by the heartbeat): bob resumes with his token either way.
	for i := range 250 {
		room := "general"
		if i%5 == 0 {
			room = "random"
		}
		if _, err := alice.Send(ctxT(t), room, fmt.Sprint("missed ", i)); err != nil {
			t.Fatal(err)
		}
	}
	sent := make(chan error, 1)
	go func() {
		_, err := bob.Send(ctxT(t), "general", "sent while away")
		sent <- err
	}()
	p.Down.Store(false)
	if err := <-sent; err != nil {
		t.Fatalf("send across the reconnect: %v", err)
	}
	testutil.Eventually(t, waitTimeout, func() bool { return len(bob.texts("general")) == 1+200+1 }, "bob caught up on general (%d)", len(bob.texts("general")))
	testutil.Eventually(t, waitTimeout, func() bool { return len(bob.texts("random")) == 50 }, "bob caught up on random")
	bob.seqs(t, "general")
	bob.seqs(t, "random")
	testutil.Eventually(t, waitTimeout, func() bool { return len(alice.texts("general")) == 1+200+1 }, "alice got bob's message once")
	var n atomic.Int32
	for _, s := range alice.texts("general") {
		if s == "sent while away" {
			n.Add(1)
		}
	}
	if n.Load() != 1 {
		t.Fatalf("bob's message stored %d times", n.Load())
	}
	if !bob.has(func(ev chatclient.Event) bool {
		s, ok := ev.(chatclient.StateEvent)
		return ok && s.Reason == "reconnecting"
	}) {
		t.Error("no reconnecting state event")
	}
}

// TestToken: against a server that requires tokens, a client with one gets
// the token's nickname; one without is refused.
func TestToken(t *testing.T) {
	secret := []byte("chatclient-test-secret-0123456789")
	url := startAppWith(t, auth.Config{Mode: auth.ModeRequired, HMACSecret: secret})
	tok, err := auth.Sign("HS256", secret, auth.Claims{Subject: "u-7", Nickname: "Tokened"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := chatclient.Dial(ctxT(t), url, chatclient.Config{Token: tok, Rooms: []string{"general"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if s := c.Hello(); s.Nickname != "Tokened" {
		t.Fatalf("nickname %q, want the token's", s.Nickname)
	}
	if _, err := c.Send(ctxT(t), "general", "hi"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := chatclient.Dial(ctx, url, chatclient.Config{Nickname: "anon"}); err == nil {
		t.Fatal("a client without a token got a session")
	}
}
