package xmppgw

import (
	"encoding/binary"
	"errors"
	"unicode/utf8"
)

// WebSocket framing (RFC 6455) for the XMPP WebSocket binding, written
// here rather than taken from a library because the connection lives on
// the event loop: wsDecoder is fed whatever bytes arrived and keeps only
// an incomplete frame (nothing between messages). Server frames are
// unmasked and built by appendWSFrame.

const (
	wsCont   = 0x0
	wsText   = 0x1
	wsBinary = 0x2
	wsClose  = 0x8
	wsPing   = 0x9
	wsPong   = 0xA
)

var (
	errWSProtocol = errors.New("websocket protocol error")
	errWSTooLarge = errors.New("websocket message too large")
	errWSUTF8     = errors.New("websocket text is not valid UTF-8")
)

// wsDecoder reassembles client frames into messages.
type wsDecoder struct {
	max  int    // largest message payload
	buf  []byte // bytes of an incomplete frame (header included)
	msg  []byte // payload of a fragmented message so far
	frag bool   // inside a fragmented message
}

// feed decodes p and calls on for each complete message (text, binary:
// the reassembled payload) and control frame (close, ping, pong). The
// payload is owned by the callee. on's error stops decoding.
func (d *wsDecoder) feed(p []byte, on func(op byte, payload []byte) error) error {
	buffered := len(d.buf) > 0
	if buffered {
		d.buf = append(d.buf, p...)
		p = d.buf
	}
	consumed := 0
	for consumed < len(p) {
		n, err := d.frame(p[consumed:], on)
		if err != nil {
			return err
		}
		if n == 0 { // incomplete
			break
		}
		consumed += n
	}
	switch {
	case consumed == len(p):
		d.buf = nil
	case !buffered:
		d.buf = append([]byte(nil), p[consumed:]...) // p is the event loop's buffer
	case consumed > 0:
		d.buf = d.buf[:copy(d.buf, d.buf[consumed:])]
	}
	return nil
}

// frame decodes one frame at the start of p; 0 if p holds less than one.
func (d *wsDecoder) frame(p []byte, on func(byte, []byte) error) (int, error) {
	if len(p) < 2 {
		return 0, nil
	}
	fin := p[0]&0x80 != 0
	if p[0]&0x70 != 0 {
		return 0, errWSProtocol // no extension negotiated
	}
	op := p[0] & 0x0F
	if p[1]&0x80 == 0 {
		return 0, errWSProtocol // client frames are masked
	}
	n := uint64(p[1] & 0x7F)
	h := 2
	switch n {
	case 126:
		if len(p) < 4 {
			return 0, nil
		}
		n, h = uint64(binary.BigEndian.Uint16(p[2:])), 4
	case 127:
		if len(p) < 10 {
			return 0, nil
		}
		n, h = binary.BigEndian.Uint64(p[2:]), 10
	}
	control := op >= 0x8
	if control && (n > 125 || !fin) {
		return 0, errWSProtocol
	}
	if n > uint64(d.max) || uint64(len(d.msg))+n > uint64(d.max) {
		return 0, errWSTooLarge
	}
	total := h + 4 + int(n)
	if len(p) < total {
		return 0, nil
	}
	key := p[h : h+4]
	payload := make([]byte, n)
	for i := range payload {
		payload[i] = p[h+4+i] ^ key[i&3]
	}
	switch {
	case control:
		return total, on(op, payload)
	case op == wsCont:
		if !d.frag {
			return 0, errWSProtocol
		}
		d.msg = append(d.msg, payload...)
	case op == wsText || op == wsBinary:
		if d.frag {
			return 0, errWSProtocol
		}
		d.msg = payload
		d.frag = true
		if op == wsBinary {
			return 0, errWSProtocol // RFC 7395: text frames only
		}
	default:
		return 0, errWSProtocol
	}
	if !fin {
		return total, nil
	}
	msg := d.msg
	d.msg, d.frag = nil, false
	if !utf8.Valid(msg) {
		return 0, errWSUTF8
	}
	return total, on(wsText, msg)
}

// appendWSFrame appends an unmasked server frame holding the parts.
func appendWSFrame(dst []byte, op byte, parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	dst = append(dst, 0x80|op)
	switch {
	case n < 126:
		dst = append(dst, byte(n))
	case n <= 0xFFFF:
		dst = append(dst, 126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	for _, p := range parts {
		dst = append(dst, p...)
	}
	return dst
}
