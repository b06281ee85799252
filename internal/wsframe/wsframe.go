// Package wsframe is a WebSocket (RFC 6455) frame codec for servers: it
// parses the frames a client sends, incrementally, and encodes the frames
// a server sends. It is pure: bytes in, values out, no I/O and no
// goroutines; the event loop feeds it whatever a read returned.
//
// Entry points: Parser.Feed (client frames → messages and control frames,
// or a *ProtocolError whose Code the connection closes with), AppendFrame,
// AppendClose, AcceptKey.
//
// No extension is ever negotiated by this package's users, so the RSV bits
// must be zero. Client frames must be masked (RFC 6455 5.1). Messages of
// zero length are delivered like any other.
package wsframe

import (
	"crypto/sha1" //nolint:gosec // the accept key (RFC 6455 4.2.2), not security
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"unicode/utf8"
)

// Opcode is a frame's opcode (RFC 6455 5.2).
type Opcode byte

// Opcodes.
const (
	OpContinuation Opcode = 0x0
	OpText         Opcode = 0x1
	OpBinary       Opcode = 0x2
	OpClose        Opcode = 0x8
	OpPing         Opcode = 0x9
	OpPong         Opcode = 0xA
)

// Close status codes (RFC 6455 7.4.1).
const (
	CloseNormal          = 1000
	CloseGoingAway       = 1001
	CloseProtocolError   = 1002
	CloseUnsupported     = 1003
	CloseNoStatus        = 1005 // never sent: "the close frame had no code"
	CloseInvalidPayload  = 1007
	ClosePolicyViolation = 1008
	CloseTooBig          = 1009
	CloseInternalError   = 1011
	CloseTryAgainLater   = 1013
)

// ProtocolError is a client's breach of the protocol: the server closes the
// connection with Code (RFC 6455 7.1.7: "Fail the WebSocket Connection").
type ProtocolError struct {
	Code   int
	Reason string
}

func (e *ProtocolError) Error() string {
	return fmt.Sprintf("websocket: %s (close %d)", e.Reason, e.Code)
}

func protoErr(code int, format string, args ...any) *ProtocolError {
	return &ProtocolError{Code: code, Reason: fmt.Sprintf(format, args...)}
}

// maxControl is the largest control frame payload (RFC 6455 5.5).
const maxControl = 125

// Parser parses one connection's client frames. Between frames it holds no
// buffer: an idle connection costs the struct only. The zero value is
// ready; set MaxMessage before the first Feed.
type Parser struct {
	// MaxMessage is the largest message (all fragments together) accepted;
	// a larger one fails with CloseTooBig. 0: no limit.
	MaxMessage int

	partial []byte // the bytes of an incomplete frame
	msg     []byte // the fragments of an incomplete message
	msgOp   Opcode // its opcode (OpText or OpBinary); 0: none in progress
	closed  bool   // a close frame was received, or an error returned
}

// Handler receives what Feed parsed. A message's payload (text or binary,
// fragments joined) and a control frame's payload are only valid during
// the call. A non-nil error stops Feed, which returns it.
type Handler func(op Opcode, payload []byte) error

// Feed parses data (which it may modify: payloads are unmasked in place)
// and calls h for every complete message (OpText, OpBinary) and control
// frame (OpClose, OpPing, OpPong), in order. It returns the first error of
// h, or a *ProtocolError: the connection must then be closed with its code,
// and the parser accepts nothing more. After a close frame nothing more is
// parsed either.
func (p *Parser) Feed(data []byte, h Handler) error {
	if p.closed {
		return nil
	}
	if len(p.partial) > 0 {
		// Complete the pending frame from data first, copying no more
		// than it needs.
		need, err := p.frameLen(p.partial)
		for err == nil && need == 0 && len(data) > 0 {
			// The header itself is incomplete: take one byte at a time
			// until its length is known (at most 13 bytes).
			p.partial = append(p.partial, data[0])
			data = data[1:]
			need, err = p.frameLen(p.partial)
		}
		if err != nil {
			return p.fail(err)
		}
		if need == 0 {
			return nil // still no complete header
		}
		take := min(need-len(p.partial), len(data))
		p.partial = append(p.partial, data[:take]...)
		data = data[take:]
		if len(p.partial) < need {
			return nil
		}
		frame := p.partial
		p.partial = nil
		if err := p.frame(frame, h); err != nil {
			return p.fail(err)
		}
	}
	for len(data) > 0 && !p.closed {
		need, err := p.frameLen(data)
		if err != nil {
			return p.fail(err)
		}
		if need == 0 || need > len(data) {
			// Room for the whole frame up to 64 KiB; a larger one grows
			// as its bytes arrive.
			p.partial = append(make([]byte, 0, max(min(need, 64<<10), len(data), 16)), data...)
			return nil
		}
		if err := p.frame(data[:need], h); err != nil {
			return p.fail(err)
		}
		data = data[need:]
	}
	return nil
}

func (p *Parser) fail(err error) error {
	p.closed = true
	p.partial, p.msg = nil, nil
	return err
}

// frameLen returns the length of the frame starting at b (header and
// payload), 0 if b does not hold the whole header yet, or a protocol error
// found in the header.
func (p *Parser) frameLen(b []byte) (int, error) {
	if len(b) < 2 {
		return 0, nil
	}
	fin := b[0]&0x80 != 0
	if b[0]&0x70 != 0 {
		return 0, protoErr(CloseProtocolError, "reserved bits set without an extension")
	}
	op := Opcode(b[0] & 0x0f)
	switch op {
	case OpContinuation, OpText, OpBinary, OpClose, OpPing, OpPong:
	default:
		return 0, protoErr(CloseProtocolError, "unknown opcode %#x", byte(op))
	}
	if b[1]&0x80 == 0 {
		return 0, protoErr(CloseProtocolError, "unmasked client frame")
	}
	n := uint64(b[1] & 0x7f)
	hl := 2
	switch n {
	case 126:
		hl = 4
		if len(b) < hl {
			return 0, nil
		}
		n = uint64(binary.BigEndian.Uint16(b[2:]))
		if n < 126 {
			return 0, protoErr(CloseProtocolError, "length not in its shortest form")
		}
	case 127:
		hl = 10
		if len(b) < hl {
			return 0, nil
		}
		n = binary.BigEndian.Uint64(b[2:])
		if n>>63 != 0 {
			return 0, protoErr(CloseProtocolError, "length with its most significant bit set")
		}
		if n <= 0xffff {
			return 0, protoErr(CloseProtocolError, "length not in its shortest form")
		}
	}
	if op >= OpClose {
		if !fin {
			return 0, protoErr(CloseProtocolError, "fragmented control frame")
		}
		if n > maxControl {
			return 0, protoErr(CloseProtocolError, "control frame of %d bytes", n)
		}
	} else if p.MaxMessage > 0 && n+uint64(len(p.msg)) > uint64(p.MaxMessage) {
		return 0, protoErr(CloseTooBig, "message over %d bytes", p.MaxMessage)
	}
	hl += 4 // the mask
	if n > uint64(int(^uint(0)>>1)-hl) {
		return 0, protoErr(CloseTooBig, "frame of %d bytes", n)
	}
	return hl + int(n), nil
}

// frame handles one complete frame (header already checked by frameLen).
func (p *Parser) frame(b []byte, h Handler) error {
	fin := b[0]&0x80 != 0
	op := Opcode(b[0] & 0x0f)
	hl := 2
	switch b[1] & 0x7f {
	case 126:
		hl = 4
	case 127:
		hl = 10
	}
	mask := b[hl : hl+4]
	payload := b[hl+4:]
	unmask(payload, mask)
	switch {
	case op >= OpClose:
		if op == OpClose {
			if err := checkClose(payload); err != nil {
				return err
			}
			p.closed = true
		}
		return h(op, payload)
	case op == OpContinuation:
		if p.msgOp == 0 {
			return protoErr(CloseProtocolError, "continuation frame without a message")
		}
		p.msg = append(p.msg, payload...)
		if !fin {
			return nil
		}
		op, payload = p.msgOp, p.msg
		p.msgOp, p.msg = 0, nil
	default: // text or binary
		if p.msgOp != 0 {
			return protoErr(CloseProtocolError, "new message before the last one ended")
		}
		if !fin {
			p.msgOp = op
			p.msg = append(make([]byte, 0, max(len(payload), 64)), payload...)
			return nil
		}
	}
	if op == OpText && !utf8.Valid(payload) {
		return protoErr(CloseInvalidPayload, "text message is not valid UTF-8")
	}
	return h(op, payload)
}

// checkClose validates a close frame's payload (RFC 6455 5.5.1, 7.4).
func checkClose(b []byte) error {
	switch {
	case len(b) == 0:
		return nil
	case len(b) == 1:
		return protoErr(CloseProtocolError, "close frame of one byte")
	}
	code := int(binary.BigEndian.Uint16(b))
	if !validCloseCode(code) {
		return protoErr(CloseProtocolError, "close code %d", code)
	}
	if !utf8.Valid(b[2:]) {
		return protoErr(CloseInvalidPayload, "close reason is not valid UTF-8")
	}
	return nil
}

// validCloseCode reports whether an endpoint may send code (RFC 6455 7.4).
func validCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// CloseCode returns the status code of a close frame's payload (as Feed
// delivered it), or CloseNoStatus when it has none.
func CloseCode(payload []byte) int {
	if len(payload) < 2 {
		return CloseNoStatus
	}
	return int(binary.BigEndian.Uint16(payload))
}

func unmask(b, mask []byte) {
	if len(b) == 0 {
		return
	}
	m := binary.LittleEndian.Uint32(mask)
	m64 := uint64(m) | uint64(m)<<32
	i := 0
	for ; i+8 <= len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], binary.LittleEndian.Uint64(b[i:])^m64)
	}
	for ; i < len(b); i++ {
		b[i] ^= mask[i&3]
	}
}

// AppendFrame appends one unfragmented, unmasked (server) frame.
func AppendFrame(dst []byte, op Opcode, payload []byte) []byte {
	return append(AppendHeader(dst, op, len(payload)), payload...)
}

// AppendHeader appends the header of an unfragmented, unmasked (server)
// frame whose payload of n bytes the caller appends next (a payload in
// several pieces, copied once).
func AppendHeader(dst []byte, op Opcode, n int) []byte {
	dst = append(dst, 0x80|byte(op))
	switch {
	case n < 126:
		dst = append(dst, byte(n))
	case n <= 0xffff:
		dst = append(dst, 126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	return dst
}

// AppendClose appends a close frame with code and reason (cut to fit the
// 125 bytes of a control frame, at a rune boundary). CloseNoStatus appends
// a close frame without a body.
func AppendClose(dst []byte, code int, reason string) []byte {
	if code == CloseNoStatus {
		return AppendFrame(dst, OpClose, nil)
	}
	for len(reason) > maxControl-2 {
		_, size := utf8.DecodeLastRuneInString(reason)
		reason = reason[:len(reason)-size]
	}
	var body [maxControl]byte
	binary.BigEndian.PutUint16(body[:], uint16(code))
	n := copy(body[2:], reason)
	return AppendFrame(dst, OpClose, body[:2+n])
}

// ValidKey reports whether key is a valid Sec-WebSocket-Key: 16 bytes in
// base64 (RFC 6455 4.1).
func ValidKey(key string) bool {
	k, err := base64.StdEncoding.DecodeString(key)
	return err == nil && len(k) == 16
}

// AcceptKey returns the Sec-WebSocket-Accept value for a client's
// Sec-WebSocket-Key (RFC 6455 4.2.2).
func AcceptKey(key string) string {
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")) //nolint:gosec // RFC 6455
	return base64.StdEncoding.EncodeToString(sum[:])
}
