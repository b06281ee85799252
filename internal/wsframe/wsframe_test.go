package wsframe

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// client returns a masked client frame.
func client(fin bool, op Opcode, payload string) []byte {
	b := []byte{byte(op)}
	if fin {
		b[0] |= 0x80
	}
	switch n := len(payload); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n <= 0xffff:
		b = append(b, 0x80|126, byte(n>>8), byte(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	mask := []byte{0x37, 0xfa, 0x21, 0x3d}
	b = append(b, mask...)
	for i := range len(payload) {
		b = append(b, payload[i]^mask[i%4])
	}
	return b
}

func cat(frames ...[]byte) []byte { return bytes.Join(frames, nil) }

// run feeds data in pieces of size chunk (0: whole) and records what the
// parser reports.
func run(data []byte, chunk, maxMessage int) (got []string, err error) {
	p := Parser{MaxMessage: maxMessage}
	data = bytes.Clone(data)
	h := func(op Opcode, payload []byte) error {
		got = append(got, fmt.Sprintf("%d:%s", op, payload))
		return nil
	}
	if chunk == 0 {
		chunk = len(data) + 1
	}
	for len(data) > 0 && err == nil {
		n := min(chunk, len(data))
		err = p.Feed(data[:n], h)
		data = data[n:]
	}
	return got, err
}

func TestParser(t *testing.T) {
	big := strings.Repeat("x", 70_000)
	mid := strings.Repeat("y", 300)
	for _, tc := range []struct {
		name string
		in   []byte
		max  int
		want []string
		code int // 0: no error
	}{
		{"text", client(true, OpText, "4hello"), 0, []string{"1:4hello"}, 0},
		{"empty text", client(true, OpText, ""), 0, []string{"1:"}, 0},
		{"empty binary", client(true, OpBinary, ""), 0, []string{"2:"}, 0},
		{"two in one read", cat(client(true, OpText, "a"), client(true, OpBinary, "b")), 0, []string{"1:a", "2:b"}, 0},
		{"16-bit length", client(true, OpText, mid), 0, []string{"1:" + mid}, 0},
		{"64-bit length", client(true, OpBinary, big), 0, []string{"2:" + big}, 0},
		{"fragments", cat(client(false, OpText, "he"), client(false, OpContinuation, ""), client(true, OpContinuation, "llo")), 0, []string{"1:hello"}, 0},
		{"ping between fragments", cat(client(false, OpBinary, "a"), client(true, OpPing, "p"), client(true, OpContinuation, "b")), 0, []string{"9:p", "2:ab"}, 0},
		{"pong", client(true, OpPong, "x"), 0, []string{"10:x"}, 0},
		{"close without code", client(true, OpClose, ""), 0, []string{"8:"}, 0},
		{"close with code", client(true, OpClose, "\x03\xe8bye"), 0, []string{"8:\x03\xe8bye"}, 0},
		{"nothing after close", cat(client(true, OpClose, ""), client(true, OpText, "late")), 0, []string{"8:"}, 0},
		{"message at the limit", client(true, OpText, "12345"), 5, []string{"1:12345"}, 0},

		{"unmasked", []byte{0x81, 0x01, 'x'}, 0, nil, CloseProtocolError},
		{"reserved bit", append([]byte{0xc1}, client(true, OpText, "x")[1:]...), 0, nil, CloseProtocolError},
		{"unknown opcode", client(true, 0x3, "x"), 0, nil, CloseProtocolError},
		{"fragmented ping", client(false, OpPing, "x"), 0, nil, CloseProtocolError},
		{"long ping", client(true, OpPing, mid), 0, nil, CloseProtocolError},
		{"lone continuation", client(true, OpContinuation, "x"), 0, nil, CloseProtocolError},
		{"text inside fragments", cat(client(false, OpText, "a"), client(true, OpText, "b")), 0, nil, CloseProtocolError},
		{"invalid UTF-8", client(true, OpText, "a\xffb"), 0, nil, CloseInvalidPayload},
		{"UTF-8 split across fragments", cat(client(false, OpText, "\xe2\x82"), client(true, OpContinuation, "\xac")), 0, []string{"1:€"}, 0},
		{"binary may be anything", client(true, OpBinary, "\xff"), 0, []string{"2:\xff"}, 0},
		{"close of one byte", client(true, OpClose, "\x03"), 0, nil, CloseProtocolError},
		{"close code 1005", client(true, OpClose, "\x03\xed"), 0, nil, CloseProtocolError},
		{"close reason not UTF-8", client(true, OpClose, "\x03\xe8\xff"), 0, nil, CloseInvalidPayload},
		{"too big", client(true, OpText, "123456"), 5, nil, CloseTooBig},
		{"too big in fragments", cat(client(false, OpText, "123"), client(true, OpContinuation, "456")), 5, nil, CloseTooBig},
		{"non-minimal 16-bit length", []byte{0x81, 0x80 | 126, 0, 5, 1, 2, 3, 4, 1, 2, 3, 4, 5}, 0, nil, CloseProtocolError},
		{"64-bit length with top bit", []byte{0x82, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 0}, 0, nil, CloseProtocolError},
	} {
		for _, chunk := range []int{0, 1, 2, 3, 7, 100} {
			got, err := run(tc.in, chunk, tc.max)
			var pe *ProtocolError
			switch {
			case tc.code == 0 && err != nil:
				t.Errorf("%s (chunk %d): %v", tc.name, chunk, err)
			case tc.code != 0 && (!errors.As(err, &pe) || pe.Code != tc.code):
				t.Errorf("%s (chunk %d): err %v, want close %d", tc.name, chunk, err, tc.code)
			}
			if tc.code == 0 && fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("%s (chunk %d): got %.80q, want %.80q", tc.name, chunk, got, tc.want)
			}
		}
	}
}

// An idle parser holds no buffer.
func TestParserIdleHoldsNothing(t *testing.T) {
	var p Parser
	if err := p.Feed(client(true, OpText, "x"), func(Opcode, []byte) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if p.partial != nil || p.msg != nil {
		t.Fatalf("idle parser holds %d + %d bytes", cap(p.partial), cap(p.msg))
	}
}

// A handler's error stops the parser and is returned.
func TestParserHandlerError(t *testing.T) {
	var p Parser
	stop := errors.New("stop")
	n := 0
	err := p.Feed(cat(client(true, OpText, "a"), client(true, OpText, "b")), func(Opcode, []byte) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Fatalf("err %v after %d calls", err, n)
	}
}

func TestAppendFrame(t *testing.T) {
	for _, tc := range []struct {
		n    int
		head []byte
	}{{0, []byte{0x81, 0}}, {125, []byte{0x81, 125}}, {126, []byte{0x81, 126, 0, 126}}, {65535, []byte{0x81, 126, 0xff, 0xff}},
		{65536, []byte{0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0}}} {
		b := AppendFrame(nil, OpText, bytes.Repeat([]byte("x"), tc.n))
		if !bytes.HasPrefix(b, tc.head) || len(b) != len(tc.head)+tc.n {
			t.Errorf("%d bytes: header % x, length %d", tc.n, b[:len(tc.head)], len(b))
		}
		if h := AppendHeader([]byte("a"), OpText, tc.n); !bytes.Equal(h, append([]byte("a"), tc.head...)) {
			t.Errorf("AppendHeader, %d bytes: % x, want 61 % x", tc.n, h, tc.head)
		}
	}
	if got := AppendClose(nil, CloseProtocolError, "bad"); !bytes.Equal(got, []byte{0x88, 5, 0x03, 0xea, 'b', 'a', 'd'}) {
		t.Errorf("close frame % x", got)
	}
	if got := AppendClose(nil, CloseNoStatus, "x"); !bytes.Equal(got, []byte{0x88, 0}) {
		t.Errorf("close without status % x", got)
	}
	long := AppendClose(nil, CloseNormal, strings.Repeat("é", 100))
	if len(long) > 2+125 || CloseCode(long[2:]) != CloseNormal {
		t.Errorf("long reason: %d bytes", len(long))
	}
	if got := AcceptKey("dGhlIHNhbXBsZSBub25jZQ=="); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Errorf("AcceptKey = %s (RFC 6455 1.3's example)", got)
	}
}

// FuzzParser: any input, fed whole or split in two, never panics and gives
// the same messages and the same verdict.
func FuzzParser(f *testing.F) {
	f.Add(cat(client(true, OpText, "hi"), client(false, OpBinary, "a"), client(true, OpContinuation, "b")), 3)
	f.Add(client(true, OpClose, "\x03\xe8x"), 1)
	f.Add([]byte{0x81, 0xfe, 0, 200}, 2)
	f.Fuzz(func(t *testing.T, data []byte, split int) {
		whole, werr := run(data, 0, 1<<16)
		if split <= 0 || split > len(data) {
			split = len(data)/2 + 1
		}
		parts, perr := run(data, split, 1<<16)
		if fmt.Sprint(whole) != fmt.Sprint(parts) || (werr == nil) != (perr == nil) {
			t.Fatalf("whole %q %v, split at %d %q %v", whole, werr, split, parts, perr)
		}
	})
}
