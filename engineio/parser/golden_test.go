package parser

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// The golden bytes below marked "npm" were produced by the reference parsers:
// engine.io-parser 5.2.3 (protocol 4, used by engine.io 6 and
// engine.io-client 6) and 2.2.1 (protocol 3, used by socket.io-client 2.5),
// so the encoders must reproduce them byte for byte and the decoders must
// accept them. The others are hand-written from the protocol description.

func msg(s string) Packet         { return Packet{Type: Message, Data: []byte(s)} }
func bin(b ...byte) Packet        { return Packet{Type: Message, Data: b, Binary: true} }
func ctl(t Type, s string) Packet { return Packet{Type: t, Data: []byte(s)} }

// samePackets compares packets treating nil and empty data alike.
func samePackets(a, b []Packet) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Type != b[i].Type || a[i].Binary != b[i].Binary || !bytes.Equal(a[i].Data, b[i].Data) {
			return false
		}
	}
	return true
}

func TestTypeString(t *testing.T) {
	want := []string{"open", "close", "ping", "pong", "message", "upgrade", "noop"}
	for i, w := range want {
		if got := Type(i).String(); got != w {
			t.Errorf("Type(%d).String() = %q, want %q", i, got, w)
		}
		if !Type(i).Valid() {
			t.Errorf("Type(%d).Valid() = false", i)
		}
	}
	if Type(7).Valid() || Type(7).String() != "type(7)" {
		t.Errorf("Type(7): Valid %v, String %q", Type(7).Valid(), Type(7).String())
	}
}

// textGolden: one packet in text form (WebSocket text frame or payload element).
var textGolden = []struct {
	name  string
	wire  string
	proto int // 4 or 3; both when 0
	p     Packet
}{
	{"open", `0{"sid":"abc","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`, 0,
		ctl(Open, `{"sid":"abc","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`)},
	{"close", "1", 0, ctl(Close, "")},
	{"ping", "2", 0, ctl(Ping, "")},
	{"ping probe", "2probe", 0, ctl(Ping, "probe")},
	{"pong probe", "3probe", 0, ctl(Pong, "probe")},
	{"message", "4hello", 0, msg("hello")},
	{"empty message", "4", 0, msg("")},
	{"message non-ascii", "4é😀", 0, msg("é😀")},
	{"message with separator-like bytes", "4a:b:c", 0, msg("a:b:c")},
	{"upgrade", "5", 0, ctl(Upgrade, "")},
	{"noop", "6", 0, ctl(Noop, "")},
	{"v4 base64 binary (npm)", "bAQID", 4, bin(1, 2, 3)},
	{"v4 base64 empty binary", "b", 4, bin()},
	{"v3 base64 binary (npm)", "b4AQID", 3, bin(1, 2, 3)},
	{"v3 base64 binary with padding", "b4AP8=", 3, bin(0, 0xff)},
}

func TestTextGolden(t *testing.T) {
	for _, g := range textGolden {
		t.Run(g.name, func(t *testing.T) {
			for _, proto := range []int{3, 4} {
				if g.proto != 0 && g.proto != proto {
					continue
				}
				var got Packet
				var err error
				if proto == 4 {
					got, err = DecodeText([]byte(g.wire), true)
				} else {
					got, err = DecodeTextV3([]byte(g.wire))
				}
				if err != nil {
					t.Fatalf("v%d decode %q: %v", proto, g.wire, err)
				}
				if !samePackets([]Packet{got}, []Packet{g.p}) {
					t.Errorf("v%d decode %q = %+v, want %+v", proto, g.wire, got, g.p)
				}
				if enc := AppendText(nil, g.p, proto); string(enc) != g.wire {
					t.Errorf("v%d AppendText(%+v) = %q, want %q", proto, g.p, enc, g.wire)
				}
			}
		})
	}
}

func TestAppendTextAppends(t *testing.T) {
	got := AppendText([]byte("prefix|"), msg("x"), 4)
	if string(got) != "prefix|4x" {
		t.Fatalf("AppendText did not append: %q", got)
	}
}

func TestDecodeTextErrors(t *testing.T) {
	cases := []struct {
		name     string
		wire     string
		allowB64 bool
		want     string // substring of the error
	}{
		{"empty", "", true, "empty"},
		{"unknown type 7", "7", true, "unknown packet type"},
		{"type below zero", "/x", true, "unknown packet type"},
		{"letter type", "xhello", true, "unknown packet type"},
		{"base64 over websocket", "bAQID", false, "base64 packet outside a polling payload"},
		{"bad base64", "b!!!!", true, "bad base64"},
		{"truncated base64", "bAQI", true, "bad base64"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeText([]byte(c.wire), c.allowB64)
			checkInvalid(t, err, c.want)
		})
	}
}

func TestDecodeTextV3Errors(t *testing.T) {
	cases := []struct{ name, wire, want string }{
		{"empty", "", "empty"},
		{"lone b", "b", "truncated base64 packet"},
		{"bad type in base64", "b9AQID", "unknown packet type"},
		{"bad base64", "b4###", "bad base64"},
		{"unknown type", "8", "unknown packet type"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeTextV3([]byte(c.wire))
			checkInvalid(t, err, c.want)
		})
	}
}

func checkInvalid(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", want)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("error %v does not wrap ErrInvalid", err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not mention %q", err, want)
	}
}

func TestBinaryFrames(t *testing.T) {
	cases := []struct {
		name  string
		proto int
		wire  []byte
		p     Packet
	}{
		{"v4 message", 4, []byte{1, 2, 3}, bin(1, 2, 3)},
		{"v4 empty", 4, []byte{}, bin()},
		{"v4 leading type-like byte is data", 4, []byte{4, 0xff}, bin(4, 0xff)},
		{"v3 message (npm)", 3, []byte{4, 1, 2, 3}, bin(1, 2, 3)},
		{"v3 message empty", 3, []byte{4}, bin()},
		{"v3 ping", 3, []byte{2, 'x'}, Packet{Type: Ping, Data: []byte("x"), Binary: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := DecodeBinary(c.wire, c.proto)
			if err != nil {
				t.Fatal(err)
			}
			if !samePackets([]Packet{got}, []Packet{c.p}) {
				t.Errorf("DecodeBinary(%x) = %+v, want %+v", c.wire, got, c.p)
			}
			if enc := AppendBinaryFrame(nil, c.p, c.proto); !bytes.Equal(enc, c.wire) {
				t.Errorf("AppendBinaryFrame = %x, want %x", enc, c.wire)
			}
		})
	}
	_, err := DecodeBinary(nil, 3)
	checkInvalid(t, err, "empty")
	_, err = DecodeBinary([]byte{7, 1}, 3)
	checkInvalid(t, err, "unknown binary packet type 7")
	_, err = DecodeBinary([]byte{'4', 1}, 3) // an ASCII digit is not a type byte
	checkInvalid(t, err, "unknown binary packet type")
}

var payloadV4Golden = []struct {
	name    string
	wire    string
	packets []Packet
}{
	{"one message", "4hello", []Packet{msg("hello")}},
	{"text, binary, ping (npm)", "4hello\x1ebAQID\x1e2", []Packet{msg("hello"), bin(1, 2, 3), ctl(Ping, "")}},
	{"non-ascii (npm)", "4é😀", []Packet{msg("é😀")}},
	{"empty messages", "4\x1e4", []Packet{msg(""), msg("")}},
	{"pong and message", "3\x1e4x", []Packet{ctl(Pong, ""), msg("x")}},
	{"close", "1", []Packet{ctl(Close, "")}},
	{"noop", "6", []Packet{ctl(Noop, "")}},
}

func TestPayloadV4Golden(t *testing.T) {
	for _, g := range payloadV4Golden {
		t.Run(g.name, func(t *testing.T) {
			got, err := DecodePayloadV4([]byte(g.wire))
			if err != nil {
				t.Fatal(err)
			}
			if !samePackets(got, g.packets) {
				t.Errorf("decode %q = %+v, want %+v", g.wire, got, g.packets)
			}
			if enc := AppendPayloadV4(nil, g.packets); string(enc) != g.wire {
				t.Errorf("encode = %q, want %q", enc, g.wire)
			}
		})
	}
}

func TestDecodePayloadV4Errors(t *testing.T) {
	cases := []struct {
		name   string
		wire   string
		before []Packet // valid packets returned with the error
		want   string
	}{
		{"empty body", "", nil, "empty"},
		{"trailing separator", "4a\x1e", []Packet{msg("a")}, "empty"},
		{"leading separator", "\x1e4a", nil, "empty"},
		{"double separator", "4a\x1e\x1e4b", []Packet{msg("a")}, "empty"},
		{"bad second packet", "4a\x1e9", []Packet{msg("a")}, "unknown packet type"},
		{"bad base64", "4a\x1eb%%", []Packet{msg("a")}, "bad base64"},
		{"v3 framing sent to v4", "9:4hello", nil, "unknown packet type"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := DecodePayloadV4([]byte(c.wire))
			checkInvalid(t, err, c.want)
			if !samePackets(got, c.before) {
				t.Errorf("packets before the error = %+v, want %+v", got, c.before)
			}
		})
	}
}

// payloadV3TextGolden: lengths count UTF-16 code units, like JavaScript's
// String.length: "é" is 1 unit (2 bytes), "😀" 2 units (4 bytes).
var payloadV3TextGolden = []struct {
	name    string
	wire    string
	packets []Packet
}{
	{"one message (npm)", "6:4hello", []Packet{msg("hello")}},
	{"é and 😀 (npm)", "2:4é3:4😀", []Packet{msg("é"), msg("😀")}},
	{"probe and astral (npm)", "6:2probe5:4a😀b", []Packet{ctl(Ping, "probe"), msg("a😀b")}},
	{"binary as base64 (npm)", "6:b4AQID", []Packet{bin(1, 2, 3)}},
	{"text then binary (npm)", "2:4x6:b4AP8=", []Packet{msg("x"), bin(0, 0xff)}},
	{"close (npm)", "1:1", []Packet{ctl(Close, "")}},
	{"colons in data", "4:4a:b1:6", []Packet{msg("a:b"), ctl(Noop, "")}},
	{"long message", "11:4" + strings.Repeat("z", 10), []Packet{msg(strings.Repeat("z", 10))}},
	{"CJK (3-byte, 1 unit)", "3:4中文", []Packet{msg("中文")}},
}

func TestPayloadV3TextGolden(t *testing.T) {
	for _, g := range payloadV3TextGolden {
		t.Run(g.name, func(t *testing.T) {
			got, err := DecodePayloadV3Text([]byte(g.wire))
			if err != nil {
				t.Fatal(err)
			}
			if !samePackets(got, g.packets) {
				t.Errorf("decode %q = %+v, want %+v", g.wire, got, g.packets)
			}
			if enc := AppendPayloadV3Text(nil, g.packets); string(enc) != g.wire {
				t.Errorf("encode = %q, want %q", enc, g.wire)
			}
		})
	}
}

func TestDecodePayloadV3TextErrors(t *testing.T) {
	cases := []struct {
		name   string
		wire   string
		before []Packet
		want   string
	}{
		{"empty body", "", nil, "empty"},
		{"no colon", "4hello", nil, "bad length prefix"},
		{"colon first", ":4hello", nil, "bad length prefix"},
		{"length not a number", "x:4", nil, "bad length"},
		{"negative length", "-1:4", nil, "bad length"},
		{"too many digits", "12345678901:4", nil, "bad length prefix"},
		{"length past the end", "9:4hello", nil, "shorter than its declared length"},
		{"length counts bytes not units", "3:4é", nil, "shorter than its declared length"},
		{"length splits a surrogate pair", "2:4😀", nil, "shorter than its declared length"},
		{"zero length", "0:", nil, "empty"},
		{"bad second packet", "2:4x1:9", []Packet{msg("x")}, "unknown packet type"},
		{"garbage after packet", "2:4xyz", []Packet{msg("x")}, "bad length prefix"},
		{"v4 base64 form in v3", "4:bAQI", nil, "unknown packet type"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := DecodePayloadV3Text([]byte(c.wire))
			checkInvalid(t, err, c.want)
			if !samePackets(got, c.before) {
				t.Errorf("packets before the error = %+v, want %+v", got, c.before)
			}
		})
	}
}

// payloadV3BinaryGolden: <0 text|1 binary><length digits as bytes><0xff><packet>.
var payloadV3BinaryGolden = []struct {
	name    string
	wire    []byte
	packets []Packet
}{
	{"binary message (npm)", []byte{1, 4, 0xff, 4, 1, 2, 3}, []Packet{bin(1, 2, 3)}},
	{"text then binary (npm)", []byte{0, 2, 0xff, '4', 'x', 1, 3, 0xff, 4, 0, 0xff}, []Packet{msg("x"), bin(0, 0xff)}},
	{"two-digit length", append([]byte{1, 1, 1, 0xff, 4}, bytes.Repeat([]byte{7}, 10)...), []Packet{bin(bytes.Repeat([]byte{7}, 10)...)}},
	{"text length counts bytes", []byte{0, 3, 0xff, '4', 0xc3, 0xa9}, []Packet{msg("é")}},
	{"ping then empty binary", []byte{0, 1, 0xff, '2', 1, 1, 0xff, 4}, []Packet{ctl(Ping, ""), bin()}},
}

func TestPayloadV3BinaryGolden(t *testing.T) {
	for _, g := range payloadV3BinaryGolden {
		t.Run(g.name, func(t *testing.T) {
			got, err := DecodePayloadV3Binary(g.wire)
			if err != nil {
				t.Fatal(err)
			}
			if !samePackets(got, g.packets) {
				t.Errorf("decode %x = %+v, want %+v", g.wire, got, g.packets)
			}
			if enc := AppendPayloadV3Binary(nil, g.packets); !bytes.Equal(enc, g.wire) {
				t.Errorf("encode = %x, want %x", enc, g.wire)
			}
		})
	}
}

func TestDecodePayloadV3BinaryErrors(t *testing.T) {
	cases := []struct {
		name   string
		wire   []byte
		before []Packet
		want   string
	}{
		{"empty body", nil, nil, "empty"},
		{"bad kind", []byte{2, 1, 0xff, '4'}, nil, "bad packet kind 2"},
		{"ascii digit length", []byte{0, '1', 0xff, '4'}, nil, "bad length"},
		{"no length", []byte{0, 0xff, '4'}, nil, "truncated length"},
		{"no 0xff", []byte{0, 1, 2}, nil, "truncated length"},
		{"kind only", []byte{1}, nil, "truncated length"},
		{"too many digits", []byte{0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0xff, '4'}, nil, "bad length"},
		{"zero length", []byte{0, 0, 0xff}, nil, "shorter than its declared length 0"},
		{"length past the end", []byte{1, 5, 0xff, 4, 1}, nil, "shorter than its declared length 5"},
		{"bad binary type", []byte{1, 2, 0xff, 9, 1}, nil, "unknown binary packet type"},
		{"bad text type", []byte{0, 1, 0xff, 'z'}, nil, "unknown packet type"},
		{"bad second packet", []byte{0, 1, 0xff, '6', 7}, []Packet{ctl(Noop, "")}, "bad packet kind 7"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := DecodePayloadV3Binary(c.wire)
			checkInvalid(t, err, c.want)
			if !samePackets(got, c.before) {
				t.Errorf("packets before the error = %+v, want %+v", got, c.before)
			}
		})
	}
}

func TestUTF16Len(t *testing.T) {
	cases := []struct {
		s    string
		want int
	}{
		{"", 0}, {"a", 1}, {"é", 1}, {"中", 1}, {"😀", 2}, {"a😀é", 4},
		{"\xff", 1}, // invalid byte: one U+FFFD in JavaScript
	}
	for _, c := range cases {
		if got := utf16Len([]byte(c.s)); got != c.want {
			t.Errorf("utf16Len(%q) = %d, want %d", c.s, got, c.want)
		}
	}
}

// TestDecodedPacketsAlias documents the aliasing contract in the package doc:
// text packets point into the input buffer, so callers must copy to keep them.
func TestDecodedPacketsAlias(t *testing.T) {
	buf := []byte("4hello")
	p, err := DecodeText(buf, false)
	if err != nil {
		t.Fatal(err)
	}
	buf[1] = 'j'
	if string(p.Data) != "jello" {
		t.Fatalf("decoded data %q does not alias the input", p.Data)
	}
}

func TestRoundTripAllTypes(t *testing.T) {
	var pkts []Packet
	for ty := Open; ty <= Noop; ty++ {
		pkts = append(pkts, ctl(ty, "d"+ty.String()))
	}
	pkts = append(pkts, bin(0, 1, 0x1e, 0xff))
	got, err := DecodePayloadV4(AppendPayloadV4(nil, pkts))
	if err != nil || !samePackets(got, pkts) {
		t.Errorf("v4 round trip: %+v, %v", got, err)
	}
	got, err = DecodePayloadV3Text(AppendPayloadV3Text(nil, pkts))
	if err != nil || !samePackets(got, pkts) {
		t.Errorf("v3 text round trip: %+v, %v", got, err)
	}
	got, err = DecodePayloadV3Binary(AppendPayloadV3Binary(nil, pkts))
	if err != nil || !reflect.DeepEqual(len(got), len(pkts)) || !samePackets(got, pkts) {
		t.Errorf("v3 binary round trip: %+v, %v", got, err)
	}
}
