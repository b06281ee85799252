package jsonproto

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/banter-chat/banter/chat"
)

func TestDecodeCommand(t *testing.T) {
	for _, tc := range []struct {
		in      string
		typ     string
		ref     string
		errCode chat.Code
		errMsg  string
	}{
		{in: `{"type":"send","ref":7,"room":"general","text":"hi"}`, typ: "send", ref: "7"},
		{in: `  {"type":"ping","ref":"a-1"}  `, typ: "ping", ref: `"a-1"`},
		{in: `{"type":"send","ref":null}`, typ: "send", ref: "null"},
		{in: ``, errCode: chat.CodeInvalidArgument, errMsg: "JSON object"},
		{in: `[1]`, errCode: chat.CodeInvalidArgument, errMsg: "JSON object"},
		{in: `{"ref":1}`, ref: "1", errCode: chat.CodeInvalidArgument, errMsg: `"type" is missing`},
		{in: `{"type":"send","ref":3,"text":5}`, ref: "3", errCode: chat.CodeInvalidArgument, errMsg: `field "text" must be a string, not number`},
		{in: `{"type":"send","ref":{"x":1}}`, errCode: chat.CodeInvalidArgument, errMsg: "ref must be"},
		{in: `{"type":"send","ref":true}`, errCode: chat.CodeInvalidArgument, errMsg: "ref must be"},
		{in: `{"type":"x",`, errCode: chat.CodeInvalidArgument, errMsg: "not valid JSON"},
		{in: `{"type":"send","text":"` + strings.Repeat("x", MaxFrameBytes) + `"}`, errCode: chat.CodeInvalidArgument, errMsg: "the limit is"},
	} {
		c, err := DecodeCommand([]byte(tc.in))
		name := tc.in[:min(len(tc.in), 50)]
		if tc.errCode == "" {
			if err != nil || c.Type != tc.typ || string(c.ID) != tc.ref {
				t.Errorf("%s: got %+v %v", name, c, err)
			}
			continue
		}
		code, msg := chat.ClientError(err)
		if code != tc.errCode || !strings.Contains(msg, tc.errMsg) || string(c.ID) != tc.ref {
			t.Errorf("%s: got ref %q, %s %q; want ref %q, %s containing %q", name, c.ID, code, msg, tc.ref, tc.errCode, tc.errMsg)
		}
	}
}

func TestEncodeGolden(t *testing.T) {
	m := &chat.Message{ID: "9", Room: "general", Seq: 3, Sender: "bob", Text: "hi\n\"you\"", TS: 1764108000000}
	for _, tc := range []struct {
		got  []byte
		want string
	}{
		{EncodeReply(json.RawMessage(`7`), SendResult{ID: "9", Room: "general", Seq: 3, TS: 1}),
			`{"type":"reply","ref":7,"ok":true,"id":"9","room":"general","seq":3,"ts":1}`},
		{EncodeReply(nil, nil), `{"type":"reply","ok":true}`},
		{EncodeReply(json.RawMessage(`"a"`), struct{}{}), `{"type":"reply","ref":"a","ok":true}`},
		{EncodeFailure(json.RawMessage(`1`), ErrorFor(chat.ErrNotMember)),
			`{"type":"reply","ref":1,"ok":false,"error":{"code":"not_member","message":"not a member of this room"}}`},
		{EncodeBye("shutdown"), `{"type":"bye","data":{"reason":"shutdown"}}`},
		{must(EncodeChatEvent(&chat.Event{Kind: chat.EventMessage, Room: "general", Message: m})),
			`{"type":"message","data":{"id":"9","room":"general","seq":3,"from":"bob","text":"hi\n\"you\"","ts":1764108000000}}`},
		{must(EncodeChatEvent(&chat.Event{Kind: chat.EventTyping, Room: "general", Typing: &chat.Typing{Room: "general", Nicknames: []string{}}})),
			`{"type":"typing","data":{"room":"general","nicknames":[]}}`},
		{must(EncodeChatEvent(&chat.Event{Kind: chat.EventDisconnect})), ``},
		{encodePong(nil), `{"type":"pong"}`},
		{encodePong(json.RawMessage(`4`)), `{"type":"pong","ref":4}`},
	} {
		if string(tc.got) != tc.want {
			t.Errorf("got  %s\nwant %s", tc.got, tc.want)
		}
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func TestOutbox(t *testing.T) {
	o := NewOutbox(10)
	if !o.Push([]byte("123456"), false) || !o.Push([]byte("x"), true) {
		t.Fatal("push refused")
	}
	frames, closed, overflow := o.Take()
	if len(frames) != 1 || closed || overflow { // the lossy frame was dropped behind a backlog
		t.Fatalf("take: %q %v %v", frames, closed, overflow)
	}
	o.Push([]byte("123456"), false)
	if o.Push([]byte("789012"), false) {
		t.Fatal("a frame past the bound was queued")
	}
	if _, _, overflow := o.Take(); !overflow {
		t.Fatal("no overflow reported")
	}
	if o.Push([]byte("a"), false) {
		t.Fatal("push after overflow accepted")
	}
	o2 := NewOutbox(10)
	o2.Push([]byte("bye"), false)
	o2.Close()
	if frames, closed, _ := o2.Take(); len(frames) != 1 || !closed {
		t.Fatalf("close: %q %v", frames, closed)
	}
}

func FuzzDecodeCommand(f *testing.F) {
	f.Add([]byte(`{"type":"send","ref":1,"room":"general","text":"hi"}`))
	f.Add([]byte(`{"type":"hello","nickname":"a","since":{"general":3}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := DecodeCommand(data)
		if err != nil {
			if chat.ErrorCode(err) != chat.CodeInvalidArgument {
				t.Fatalf("error code %s", chat.ErrorCode(err))
			}
			return
		}
		if c.Type == "" {
			t.Fatal("accepted without a type")
		}
		if c.HasID() && !json.Valid(EncodeReply(c.ID, nil)) {
			t.Fatalf("reply with ref %q is not JSON", c.ID)
		}
	})
}
