package parser

import (
	"errors"
	"math"
	"reflect"
	"testing"
)

// FuzzDecoder feeds a text message, then binary messages (bin1, bin2 alternately) for
// as long as the decoder awaits them, then one more message. The decoder must never
// panic, every error must wrap ErrInvalidPacket, and a decoded packet re-encoded must
// decode to the same packet.
func FuzzDecoder(f *testing.F) {
	for _, g := range goldenFrames {
		var b1, b2 []byte
		if len(g.bins) > 0 {
			b1 = g.bins[0]
		}
		if len(g.bins) > 1 {
			b2 = g.bins[1]
		}
		f.Add([]byte(g.text), b1, b2, []byte(`2["next"]`), false)
	}
	for _, e := range decodeErrors {
		if s, ok := e.msgs[0].(string); ok {
			f.Add([]byte(s), []byte{1}, []byte{2}, []byte{3}, true)
		}
	}
	// Real traffic shapes: socket.io-client 4 and 2, auth, acks, uploads.
	f.Add([]byte(`0{"token":"eyJhbGciOiJIUzI1NiJ9.e30.x"}`), []byte(nil), []byte(nil), []byte(`2["join",{"room":"general"}]`), false)
	f.Add([]byte(`2/chat,17["message",{"room":"general","text":"hi 👋","clientMsgId":"m-1"}]`), []byte(nil), []byte(nil), []byte(`317[]`), false)
	f.Add([]byte(`51-/chat,18["upload",{"name":"a.png","data":{"_placeholder":true,"num":0}}]`), []byte("\x89PNG\r\n"), []byte(nil), []byte(`2["x"]`), false)
	f.Add([]byte(`0/chat?token=abc&EIO=3,`), []byte(nil), []byte(nil), []byte(`2/chat,["typing"]`), false)

	f.Fuzz(func(t *testing.T, text, bin1, bin2, extra []byte, extraBinary bool) {
		var d Decoder
		p, done, err := d.AddText(text)
		for i := 0; err == nil && !done; i++ {
			if i > DefaultMaxAttachments {
				t.Fatalf("decoder awaits more than %d attachments", DefaultMaxAttachments)
			}
			bin := bin1
			if i%2 == 1 {
				bin = bin2
			}
			p, done, err = d.AddBinary(bin)
		}
		if err != nil {
			if !errors.Is(err, ErrInvalidPacket) {
				t.Fatalf("error %v does not wrap ErrInvalidPacket", err)
			}
		} else {
			checkReencode(t, p)
		}

		// The decoder must be in a sane state for the next message, whatever happened.
		if extraBinary {
			_, _, err = d.AddBinary(extra)
		} else {
			_, _, err = d.AddText(extra)
		}
		if err != nil && !errors.Is(err, ErrInvalidPacket) {
			t.Fatalf("error %v does not wrap ErrInvalidPacket", err)
		}
	})
}

func checkReencode(t *testing.T, p *Packet) {
	t.Helper()
	if p == nil {
		t.Fatal("done without a packet")
	}
	if !p.Type.Valid() || p.Namespace == "" || p.Namespace[0] != '/' {
		t.Fatalf("decoded an impossible packet %s", dump(p))
	}
	text := Encode(p)
	var d Decoder
	q, done, err := d.AddText(text)
	for i := 0; err == nil && !done; i++ {
		if i >= len(p.Attachments) {
			t.Fatalf("re-encoded %q awaits more than %d attachments", text, len(p.Attachments))
		}
		q, done, err = d.AddBinary(p.Attachments[i])
	}
	if err != nil {
		t.Fatalf("re-encoded %s as %q, which fails: %v", dump(p), text, err)
	}
	if !packetsEqual(p, q) {
		t.Fatalf("re-encoding changed the packet:\n%s\n%s (via %q)", dump(p), dump(q), text)
	}
	if p.Type == Event || p.Type == BinaryEvent {
		if _, _, err := EventName(p.Data); err != nil {
			t.Fatalf("EventName fails on a decoded EVENT %s: %v", dump(p), err)
		}
	}
	if p.Data != nil && p.Data[0] == '[' {
		raw, err := RawArgs(p.Data)
		if err != nil {
			t.Fatalf("RawArgs fails on a decoded array payload %s: %v", dump(p), err)
		}
		args, err := DecodeArgs(p.Data, p.Attachments)
		if err != nil {
			t.Fatalf("DecodeArgs fails on a decoded packet %s: %v", dump(p), err)
		}
		if len(raw) != len(args) {
			t.Fatalf("RawArgs found %d elements, DecodeArgs %d in %s", len(raw), len(args), dump(p))
		}
	}
}

// FuzzDecodeArgs checks DecodeArgs never panics, agrees with RawArgs, and that the
// values it returns survive EncodeArgs and DecodeArgs unchanged.
func FuzzDecodeArgs(f *testing.F) {
	f.Add([]byte(`["chat message",{"room":"general","text":"hi"}]`), uint8(0))
	f.Add([]byte(`["upload",{"file":{"_placeholder":true,"num":0},"meta":{"name":"a"}},{"_placeholder":true,"num":1}]`), uint8(2))
	f.Add([]byte(`[{"_placeholder":true,"num":0.5}]`), uint8(1))
	f.Add([]byte(`[{"num":1,"_placeholder":true},[[{"_placeholder":true,"num":0}]]]`), uint8(3))
	f.Add([]byte(` [ "a\u0000\ud83d\ude00" , -0 , 1e308, 5e-324, null, true, {"":[]} ] `), uint8(0))
	f.Add([]byte(`["\xff\xfe"]`), uint8(0))
	f.Add([]byte(`{"a":1}`), uint8(0))
	f.Add([]byte(`[1,]`), uint8(0))

	f.Fuzz(func(t *testing.T, data []byte, n uint8) {
		atts := make([][]byte, n%12)
		for i := range atts {
			atts[i] = []byte{byte(i), 0xff}
		}
		_, _, _ = EventName(data) // must not panic
		args, err := DecodeArgs(data, atts)
		raw, rawErr := RawArgs(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidPacket) {
				t.Fatalf("error %v does not wrap ErrInvalidPacket", err)
			}
			return
		}
		if rawErr != nil {
			t.Fatalf("DecodeArgs accepts %q but RawArgs fails: %v", data, rawErr)
		}
		if len(raw) != len(args) {
			t.Fatalf("RawArgs found %d elements, DecodeArgs %d in %q", len(raw), len(args), data)
		}
		for i, r := range raw {
			if _, err := DecodeArgs(append(append([]byte{'['}, r...), ']'), atts); err != nil {
				t.Fatalf("element %d %q of %q does not decode alone: %v", i, r, data, err)
			}
		}

		enc, encAtts, err := EncodeArgs(args...)
		if err != nil && errors.Is(err, ErrUnsupportedValue) && hasNonFinite(any(args)) {
			// A number past float64 decodes to ±Infinity (as JSON.parse does),
			// which JSON cannot write back (EncodeArgs refuses it).
			return
		}
		if err != nil {
			t.Fatalf("EncodeArgs of decoded %#v: %v", args, err)
		}
		again, err := DecodeArgs(enc, encAtts)
		if err != nil {
			t.Fatalf("DecodeArgs of re-encoded %q: %v", enc, err)
		}
		// Placeholder-looking objects survive only when there were no attachments, and
		// then EncodeArgs yields none either, so DecodeArgs leaves them alone again.
		if !reflect.DeepEqual(args, again) {
			t.Fatalf("round trip changed %#v into %#v (via %q)", args, again, enc)
		}
	})
}

// hasNonFinite reports whether v holds a NaN or an infinite float64.
func hasNonFinite(v any) bool {
	switch x := v.(type) {
	case float64:
		return math.IsNaN(x) || math.IsInf(x, 0)
	case []any:
		for _, e := range x {
			if hasNonFinite(e) {
				return true
			}
		}
	case map[string]any:
		for _, e := range x {
			if hasNonFinite(e) {
				return true
			}
		}
	}
	return false
}
