package chatui

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/banter-chat/banter/app"
	"github.com/banter-chat/banter/client/chatclient"
	"github.com/banter-chat/banter/internal/apptest"
	"github.com/banter-chat/banter/internal/testutil"
)

func TestParseMsgCommands(t *testing.T) {
	for _, c := range []struct {
		in, name, arg string
		bad           bool
	}{
		{in: "/reply sure", name: "reply", arg: "sure"},
		{in: "/react 👍", name: "react", arg: "👍"},
		{in: "/edit fixed text", name: "edit", arg: "fixed text"},
		{in: "/delete", name: "delete"},
		{in: "/unsend", name: "delete"},
		{in: "/unread", name: "unread"},
		{in: "/reply", bad: true},
		{in: "/react", bad: true},
		{in: "/edit", bad: true},
	} {
		got, err := parseCommand(c.in)
		if (err != nil) != c.bad || !c.bad && (got.name != c.name || got.arg != c.arg) {
			t.Errorf("%q: %+v, %v", c.in, got, err)
		}
	}
}

// syncBuffer is line mode's output, read while it is written.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Line mode on messages: a reply, a reaction, an edit, unread counts and a
// deletion typed as commands, and what another user's changes look like.
func TestLinesMessageState(t *testing.T) {
	url, _ := apptest.Serve(t, app.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bob, err := chatclient.Dial(ctx, url, chatclient.Config{Nickname: "bob", Rooms: []string{"general"}})
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()
	if _, err := bob.Send(ctx, "general", "lunch, @alice?"); err != nil {
		t.Fatal(err)
	}
	ev := NewEvents()
	alice, err := chatclient.Dial(ctx, url, chatclient.Config{Nickname: "alice", Rooms: []string{"general"}, OnEvent: ev.Push})
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close()
	in := strings.Join([]string{
		"/unread",
		"/reply sure",
		"/react 🎉",
		"a typo heer",
		"/edit a typo here",
		"/delete",
		"/edit",
	}, "\n") + "\n"
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- RunLines(ctx, alice, ev, strings.NewReader(in), out, LineOptions{Room: "general", Follow: true})
	}()
	want := []string{
		"[general] bob: lunch, @alice?",
		"* nothing unread", // alice never marked general: not counted
		"[general] alice (replying to bob): sure",
		"* [general] alice reacted 🎉 to message 2 [🎉 1]",
		"[general] alice: a typo heer",
		"* [general] alice edited a message: a typo here",
		"* your message was deleted",
		"* [general] message 3 was deleted by alice",
		"! usage: /edit TEXT",
	}
	testutil.Eventually(t, 20*time.Second, func() bool {
		got := out.String()
		for _, w := range want {
			if !strings.Contains(got, w) {
				return false
			}
		}
		return true
	}, "line mode output:\n%s", out)
	// Bob's view of the same: the reply's quote, the final state.
	msgs, err := bob.History(ctx, "general", 0, 10)
	if err != nil || len(msgs) != 3 || msgs[1].ReplyTo == nil || msgs[1].ReplyTo.From != "bob" || len(msgs[1].Reactions) != 1 || !msgs[2].Deleted {
		t.Fatalf("history: %+v, %v", msgs, err)
	}
	cancel()
	<-done
}
