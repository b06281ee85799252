package mqttgw

import (
	"errors"
	"testing"

	"github.com/banter-chat/banter/chat"
)

func TestParseTopic(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want topic
		err  chat.Code
	}{
		{"banter/rooms/general", topic{kindRoom, "general"}, ""},
		{"banter/rooms/general/presence", topic{kindPresence, "general"}, ""},
		{"banter/rooms/general/typing", topic{kindTyping, "general"}, ""},
		{"banter/rooms/dm:alice:bob", topic{kindRoom, "dm:alice:bob"}, ""},
		{"banter/rooms/dm:a/b:c/typing", topic{kindTyping, "dm:a/b:c"}, ""}, // '/' in a nickname
		{"banter/dm", topic{kind: kindDM}, ""},
		{"banter/history", topic{kind: kindHistory}, ""},
		{"banter/errors", topic{kind: kindErrors}, ""},
		{"banter/replies/x/y", topic{kind: kindReplies}, ""},
		{"banter/rooms/General", topic{}, chat.CodeInvalidRoom},
		{"banter/rooms/dm:bob:alice", topic{}, chat.CodeInvalidRoom},
		{"banter/rooms/no space", topic{}, chat.CodeInvalidRoom},
		{"banter/rooms/", topic{}, chat.CodeInvalidArgument},
		{"banter/rooms/+", topic{}, chat.CodeInvalidArgument},
		{"banter/#", topic{}, chat.CodeInvalidArgument},
		{"banter/replies/", topic{}, chat.CodeInvalidArgument},
		{"banter/other", topic{}, chat.CodeInvalidArgument},
		{"$SYS/broker/uptime", topic{}, chat.CodeInvalidArgument},
		{"general", topic{}, chat.CodeInvalidArgument},
		{"banter/rooms/\xff", topic{}, chat.CodeInvalidArgument},
	} {
		got, err := parseTopic(tc.in)
		if chat.ErrorCode(err) != tc.err || got != tc.want {
			t.Errorf("parseTopic(%q) = %+v, %v; want %+v, code %q", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestMayRead(t *testing.T) {
	if !mayRead("general", "x") || !mayRead("dm:alice:bob", "bob") || mayRead("dm:alice:bob", "carol") {
		t.Fatal("wrong rights")
	}
}

func TestDecodeMessage(t *testing.T) {
	for _, tc := range []struct {
		in, text, id string
		err          chat.Code
	}{
		{"hello", "hello", "", ""},
		{"  plain [1]", "  plain [1]", "", ""},
		{`{"text":"hi","clientId":"c1"}`, "hi", "c1", ""},
		{` {"text":"hi","from":"ALICE"}`, "hi", "", ""},
		{`{"text":"hi","from":"bob"}`, "hi", "", chat.CodeForbidden},
		{`{"clientId":"c1"}`, "", "", chat.CodeInvalidArgument},
		{`{"text":5}`, "", "", chat.CodeInvalidArgument},
		{`{"text":"a"} x`, "", "", chat.CodeInvalidArgument},
		{`{"text":`, "", "", chat.CodeInvalidArgument},
	} {
		text, id, err := decodeMessage([]byte(tc.in), "alice")
		if chat.ErrorCode(err) != tc.err || err == nil && (text != tc.text || id != tc.id) {
			t.Errorf("decodeMessage(%q) = %q, %q, %v; want %q, %q, %q", tc.in, text, id, err, tc.text, tc.id, tc.err)
		}
	}
}

func TestDecodeTypingDMHistory(t *testing.T) {
	for in, want := range map[string]bool{"": true, "true": true, " 1 ": true, "false": false, "0": false,
		`{"active":false}`: false, `{"active":true}`: true} {
		if got, err := decodeTyping([]byte(in)); err != nil || got != want {
			t.Errorf("decodeTyping(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"yes", `{}`, `{"active":"no"}`} {
		if _, err := decodeTyping([]byte(in)); !errors.Is(err, chat.ErrInvalidArgument) {
			t.Errorf("decodeTyping(%q): %v", in, err)
		}
	}
	if dm, err := decodeDM([]byte(`{"to":"bob","text":"x","clientId":"k"}`), "alice"); err != nil || dm.To != "bob" || *dm.Text != "x" {
		t.Errorf("decodeDM: %+v %v", dm, err)
	}
	for _, in := range []string{"hi bob", `{"text":"x"}`, `{"to":"bob"}`, `{"to":"bob","text":"x","from":"carol"}`} {
		if _, err := decodeDM([]byte(in), "alice"); err == nil {
			t.Errorf("decodeDM(%q) accepted", in)
		}
	}
	h, err := decodeHistory([]byte(`{"id":"q","room":"general","after":0,"limit":5}`))
	if err != nil || h.After == nil || *h.After != 0 || h.Limit != 5 || string(h.ID) != `"q"` {
		t.Errorf("decodeHistory: %+v %v", h, err)
	}
	for _, in := range []string{"general", `{}`, `{"room":"general","before":"x"}`} {
		if _, err := decodeHistory([]byte(in)); err == nil {
			t.Errorf("decodeHistory(%q) accepted", in)
		}
	}
}

func TestEncodeEventIsProtocol1JSON(t *testing.T) {
	ev := &chat.Event{Kind: chat.EventMessage, Room: "general", Message: &chat.Message{ID: "9", Room: "general", Seq: 3, Sender: "bob", Text: "hi", TS: 5}}
	b, err := encodeEvent(ev)
	if want := `{"id":"9","room":"general","seq":3,"from":"bob","text":"hi","ts":5}`; err != nil || string(b) != want {
		t.Fatalf("got %s, %v; want %s", b, err, want)
	}
	ev = &chat.Event{Kind: chat.EventTyping, Room: "general", Typing: &chat.Typing{Room: "general", Nicknames: []string{}}}
	if b, _ := encodeEvent(ev); string(b) != `{"room":"general","nicknames":[]}` {
		t.Fatalf("typing %s", b)
	}
}

func TestReasonCodes(t *testing.T) {
	for err, want := range map[error]byte{
		chat.ErrForbidden: 0x87, chat.ErrNotMember: 0x87, chat.ErrInvalidRoom: 0x90, chat.ErrRateLimited: 0x97,
		chat.ErrEmptyMessage: 0x99, chat.ErrMessageTooLarge: 0x99, chat.ErrUnavailable: 0x80, errors.New("x"): 0x83,
	} {
		got := reasonCode(err)
		if got.Code != want || got.Reason == "" {
			t.Errorf("reasonCode(%v) = %#x %q, want %#x", err, got.Code, got.Reason, want)
		}
	}
	// Only reason codes valid in a PUBACK are used.
	valid := map[byte]bool{0x80: true, 0x83: true, 0x87: true, 0x90: true, 0x91: true, 0x97: true, 0x99: true}
	for _, c := range []chat.Code{chat.CodeInvalidNickname, chat.CodeNicknameTaken, chat.CodeInvalidMessage,
		chat.CodeInvalidArgument, chat.CodeNotConnected, chat.CodeInternal} {
		if b := reasonCode(&chat.Error{Code: c, Message: "m"}).Code; !valid[b] {
			t.Errorf("%s → %#x, not a PUBACK reason code", c, b)
		}
	}
}
