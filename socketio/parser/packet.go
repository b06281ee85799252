package parser

import (
	"encoding/json"
	"errors"
	"strconv"
)

// Type is a Socket.IO packet type, the first character of every packet.
type Type byte

// Packet types, numbered as on the wire. In protocol v4 ConnectError was called ERROR.
const (
	Connect      Type = 0
	Disconnect   Type = 1
	Event        Type = 2
	Ack          Type = 3
	ConnectError Type = 4
	BinaryEvent  Type = 5
	BinaryAck    Type = 6
)

var typeNames = [...]string{
	Connect:      "CONNECT",
	Disconnect:   "DISCONNECT",
	Event:        "EVENT",
	Ack:          "ACK",
	ConnectError: "CONNECT_ERROR",
	BinaryEvent:  "BINARY_EVENT",
	BinaryAck:    "BINARY_ACK",
}

// String returns the name used by the protocol specification, e.g. "BINARY_EVENT".
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "Type(" + strconv.Itoa(int(t)) + ")"
}

// Valid reports whether t is one of the seven packet types.
func (t Type) Valid() bool { return t <= BinaryAck }

// IsBinary reports whether packets of type t are followed by binary attachments.
func (t Type) IsBinary() bool { return t == BinaryEvent || t == BinaryAck }

// ErrInvalidPacket is wrapped by every error about malformed input: frames the
// Decoder rejects and payloads DecodeArgs, RawArgs or EventName cannot take apart.
// The wrapping error says precisely what is wrong; a server answers it by closing the
// connection, as the Node.js server does when socket.io-parser throws.
var ErrInvalidPacket = errors.New("socket.io: invalid packet")

// Packet is one decoded Socket.IO packet. Data is the raw JSON payload exactly as sent
// (placeholders still in it for binary packets); nil when absent.
type Packet struct {
	Type      Type
	Namespace string // always set; "/" when omitted on the wire
	// Query is the part after '?' in a CONNECT namespace, without the '?'. Only v4
	// clients (socket.io 2.x) send one, and the Decoder splits it off CONNECT packets only.
	Query       string
	ID          uint64
	HasID       bool
	Data        json.RawMessage
	Attachments [][]byte // binary attachments, in order (len == declared count once complete)
}

// Encode returns the text frame of p. The caller sends p.Attachments after it, each as
// one binary message, in order.
//
// Encode does not touch or check Data (the caller built it, e.g. with EncodeArgs): it
// is written verbatim. The output is byte-identical to socket.io-parser's for the same
// packet:
//   - an EVENT or ACK with attachments is promoted to BINARY_EVENT or BINARY_ACK, as
//     socket.io-parser does when the data holds binary;
//   - a BINARY_EVENT or BINARY_ACK gets its count prefix from len(p.Attachments); with
//     no attachments it is written as EVENT or ACK, because socket.io-parser 4.2.6+
//     rejects a binary packet declaring zero attachments;
//   - the namespace is omitted when it is "/" (or empty), otherwise followed by ',';
//   - Query is appended to the namespace after '?' for CONNECT packets only.
//
// Encode cannot fail: a Namespace containing ',' or not starting with '/' produces a
// frame that peers will misread, so callers must only use namespaces they validated.
func Encode(p *Packet) (text []byte) {
	n := 1 + len(p.Namespace) + len(p.Data) + 1 // type, namespace, data, comma
	if p.HasID {
		n += 20
	}
	if len(p.Attachments) > 0 {
		n += 4
	}
	if p.Type == Connect && p.Query != "" {
		n += 1 + len(p.Query)
	}
	return AppendEncode(make([]byte, 0, n), p)
}

// AppendEncode appends the text frame of p to dst and returns the extended slice, so a
// caller can reuse one buffer for many packets. See Encode for the format.
func AppendEncode(dst []byte, p *Packet) []byte {
	t := p.Type
	switch {
	case t == Event && len(p.Attachments) > 0:
		t = BinaryEvent
	case t == Ack && len(p.Attachments) > 0:
		t = BinaryAck
	case t == BinaryEvent && len(p.Attachments) == 0:
		t = Event
	case t == BinaryAck && len(p.Attachments) == 0:
		t = Ack
	}
	dst = strconv.AppendUint(dst, uint64(t), 10)
	if t.IsBinary() {
		dst = strconv.AppendInt(dst, int64(len(p.Attachments)), 10)
		dst = append(dst, '-')
	}
	query := t == Connect && p.Query != ""
	if (p.Namespace != "" && p.Namespace != "/") || query {
		ns := p.Namespace
		if ns == "" {
			ns = "/"
		}
		dst = append(dst, ns...)
		if query {
			dst = append(dst, '?')
			dst = append(dst, p.Query...)
		}
		dst = append(dst, ',')
	}
	if p.HasID {
		dst = strconv.AppendUint(dst, p.ID, 10)
	}
	return append(dst, p.Data...)
}
