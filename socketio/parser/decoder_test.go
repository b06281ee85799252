package parser

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// decodeAll feeds a text frame and its attachments to a fresh decoder.
func decodeAll(t testing.TB, text []byte, bins [][]byte) (*Packet, error) {
	t.Helper()
	var d Decoder
	p, done, err := d.AddText(text)
	for i := 0; err == nil && !done; i++ {
		if i >= len(bins) {
			t.Fatalf("decoder still awaits %d attachment(s) after %d", d.Awaiting(), len(bins))
		}
		p, done, err = d.AddBinary(bins[i])
	}
	return p, err
}

func TestRoundTrip(t *testing.T) {
	for _, g := range goldenFrames {
		t.Run(g.name, func(t *testing.T) {
			p, err := decodeAll(t, []byte(g.text), g.bins)
			if err != nil {
				t.Fatal(err)
			}
			text := Encode(p)
			if g.canonical && string(text) != g.text {
				t.Fatalf("re-encoded %q, want %q", text, g.text)
			}
			q, err := decodeAll(t, text, p.Attachments)
			if err != nil {
				t.Fatalf("decoding re-encoded %q: %v", text, err)
			}
			if !packetsEqual(p, q) {
				t.Fatalf("round trip changed the packet:\n%s\n%s", dump(p), dump(q))
			}
		})
	}
}

// TestRoundTripFromArgs builds packets the way the server does (EncodeEvent, then
// Encode) and checks the peer-side decoding gives the values back.
func TestRoundTripFromArgs(t *testing.T) {
	data, atts, err := EncodeEvent("file", map[string]any{"name": "a.png", "body": []byte{0x89, 'P', 'N', 'G'}},
		[]any{[]byte{}, "x"})
	if err != nil {
		t.Fatal(err)
	}
	out := Packet{Type: Event, Namespace: "/chat", ID: 77, HasID: true, Data: data, Attachments: atts}
	p, err := decodeAll(t, Encode(&out), atts)
	if err != nil {
		t.Fatal(err)
	}
	if p.Type != BinaryEvent || p.Namespace != "/chat" || p.ID != 77 || !p.HasID || len(p.Attachments) != 2 {
		t.Fatalf("decoded %s", dump(p))
	}
	name, _, err := EventName(p.Data)
	if err != nil || name != "file" {
		t.Fatalf("EventName = %q, %v", name, err)
	}
	args, err := DecodeArgs(p.Data, p.Attachments)
	if err != nil {
		t.Fatal(err)
	}
	body := args[1].(map[string]any)["body"].([]byte)
	empty := args[2].([]any)[0].([]byte)
	if string(body) != "\x89PNG" || len(empty) != 0 || args[2].([]any)[1] != "x" {
		t.Fatalf("DecodeArgs = %#v", args)
	}
}

func TestDecoderMaxAttachments(t *testing.T) {
	d := Decoder{MaxAttachments: 2}
	if _, _, err := d.AddText([]byte(`53-["a"]`)); err == nil || !strings.Contains(err.Error(), "too many attachments: 3 > 2") {
		t.Fatalf("MaxAttachments 2, 3 declared: err = %v", err)
	}
	d = Decoder{MaxAttachments: 20}
	_, done, err := d.AddText([]byte(`511-["a"]`))
	if err != nil || done || d.Awaiting() != 11 {
		t.Fatalf("MaxAttachments 20, 11 declared: done=%v err=%v awaiting=%d", done, err, d.Awaiting())
	}
	d = Decoder{MaxAttachments: -1} // <= 0 means the default
	if _, _, err := d.AddText([]byte(`510-["a"]`)); err != nil {
		t.Fatalf("default limit refused 10: %v", err)
	}
}

func TestDecoderReset(t *testing.T) {
	var d Decoder
	if _, done, err := d.AddText([]byte(`52-["a",{"_placeholder":true,"num":1}]`)); err != nil || done {
		t.Fatalf("AddText: done=%v err=%v", done, err)
	}
	if _, _, err := d.AddBinary([]byte{1}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.AddText([]byte(`2["b"]`)); err == nil {
		t.Fatal("text accepted while an attachment is awaited")
	}
	d.Reset()
	if d.Awaiting() != 0 {
		t.Fatalf("Awaiting() = %d after Reset", d.Awaiting())
	}
	if _, _, err := d.AddBinary([]byte{2}); err == nil {
		t.Fatal("binary accepted after Reset")
	}
	p, done, err := d.AddText([]byte(`2["b"]`))
	if err != nil || !done || string(p.Data) != `["b"]` {
		t.Fatalf("after Reset: %s done=%v err=%v", dump(p), done, err)
	}
}

// TestDecoderAfterPlaceholderError checks that a bad placeholder does not leave the
// packet pending: the decoder is ready for the next packet.
func TestDecoderAfterPlaceholderError(t *testing.T) {
	var d Decoder
	if _, _, err := d.AddText([]byte(`51-["a",{"_placeholder":true,"num":3}]`)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.AddBinary([]byte{1}); !errors.Is(err, ErrInvalidPacket) {
		t.Fatalf("bad placeholder: err = %v", err)
	}
	if d.Awaiting() != 0 {
		t.Fatalf("Awaiting() = %d after a rejected packet", d.Awaiting())
	}
	if _, done, err := d.AddText([]byte(`2["b"]`)); err != nil || !done {
		t.Fatalf("next packet: done=%v err=%v", done, err)
	}
}

func TestEncodeAllocations(t *testing.T) {
	p := benchPacket()
	buf := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(100, func() { buf = AppendEncode(buf[:0], &p) }); n != 0 {
		t.Errorf("AppendEncode into a large enough buffer allocates %v times", n)
	}
	if n := testing.AllocsPerRun(100, func() { _ = Encode(&p) }); n != 1 {
		t.Errorf("Encode allocates %v times, want 1", n)
	}
}

func benchPacket() Packet {
	return Packet{Type: Event, Namespace: "/chat", ID: 1234, HasID: true,
		Data: json.RawMessage(`["chat message",{"room":"general","text":"hello world, how are you today?","clientId":"c-8f3a2b","ts":1700000000000}]`)}
}

func BenchmarkEncode(b *testing.B) {
	p := benchPacket()
	b.ReportAllocs()
	for b.Loop() {
		_ = Encode(&p)
	}
}

func BenchmarkAppendEncode(b *testing.B) {
	p := benchPacket()
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendEncode(buf[:0], &p)
	}
}

func BenchmarkDecode(b *testing.B) {
	p := benchPacket()
	msg := Encode(&p)
	var d Decoder
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := d.AddText(msg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeBinary(b *testing.B) {
	data, atts, err := EncodeEvent("file", map[string]any{"name": "a.png", "body": make([]byte, 4096)})
	if err != nil {
		b.Fatal(err)
	}
	msg := Encode(&Packet{Type: Event, Data: data, Attachments: atts})
	var d Decoder
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := d.AddText(msg); err != nil {
			b.Fatal(err)
		}
		if _, _, err := d.AddBinary(atts[0]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeEvent(b *testing.B) {
	msg := map[string]any{"room": "general", "text": "hello world, how are you today?", "clientId": "c-8f3a2b", "ts": 1700000000000}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := EncodeEvent("chat message", msg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeEventStruct(b *testing.B) {
	type chatMessage struct {
		Room     string `json:"room"`
		Text     string `json:"text"`
		ClientID string `json:"clientId"`
		TS       int64  `json:"ts"`
	}
	msg := chatMessage{"general", "hello world, how are you today?", "c-8f3a2b", 1700000000000}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := EncodeEvent("chat message", msg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeArgs(b *testing.B) {
	p := benchPacket()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeArgs(p.Data, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRawArgs(b *testing.B) {
	p := benchPacket()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := RawArgs(p.Data); err != nil {
			b.Fatal(err)
		}
	}
}
