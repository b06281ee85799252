package parser

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// goldenFrames pairs raw frames with the packet they carry. Frames marked canonical
// were produced by npm socket.io-parser 4.2.7 (v5) or 3.4.5 (v4) encoding that packet,
// so Encode must reproduce them byte for byte; the others are inputs those parsers
// accept that an encoder never writes.
var goldenFrames = []struct {
	name      string
	text      string
	bins      [][]byte
	canonical bool
	want      Packet
}{
	// CONNECT
	{"connect main", "0", nil, true, Packet{Type: Connect, Namespace: "/"}},
	{"connect nsp", "0/admin,", nil, true, Packet{Type: Connect, Namespace: "/admin"}},
	{"connect nsp without comma", "0/admin", nil, false, Packet{Type: Connect, Namespace: "/admin"}},
	{"connect explicit main nsp", "0/,", nil, false, Packet{Type: Connect, Namespace: "/"}},
	{"connect auth", `0{"token":"123"}`, nil, true,
		Packet{Type: Connect, Namespace: "/", Data: json.RawMessage(`{"token":"123"}`)}},
	{"connect reply", `0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}`, nil, true,
		Packet{Type: Connect, Namespace: "/admin", Data: json.RawMessage(`{"sid":"oSO0OpakMV_3jnilAAAA"}`)}},
	{"v4 connect query", "0/admin?token=1&uid=abcd,", nil, true,
		Packet{Type: Connect, Namespace: "/admin", Query: "token=1&uid=abcd"}},
	{"v4 connect main query", "0/?token=1,", nil, true, Packet{Type: Connect, Namespace: "/", Query: "token=1"}},
	{"v4 connect query without comma", "0/admin?x=%2C", nil, false,
		Packet{Type: Connect, Namespace: "/admin", Query: "x=%2C"}},
	{"v4 connect empty query", "0/admin?,", nil, false, Packet{Type: Connect, Namespace: "/admin"}},

	// DISCONNECT
	{"disconnect main", "1", nil, true, Packet{Type: Disconnect, Namespace: "/"}},
	{"disconnect nsp", "1/admin,", nil, true, Packet{Type: Disconnect, Namespace: "/admin"}},

	// EVENT
	{"event", `2["chat message","hi"]`, nil, true,
		Packet{Type: Event, Namespace: "/", Data: json.RawMessage(`["chat message","hi"]`)}},
	{"event ack id", `212["foo"]`, nil, true,
		Packet{Type: Event, Namespace: "/", ID: 12, HasID: true, Data: json.RawMessage(`["foo"]`)}},
	{"event nsp ack id", `2/admin,456["project:delete",123]`, nil, true,
		Packet{Type: Event, Namespace: "/admin", ID: 456, HasID: true, Data: json.RawMessage(`["project:delete",123]`)}},
	{"event ack id 0", `20["a"]`, nil, true,
		Packet{Type: Event, Namespace: "/", ID: 0, HasID: true, Data: json.RawMessage(`["a"]`)}},
	{"event max safe id", `29007199254740991["big"]`, nil, true,
		Packet{Type: Event, Namespace: "/", ID: 9007199254740991, HasID: true, Data: json.RawMessage(`["big"]`)}},
	{"event max uint64 id", `218446744073709551615["big"]`, nil, true,
		Packet{Type: Event, Namespace: "/", ID: 18446744073709551615, HasID: true, Data: json.RawMessage(`["big"]`)}},
	{"event id leading zeros", `2012["a"]`, nil, false,
		Packet{Type: Event, Namespace: "/", ID: 12, HasID: true, Data: json.RawMessage(`["a"]`)}},
	{"event numeric name", `2[1,2]`, nil, true, Packet{Type: Event, Namespace: "/", Data: json.RawMessage(`[1,2]`)}},
	{"event explicit main nsp", `2/,["a"]`, nil, false, Packet{Type: Event, Namespace: "/", Data: json.RawMessage(`["a"]`)}},
	{"event trailing space", `2["a"] `, nil, true, Packet{Type: Event, Namespace: "/", Data: json.RawMessage(`["a"] `)}},
	{"event inner spaces", `2[ "a" , 1 ]`, nil, true, Packet{Type: Event, Namespace: "/", Data: json.RawMessage(`[ "a" , 1 ]`)}},
	{"event escaped reserved-looking name", `2["\u0063onnect2"]`, nil, true,
		Packet{Type: Event, Namespace: "/", Data: json.RawMessage(`["\u0063onnect2"]`)}},
	{"event placeholder-looking object without binary", `2["a",{"_placeholder":true,"num":0}]`, nil, true,
		Packet{Type: Event, Namespace: "/", Data: json.RawMessage(`["a",{"_placeholder":true,"num":0}]`)}},
	{"event unicode", "2[\"msg\",\"héllo <b>&amp;\\\"\\\\\\n\\t\\u0001\\u001f\u007f\u2028 😀\",1.5,-0.000001,1e-7,1e+21,123456789012,true,null,{}]", nil, true,
		Packet{Type: Event, Namespace: "/", Data: json.RawMessage("[\"msg\",\"héllo <b>&amp;\\\"\\\\\\n\\t\\u0001\\u001f\u007f\u2028 😀\",1.5,-0.000001,1e-7,1e+21,123456789012,true,null,{}]")}},
	{"v4 event nsp id", `2/chat,3["message",{"text":"hi"}]`, nil, true,
		Packet{Type: Event, Namespace: "/chat", ID: 3, HasID: true, Data: json.RawMessage(`["message",{"text":"hi"}]`)}},
	{"event nsp with query is not split", `2/admin?x=1,["a"]`, nil, true,
		Packet{Type: Event, Namespace: "/admin?x=1", Data: json.RawMessage(`["a"]`)}},

	// ACK
	{"ack empty", `312[]`, nil, true, Packet{Type: Ack, Namespace: "/", ID: 12, HasID: true, Data: json.RawMessage(`[]`)}},
	{"ack nsp", `3/admin,13["bar"]`, nil, true,
		Packet{Type: Ack, Namespace: "/admin", ID: 13, HasID: true, Data: json.RawMessage(`["bar"]`)}},
	{"ack without payload", `37`, nil, true, Packet{Type: Ack, Namespace: "/", ID: 7, HasID: true}},

	// CONNECT_ERROR
	{"connect error", `4{"message":"Not authorized"}`, nil, true,
		Packet{Type: ConnectError, Namespace: "/", Data: json.RawMessage(`{"message":"Not authorized"}`)}},
	{"connect error data", `4/admin,{"message":"nope","data":{"code":42}}`, nil, true,
		Packet{Type: ConnectError, Namespace: "/admin", Data: json.RawMessage(`{"message":"nope","data":{"code":42}}`)}},
	{"v4 error string", `4/admin,"Not authorized"`, nil, true,
		Packet{Type: ConnectError, Namespace: "/admin", Data: json.RawMessage(`"Not authorized"`)}},
	{"connect error without payload", `4`, nil, true, Packet{Type: ConnectError, Namespace: "/"}},

	// BINARY_EVENT / BINARY_ACK
	{"binary event", `51-["baz",{"_placeholder":true,"num":0}]`, [][]byte{{1, 2, 3, 4}}, true,
		Packet{Type: BinaryEvent, Namespace: "/", Data: json.RawMessage(`["baz",{"_placeholder":true,"num":0}]`),
			Attachments: [][]byte{{1, 2, 3, 4}}}},
	{"binary event nested nsp id",
		`52-/admin,14["upload",{"file":{"_placeholder":true,"num":0},"meta":{"name":"a"}},{"_placeholder":true,"num":1}]`,
		[][]byte{{0xde, 0xad}, {0xbe, 0xef}}, true,
		Packet{Type: BinaryEvent, Namespace: "/admin", ID: 14, HasID: true,
			Data:        json.RawMessage(`["upload",{"file":{"_placeholder":true,"num":0},"meta":{"name":"a"}},{"_placeholder":true,"num":1}]`),
			Attachments: [][]byte{{0xde, 0xad}, {0xbe, 0xef}}}},
	{"binary ack", `61-15["bar",{"_placeholder":true,"num":0}]`, [][]byte{{1, 2, 3, 4}}, true,
		Packet{Type: BinaryAck, Namespace: "/", ID: 15, HasID: true, Data: json.RawMessage(`["bar",{"_placeholder":true,"num":0}]`),
			Attachments: [][]byte{{1, 2, 3, 4}}}},
	{"v4 binary ack nsp", `61-/admin,7[{"_placeholder":true,"num":0}]`, [][]byte{{9}}, true,
		Packet{Type: BinaryAck, Namespace: "/admin", ID: 7, HasID: true, Data: json.RawMessage(`[{"_placeholder":true,"num":0}]`),
			Attachments: [][]byte{{9}}}},
	{"binary placeholder reordered keys and extras", `51-["a",{"num":0,"_placeholder":true,"x":1}]`, [][]byte{{1}}, true,
		Packet{Type: BinaryEvent, Namespace: "/", Data: json.RawMessage(`["a",{"num":0,"_placeholder":true,"x":1}]`),
			Attachments: [][]byte{{1}}}},
	{"binary placeholder used twice, one unused", `52-["a",{"_placeholder":true,"num":1},{"_placeholder":true,"num":1}]`,
		[][]byte{{1}, {2}}, true,
		Packet{Type: BinaryEvent, Namespace: "/", Data: json.RawMessage(`["a",{"_placeholder":true,"num":1},{"_placeholder":true,"num":1}]`),
			Attachments: [][]byte{{1}, {2}}}},
	{"binary placeholder flag not boolean", `51-["a",{"_placeholder":"true","num":9}]`, [][]byte{{1}}, true,
		Packet{Type: BinaryEvent, Namespace: "/", Data: json.RawMessage(`["a",{"_placeholder":"true","num":9}]`),
			Attachments: [][]byte{{1}}}},
	{"binary empty attachment", `51-["a",{"_placeholder":true,"num":0}]`, [][]byte{{}}, true,
		Packet{Type: BinaryEvent, Namespace: "/", Data: json.RawMessage(`["a",{"_placeholder":true,"num":0}]`),
			Attachments: [][]byte{{}}}},
	{"binary ten attachments", `510-["a",{"_placeholder":true,"num":9}]`,
		[][]byte{{0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}, {8}, {9}}, true,
		Packet{Type: BinaryEvent, Namespace: "/", Data: json.RawMessage(`["a",{"_placeholder":true,"num":9}]`),
			Attachments: [][]byte{{0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}, {8}, {9}}}},
}

func TestDecodeGolden(t *testing.T) {
	for _, g := range goldenFrames {
		t.Run(g.name, func(t *testing.T) {
			var d Decoder
			p, done, err := d.AddText([]byte(g.text))
			if err != nil {
				t.Fatalf("AddText(%q): %v", g.text, err)
			}
			for i, b := range g.bins {
				if done {
					t.Fatalf("packet complete before attachment %d", i)
				}
				if d.Awaiting() != len(g.bins)-i {
					t.Fatalf("Awaiting() = %d before attachment %d of %d", d.Awaiting(), i, len(g.bins))
				}
				p, done, err = d.AddBinary(b)
				if err != nil {
					t.Fatalf("AddBinary #%d: %v", i, err)
				}
			}
			if !done {
				t.Fatalf("packet not complete after %d attachments", len(g.bins))
			}
			if d.Awaiting() != 0 {
				t.Fatalf("Awaiting() = %d after a complete packet", d.Awaiting())
			}
			if !packetsEqual(p, &g.want) {
				t.Fatalf("decoded %s\nwant    %s", dump(p), dump(&g.want))
			}
		})
	}
}

// TestDecodeGoldenOneDecoder decodes every golden frame with the same Decoder, as on
// one connection: no state may leak from one packet into the next.
func TestDecodeGoldenOneDecoder(t *testing.T) {
	var d Decoder
	for range 2 {
		for _, g := range goldenFrames {
			p, done, err := d.AddText([]byte(g.text))
			for i := 0; err == nil && !done && i < len(g.bins); i++ {
				p, done, err = d.AddBinary(g.bins[i])
			}
			if err != nil || !done {
				t.Fatalf("%s: done=%v err=%v", g.name, done, err)
			}
			if !packetsEqual(p, &g.want) {
				t.Fatalf("%s: decoded %s\nwant    %s", g.name, dump(p), dump(&g.want))
			}
		}
	}
}

func TestEncodeGolden(t *testing.T) {
	for _, g := range goldenFrames {
		if !g.canonical {
			continue
		}
		t.Run(g.name, func(t *testing.T) {
			if got := Encode(&g.want); string(got) != g.text {
				t.Fatalf("Encode = %q, want %q", got, g.text)
			}
			prefix := []byte("xyz")
			if got := AppendEncode(prefix, &g.want); string(got) != "xyz"+g.text {
				t.Fatalf("AppendEncode = %q, want %q", got, "xyz"+g.text)
			}
		})
	}
}

// TestEncodePromotion checks the type adjustments Encode makes so its output matches
// what socket.io-parser sends and accepts.
func TestEncodePromotion(t *testing.T) {
	att := [][]byte{{1}}
	ph := json.RawMessage(`["a",{"_placeholder":true,"num":0}]`)
	tests := []struct {
		name string
		p    Packet
		want string
	}{
		{"event with attachments", Packet{Type: Event, Data: ph, Attachments: att}, `51-["a",{"_placeholder":true,"num":0}]`},
		{"ack with attachments", Packet{Type: Ack, ID: 3, HasID: true, Data: ph, Attachments: att}, `61-3["a",{"_placeholder":true,"num":0}]`},
		{"binary event without attachments", Packet{Type: BinaryEvent, Data: json.RawMessage(`["a"]`)}, `2["a"]`},
		{"binary ack without attachments", Packet{Type: BinaryAck, ID: 1, HasID: true, Data: json.RawMessage(`[]`)}, `31[]`},
		{"empty namespace means main", Packet{Type: Event, Namespace: "", Data: json.RawMessage(`["a"]`)}, `2["a"]`},
		{"query only on connect", Packet{Type: Event, Namespace: "/a", Query: "x=1", Data: json.RawMessage(`["a"]`)}, `2/a,["a"]`},
		{"query on connect with empty namespace", Packet{Type: Connect, Query: "x=1"}, `0/?x=1,`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Encode(&tt.p); string(got) != tt.want {
				t.Fatalf("Encode = %q, want %q", got, tt.want)
			}
		})
	}
}

// bin marks a binary message in an error case's message list.
type bin []byte

// decodeErrors lists rejected inputs with the reason the error must give. Where
// socket.io-parser 4.2.7 accepts the input, the comment says why we do not.
var decodeErrors = []struct {
	name string
	msgs []any // string: text message, bin: binary message; the last one must fail
	want string
}{
	{"empty message", []any{""}, "empty message"}, // socket.io-parser reads CONNECT "/"
	{"unknown type 7", []any{"7"}, `unknown packet type '7'`},
	{"unknown type letter", []any{"a"}, `unknown packet type 'a'`},
	{"binary without count", []any{`5["a"]`}, "BINARY_EVENT without attachment count"},
	{"binary count only", []any{"5"}, "BINARY_EVENT without attachment count"},
	{"binary dash only", []any{`5-["a"]`}, "BINARY_EVENT without attachment count"},
	{"binary count without dash", []any{`51["a"]`}, "attachment count of BINARY_EVENT not followed by '-'"},
	{"binary count garbage", []any{`5a-["a"]`}, "BINARY_EVENT without attachment count"},
	{"binary count then garbage", []any{`61a-[]`}, "attachment count of BINARY_ACK not followed by '-'"},
	{"binary zero attachments", []any{`50-["a"]`}, "BINARY_EVENT declares no attachments"},
	{"binary too many attachments", []any{`511-["a"]`}, "too many attachments: 11 > 10"},
	{"binary count overflows", []any{`599999999999999999999999-["a"]`}, "too many attachments"},
	{"binary without payload", []any{`51-`}, "BINARY_EVENT without payload"},
	{"binary ack without payload", []any{`61-15`}, "BINARY_ACK without payload"},
	{"ack id overflows", []any{`218446744073709551616["a"]`}, "ack id 18446744073709551616 overflows"}, // socket.io-parser: float id
	{"ack id on connect", []any{`0/admin,1{}`}, "CONNECT cannot carry an ack id"},
	{"ack id on disconnect", []any{`15`}, "DISCONNECT cannot carry an ack id"},
	{"ack id on connect error", []any{`41{}`}, "CONNECT_ERROR cannot carry an ack id"},
	{"control char in namespace", []any{"2/ad\x01min,[\"a\"]"}, "control character '\\x01' in namespace"},
	{"invalid utf-8 namespace", []any{"2/ad\xffmin,[\"a\"]"}, "namespace is not valid UTF-8"},
	{"space before payload", []any{`2 ["a"]`}, `payload must start with '[', '{' or '"', got ' '`}, // socket.io-parser: id 0!
	{"garbage payload", []any{`2abc`}, `payload must start with '[', '{' or '"', got 'a'`},
	{"number payload", []any{`3/a,1-1`}, `payload must start with '[', '{' or '"', got '-'`},
	{"truncated JSON", []any{`2["a"`}, "invalid JSON payload"},
	{"trailing garbage", []any{`2["a"]x`}, "invalid JSON payload"},
	{"two values", []any{`2["a"]["b"]`}, "invalid JSON payload"},
	{"connect array", []any{`0[]`}, "CONNECT payload must be an object"},
	{"connect string", []any{`0"a"`}, "CONNECT payload must be an object"},
	{"disconnect payload", []any{`1{}`}, "DISCONNECT cannot carry a payload"},
	{"disconnect nsp payload", []any{`1/admin,{}`}, "DISCONNECT cannot carry a payload"},
	{"connect error array", []any{`4[]`}, "CONNECT_ERROR payload must be an object or a string"},
	{"event without payload", []any{`2`}, "EVENT without payload"},              // socket.io-parser accepts
	{"event nsp without payload", []any{`2/admin,`}, "EVENT without payload"},   // socket.io-parser accepts
	{"event missing nsp comma", []any{`2/admin["a"]`}, "EVENT without payload"}, // the whole rest is the namespace
	{"event object", []any{`2{}`}, "EVENT payload must be an array"},
	{"event string", []any{`2"a"`}, "EVENT payload must be an array"},
	{"event empty array", []any{`2[]`}, "EVENT payload must be an array starting with the event name"},
	{"event object name", []any{`2[{}]`}, "EVENT payload must be an array starting with the event name"},
	{"event null name", []any{`2[null,1]`}, "EVENT payload must be an array starting with the event name"},
	{"event reserved connect", []any{`2["connect"]`}, `event name "connect" is reserved`},
	{"event reserved disconnect", []any{`2/a,1["disconnect",1]`}, `event name "disconnect" is reserved`},
	{"event reserved escaped", []any{`2["dis\u0063onnect"]`}, `event name "disconnect" is reserved`},
	{"event reserved newListener", []any{`2["newListener"]`}, `event name "newListener" is reserved`},
	{"binary event reserved", []any{`51-["removeListener",{"_placeholder":true,"num":0}]`}, `event name "removeListener" is reserved`},
	{"ack object", []any{`3{}`}, "ACK payload must be an array"},
	{"binary ack string", []any{`61-"a"`}, "BINARY_ACK payload must be an array"},
	{"placeholder num out of range", []any{`51-["a",{"_placeholder":true,"num":1}]`, bin{1}},
		"placeholder num 1 does not refer to one of 1 attachment(s)"},
	{"placeholder num negative", []any{`51-["a",{"_placeholder":true,"num":-1}]`, bin{1}},
		"placeholder num -1 does not refer to one of 1 attachment(s)"},
	{"placeholder num string", []any{`51-["a",{"_placeholder":true,"num":"0"}]`, bin{1}},
		"placeholder num 0 does not refer"},
	{"placeholder num fractional", []any{`51-["a",{"_placeholder":true,"num":0.5}]`, bin{1}}, // socket.io-parser: undefined
		"placeholder num 0.5 does not refer"},
	{"placeholder num missing", []any{`51-["a",{"_placeholder":true}]`, bin{1}}, "placeholder num <nil> does not refer"},
	{"placeholder deep", []any{`62-[{"a":[{"b":{"_placeholder":true,"num":2}}]}]`, bin{1}, bin{2}}, "placeholder num 2"},
	{"binary without pending packet", []any{bin{1}}, "binary message while no binary packet awaits attachments"},
	{"binary after complete packet", []any{`51-["a",{"_placeholder":true,"num":0}]`, bin{1}, bin{2}},
		"binary message while no binary packet awaits attachments"},
	{"text while awaiting attachments", []any{`62-["a"]`, bin{1}, `2["x"]`},
		"text message while 1 more attachment(s) of a BINARY_ACK are awaited"},
}

func TestDecodeErrors(t *testing.T) {
	for _, tt := range decodeErrors {
		t.Run(tt.name, func(t *testing.T) {
			var d Decoder
			var err error
			for i, m := range tt.msgs {
				switch m := m.(type) {
				case string:
					_, _, err = d.AddText([]byte(m))
				case bin:
					_, _, err = d.AddBinary(m)
				}
				if i < len(tt.msgs)-1 && err != nil {
					t.Fatalf("message %d: unexpected error %v", i, err)
				}
			}
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if !errors.Is(err, ErrInvalidPacket) {
				t.Fatalf("error %v does not wrap ErrInvalidPacket", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func packetsEqual(a, b *Packet) bool {
	if a.Type != b.Type || a.Namespace != b.Namespace || a.Query != b.Query || a.ID != b.ID ||
		a.HasID != b.HasID || !bytes.Equal(a.Data, b.Data) || (a.Data == nil) != (b.Data == nil) ||
		len(a.Attachments) != len(b.Attachments) {
		return false
	}
	for i := range a.Attachments {
		if !bytes.Equal(a.Attachments[i], b.Attachments[i]) {
			return false
		}
	}
	return true
}

func dump(p *Packet) string {
	if p == nil {
		return "<nil>"
	}
	return fmt.Sprintf("{%s nsp=%q query=%q id=%d/%v data=%q att=%q}",
		p.Type, p.Namespace, p.Query, p.ID, p.HasID, p.Data, p.Attachments)
}
