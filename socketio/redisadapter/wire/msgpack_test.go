package wire

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/banter-chat/banter/socketio/parser"
)

// goldenCase is one value encoded by notepack.io (testdata/golden.js).
type goldenCase struct {
	Name        string   `json:"name"`
	Hex         string   `json:"hex"`
	JSON        string   `json:"json"`
	Attachments []string `json:"attachments"`
	Encodable   bool     `json:"encodable"`
}

func loadGolden(t testing.TB) []goldenCase {
	t.Helper()
	b, err := os.ReadFile("testdata/notepack_golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []goldenCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	return cases
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGoldenDecode: what notepack wrote reads back as the JSON
// socket.io-parser would send for the same JavaScript value.
func TestGoldenDecode(t *testing.T) {
	for _, c := range loadGolden(t) {
		t.Run(c.Name, func(t *testing.T) {
			r := reader{b: unhex(t, c.Hex)}
			js, att, err := r.appendMsgpackJSON(nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if r.i != len(r.b) {
				t.Fatalf("%d bytes left", len(r.b)-r.i)
			}
			if string(js) != c.JSON {
				t.Fatalf("JSON\n got %s\nwant %s", js, c.JSON)
			}
			if len(att) != len(c.Attachments) {
				t.Fatalf("%d attachments, want %d", len(att), len(c.Attachments))
			}
			for i := range att {
				if hex.EncodeToString(att[i]) != c.Attachments[i] {
					t.Fatalf("attachment %d = %x, want %s", i, att[i], c.Attachments[i])
				}
			}
		})
	}
}

// TestGoldenEncode: for values JSON can describe, Banter writes the bytes
// notepack writes.
func TestGoldenEncode(t *testing.T) {
	for _, c := range loadGolden(t) {
		if !c.Encodable {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			var att [][]byte
			for _, a := range c.Attachments {
				att = append(att, unhex(t, a))
			}
			got, err := appendJSON(nil, []byte(c.JSON), att)
			if err != nil {
				t.Fatal(err)
			}
			if want := unhex(t, c.Hex); !bytes.Equal(got, want) {
				t.Fatalf("msgpack\n got %x\nwant %x", got, want)
			}
		})
	}
}

// TestLargeHeaders covers the 32-bit headers the golden file leaves out to
// stay small.
func TestLargeHeaders(t *testing.T) {
	s := strings.Repeat("y", 1<<16)
	js, _ := json.Marshal([]any{s, make([]int, 1<<16)})
	b, err := appendJSON(nil, js, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b[0] != 0x92 || b[1] != 0xdb || !bytes.Equal(b[2:6], []byte{0, 1, 0, 0}) {
		t.Fatalf("str 32 header: % x", b[:6])
	}
	arr := b[6+1<<16:]
	if arr[0] != 0xdd || !bytes.Equal(arr[1:5], []byte{0, 1, 0, 0}) {
		t.Fatalf("array 32 header: % x", arr[:5])
	}
	r := reader{b: b}
	back, _, err := r.appendMsgpackJSON(nil, nil)
	if err != nil || string(back) != string(js) {
		t.Fatalf("round trip: %v", err)
	}
}

// TestHugeIntegralFloat: integral numbers beyond int64 are written as
// float64 (notepack's uint64 form would corrupt them).
func TestHugeIntegralFloat(t *testing.T) {
	b, err := appendJSON(nil, []byte(`1e21`), nil)
	if err != nil || b[0] != 0xcb {
		t.Fatalf("% x %v", b, err)
	}
	r := reader{b: b}
	if js, _, _ := r.appendMsgpackJSON(nil, nil); string(js) != "1e+21" {
		t.Fatalf("back: %s", js)
	}
}

// TestDecodeExtensions covers what notepack reads but never writes.
func TestDecodeExtensions(t *testing.T) {
	for _, c := range []struct {
		name string
		in   []byte
		json string
		att  int
	}{
		{"undefined in array", []byte{0x92, 0xd4, 0x00, 0x00, 0x01}, `[null,1]`, 0},
		{"undefined member dropped", []byte{0x82, 0xa1, 'a', 0xd4, 0x00, 0x00, 0xa1, 'b', 0x02}, `{"b":2}`, 0},
		{"only member undefined", []byte{0x81, 0xa1, 'a', 0xd4, 0x00, 0x00}, `{}`, 0},
		{"legacy date", append([]byte{0xd7, 0x00}, 0, 0, 0x01, 0x8c, 0xc8, 0x20, 0xd8, 0x88), `"2024-01-02T03:04:05.000Z"`, 0},
		{"array buffer", []byte{0xc7, 0x02, 0x00, 0xaa, 0xbb}, `{"_placeholder":true,"num":0}`, 1},
		{"other ext", []byte{0xd5, 0x05, 0x01, 0x02}, `[5,{"_placeholder":true,"num":0}]`, 1},
		{"float32", []byte{0xca, 0x3f, 0xc0, 0x00, 0x00}, `1.5`, 0},
		{"numeric key", []byte{0x81, 0x01, 0xa1, 'x'}, `{"1":"x"}`, 0},
		{"uint64 exact", []byte{0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, `18446744073709551615`, 0},
		{"invalid utf-8", []byte{0xa2, 0xff, 'a'}, `"` + "\ufffd" + `a"`, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := reader{b: c.in}
			js, att, err := r.appendMsgpackJSON(nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if string(js) != c.json || len(att) != c.att {
				t.Fatalf("got %s (%d attachments), want %s (%d)", js, len(att), c.json, c.att)
			}
		})
	}
}

// TestMalformed: bad input is an error (never a panic or a huge
// allocation).
func TestMalformed(t *testing.T) {
	for _, in := range [][]byte{
		{},
		{0x92, 0x01},                      // array missing an element
		{0xdd, 0xff, 0xff, 0xff, 0xff},    // 4G elements announced
		{0xc6, 0xff, 0xff, 0xff, 0xff, 1}, // 4G bin announced
		{0xdb, 0x00, 0x00, 0x00, 0x05, 'a'},
		{0xc1}, // never used
		{0x81, 0xc3, 0x01},
		bytes.Repeat([]byte{0x91}, maxDepth+10),
	} {
		r := reader{b: in}
		if _, _, err := r.appendMsgpackJSON(nil, nil); !errors.Is(err, ErrMalformed) {
			t.Errorf("% x: err = %v, want ErrMalformed", in[:min(len(in), 8)], err)
		}
	}
	for _, in := range []string{``, `[1,]`, `{"a"}`, `"\x01"`, `[1] 2`, `nul`, `"\u12"`, `{"_placeholder":true,"num":3}`} {
		if _, err := appendJSON(nil, []byte(in), [][]byte{{1}}); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: err = %v, want ErrMalformed", in, err)
		}
	}
}

// TestJSONEdgeCases: escapes, surrogates, exponents and placeholders
// written by other encoders survive JSON → MessagePack → JSON.
func TestJSONEdgeCases(t *testing.T) {
	for _, c := range []struct{ in, out string }{
		{`["a\u00e9\ud83d\ude00\/"]`, `["aé😀/"]`},
		{`[1E3, 1.5e-7, -0.0, 12345678901234567890]`, `[1000,1.5e-7,0,12345678901234567890]`},
		{` { "k" : [ true , null ] } `, `{"k":[true,null]}`},
		{`{"_placeholder":true,"num":0}`, `{"_placeholder":true,"num":0}`}, // no attachments: an object
		{`["<&>"]`, `["<&>"]`},
	} {
		b, err := appendJSON(nil, []byte(c.in), nil)
		if err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		r := reader{b: b}
		out, _, err := r.appendMsgpackJSON(nil, nil)
		if err != nil || string(out) != c.out {
			t.Errorf("%s → %s (%v), want %s", c.in, out, err, c.out)
		}
	}
}

// TestBroadcastMessage: Banter's broadcast message decodes to the same
// packet and options, and its uid is readable on its own.
func TestBroadcastMessage(t *testing.T) {
	data, att, err := parser.EncodeEvent("chat", "hi", []byte{1, 2}, map[string]any{"x": []byte{3}})
	if err != nil {
		t.Fatal(err)
	}
	p := &parser.Packet{Type: parser.Event, Namespace: "/chat", Data: data, Attachments: att}
	opts := Opts{Rooms: []string{"a", "b", "a"}, Except: []string{"c"}, Volatile: true}
	msg, err := EncodeBroadcast("node1", p, opts)
	if err != nil {
		t.Fatal(err)
	}
	if uid, err := BroadcastUID(msg); err != nil || uid != "node1" {
		t.Fatalf("uid %q %v", uid, err)
	}
	m, err := DecodeBroadcast(msg)
	if err != nil {
		t.Fatal(err)
	}
	if m.UID != "node1" || m.Packet.Namespace != "/chat" || string(m.Packet.Data) != string(data) ||
		len(m.Packet.Attachments) != 2 || !bytes.Equal(m.Packet.Attachments[1], []byte{3}) {
		t.Fatalf("packet %+v data %s", m.Packet, m.Packet.Data)
	}
	if !slices.Equal(m.Opts.Rooms, []string{"a", "b"}) || !slices.Equal(m.Opts.Except, []string{"c"}) || !m.Opts.Volatile || m.Opts.Local {
		t.Fatalf("opts %+v", m.Opts)
	}
}

// TestGoldenNodeMessages: the broadcast and request messages Node writes
// decode to what they mean.
func TestGoldenNodeMessages(t *testing.T) {
	cases := map[string]goldenCase{}
	for _, c := range loadGolden(t) {
		cases[c.Name] = c
	}
	m, err := DecodeBroadcast(unhex(t, cases["emitter"].Hex))
	if err != nil {
		t.Fatal(err)
	}
	if m.UID != "emitter" || m.Packet.Namespace != "/admin" || string(m.Packet.Data) != `["news",{"n":1}]` ||
		len(m.Opts.Rooms) != 0 || !slices.Equal(m.Opts.Except, []string{"x", "y"}) || !m.Opts.Volatile {
		t.Fatalf("emitter message: %+v %s %+v", m, m.Packet.Data, m.Opts)
	}
	req, err := DecodeRequest(unhex(t, cases["request"].Hex))
	if err != nil {
		t.Fatal(err)
	}
	if req.UID != "u1" || req.RequestID != "r1" || req.Type != TypeBroadcast || req.Timeout != 1000 ||
		string(req.Packet.Data) != `["ev",{"_placeholder":true,"num":0}]` || string(req.Packet.Attachments[0]) != "ab" ||
		!slices.Equal(req.BroadcastOpts.Except, []string{"e"}) {
		t.Fatalf("request: %+v", req)
	}
	res, err := DecodeResponse(unhex(t, cases["ack"].Hex))
	if err != nil {
		t.Fatal(err)
	}
	args, err := parser.DecodeArgs(res.Ack, res.Attachments)
	if err != nil || res.Type != TypeBroadcastAck || res.RequestID != "r1" || len(args) != 1 {
		t.Fatalf("ack response: %+v %v %v", res, args, err)
	}
	if v := args[0].(map[string]any); v["ok"] != true || !bytes.Equal(v["blob"].([]byte), []byte{255}) {
		t.Fatalf("ack value %v", v)
	}
	// Banter's own BROADCAST_ACK for the same answer is what notepack wrote.
	ours, err := EncodeBroadcastAck("r1", []any{map[string]any{"blob": []byte{255}, "ok": true}})
	if err != nil {
		t.Fatal(err)
	}
	// Go maps are written in key order (blob, ok); Node wrote ok first.
	if r := (reader{b: ours}); true {
		js, _, err := r.appendMsgpackJSON(nil, nil)
		if err != nil || string(js) != `{"type":9,"requestId":"r1","packet":{"blob":{"_placeholder":true,"num":0},"ok":true}}` {
			t.Fatalf("our ack: %s %v", js, err)
		}
	}
}

// FuzzTranscode: any bytes either fail cleanly or transcode to valid JSON
// that goes back to the same MessagePack value.
func FuzzTranscode(f *testing.F) {
	for _, c := range loadGolden(f) {
		b, _ := hex.DecodeString(c.Hex)
		f.Add(b)
	}
	f.Add([]byte{0x92, 0xd4, 0x00, 0x00, 0xc0})
	f.Fuzz(func(t *testing.T, in []byte) {
		r := reader{b: in}
		js, att, err := r.appendMsgpackJSON(nil, nil)
		if err != nil {
			return
		}
		if !json.Valid(js) {
			t.Fatalf("invalid JSON %q from % x", js, in)
		}
		again, err := appendJSON(nil, js, att)
		if err != nil {
			t.Fatalf("re-encoding %s: %v", js, err)
		}
		r2 := reader{b: again}
		js2, _, err := r2.appendMsgpackJSON(nil, nil)
		if err != nil || string(js2) != string(js) {
			t.Fatalf("not stable: %s → %s (%v)", js, js2, err)
		}
	})
}
