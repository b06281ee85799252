package parser

import (
	"bytes"
	"errors"
	"testing"
	"unicode/utf8"
)

// Fuzz targets for every decoder. Properties checked:
//   - no panic, and every error wraps ErrInvalid;
//   - what decodes re-encodes to something that decodes to the same packets
//     (the canonical form may differ from the input: "b" base64 padding, for
//     one, is accepted in several spellings);
//   - payload decoders return, with an error, only packets that were valid.
//
// Seeds are the golden tables plus captured traffic of engine.io-client 6 and
// socket.io-client 2.5 (handshake, socket.io CONNECT, events, acks, binary
// attachments). Crashers found by `go test -fuzz` land in testdata/fuzz and
// are replayed by plain `go test`.

// realTraffic are polling payload bodies and WebSocket frames as sent by the
// official clients.
var realTraffic = []string{
	"40",
	`40{"token":"abc"}`,
	`42["chat message","hello 👋"]`,
	`421["message-with-ack",1,"2",{"3":[true]}]`,
	`451-["upload",{"_placeholder":true,"num":0}]`,
	"2probe",
	"3probe",
	"5",
	"6",
	"3",
	"1",
}

func checkErr(t *testing.T, err error) {
	t.Helper()
	if err != nil && !errors.Is(err, ErrInvalid) {
		t.Fatalf("error %v does not wrap ErrInvalid", err)
	}
}

func FuzzDecodeText(f *testing.F) {
	for _, g := range textGolden {
		f.Add([]byte(g.wire), true)
		f.Add([]byte(g.wire), false)
	}
	for _, s := range realTraffic {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, data []byte, allowB64 bool) {
		p, err := DecodeText(data, allowB64)
		checkErr(t, err)
		if err != nil {
			return
		}
		if p.Binary && !allowB64 {
			t.Fatalf("binary packet decoded from %q without allowB64", data)
		}
		enc := AppendText(nil, p, 4)
		if !p.Binary && !bytes.Equal(enc, data) {
			t.Fatalf("text packet %q re-encodes to %q", data, enc)
		}
		again, err := DecodeText(enc, true)
		if err != nil || !samePackets([]Packet{again}, []Packet{p}) {
			t.Fatalf("round trip of %q: %+v, %v; want %+v", data, again, err, p)
		}
	})
}

func FuzzDecodeTextV3(f *testing.F) {
	for _, g := range textGolden {
		f.Add([]byte(g.wire))
	}
	for _, s := range realTraffic {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := DecodeTextV3(data)
		checkErr(t, err)
		if err != nil {
			return
		}
		enc := AppendText(nil, p, 3)
		if !p.Binary && !bytes.Equal(enc, data) {
			t.Fatalf("text packet %q re-encodes to %q", data, enc)
		}
		again, err := DecodeTextV3(enc)
		if err != nil || !samePackets([]Packet{again}, []Packet{p}) {
			t.Fatalf("round trip of %q: %+v, %v; want %+v", data, again, err, p)
		}
	})
}

func FuzzDecodeBinary(f *testing.F) {
	f.Add([]byte{4, 1, 2, 3}, true)
	f.Add([]byte{1, 2, 3}, false)
	f.Add([]byte{}, false)
	f.Add([]byte{}, true)
	f.Add([]byte("\x89PNG\r\n\x1a\n"), false)
	f.Fuzz(func(t *testing.T, data []byte, v3 bool) {
		proto := 4
		if v3 {
			proto = 3
		}
		p, err := DecodeBinary(data, proto)
		checkErr(t, err)
		if err != nil {
			if proto == 4 {
				t.Fatalf("v4 binary frame %x refused: %v", data, err)
			}
			return
		}
		if enc := AppendBinaryFrame(nil, p, proto); !bytes.Equal(enc, data) {
			t.Fatalf("binary frame %x re-encodes to %x", data, enc)
		}
	})
}

func FuzzDecodePayloadV4(f *testing.F) {
	for _, g := range payloadV4Golden {
		f.Add([]byte(g.wire))
	}
	f.Add([]byte("4a\x1e\x1e4b"))
	f.Add([]byte("40\x1e42[\"x\"]\x1ebAQID"))
	for _, s := range realTraffic {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		pkts, err := DecodePayloadV4(data)
		checkErr(t, err)
		if n := bytes.Count(data, []byte{Separator}) + 1; len(pkts) > n {
			t.Fatalf("%d packets from a payload of %d elements", len(pkts), n)
		}
		if len(pkts) == 0 {
			return
		}
		// Whatever decoded (all of it, or the prefix before an error)
		// re-encodes to a payload that decodes to the same packets.
		again, err2 := DecodePayloadV4(AppendPayloadV4(nil, pkts))
		if err2 != nil || !samePackets(again, pkts) {
			t.Fatalf("round trip of %q: %+v, %v; want %+v", data, again, err2, pkts)
		}
	})
}

func FuzzDecodePayloadV3Text(f *testing.F) {
	for _, g := range payloadV3TextGolden {
		f.Add([]byte(g.wire))
	}
	for _, s := range realTraffic {
		enc := AppendPayloadV3Text(nil, []Packet{{Type: Type(s[0] - '0'), Data: []byte(s[1:])}})
		f.Add(enc)
	}
	f.Add([]byte("2:4😀"))
	f.Add([]byte("12345678901:4"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pkts, err := DecodePayloadV3Text(data)
		checkErr(t, err)
		if len(pkts) == 0 {
			return
		}
		enc := AppendPayloadV3Text(nil, pkts)
		again, err2 := DecodePayloadV3Text(enc)
		if !utf8.Valid(data) {
			// Invalid UTF-8 has no JavaScript length to agree on; only
			// require no panic and wrapped errors.
			checkErr(t, err2)
			return
		}
		if err2 != nil || !samePackets(again, pkts) {
			t.Fatalf("round trip of %q: %+v, %v; want %+v", data, again, err2, pkts)
		}
	})
}

func FuzzDecodePayloadV3Binary(f *testing.F) {
	for _, g := range payloadV3BinaryGolden {
		f.Add(g.wire)
	}
	for _, s := range realTraffic {
		f.Add(AppendPayloadV3Binary(nil, []Packet{{Type: Type(s[0] - '0'), Data: []byte(s[1:])}}))
	}
	f.Add([]byte{0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0xff, '4'})
	f.Fuzz(func(t *testing.T, data []byte) {
		pkts, err := DecodePayloadV3Binary(data)
		checkErr(t, err)
		if len(pkts) == 0 {
			return
		}
		again, err2 := DecodePayloadV3Binary(AppendPayloadV3Binary(nil, pkts))
		if err2 != nil || !samePackets(again, pkts) {
			t.Fatalf("round trip of %x: %+v, %v; want %+v", data, again, err2, pkts)
		}
	})
}
