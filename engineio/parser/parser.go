// Package parser encodes and decodes Engine.IO packets and payloads, protocol
// versions 4 (engine.io 4+, socket.io 3+ clients) and 3 (engine.io 3.x,
// socket.io 1.x/2.x clients and old iOS apps).
//
// It is a pure codec: bytes in, values out, no I/O and no goroutines. All
// functions are safe for concurrent use. Decoded packets may alias the input
// buffer; callers that keep them past the buffer's life must copy.
//
// Wire summary (https://github.com/socketio/engine.io-protocol):
//
//	packet (text)       <type digit><data>            e.g. "4hello"
//	packet v4 binary    raw bytes in a binary WebSocket frame; "b<base64>" in a polling payload
//	packet v3 binary    <type byte><data> in a binary frame; "b<type digit><base64>" in a text payload
//	payload v4          packets joined by 0x1e
//	payload v3 text     <len>:<packet> repeated; len counts UTF-16 code units, like JavaScript
//	payload v3 binary   <0|1><len digits as bytes><0xff><packet> repeated; len counts bytes
package parser

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Type is an Engine.IO packet type.
type Type byte

// Packet types, in wire order.
const (
	Open Type = iota
	Close
	Ping
	Pong
	Message
	Upgrade
	Noop
)

var typeNames = [...]string{"open", "close", "ping", "pong", "message", "upgrade", "noop"}

func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "type(" + strconv.Itoa(int(t)) + ")"
}

// Valid reports whether t is a known packet type.
func (t Type) Valid() bool { return t <= Noop }

// Packet is one Engine.IO packet. Binary is only meaningful for Message packets.
type Packet struct {
	Type   Type
	Data   []byte
	Binary bool
}

// Separator joins packets in a v4 polling payload (ASCII record separator).
const Separator = 0x1e

// Errors. Every decoding error wraps ErrInvalid.
var (
	ErrInvalid = errors.New("engine.io: invalid packet")
	ErrEmpty   = fmt.Errorf("%w: empty", ErrInvalid)
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// DecodeText decodes a packet received as text (a text WebSocket frame, or
// one element of a payload). It accepts v4's "b<base64>" binary form when
// allowB64 is set (polling payloads).
func DecodeText(msg []byte, allowB64 bool) (Packet, error) {
	if len(msg) == 0 {
		return Packet{}, ErrEmpty
	}
	if msg[0] == 'b' {
		if !allowB64 {
			return Packet{}, invalid("base64 packet outside a polling payload")
		}
		data, err := decodeBase64(msg[1:])
		if err != nil {
			return Packet{}, err
		}
		return Packet{Type: Message, Data: data, Binary: true}, nil
	}
	t := Type(msg[0] - '0')
	if msg[0] < '0' || !t.Valid() {
		return Packet{}, invalid("unknown packet type %q", msg[0])
	}
	return Packet{Type: t, Data: msg[1:]}, nil
}

// DecodeTextV3 is DecodeText for protocol 3, whose base64 form carries the
// packet type: "b4<base64>".
func DecodeTextV3(msg []byte) (Packet, error) {
	if len(msg) == 0 {
		return Packet{}, ErrEmpty
	}
	if msg[0] == 'b' {
		if len(msg) < 2 {
			return Packet{}, invalid("truncated base64 packet")
		}
		t := Type(msg[1] - '0')
		if msg[1] < '0' || !t.Valid() {
			return Packet{}, invalid("unknown packet type %q", msg[1])
		}
		data, err := decodeBase64(msg[2:])
		if err != nil {
			return Packet{}, err
		}
		return Packet{Type: t, Data: data, Binary: true}, nil
	}
	return DecodeText(msg, false)
}

// DecodeBinary decodes a binary WebSocket frame. In v4 the whole frame is
// the data of a message packet; in v3 the first byte is the packet type.
func DecodeBinary(msg []byte, protocol int) (Packet, error) {
	if protocol == 3 {
		if len(msg) == 0 {
			return Packet{}, ErrEmpty
		}
		t := Type(msg[0])
		if !t.Valid() {
			return Packet{}, invalid("unknown binary packet type %d", msg[0])
		}
		return Packet{Type: t, Data: msg[1:], Binary: true}, nil
	}
	return Packet{Type: Message, Data: msg, Binary: true}, nil
}

func decodeBase64(src []byte) ([]byte, error) {
	dst := make([]byte, base64.StdEncoding.DecodedLen(len(src)))
	n, err := base64.StdEncoding.Decode(dst, src)
	if err != nil {
		return nil, invalid("bad base64: %v", err)
	}
	return dst[:n], nil
}

// AppendText appends the text form of p (type digit + data) to dst. For a
// binary packet it appends the polling form: "b<base64>" in v4, "b<type><base64>" in v3.
func AppendText(dst []byte, p Packet, protocol int) []byte {
	if p.Binary {
		dst = append(dst, 'b')
		if protocol == 3 {
			dst = append(dst, '0'+byte(p.Type))
		}
		return base64.StdEncoding.AppendEncode(dst, p.Data)
	}
	dst = append(dst, '0'+byte(p.Type))
	return append(dst, p.Data...)
}

// AppendBinaryFrame appends the payload of a binary WebSocket frame for p:
// the raw data in v4, the type byte then the data in v3.
func AppendBinaryFrame(dst []byte, p Packet, protocol int) []byte {
	if protocol == 3 {
		dst = append(dst, byte(p.Type))
	}
	return append(dst, p.Data...)
}

// AppendPayloadV4 appends packets as a v4 polling payload.
func AppendPayloadV4(dst []byte, packets []Packet) []byte {
	for i, p := range packets {
		if i > 0 {
			dst = append(dst, Separator)
		}
		dst = AppendText(dst, p, 4)
	}
	return dst
}

// DecodePayloadV4 splits a v4 polling payload into packets. It stops at the
// first invalid packet and returns the packets before it with the error.
func DecodePayloadV4(payload []byte) ([]Packet, error) {
	if len(payload) == 0 {
		return nil, ErrEmpty
	}
	n := bytes.Count(payload, []byte{Separator}) + 1
	packets := make([]Packet, 0, n)
	for len(payload) > 0 || n > len(packets) {
		i := bytes.IndexByte(payload, Separator)
		var one []byte
		if i < 0 {
			one, payload = payload, nil
		} else {
			one, payload = payload[:i], payload[i+1:]
		}
		p, err := DecodeText(one, true)
		if err != nil {
			return packets, err
		}
		packets = append(packets, p)
	}
	return packets, nil
}

// utf16Len counts UTF-16 code units of UTF-8 text, as JavaScript's
// String.length does. Invalid bytes count as one unit each (they decode to
// U+FFFD in JavaScript).
func utf16Len(b []byte) int {
	n := 0
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
		b = b[size:]
	}
	return n
}

// utf16Prefix returns the number of bytes of b holding its first units UTF-16
// code units, or -1 when b is shorter or the count splits a surrogate pair.
func utf16Prefix(b []byte, units int) int {
	i := 0
	for units > 0 {
		if i >= len(b) {
			return -1
		}
		r, size := utf8.DecodeRune(b[i:])
		w := 1
		if r >= 0x10000 {
			w = 2
		}
		if w > units {
			return -1
		}
		units -= w
		i += size
	}
	return i
}

// AppendPayloadV3Text appends packets as a v3 text payload ("<len>:<packet>"),
// binary packets in base64. Used for clients without binary support (b64=1)
// and whenever no packet is binary.
func AppendPayloadV3Text(dst []byte, packets []Packet) []byte {
	var scratch []byte
	for _, p := range packets {
		scratch = AppendText(scratch[:0], p, 3)
		dst = strconv.AppendInt(dst, int64(utf16Len(scratch)), 10)
		dst = append(dst, ':')
		dst = append(dst, scratch...)
	}
	return dst
}

// AppendPayloadV3Binary appends packets as a v3 binary payload (XHR2 clients).
func AppendPayloadV3Binary(dst []byte, packets []Packet) []byte {
	var digits [20]byte
	for _, p := range packets {
		n := len(p.Data) + 1
		if p.Binary {
			dst = append(dst, 1)
		} else {
			dst = append(dst, 0)
		}
		for _, d := range strconv.AppendInt(digits[:0], int64(n), 10) {
			dst = append(dst, d-'0')
		}
		dst = append(dst, 0xff)
		if p.Binary {
			dst = append(dst, byte(p.Type))
		} else {
			dst = append(dst, '0'+byte(p.Type))
		}
		dst = append(dst, p.Data...)
	}
	return dst
}

// maxLenDigits bounds declared lengths in v3 payloads (a length that does not
// fit the body is rejected anyway; this only stops absurd digit strings early).
const maxLenDigits = 10

// DecodePayloadV3Text decodes a v3 text payload.
func DecodePayloadV3Text(payload []byte) ([]Packet, error) {
	if len(payload) == 0 {
		return nil, ErrEmpty
	}
	var packets []Packet
	for len(payload) > 0 {
		colon := bytes.IndexByte(payload, ':')
		if colon <= 0 || colon > maxLenDigits {
			return packets, invalid("bad length prefix in v3 payload")
		}
		n, err := strconv.Atoi(string(payload[:colon]))
		if err != nil || n < 0 {
			return packets, invalid("bad length %q in v3 payload", payload[:colon])
		}
		payload = payload[colon+1:]
		end := utf16Prefix(payload, n)
		if end < 0 {
			return packets, invalid("v3 payload shorter than its declared length %d", n)
		}
		p, err := DecodeTextV3(payload[:end])
		if err != nil {
			return packets, err
		}
		packets = append(packets, p)
		payload = payload[end:]
	}
	return packets, nil
}

// DecodePayloadV3Binary decodes a v3 binary payload.
func DecodePayloadV3Binary(payload []byte) ([]Packet, error) {
	if len(payload) == 0 {
		return nil, ErrEmpty
	}
	var packets []Packet
	for len(payload) > 0 {
		kind := payload[0]
		if kind > 1 {
			return packets, invalid("bad packet kind %d in v3 binary payload", kind)
		}
		n, i := 0, 1
		for ; i < len(payload) && payload[i] != 0xff; i++ {
			if payload[i] > 9 || i > maxLenDigits {
				return packets, invalid("bad length in v3 binary payload")
			}
			n = n*10 + int(payload[i])
		}
		if i == 1 || i >= len(payload) {
			return packets, invalid("truncated length in v3 binary payload")
		}
		payload = payload[i+1:]
		if n == 0 || n > len(payload) {
			return packets, invalid("v3 binary payload shorter than its declared length %d", n)
		}
		one := payload[:n]
		payload = payload[n:]
		var p Packet
		var err error
		if kind == 1 {
			p, err = DecodeBinary(one, 3)
		} else {
			p, err = DecodeTextV3(one)
		}
		if err != nil {
			return packets, err
		}
		packets = append(packets, p)
	}
	return packets, nil
}
