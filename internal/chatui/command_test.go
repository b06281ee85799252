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

func TestLinesFor(t *testing.T) {
	for _, c := range []struct {
		ev   chatclient.Event
		want string
	}{
		{chatclient.MessageEvent{Message: chatclient.Message{Room: "general", From: "bob", Text: "hi"}}, "[general] bob: hi\n"},
		{chatclient.MessageEvent{Message: chatclient.Message{Room: "general", From: "bob", Text: "one\ntwo"}}, "[general] bob: one\n[general] bob: two\n"},
		{chatclient.MessageEvent{Message: chatclient.Message{Room: "general", From: "b\x1bob", Text: "\x1b[2Jhi\a"}}, "[general] b␛ob: ␛[2Jhi␇\n"},
		{chatclient.PresenceEvent{Room: "r", Nickname: "bob", Action: "joined"}, "* [r] bob joined\n"},
		{chatclient.PresenceEvent{Room: "r", Nickname: "B", From: "bob", Action: "renamed"}, "* [r] bob is now B\n"},
		{chatclient.StateEvent{Attempt: 2, Delay: 1500 * time.Millisecond}, "* reconnecting (attempt 2, in 1.5s)\n"},
		{chatclient.StateEvent{Reason: "transport close"}, "* disconnected: transport close\n"},
		{chatclient.ErrorEvent{Err: &chatclient.Error{Code: "rate_limited", Message: "too fast"}}, "! too fast: you are sending too fast: wait a second and send again\n"},
		{chatclient.TypingEvent{Room: "r"}, ""},
	} {
		if got := linesFor(c.ev); got != c.want {
			t.Errorf("%#v: %q, want %q", c.ev, got, c.want)
		}
	}
}
