package proto1

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/banter-chat/banter/chat"
)

// The commands on messages decode like the others, on every framing.
func TestDecodeMsgCommands(t *testing.T) {
	for _, tc := range []struct {
		name, arg string
		want      string // the command, as JSON
	}{
		{"send", `{"room":"r","text":"hi","replyTo":"12"}`, `{"Name":"send","Room":"r","Text":"hi","ReplyTo":"12"}`},
		{"dm", `{"to":"Bob","text":"x","replyTo":"3"}`, `{"Name":"dm","To":"Bob","Text":"x","ReplyTo":"3"}`},
		{"edit", `{"room":"r","seq":4,"text":"fixed"}`, `{"Name":"edit","Room":"r","Seq":4,"Text":"fixed"}`},
		{"react", `{"room":"r","seq":4,"emoji":"👍"}`, `{"Name":"react","Room":"r","Seq":4,"Emoji":"👍"}`},
		{"react", `{"room":"r","seq":4,"emoji":"👍","remove":true}`, `{"Name":"react","Room":"r","Seq":4,"Emoji":"👍","Remove":true}`},
		{"changes", `{"room":"r","after":7,"limit":50}`, `{"Name":"changes","Room":"r","After":7,"Limit":50}`},
		{"changes", `{"room":"r"}`, `{"Name":"changes","Room":"r"}`},
		{"mark", `{"room":"r","read":9}`, `{"Name":"mark","Room":"r","Read":9}`},
		{"mark", `{"room":"r","delivered":10}`, `{"Name":"mark","Room":"r","Delivered":10}`},
		{"seen", `{"room":"r","seq":3}`, `{"Name":"seen","Room":"r","Seq":3}`},
	} {
		want := normalize(t, tc.want)
		cmd, err := DecodeArg(tc.name, json.RawMessage(tc.arg))
		if got := js(cmd); err != nil || got != want {
			t.Errorf("DecodeArg(%s, %s) = %s, %v\nwant %s", tc.name, tc.arg, got, err, want)
		}
		frame := `{"type":"` + tc.name + `","ref":1,` + strings.TrimPrefix(tc.arg, "{")
		if _, cmd, err := DecodeFrame([]byte(frame)); js(cmd) != want || err != nil {
			t.Errorf("DecodeFrame(%s) = %s, %v", frame, js(cmd), err)
		}
		if cmd, err := DecodeBody(tc.name, []byte(tc.arg), nil); js(cmd) != want || err != nil {
			t.Errorf("DecodeBody(%s, %s) = %s, %v", tc.name, tc.arg, js(cmd), err)
		}
	}
	for _, tc := range []struct {
		name, arg string
		code      chat.Code
		msg       string
	}{
		{"edit", `{"room":"r","seq":1}`, chat.CodeInvalidArgument, `edit: field "text" is missing`},
		{"edit", `{"room":"r","text":"x"}`, chat.CodeInvalidArgument, `edit: field "seq" is missing`},
		{"edit", `{"seq":1,"text":"x"}`, chat.CodeInvalidRoom, `edit: field "room" is missing`},
		{"edit", "{\"room\":\"r\",\"seq\":1,\"text\":\"\\ud800\"}", chat.CodeInvalidMessage, "not valid UTF-8"},
		{"react", `{"room":"r","seq":1}`, chat.CodeInvalidArgument, `react: field "emoji" is missing`},
		{"react", `{"room":"r","emoji":"👍"}`, chat.CodeInvalidArgument, `react: field "seq" is missing`},
		{"react", `{"room":"r","seq":1,"emoji":"👍","remove":"yes"}`, chat.CodeInvalidArgument, `field "remove" must be a boolean`},
		{"changes", `{"room":"r","after":"x"}`, chat.CodeInvalidArgument, `field "after" must be an integer`},
		{"mark", `{"room":"r"}`, chat.CodeInvalidArgument, `give "read" or "delivered"`},
		{"mark", `{"read":1}`, chat.CodeInvalidRoom, `field "room" is missing`},
		{"seen", `{"room":"r"}`, chat.CodeInvalidArgument, `seen: field "seq" is missing`},
		{"send", `{"room":"r","text":"x","replyTo":12}`, chat.CodeInvalidArgument, `field "replyTo" must be a string`},
	} {
		_, err := DecodeArg(tc.name, json.RawMessage(tc.arg))
		var ce *chat.Error
		if !errors.As(err, &ce) || ce.Code != tc.code || !strings.Contains(ce.Message, tc.msg) {
			t.Errorf("DecodeArg(%s, %s) = %v; want %s containing %q", tc.name, tc.arg, err, tc.code, tc.msg)
		}
	}
}

// The payloads of the events on messages, as every gateway sends them.
func TestMsgEventPayloadGolden(t *testing.T) {
	m := &chat.Message{ID: "7", Room: "r", Seq: 3, Sender: "Al", Text: "hi @bob", TS: 5, Edited: 6, Rev: 2,
		ReplyTo: &chat.Quote{ID: "5", Seq: 1, From: "bob", Text: "q?"}, Mentions: []string{"bob"},
		Reactions: []chat.Reaction{{Emoji: "👍", Count: 2, Users: []string{"bob", "cy"}}}}
	for _, c := range []struct {
		ev         *chat.Event
		name, want string
	}{
		{&chat.Event{Kind: chat.EventEdited, Room: "r", Message: m}, "edited",
			`{"id":"7","room":"r","seq":3,"from":"Al","text":"hi @bob","ts":5,"edited":6,"rev":2,"replyTo":{"id":"5","seq":1,"from":"bob","text":"q?"},` +
				`"reactions":[{"emoji":"👍","count":2,"users":["bob","cy"]}],"mentions":["bob"]}`},
		{&chat.Event{Kind: chat.EventReaction, Room: "r", Reaction: &chat.ReactionEvent{Room: "r", Seq: 3, Rev: 4, Emoji: "👍", Nickname: "cy", Added: false, Reactions: []chat.Reaction{}}},
			"reaction", `{"room":"r","seq":3,"rev":4,"emoji":"👍","nickname":"cy","added":false,"reactions":[]}`},
		{&chat.Event{Kind: chat.EventRead, Room: "r", Reads: &chat.Reads{Room: "r", Readers: []chat.ReadMark{{Room: "r", Nickname: "bob", Read: 3, Delivered: 4, TS: 9}}}},
			"read", `{"room":"r","readers":[{"room":"r","nickname":"bob","read":3,"delivered":4,"ts":9}]}`},
		{&chat.Event{Kind: chat.EventDeleted, Room: "r", Deleted: &chat.Deleted{Room: "r", Seq: 4, By: "Al", Rev: 5}},
			"deleted", `{"room":"r","seq":4,"by":"Al","rev":5}`},
	} {
		name, payload, err := EventPayload(c.ev)
		if err != nil || name != c.name || string(payload) != c.want {
			t.Errorf("EventPayload(%v) = %q %s, %v\nwant %q %s", c.ev.Kind, name, payload, err, c.name, c.want)
		}
	}
}
