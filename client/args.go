package client

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync/atomic"

	sio "github.com/banter-chat/banter/socketio/parser"
)

// Args are the arguments of a received event or acknowledgement, kept as
// the server sent them and decoded on demand.
type Args struct {
	data json.RawMessage // the packet's JSON array
	att  [][]byte        // binary attachments
	skip int             // 1 for an event: its name comes first
	raw  []json.RawMessage
}

func (a *Args) rawArgs() []json.RawMessage {
	if a.raw == nil && len(a.data) > 0 {
		raw, err := sio.RawArgs(a.data)
		if err == nil && len(raw) >= a.skip {
			a.raw = raw[a.skip:]
		}
	}
	return a.raw
}

// Len is the number of arguments.
func (a *Args) Len() int { return len(a.rawArgs()) }

// Raw returns argument i as JSON (binary values as placeholders); nil if
// there is no such argument.
func (a *Args) Raw(i int) json.RawMessage {
	raw := a.rawArgs()
	if i < 0 || i >= len(raw) {
		return nil
	}
	return raw[i]
}

// Values decodes all arguments as encoding/json does into any ([]byte for
// binary attachments).
func (a *Args) Values() ([]any, error) {
	if len(a.data) == 0 {
		return []any{}, nil
	}
	vs, err := sio.DecodeArgs(a.data, a.att)
	if err != nil {
		return nil, err
	}
	return vs[min(a.skip, len(vs)):], nil
}

// Bind decodes argument i into v with encoding/json. A binary argument
// binds to a *[]byte (the attachment itself, not a copy).
func (a *Args) Bind(i int, v any) error {
	raw := a.Raw(i)
	if raw == nil {
		return fmt.Errorf("%w: %d of %d", ErrNoArg, i, a.Len())
	}
	if b, ok := v.(*[]byte); ok && len(a.att) > 0 && bytes.Contains(raw, []byte(`"_placeholder"`)) {
		var ph struct {
			Placeholder bool `json:"_placeholder"`
			Num         int  `json:"num"`
		}
		if err := json.Unmarshal(raw, &ph); err == nil && ph.Placeholder && ph.Num >= 0 && ph.Num < len(a.att) {
			*b = a.att[ph.Num]
			return nil
		}
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("socket.io client: argument %d: %w", i, err)
	}
	return nil
}

// String returns argument i if it is a JSON string.
func (a *Args) String(i int) (string, error) {
	var s string
	err := a.Bind(i, &s)
	return s, err
}

// Event is a received event.
type Event struct {
	Name string
	Args
	s      *Socket
	id     uint64
	hasAck bool
	acked  atomic.Bool
}

// HasAck reports whether the server asked for an acknowledgement.
func (e *Event) HasAck() bool { return e.hasAck }

// Ack answers the server's acknowledgement request with args. Only the
// first call sends anything; it returns false when there was nothing to
// answer or the socket is no longer connected.
func (e *Event) Ack(args ...any) bool {
	if !e.hasAck || e.acked.Swap(true) {
		return false
	}
	data, att, err := sio.EncodeArgs(args...)
	if err != nil {
		return false
	}
	return e.s.sendNow(&sio.Packet{Type: sio.Ack, Namespace: e.s.nsp, ID: e.id, HasID: true, Data: data, Attachments: att})
}
