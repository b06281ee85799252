package tcp

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/internal/testutil"
)

func TestTextModeWritesNoControlCharacters(t *testing.T) {
	testutil.CheckGoroutineLeaks(t)
	store, bus := chat.NewMemStore(), chat.NewLocalBus()
	svc, err := chat.New(chat.Config{Store: store, Bus: bus})
	if err != nil {
		t.Fatal(err)
	}
	g := New(svc, Config{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- g.Serve(ln) }()
	t.Cleanup(func() {
		svc.Close()
		if err := g.Close(context.Background()); err != nil {
			t.Error(err)
		}
		<-served
		store.Close()
	})
	ctx := context.Background()
	hostile := "\x1b[2J\x1b]0;pwned\x07 \x00\u009b31m\r\nfake\x1b[1A"
	if _, err := store.Append(ctx, chat.Draft{Room: "general", Sender: "mallory", Text: "stored " + hostile}); err != nil {
		t.Fatal(err)
	}

	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(nc)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var got []string
	expect := func(want string) {
		t.Helper()
		timeout := time.After(10 * time.Second) // a hang guard
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("connection closed waiting for %q; got %q", want, got)
				}
				got = append(got, l)
				if strings.Contains(l, want) {
					return
				}
			case <-timeout:
				t.Fatalf("no line with %q; got %q", want, got)
			}
		}
	}
	nc.Write([]byte("ann\n"))
	expect("stored ␛[2J") // the join shows the room's history

	// A message and a kick from another node, straight from the bus.
	bus.Publish(ctx, "general", &chat.Event{Kind: chat.EventMessage, Room: "general",
		Message: &chat.Message{ID: "x", Room: "general", Seq: 2, Sender: "eve\x1b[8m", Text: "live " + hostile, TS: 1}})
	expect("live ␛[2J")
	bus.Publish(ctx, "general", &chat.Event{Kind: chat.EventPresence, Room: "general",
		Presence: &chat.Presence{Room: "general", Nickname: "eve\x07", Action: chat.PresenceKicked, By: "mod", Reason: "bye\x1b[H\nfake line"}})
	expect("was kicked from general")
	nc.Write([]byte("/nosuch\x1b[31m\n"))
	expect("unknown command")

	for _, l := range got {
		for i, r := range l {
			if r != '\t' && (r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0) || r == utf8.RuneError && !strings.Contains(l, "�") {
				t.Errorf("line %q has control character %U at %d", l, r, i)
			}
		}
	}
	joined := strings.Join(got, "\n")
	for _, want := range []string{"[general] mallory: stored ␛[2J␛]0;pwned␇ ␀�31m", "[general] eve␛[8m: live ", "    fake␛[1A", "* eve␇ was kicked from general by mod (bye␛[H␤fake line)", "/nosuch␛[31m"} {
		if !strings.Contains(joined, want) {
			t.Errorf("no %q in:\n%s", want, joined)
		}
	}
}
