package socketio

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/banter-chat/banter/socketio/parser"
)

// Event is one event received from a client.
type Event struct {
	Socket *Socket
	Name   string

	data        json.RawMessage // the whole array, name first
	attachments [][]byte
	ackID       uint64
	hasAck      bool
	acked       atomic.Bool
	raw         []json.RawMessage
}

// ErrArgument is wrapped by Bind errors (missing or mistyped argument).
var ErrArgument = errors.New("socket.io: bad event argument")

// RawArgs returns the arguments as raw JSON (binary attachments appear as
// placeholders; use Args to get them as []byte).
func (e *Event) RawArgs() []json.RawMessage {
	if e.raw == nil {
		all, err := parser.RawArgs(e.data)
		if err != nil || len(all) == 0 {
			e.raw = []json.RawMessage{}
		} else {
			e.raw = all[1:]
		}
	}
	return e.raw
}

// NumArgs returns the number of arguments.
func (e *Event) NumArgs() int { return len(e.RawArgs()) }

// Args decodes the arguments: JSON values as encoding/json does into any,
// binary attachments as []byte.
func (e *Event) Args() ([]any, error) {
	all, err := parser.DecodeArgs(e.data, e.attachments)
	if err != nil {
		return nil, err
	}
	return all[1:], nil
}

// Bind decodes argument i into v with encoding/json.
func (e *Event) Bind(i int, v any) error {
	raw := e.RawArgs()
	if i >= len(raw) {
		return fmt.Errorf("%w: argument %d missing", ErrArgument, i+1)
	}
	if err := json.Unmarshal(raw[i], v); err != nil {
		return fmt.Errorf("%w: argument %d: %v", ErrArgument, i+1, err)
	}
	return nil
}

// String returns argument i if it is a JSON string.
func (e *Event) String(i int) (string, error) {
	var s string
	err := e.Bind(i, &s)
	return s, err
}

// HasAck reports whether the client asked for an acknowledgement.
func (e *Event) HasAck() bool { return e.hasAck }

// Ack answers the client's acknowledgement request. Only the first call
// sends; later ones, and calls for events without ack, return false.
func (e *Event) Ack(args ...any) bool {
	if !e.hasAck || !e.acked.CompareAndSwap(false, true) {
		return false
	}
	data, att, err := parser.EncodeArgs(args...)
	if err != nil {
		e.Socket.nsp.srv.log.Warn("socket.io: cannot encode ack", "event", e.Name, "err", err)
		return false
	}
	if !e.Socket.Connected() {
		return false
	}
	e.Socket.client.writePacket(&parser.Packet{Type: parser.Ack, Namespace: e.Socket.nsp.name, ID: e.ackID, HasID: true, Data: data, Attachments: att})
	return true
}

// AckRaw answers with the event's own arguments, binary included, without
// decoding them (an echo).
func (e *Event) AckRaw(data json.RawMessage, attachments [][]byte) bool {
	if !e.hasAck || !e.acked.CompareAndSwap(false, true) || !e.Socket.Connected() {
		return false
	}
	e.Socket.client.writePacket(&parser.Packet{Type: parser.Ack, Namespace: e.Socket.nsp.name, ID: e.ackID, HasID: true, Data: data, Attachments: attachments})
	return true
}

// ArgsJSON returns the arguments as one raw JSON array (placeholders kept)
// and the attachments: what AckRaw and EmitRaw take to resend them as is.
func (e *Event) ArgsJSON() (json.RawMessage, [][]byte) {
	return joinArray(e.RawArgs()), e.attachments
}

// joinArray builds a JSON array from raw elements without re-validating
// them (they come from a validated packet).
func joinArray(raw []json.RawMessage) json.RawMessage {
	n := 2
	for _, r := range raw {
		n += len(r) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, '[')
	for i, r := range raw {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, r...)
	}
	return append(b, ']')
}
