package parser

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"unicode/utf8"
)

// DefaultMaxAttachments is the attachment limit of a Decoder whose MaxAttachments is
// zero, the same default as socket.io-parser 4.2.6+ (its maxAttachments option).
const DefaultMaxAttachments = 10

// Decoder reassembles packets from the Engine.IO messages of one connection.
// Not safe for concurrent use.
//
// It accepts exactly the frames socket.io-parser 4.x accepts, minus its accidents
// (it reads a space as an ack id digit and "5-" as zero attachments), plus frames of
// protocol v4 (a query in a CONNECT namespace, a string CONNECT_ERROR payload):
//
//   - the type is one digit '0'..'6';
//   - BINARY_EVENT and BINARY_ACK carry a decimal count, 1..MaxAttachments, then '-';
//   - a namespace, if present, starts with '/' and runs to the first ',' or to the end
//     of the message; it must be valid UTF-8 without control characters;
//   - an ack id is a run of ASCII digits fitting in a uint64 and is refused on CONNECT,
//     DISCONNECT and CONNECT_ERROR, which never carry one;
//   - the payload, if present, is one JSON value whose first byte is '[', '{' or '"'
//     (no leading white space; trailing white space is valid JSON and kept) and whose
//     type suits the packet: CONNECT an object or nothing; DISCONNECT nothing;
//     CONNECT_ERROR an object (v5), a string (v4) or nothing; EVENT and BINARY_EVENT a
//     non-empty array whose first element is the event name, a string or a number as
//     socket.io-parser allows, not one of the names reserved by socket.io (see
//     ReservedEvent); ACK an array or nothing; BINARY_ACK an array;
//   - once all attachments of a binary packet have arrived, every placeholder in its
//     payload must refer to one of them.
//
// Decoded packets alias the messages passed in: Data points into the text message and
// Attachments are the binary messages themselves, so the caller must not reuse those
// buffers while it holds the packet.
//
// After an error the stream is out of step; a server closes the connection. Reset
// drops the packet being assembled if the caller wants to carry on anyway.
type Decoder struct {
	// MaxAttachments bounds the attachment count a binary packet may declare. Values
	// <= 0 mean DefaultMaxAttachments.
	MaxAttachments int

	pending *Packet // binary packet awaiting attachments
	want    int     // attachments it declared
	lastNsp string  // namespace of the previous packet, reused to save an allocation
}

// Reset drops a partially received packet.
func (d *Decoder) Reset() {
	d.pending = nil
	d.want = 0
}

// Awaiting returns how many binary attachments the decoder still waits for.
func (d *Decoder) Awaiting() int {
	if d.pending == nil {
		return 0
	}
	return d.want - len(d.pending.Attachments)
}

// AddText takes one text message. It returns a complete packet (done=true) or
// done=false when the packet waits for binary attachments. All errors wrap
// ErrInvalidPacket.
func (d *Decoder) AddText(msg []byte) (p *Packet, done bool, err error) {
	if d.pending != nil {
		return nil, false, invalidf("text message while %d more attachment(s) of a %s are awaited",
			d.want-len(d.pending.Attachments), d.pending.Type)
	}
	max := d.MaxAttachments
	if max <= 0 {
		max = DefaultMaxAttachments
	}
	p, n, err := d.decodeText(msg, max)
	if err != nil {
		return nil, false, err
	}
	if n > 0 {
		p.Attachments = make([][]byte, 0, n)
		d.pending, d.want = p, n
		return nil, false, nil
	}
	return p, true, nil
}

// AddBinary takes one binary message (an attachment). It returns the packet once its
// last attachment has arrived. It is an error if no binary packet awaits one.
func (d *Decoder) AddBinary(msg []byte) (p *Packet, done bool, err error) {
	p = d.pending
	if p == nil {
		return nil, false, invalidf("binary message while no binary packet awaits attachments")
	}
	p.Attachments = append(p.Attachments, msg)
	if len(p.Attachments) < d.want {
		return nil, false, nil
	}
	d.Reset()
	if err := checkPlaceholders(p.Data, len(p.Attachments)); err != nil {
		return nil, false, err
	}
	return p, true, nil
}

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidPacket}, args...)...)
}

// decodeText parses one text frame. n is the attachment count declared by a binary
// packet (0 for the others).
func (d *Decoder) decodeText(msg []byte, maxAttachments int) (p *Packet, n int, err error) {
	if len(msg) == 0 {
		return nil, 0, invalidf("empty message")
	}
	if msg[0] < '0' || msg[0] > '6' {
		return nil, 0, invalidf("unknown packet type %q", msg[0])
	}
	p = &Packet{Type: Type(msg[0] - '0'), Namespace: "/"}
	i := 1

	if p.Type.IsBinary() {
		j := i
		for j < len(msg) && isDigit(msg[j]) {
			j++
		}
		if j == i {
			return nil, 0, invalidf("%s without attachment count", p.Type)
		}
		if j == len(msg) || msg[j] != '-' {
			return nil, 0, invalidf("attachment count of %s not followed by '-'", p.Type)
		}
		count, ok := parseUint(msg[i:j])
		switch {
		case !ok || count > uint64(maxAttachments):
			return nil, 0, invalidf("too many attachments: %s > %d", msg[i:j], maxAttachments)
		case count == 0:
			return nil, 0, invalidf("%s declares no attachments", p.Type)
		}
		n = int(count)
		i = j + 1
	}

	if i < len(msg) && msg[i] == '/' {
		end := bytes.IndexByte(msg[i:], ',')
		var nsp []byte
		if end < 0 {
			nsp, i = msg[i:], len(msg)
		} else {
			nsp, i = msg[i:i+end], i+end+1
		}
		if err := checkNamespace(nsp); err != nil {
			return nil, 0, err
		}
		if p.Type == Connect {
			// Protocol v4 clients append the query to the CONNECT namespace. v5 clients
			// never put '?' in a namespace, so splitting unconditionally is safe.
			if q := bytes.IndexByte(nsp, '?'); q >= 0 {
				p.Query = string(nsp[q+1:])
				nsp = nsp[:q]
			}
		}
		switch {
		case len(nsp) <= 1:
		case string(nsp) == d.lastNsp:
			p.Namespace = d.lastNsp
		default:
			p.Namespace = string(nsp)
			d.lastNsp = p.Namespace
		}
	}

	if j := i; j < len(msg) && isDigit(msg[j]) {
		for j < len(msg) && isDigit(msg[j]) {
			j++
		}
		id, ok := parseUint(msg[i:j])
		if !ok {
			return nil, 0, invalidf("ack id %s overflows", msg[i:j])
		}
		switch p.Type {
		case Connect, Disconnect, ConnectError:
			return nil, 0, invalidf("%s cannot carry an ack id", p.Type)
		}
		p.ID, p.HasID = id, true
		i = j
	}

	if i < len(msg) {
		p.Data = msg[i:]
	}
	if err := checkPayload(p.Type, p.Data); err != nil {
		return nil, 0, err
	}
	return p, n, nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// parseUint parses ASCII digits; ok is false on overflow.
func parseUint(b []byte) (v uint64, ok bool) {
	for _, c := range b {
		d := uint64(c - '0')
		if v > (math.MaxUint64-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}

func checkNamespace(nsp []byte) error {
	if !utf8.Valid(nsp) {
		return invalidf("namespace is not valid UTF-8")
	}
	for _, c := range nsp {
		if c < 0x20 || c == 0x7f {
			return invalidf("control character %q in namespace", c)
		}
	}
	return nil
}

func checkPayload(t Type, data []byte) error {
	if len(data) == 0 {
		switch t {
		case Event, BinaryEvent, BinaryAck:
			// An ACK without payload means "no arguments" (socket.io-parser accepts
			// it); an EVENT needs its name and a binary packet its placeholders.
			return invalidf("%s without payload", t)
		}
		return nil
	}
	if t == Disconnect {
		return invalidf("DISCONNECT cannot carry a payload")
	}
	switch data[0] {
	case '[', '{', '"':
	default:
		return invalidf("payload must start with '[', '{' or '\"', got %q", data[0])
	}
	if !json.Valid(data) {
		return invalidf("invalid JSON payload")
	}
	switch t {
	case Connect:
		if data[0] != '{' {
			return invalidf("CONNECT payload must be an object")
		}
	case ConnectError:
		if data[0] == '[' {
			return invalidf("CONNECT_ERROR payload must be an object or a string")
		}
	case Ack, BinaryAck:
		if data[0] != '[' {
			return invalidf("%s payload must be an array", t)
		}
	case Event, BinaryEvent:
		if data[0] != '[' {
			return invalidf("%s payload must be an array", t)
		}
		tok, isNumber, err := eventNameToken(data)
		if err != nil {
			return err
		}
		if isNumber {
			return nil
		}
		if bytes.IndexByte(tok, '\\') < 0 {
			if reservedEventBytes(tok) {
				return invalidf("event name %q is reserved", tok)
			}
			return nil
		}
		// Escaped: decode it, or "dis\u0063onnect" would slip through.
		name, _, err := eventName(data)
		if err != nil {
			return err
		}
		if ReservedEvent(name) {
			return invalidf("event name %q is reserved", name)
		}
	}
	return nil
}

// reservedEvents are the event names socket.io-parser 4.x refuses in EVENT packets:
// they mean something to the Node.js EventEmitter or to socket.io itself, so a peer
// emitting them could fake a disconnection. Refused in v4 too, where socket.io 2.x did
// not guard against it.
var reservedEvents = [...]string{
	"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener",
}

// ReservedEvent reports whether name is an event name peers must not send
// ("connect", "connect_error", "disconnect", "disconnecting", "newListener",
// "removeListener"), as in socket.io-parser 4.x. The socketio package uses it to
// refuse emitting them.
func ReservedEvent(name string) bool {
	for _, r := range reservedEvents {
		if name == r {
			return true
		}
	}
	return false
}

func reservedEventBytes(name []byte) bool {
	for _, r := range reservedEvents {
		if string(name) == r { // no allocation: the compiler compares in place
			return true
		}
	}
	return false
}

// checkPlaceholders verifies, as socket.io-parser's reconstruction does, that every
// object with "_placeholder": true has a "num" that is an integer index below n.
func checkPlaceholders(data []byte, n int) error {
	if len(data) == 0 {
		return nil
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return invalidf("invalid JSON payload: %v", err) // unreachable: checked by decodeText
	}
	_, err := reconstruct(v, make([][]byte, n))
	return err
}
