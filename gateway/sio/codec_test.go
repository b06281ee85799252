package siogw

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/banter-chat/banter/chat"
)

func TestTypingObject(t *testing.T) {
	for _, c := range []struct {
		in   []string
		want string
	}{
		{nil, `{}`},
		{[]string{"alice"}, `{"alice":1}`},
		{[]string{"a\"b", "Zoë"}, `{"a\"b":1,"Zoë":1}`},
	} {
		if got := string(typingObject(c.in)); got != c.want || !json.Valid([]byte(got)) {
			t.Errorf("typingObject(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestDateString(t *testing.T) {
	g := &Gateway{cfg: Config{Location: time.UTC}}
	for ts, want := range map[int64]string{
		time.Date(2026, 11, 25, 22, 40, 0, 0, time.UTC).UnixMilli(): "11/25/2026, 10:40:00 PM",
		time.Date(2026, 1, 5, 0, 3, 9, 0, time.UTC).UnixMilli():     "1/5/2026, 12:03:09 AM",
		time.Date(2026, 7, 4, 12, 0, 0, 0, time.UTC).UnixMilli():    "7/4/2026, 12:00:00 PM",
	} {
		if got := g.dateString(ts); got != want {
			t.Errorf("dateString = %q, want %q (Node's en-US toLocaleString)", got, want)
		}
	}
}

func TestEventDialect(t *testing.T) {
	for name, want := range map[string]dialect{
		"hello": dialectV1, "typing": dialectV1, "dm": dialectV1, "delete": dialectV1,
		"connectUser": dialectSocketChat, "stopType": dialectSocketChat,
		"chat message": dialectClassic, "message": dialectNone, "": dialectNone,
	} {
		if got := eventDialect(name); got != want {
			t.Errorf("eventDialect(%q) = %v, want %v", name, got, want)
		}
	}
}

// Classic clients read a guest's text as typed, anyone else's with the
// sender's nickname.
func TestClassicText(t *testing.T) {
	for _, c := range []struct {
		from, text, want string
	}{
		{"guest-7", "hello everyone", "hello everyone"},
		{"Pat", "hi guests", "Pat: hi guests"},
		{"guestbook", "x", "guestbook: x"},
	} {
		if got := classicText(&chat.Message{Sender: c.from, Text: c.text}); got != c.want {
			t.Errorf("classicText(%s, %s) = %q, want %q", c.from, c.text, got, c.want)
		}
	}
}
