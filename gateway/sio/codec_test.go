package siogw

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/banter-chat/banter/chat"
)

func TestEncodeV1Golden(t *testing.T) {
	for _, c := range []struct {
		ev   *chat.Event
		want string
	}{
		{&chat.Event{Kind: chat.EventMessage, Room: "general", Message: &chat.Message{ID: "7", Room: "general", Seq: 3, Sender: "Al", Text: "hi \"x\"", TS: 5}},
			`2["message",{"id":"7","room":"general","seq":3,"from":"Al","text":"hi \"x\"","ts":5}]`},
		{&chat.Event{Kind: chat.EventPresence, Room: "r", Presence: &chat.Presence{Room: "r", Nickname: "b", Action: chat.PresenceLeft}},
			`2["presence",{"room":"r","nickname":"b","action":"left"}]`},
		{&chat.Event{Kind: chat.EventTyping, Room: "r", Typing: &chat.Typing{Room: "r", Nicknames: []string{}}},
			`2["typing",{"room":"r","nicknames":[]}]`},
		{&chat.Event{Kind: chat.EventUser, User: &chat.UserEvent{User: chat.User{ID: "1", Nickname: "b", Since: 2}, Status: chat.UserRenamed, From: "a"}},
			`2["user",{"id":"1","nickname":"b","since":2,"status":"renamed","from":"a"}]`},
	} {
		got, err := encodeV1(c.ev)
		if err != nil || string(got) != c.want {
			t.Errorf("encodeV1(%v) = %s, %v\nwant %s", c.ev.Kind, got, err, c.want)
		}
	}
	if got, err := encodeV1(&chat.Event{Kind: chat.EventDisconnect, Disconnect: &chat.Disconnect{}}); got != nil || err != nil {
		t.Errorf("disconnect events have no wire form, got %q %v", got, err)
	}
}

// Encoded runs the encoder once per event and format, however many
// recipients ask.
func TestEncodedOnce(t *testing.T) {
	ev := &chat.Event{Kind: chat.EventTyping, Room: "r", Typing: &chat.Typing{Room: "r", Nicknames: []string{"a"}}}
	calls := 0
	enc := func(e *chat.Event) ([]byte, error) { calls++; return encodeV1(e) }
	a, _ := ev.Encoded(keyV1{}, enc)
	b, _ := ev.Encoded(keyV1{}, enc)
	if calls != 1 || &a[0] != &b[0] {
		t.Errorf("encoder ran %d times; shared bytes: %v", calls, &a[0] == &b[0])
	}
}

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

func TestOrderedSince(t *testing.T) {
	got, err := orderedSince(json.RawMessage(`{"zeta": 4, "alpha": 0, "mid": 17}`))
	want := []sinceEntry{{"zeta", 4}, {"alpha", 0}, {"mid", 17}}
	if err != nil || len(got) != len(want) {
		t.Fatalf("orderedSince = %v, %v", got, err)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d = %v, want %v (order of the keys as sent)", i, got[i], want[i])
		}
	}
	if got, err := orderedSince(json.RawMessage(`null`)); got != nil || err != nil {
		t.Errorf("null since = %v, %v", got, err)
	}
	for _, bad := range []string{`[]`, `{"a": -1}`, `{"a": 1.5}`, `{"a": "3"}`, `{"a": 1`, `"x"`, `{"a": 99999999999999999999}`} {
		if _, err := orderedSince(json.RawMessage(bad)); !errors.Is(err, chat.ErrInvalidArgument) {
			t.Errorf("orderedSince(%s) = %v, want invalid_argument", bad, err)
		}
	}
}

func TestDecodeJSONErrors(t *testing.T) {
	var a sendArgs
	err := decodeJSON(json.RawMessage(`{"room":"r","text":5}`), "send", &a)
	var ce *chat.Error
	if !errors.As(err, &ce) || ce.Code != chat.CodeInvalidArgument || ce.Message != `send: field "text" must be a string, not number` {
		t.Errorf("type error = %v", err)
	}
	if err := decodeJSON(json.RawMessage(`{"room":`), "send", &a); !errors.Is(err, chat.ErrInvalidArgument) {
		t.Errorf("syntax error = %v", err)
	}
}

func TestEventDialect(t *testing.T) {
	for name, want := range map[string]dialect{
		"hello": dialectV1, "typing": dialectV1, "dm": dialectV1,
		"connectUser": dialectSocketChat, "stopType": dialectSocketChat,
		"chat message": dialectClassic, "message": dialectNone, "": dialectNone,
	} {
		if got := eventDialect(name); got != want {
			t.Errorf("eventDialect(%q) = %v, want %v", name, got, want)
		}
	}
}
