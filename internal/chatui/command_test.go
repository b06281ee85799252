package chatui

import (
	"testing"
	"time"

	"github.com/banter-chat/banter/client/chatclient"
)

func TestParseCommand(t *testing.T) {
	for _, c := range []struct {
		in              string
		name, arg, arg2 string
		bad             bool
	}{
		{in: "hello", arg: "hello"},
		{in: "//not a command", arg: "/not a command"},
		{in: "/join random", name: "join", arg: "random"},
		{in: "/JOIN  random ", name: "join", arg: "random"},
		{in: "/join", bad: true},
		{in: "/join two words", bad: true},
		{in: "/leave", name: "leave"},
		{in: "/part x", name: "leave", arg: "x"},
		{in: "/dm bob hi there", name: "dm", arg: "bob", arg2: "hi there"},
		{in: "/msg bob hi", name: "dm", arg: "bob", arg2: "hi"},
		{in: "/dm bob", bad: true},
		{in: "/dm bob   ", bad: true},
		{in: "/nick Alicia", name: "nick", arg: "Alicia"},
		{in: "/nick", bad: true},
		{in: "/q", name: "quit"},
		{in: "/help", name: "help"},
		{in: "/rooms", name: "rooms"},
		{in: "/frobnicate", bad: true},
	} {
		got, err := parseCommand(c.in)
		if (err != nil) != c.bad {
			t.Errorf("%q: error %v, want bad=%v", c.in, err, c.bad)
			continue
		}
		if !c.bad && (got.name != c.name || got.arg != c.arg || got.arg2 != c.arg2) {
			t.Errorf("%q: got %+v", c.in, got)
		}
	}
}

func TestDMPeer(t *testing.T) {
	if p, ok := dmPeer("dm:alice:bob", "Alice"); !ok || p != "bob" {
		t.Errorf("got %q %v", p, ok)
	}
	if p, ok := dmPeer("dm:alice:bob", "bob"); !ok || p != "alice" {
		t.Errorf("got %q %v", p, ok)
	}
	if _, ok := dmPeer("general", "bob"); ok {
		t.Error("general is not a DM room")
	}
}

func TestLineFor(t *testing.T) {
	for _, c := range []struct {
		ev   chatclient.Event
		want string
	}{
		{chatclient.MessageEvent{Message: chatclient.Message{Room: "general", From: "bob", Text: "hi"}}, "[general] bob: hi"},
		{chatclient.PresenceEvent{Room: "r", Nickname: "bob", Action: "joined"}, "* [r] bob joined"},
		{chatclient.PresenceEvent{Room: "r", Nickname: "B", From: "bob", Action: "renamed"}, "* [r] bob is now B"},
		{chatclient.StateEvent{Attempt: 2, Delay: 1500 * time.Millisecond}, "* reconnecting (attempt 2, in 1.5s)"},
		{chatclient.StateEvent{Reason: "transport close"}, "* disconnected: transport close"},
		{chatclient.TypingEvent{Room: "r"}, ""},
	} {
		if got := lineFor(c.ev, "me"); got != c.want {
			t.Errorf("%#v: %q, want %q", c.ev, got, c.want)
		}
	}
}
