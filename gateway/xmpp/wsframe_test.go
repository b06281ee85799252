package xmppgw

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// clientFrame builds a masked client frame.
func clientFrame(fin bool, op byte, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	out := []byte{b0}
	switch n := len(payload); {
	case n < 126:
		out = append(out, 0x80|byte(n))
	case n <= 0xFFFF:
		out = append(out, 0x80|126, byte(n>>8), byte(n))
	default:
		out = append(out, 0x80|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	key := []byte{1, 2, 3, 4}
	out = append(out, key...)
	for i, c := range payload {
		out = append(out, c^key[i&3])
	}
	return out
}

type got struct {
	op      byte
	payload string
}

func decodeAll(t testing.TB, max int, parts ...[]byte) ([]got, error) {
	d := &wsDecoder{max: max}
	var out []got
	for _, p := range parts {
		if err := d.feed(p, func(op byte, payload []byte) error {
			out = append(out, got{op, string(payload)})
			return nil
		}); err != nil {
			return out, err
		}
	}
	return out, nil
}

func TestWSDecoder(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 70000)
	stream := bytes.Join([][]byte{
		clientFrame(true, wsText, []byte("<open/>")),
		clientFrame(false, wsText, []byte("<mess")),
		clientFrame(true, wsPing, []byte("p")), // a control frame between fragments
		clientFrame(true, wsCont, []byte("age/>")),
		clientFrame(true, wsText, big),
		clientFrame(true, wsClose, []byte{3, 232}),
	}, nil)
	want := []got{{wsText, "<open/>"}, {wsPing, "p"}, {wsText, "<message/>"}, {wsText, string(big)}, {wsClose, "\x03\xe8"}}
	for _, split := range []int{1, 2, 3, 7, 100, len(stream)} {
		var parts [][]byte
		for i := 0; i < len(stream); i += split {
			parts = append(parts, stream[i:min(i+split, len(stream))])
		}
		out, err := decodeAll(t, 100000, parts...)
		if err != nil || len(out) != len(want) {
			t.Fatalf("split %d: %v, %d messages", split, err, len(out))
		}
		for i := range want {
			if out[i] != want[i] {
				t.Fatalf("split %d: message %d = %q, want %q", split, i, out[i].payload[:min(20, len(out[i].payload))], want[i].payload[:min(20, len(want[i].payload))])
			}
		}
	}
	for name, tc := range map[string]struct {
		in  []byte
		err error
	}{
		"unmasked":        {[]byte{0x81, 0x01, 'x'}, errWSProtocol},
		"too large":       {clientFrame(true, wsText, big), errWSTooLarge},
		"binary":          {clientFrame(true, wsBinary, []byte("x")), errWSProtocol},
		"bad utf-8":       {clientFrame(true, wsText, []byte{0xff}), errWSUTF8},
		"stray cont":      {clientFrame(true, wsCont, []byte("x")), errWSProtocol},
		"long control":    {clientFrame(true, wsPing, bytes.Repeat([]byte("p"), 126)), errWSProtocol},
		"reserved bits":   {append([]byte{0xC1}, clientFrame(true, wsText, []byte("x"))[1:]...), errWSProtocol},
		"fragmented ping": {clientFrame(false, wsPing, []byte("p")), errWSProtocol},
	} {
		if _, err := decodeAll(t, 1000, tc.in); !errors.Is(err, tc.err) {
			t.Errorf("%s: %v, want %v", name, err, tc.err)
		}
	}
}

func TestWSFrameEncode(t *testing.T) {
	for _, n := range []int{0, 125, 126, 65535, 65536} {
		p := bytes.Repeat([]byte("y"), n)
		f := appendWSFrame(nil, wsText, p[:n/2], p[n/2:])
		// Decode it as a client frame would be, after masking it.
		masked := append([]byte{}, f...)
		hdr := 2
		switch {
		case n >= 65536:
			hdr = 10
		case n >= 126:
			hdr = 4
		}
		masked[1] |= 0x80
		masked = append(masked[:hdr], append([]byte{0, 0, 0, 0}, masked[hdr:]...)...)
		out, err := decodeAll(t, 1<<20, masked)
		if err != nil || len(out) != 1 || len(out[0].payload) != n {
			t.Fatalf("n=%d: %v %d", n, err, len(out))
		}
	}
}

// FuzzWSDecoder feeds arbitrary bytes whole and split in two: the same
// messages and the same verdict either way, no panic.
func FuzzWSDecoder(f *testing.F) {
	f.Add(clientFrame(true, wsText, []byte("<open/>")), uint16(3))
	f.Add(append(clientFrame(false, wsText, []byte("ab")), clientFrame(true, wsCont, []byte("cd"))...), uint16(5))
	f.Fuzz(func(t *testing.T, in []byte, split uint16) {
		whole, errW := decodeAll(t, 4096, in)
		at := int(split) % (len(in) + 1)
		parts, errP := decodeAll(t, 4096, in[:at], in[at:])
		if (errW == nil) != (errP == nil) || len(whole) != len(parts) {
			t.Fatalf("whole %d %v, split at %d: %d %v", len(whole), errW, at, len(parts), errP)
		}
		for i := range whole {
			if whole[i] != parts[i] {
				t.Fatalf("message %d differs", i)
			}
		}
	})
}
