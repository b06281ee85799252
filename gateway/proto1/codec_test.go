package proto1

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/banter-chat/banter/chat"
)

// A command decodes the same from a Socket.IO argument and from a /ws
// frame, wherever the framing's shapes agree.
func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		name, arg string
		want      string // the command, as JSON
	}{
		{"hello", `{"nickname":"Al","rooms":["a"],"since":{"z":4,"b":0},"watchUsers":true,"resume":"r","token":"t"}`,
			`{"Name":"hello","Nickname":"Al","Rooms":["a"],"Since":[{"Room":"z","Seq":4},{"Room":"b","Seq":0}],"WatchUsers":true,"Resume":"r","Token":"t"}`},
		{"hello", `{}`, `{"Name":"hello"}`},
		{"join", `{"room":"general","after":41,"limit":100}`, `{"Name":"join","Room":"general","After":41,"Limit":100}`},
		{"send", `{"room":"r","text":"hi","clientId":"c","rooms":"ignored"}`, `{"Name":"send","Room":"r","Text":"hi","ClientID":"c"}`},
		{"dm", `{"to":"Bob","text":""}`, `{"Name":"dm","To":"Bob","Text":""}`},
		{"history", `{"room":"r","before":20,"limit":5}`, `{"Name":"history","Room":"r","Before":20,"Limit":5}`},
		{"since", `{"room":"r","after":3}`, `{"Name":"since","Room":"r","After":3}`},
		{"typing", `{"room":"r","typing":false}`, `{"Name":"typing","Room":"r","Typing":false}`},
		{"kick", `{"nickname":"troll","reason":"spam"}`, `{"Name":"kick","Nickname":"troll","Reason":"spam"}`},
		{"delete", `{"room":"r","seq":42}`, `{"Name":"delete","Room":"r","Seq":42}`},
		{"rooms", ``, `{"Name":"rooms"}`},
	} {
		want := normalize(t, tc.want)
		cmd, err := DecodeArg(tc.name, json.RawMessage(tc.arg))
		if got := js(cmd); err != nil || got != want {
			t.Errorf("DecodeArg(%s, %s) = %s, %v\nwant %s", tc.name, tc.arg, got, err, want)
		}
		frame := `{"type":"` + tc.name + `","ref":1,` + strings.TrimPrefix(tc.arg, "{")
		if tc.arg == "" || tc.arg == "{}" {
			frame = `{"type":"` + tc.name + `","ref":1}`
		}
		ref, cmd, err := DecodeFrame([]byte(frame))
		if got := js(cmd); err != nil || got != want || string(ref) != "1" {
			t.Errorf("DecodeFrame(%s) = %s %s, %v\nwant %s", frame, ref, got, err, want)
		}
	}
	// Socket.IO's string forms; the frame's objects.
	for _, tc := range []struct {
		name, arg, frame, want string
	}{
		{"nick", `"Alicia"`, `{"type":"nick","nickname":"Alicia"}`, `{"Name":"nick","Nickname":"Alicia"}`},
		{"leave", `"general"`, `{"type":"leave","room":"general"}`, `{"Name":"leave","Room":"general"}`},
		{"join", `"general"`, `{"type":"join","room":"general"}`, `{"Name":"join","Room":"general"}`},
	} {
		want := normalize(t, tc.want)
		if cmd, err := DecodeArg(tc.name, json.RawMessage(tc.arg)); js(cmd) != want || err != nil {
			t.Errorf("DecodeArg(%s, %s) = %s, %v", tc.name, tc.arg, js(cmd), err)
		}
		if _, cmd, err := DecodeFrame([]byte(tc.frame)); js(cmd) != want || err != nil {
			t.Errorf("DecodeFrame(%s) = %s, %v", tc.frame, js(cmd), err)
		}
	}
}

func normalize(t *testing.T, s string) string {
	var c Command
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		t.Fatal(err)
	}
	return js(c)
}

func js(v any) string { b, _ := json.Marshal(v); return string(b) }

// Every bad input is a *chat.Error with the code of docs/protocol.md and a
// message naming the culprit; the codes are the same on every gateway.
func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		name, arg string
		code      chat.Code
		msg       string
	}{
		{"hello", ``, chat.CodeInvalidArgument, "hello: the argument is missing"},
		{"hello", `"Bob"`, chat.CodeInvalidArgument, "hello must be an object, not string"},
		{"hello", `{"nickname":5}`, chat.CodeInvalidArgument, `hello: field "nickname" must be a string, not number`},
		{"hello", `{"rooms":"general"}`, chat.CodeInvalidArgument, `field "rooms" must be an array`},
		{"hello", `{"since":{"general":-1}}`, chat.CodeInvalidArgument, `"since" must be an object`},
		{"hello", `{"since":[1]}`, chat.CodeInvalidArgument, `"since" must be an object`},
		{"hello", `{"since":{"a":1.5}}`, chat.CodeInvalidArgument, `"since" must be an object`},
		{"hello", `{"rooms":[` + strings.Repeat(`"r",`, 50) + `"r"]}`, chat.CodeInvalidArgument, "at most 50 rooms"},
		{"nick", `42`, chat.CodeInvalidArgument, "nick: the nickname must be a string, not number"},
		{"nick", `{"nickname":"x"}`, chat.CodeInvalidArgument, "nick: the nickname must be a string, not object"},
		{"nick", ``, chat.CodeInvalidArgument, "nick: the nickname is missing"},
		{"leave", `{"room":"general"}`, chat.CodeInvalidArgument, "leave: the room must be a string"},
		{"join", `{"room":5}`, chat.CodeInvalidArgument, `join: field "room" must be a string`},
		{"join", `{"limit":1}`, chat.CodeInvalidRoom, `join: field "room" is missing`},
		{"send", `{"room":"general"}`, chat.CodeInvalidArgument, `send: field "text" is missing`},
		{"send", `{"text":"x"}`, chat.CodeInvalidRoom, `send: field "room" is missing`},
		{"send", `{"room":"general","text":5}`, chat.CodeInvalidArgument, `send: field "text" must be a string, not number`},
		{"send", `"general"`, chat.CodeInvalidArgument, "send must be an object, not string"},
		{"send", `["general","hi"]`, chat.CodeInvalidArgument, "send must be an object, not array"},
		{"send", `{"room":"general","text":"hi","clientId":{}}`, chat.CodeInvalidArgument, `field "clientId" must be a string`},
		{"dm", `{"text":"x"}`, chat.CodeInvalidNickname, `dm: field "to" is missing`},
		{"history", `{"room":"general","before":"x"}`, chat.CodeInvalidArgument, `field "before" must be an integer, not string`},
		{"history", `{"room":""}`, chat.CodeInvalidRoom, `"room" is missing`},
		{"since", `{"room":"general","after":1.5}`, chat.CodeInvalidArgument, `field "after" must be an integer`},
		{"typing", `{"room":"general","typing":"yes"}`, chat.CodeInvalidArgument, `field "typing" must be a boolean`},
		{"typing", `{"room":"general"}`, chat.CodeInvalidArgument, `field "typing" is missing`},
		{"kick", `{"reason":"x"}`, chat.CodeInvalidNickname, `field "nickname" is missing`},
		{"delete", `{"seq":1}`, chat.CodeInvalidRoom, `field "room" is missing`},
		{"teleport", `{}`, chat.CodeInvalidArgument, `unknown command "teleport"`},
		{"send", `{"room":`, chat.CodeInvalidArgument, "send: not valid JSON"},
	} {
		_, err := DecodeArg(tc.name, json.RawMessage(tc.arg))
		var ce *chat.Error
		if !errors.As(err, &ce) || ce.Code != tc.code || !strings.Contains(ce.Message, tc.msg) {
			t.Errorf("DecodeArg(%s, %s) = %v; want %s containing %q", tc.name, tc.arg, err, tc.code, tc.msg)
		}
	}
}

// encoding/json turns invalid UTF-8 and escaped lone surrogates into
// U+FFFD without an error: every decoder refuses them instead, as
// invalid_message where the input carries message text.
func TestInvalidText(t *testing.T) {
	bad := []string{
		"{\"room\":\"general\",\"text\":\"bad \xff here\"}",
		`{"room":"general","text":"lone \ud800 high"}`,
		`{"room":"general","text":"lone \udc00 low"}`,
		`{"room":"general","text":"reversed \udc00\ud800"}`,
		`{"room":"general","text":"high then text \ud83dx"}`,
		`{"room":"general","text":"high at the end \ud83d"}`,
		`{"room":"general","text":"high, escaped char \ud83d\n"}`,
	}
	for _, in := range bad {
		if _, err := DecodeArg("send", json.RawMessage(in)); chat.ErrorCode(err) != chat.CodeInvalidMessage {
			t.Errorf("send %q: %v, want invalid_message", in, err)
		}
		if _, err := DecodeBody("dm", []byte(in), nil); chat.ErrorCode(err) != chat.CodeInvalidMessage {
			t.Errorf("dm body %q: %v, want invalid_message", in, err)
		}
		if _, _, err := DecodeFrame([]byte(`{"type":"send",` + in[1:])); chat.ErrorCode(err) != chat.CodeInvalidMessage {
			t.Errorf("send frame %q: %v, want invalid_message", in, err)
		}
		if _, err := DecodeArg("join", json.RawMessage(in)); chat.ErrorCode(err) != chat.CodeInvalidArgument {
			t.Errorf("join %q: %v, want invalid_argument", in, err)
		}
	}
	for _, in := range []string{
		`{"room":"general","text":"pair \ud83d\ude00 ok, \\ud800 is text, \"quoted\" \\\\"}`,
		`{"room":"general","text":"é ✓ 😀 \u00e9 \uffff"}`,
	} {
		cmd, err := DecodeArg("send", json.RawMessage(in))
		if err != nil {
			t.Errorf("send %s: %v", in, err)
			continue
		}
		var want struct{ Text string }
		_ = json.Unmarshal([]byte(in), &want)
		if *cmd.Text != want.Text || strings.ContainsRune(*cmd.Text, '\ufffd') {
			t.Errorf("send %s: text %q", in, *cmd.Text)
		}
	}
}

func TestDecodeFrame(t *testing.T) {
	for _, tc := range []struct {
		in      string
		name    string
		ref     string
		errCode chat.Code
		errMsg  string
	}{
		{in: `{"type":"send","ref":7,"room":"general","text":"hi"}`, name: "send", ref: "7"},
		{in: `  {"type":"ping","ref":"a-1"}  `, name: "ping", ref: `"a-1"`},
		{in: `{"type":"pong"}`, name: "pong"},
		{in: `{"type":"rooms","ref":null}`, name: "rooms"},
		{in: ``, errCode: chat.CodeInvalidArgument, errMsg: "JSON object"},
		{in: `[1]`, errCode: chat.CodeInvalidArgument, errMsg: "JSON object"},
		{in: `{"ref":1}`, ref: "1", errCode: chat.CodeInvalidArgument, errMsg: `"type" is missing`},
		{in: `{"type":"send","ref":3,"text":5}`, name: "send", ref: "3", errCode: chat.CodeInvalidArgument, errMsg: `field "text" must be a string, not number`},
		{in: `{"type":7,"ref":3}`, ref: "3", errCode: chat.CodeInvalidArgument, errMsg: `field "type" must be a string`},
		{in: `{"type":"send","ref":{"x":1}}`, errCode: chat.CodeInvalidArgument, errMsg: "ref must be"},
		{in: `{"type":"send","ref":true}`, errCode: chat.CodeInvalidArgument, errMsg: "ref must be"},
		{in: `{"type":"x",`, errCode: chat.CodeInvalidArgument, errMsg: "not valid JSON"},
		{in: `{"type":"fly","ref":2}`, name: "fly", ref: "2", errCode: chat.CodeInvalidArgument, errMsg: `unknown command "fly"`},
		{in: `{"type":"send","text":"` + strings.Repeat("x", MaxFrameBytes) + `"}`, errCode: chat.CodeInvalidArgument, errMsg: "the limit is"},
	} {
		ref, cmd, err := DecodeFrame([]byte(tc.in))
		label := tc.in[:min(len(tc.in), 50)]
		if tc.errCode == "" {
			if err != nil || cmd.Name != tc.name || string(ref) != tc.ref {
				t.Errorf("%s: got %q %+v %v", label, ref, cmd, err)
			}
			continue
		}
		code, msg := chat.ClientError(err)
		if code != tc.errCode || !strings.Contains(msg, tc.errMsg) || string(ref) != tc.ref || cmd.Name != tc.name {
			t.Errorf("%s: got ref %q name %q, %s %q; want ref %q name %q, %s containing %q", label, ref, cmd.Name, code, msg, tc.ref, tc.name, tc.errCode, tc.errMsg)
		}
	}
}

func TestDecodeBody(t *testing.T) {
	if cmd, err := DecodeBody(CmdJoin, nil, nil); err == nil || chat.ErrorCode(err) != chat.CodeInvalidRoom || cmd.Name != CmdJoin {
		t.Errorf("empty body is {}: %+v %v", cmd, err)
	}
	if _, err := DecodeBody(CmdSend, []byte(`nope`), nil); err == nil || !strings.Contains(err.Error(), "the request body must be a JSON object") {
		t.Errorf("non-object body: %v", err)
	}
	if _, err := DecodeBody(CmdSend, []byte(`{"room":"r","text":5}`), nil); err == nil || !strings.HasPrefix(err.Error(), `invalid_argument: field "text" must be`) {
		t.Errorf("body errors name no command: %v", err)
	}
}

// The wire forms of docs/protocol.md, byte for byte.
func TestEncodeGolden(t *testing.T) {
	m := &chat.Message{ID: "9", Room: "general", Seq: 3, Sender: "bob", Text: "hi\n\"you\"", TS: 1764108000000}
	join := chat.JoinResult{Room: "general", Members: []string{"bob"}, MemberCount: 1, LastSeq: 3, Messages: []chat.Message{}}
	for _, tc := range []struct {
		got  []byte
		want string
	}{
		{EncodeReply(json.RawMessage(`7`), SendResult{ID: "9", Room: "general", Seq: 3, TS: 1}, nil),
			`{"type":"reply","ref":7,"ok":true,"id":"9","room":"general","seq":3,"ts":1}`},
		{EncodeReply(nil, nil, nil), `{"type":"reply","ok":true}`},
		{EncodeReply(json.RawMessage(`"a"`), join, nil),
			`{"type":"reply","ref":"a","ok":true,"room":"general","members":["bob"],"memberCount":1,"lastSeq":3,"messages":[],"more":false}`},
		{EncodeReply(json.RawMessage(`1`), nil, chat.ErrNotMember),
			`{"type":"reply","ref":1,"ok":false,"error":{"code":"not_member","message":"not a member of this room"}}`},
		{Ack(nil), `{"ok":true}`},
		{Ack(SendResult{ID: "9", Room: "general", Seq: 3, TS: 1, Duplicate: true}), `{"ok":true,"id":"9","room":"general","seq":3,"ts":1,"duplicate":true}`},
		{Ack(HelloResult{Protocol: 1, ID: "i", Nickname: "bob", Token: "t", DefaultRoom: "general",
			Rooms: []JoinOutcome{{Room: "general", Result: join}, {Room: "bad room!", Err: chat.ErrInvalidRoom}}}),
			`{"ok":true,"protocol":1,"id":"i","nickname":"bob","token":"t","limits":{"maxMessageBytes":0,"pageLimit":0,"maxPageLimit":0,"typingTtlMs":0,"rateBurst":0,"ratePerSecond":0,"maxRooms":0},"defaultRoom":"general","rooms":[` +
				`{"ok":true,"room":"general","members":["bob"],"memberCount":1,"lastSeq":3,"messages":[],"more":false},` +
				`{"room":"bad room!","ok":false,"error":{"code":"invalid_room","message":"` + chat.ErrInvalidRoom.Message + `"}}]}`},
		{Failure(chat.ErrNotMember), `{"ok":false,"error":{"code":"not_member","message":"not a member of this room"}}`},
		{EncodeBye(&chat.Disconnect{Reason: chat.ReasonShutdown}), `{"type":"bye","data":{"reason":"shutdown"}}`},
		{EncodeBye(&chat.Disconnect{Reason: chat.ReasonKicked, By: "mod", Message: "spam"}), `{"type":"bye","data":{"reason":"kicked","by":"mod","message":"spam"}}`},
		{EncodeError(chat.ErrNotMember, "send"), `{"type":"error","data":{"code":"not_member","message":"not a member of this room","command":"send"}}`},
		{EncodeError(chat.ErrNotMember, ""), `{"type":"error","data":{"code":"not_member","message":"not a member of this room"}}`},
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

// FuzzDecodeArg feeds a Socket.IO event array (as a client sends it) to
// the decoder: it never panics, every failure is a clear *chat.Error, and
// an accepted command's text is exactly what the JSON meant (no U+FFFD
// that the client did not send).
func FuzzDecodeArg(f *testing.F) {
	for _, s := range []string{
		`["hello",{"nickname":"w0","since":{"alpha":12,"beta":9}}]`,
		`["hello",{"nickname":"Alice","rooms":["general","random"],"watchUsers":true}]`,
		`["send",{"room":"alpha","text":"w0 says 17","clientId":"w0-17"}]`,
		`["dm",{"to":"Bob","text":"psst \ud83d\ude00","clientId":"c-18"}]`,
		`["join",{"room":"general","after":41,"limit":100}]`,
		`["join","general"]`,
		`["since",{"room":"general","after":0,"limit":200}]`,
		`["typing",{"room":"lobby","typing":true}]`,
		`["nick","Alicia"]`,
		`["send",{"room":5,"text":"hi"}]`,
		"[\"send\",{\"room\":\"general\",\"text\":\"bad \xff here\"}]",
		`["send",{"room":"general","text":"\ud800"}]`,
		`["hello",{"nickname":"a","since":{"a":1,"a":2}}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var args []json.RawMessage
		if json.Unmarshal(data, &args) != nil || len(args) == 0 {
			return
		}
		var name string
		if json.Unmarshal(args[0], &name) != nil {
			return
		}
		var arg json.RawMessage
		if len(args) > 1 {
			arg = args[1]
		}
		cmd, err := DecodeArg(name, arg)
		if err != nil {
			var ce *chat.Error
			if !errors.As(err, &ce) || ce.Code == "" || ce.Message == "" {
				t.Fatalf("%q: %v is not a clear chat error", data, err)
			}
			return
		}
		if cmd.Text != nil && strings.ContainsRune(*cmd.Text, '\ufffd') && !strings.Contains(string(data), "\ufffd") && !strings.Contains(strings.ToLower(string(data)), `\ufffd`) {
			t.Fatalf("%q: text %q has a replacement character the client did not send", data, *cmd.Text)
		}
	})
}

// FuzzDecodeFrame: the JSON framing's decoder never panics, fails with
// invalid_argument or invalid_message only, and a ref it returns can be
// echoed in a valid reply.
func FuzzDecodeFrame(f *testing.F) {
	f.Add([]byte(`{"type":"send","ref":1,"room":"general","text":"hi"}`))
	f.Add([]byte(`{"type":"hello","nickname":"a","since":{"general":3}}`))
	f.Add([]byte(`{"type":"ping","ref":"x"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ref, cmd, err := DecodeFrame(data)
		if err != nil {
			switch chat.ErrorCode(err) {
			case chat.CodeInvalidArgument, chat.CodeInvalidMessage, chat.CodeInvalidRoom, chat.CodeInvalidNickname:
			default:
				t.Fatalf("error code %s", chat.ErrorCode(err))
			}
		} else if cmd.Name == "" {
			t.Fatal("accepted without a type")
		}
		if ref != nil && !json.Valid(EncodeReply(ref, nil, err)) {
			t.Fatalf("reply with ref %q is not JSON", ref)
		}
	})
}

func TestOrderedSince(t *testing.T) {
	got, err := orderedSince(json.RawMessage(`{"zeta": 4, "alpha": 0, "mid": 17}`), "hello")
	want := []RoomSeq{{"zeta", 4}, {"alpha", 0}, {"mid", 17}}
	if err != nil || len(got) != len(want) {
		t.Fatalf("orderedSince = %v, %v", got, err)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d = %v, want %v (order of the keys as sent)", i, got[i], want[i])
		}
	}
	if got, err := orderedSince(json.RawMessage(`null`), "hello"); got != nil || err != nil {
		t.Errorf("null since = %v, %v", got, err)
	}
	for _, bad := range []string{`[]`, `{"a": -1}`, `{"a": 1.5}`, `{"a": "3"}`, `{"a": 1`, `"x"`, `{"a": 99999999999999999999}`} {
		if _, err := orderedSince(json.RawMessage(bad), "hello"); !errors.Is(err, chat.ErrInvalidArgument) {
			t.Errorf("orderedSince(%s) = %v, want invalid_argument", bad, err)
		}
	}
}

// The payload of every event kind, as every gateway sends it.
func TestEventPayloadGolden(t *testing.T) {
	for _, c := range []struct {
		ev         *chat.Event
		name, want string
	}{
		{&chat.Event{Kind: chat.EventMessage, Room: "general", Message: &chat.Message{ID: "7", Room: "general", Seq: 3, Sender: "Al", Text: "hi \"x\"", TS: 5}},
			"message", `{"id":"7","room":"general","seq":3,"from":"Al","text":"hi \"x\"","ts":5}`},
		{&chat.Event{Kind: chat.EventPresence, Room: "r", Presence: &chat.Presence{Room: "r", Nickname: "b", Action: chat.PresenceLeft}},
			"presence", `{"room":"r","nickname":"b","action":"left"}`},
		{&chat.Event{Kind: chat.EventTyping, Room: "r", Typing: &chat.Typing{Room: "r", Nicknames: []string{}}},
			"typing", `{"room":"r","nicknames":[]}`},
		{&chat.Event{Kind: chat.EventUser, User: &chat.UserEvent{User: chat.User{ID: "1", Nickname: "b", Since: 2}, Status: chat.UserRenamed, From: "a"}},
			"user", `{"id":"1","nickname":"b","since":2,"status":"renamed","from":"a"}`},
		{&chat.Event{Kind: chat.EventDeleted, Room: "r", Deleted: &chat.Deleted{Room: "r", Seq: 4, By: "mod"}},
			"deleted", `{"room":"r","seq":4,"by":"mod"}`},
		{&chat.Event{Kind: chat.EventDisconnect, Disconnect: &chat.Disconnect{}}, "", ``},
	} {
		name, payload, err := EventPayload(c.ev)
		if err != nil || name != c.name || string(payload) != c.want {
			t.Errorf("EventPayload(%v) = %q %s, %v\nwant %q %s", c.ev.Kind, name, payload, err, c.name, c.want)
		}
	}
}
