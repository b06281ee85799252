package redis

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/banter-chat/banter/chat"
)

// ErrBadEvent is wrapped by DecodeEvent's errors: the payload is not an
// event this version understands (another program on the channel, or a
// newer Banter).
var ErrBadEvent = errors.New("redis: bad event payload")

// wireVersion is bumped when the payload changes incompatibly; a node
// drops (and logs) events of another version.
const wireVersion = 1

// wireEvent is a chat.Event on the wire, JSON: readable with redis-cli
// MONITOR, and the payload types already carry JSON tags.
type wireEvent struct {
	V            int                 `json:"v"`
	Node         string              `json:"n"`
	At           int64               `json:"at,omitempty"` // publication time, Unix µs (for bus lag); optional
	Kind         chat.EventKind      `json:"k"`
	Room         string              `json:"r,omitempty"`
	Message      *chat.Message       `json:"m,omitempty"`
	Presence     *chat.Presence      `json:"p,omitempty"`
	Typing       *chat.Typing        `json:"t,omitempty"`
	User         *chat.UserEvent     `json:"u,omitempty"`
	TypingSignal *chat.TypingSignal  `json:"s,omitempty"`
	Deleted      *chat.Deleted       `json:"d,omitempty"`
	Reaction     *chat.ReactionEvent `json:"x,omitempty"`
	Reads        *chat.Reads         `json:"rd,omitempty"`
}

// EncodeEvent returns the payload that carries ev from node to the others.
// EventDisconnect is refused: it belongs to one session's sink and never
// travels.
func EncodeEvent(node string, ev *chat.Event) ([]byte, error) {
	return EncodeEventAt(node, time.Time{}, ev)
}

// EncodeEventAt is EncodeEvent stamped with the publication time at (the
// zero Time stamps nothing), so that receivers can measure the bus lag.
// Nodes that predate the stamp ignore it.
func EncodeEventAt(node string, at time.Time, ev *chat.Event) ([]byte, error) {
	if ev == nil {
		return nil, fmt.Errorf("%w: nil event", ErrBadEvent)
	}
	w := wireEvent{V: wireVersion, Node: node, Kind: ev.Kind, Room: ev.Room}
	if !at.IsZero() {
		w.At = at.UnixMicro()
	}
	switch ev.Kind {
	case chat.EventMessage:
		w.Message = ev.Message
	case chat.EventPresence:
		w.Presence = ev.Presence
	case chat.EventTyping:
		w.Typing = ev.Typing
	case chat.EventUser:
		w.User = ev.User
	case chat.EventTypingSignal:
		w.TypingSignal = ev.TypingSignal
	case chat.EventDeleted:
		w.Deleted = ev.Deleted
	case chat.EventEdited:
		w.Message = ev.Message
	case chat.EventReaction:
		w.Reaction = ev.Reaction
	case chat.EventRead:
		w.Reads = ev.Reads
	default:
		return nil, fmt.Errorf("%w: kind %s does not travel on the bus", ErrBadEvent, ev.Kind)
	}
	if err := checkPayload(&w); err != nil {
		return nil, err
	}
	return json.Marshal(&w)
}

// DecodeEvent parses a payload made by EncodeEvent and returns the
// publishing node and a new Event.
func DecodeEvent(data []byte) (node string, ev *chat.Event, err error) {
	node, _, ev, err = DecodeEventAt(data)
	return node, ev, err
}

// DecodeEventAt is DecodeEvent that also returns the publication time
// stamped by EncodeEventAt (the zero Time when there is none).
func DecodeEventAt(data []byte) (node string, at time.Time, ev *chat.Event, err error) {
	var w wireEvent
	if err := json.Unmarshal(data, &w); err != nil {
		return "", at, nil, fmt.Errorf("%w: %w", ErrBadEvent, err)
	}
	if w.V != wireVersion {
		return "", at, nil, fmt.Errorf("%w: version %d, want %d", ErrBadEvent, w.V, wireVersion)
	}
	if w.Node == "" {
		return "", at, nil, fmt.Errorf("%w: no node id", ErrBadEvent)
	}
	if w.At < 0 {
		return "", at, nil, fmt.Errorf("%w: negative publication time", ErrBadEvent)
	}
	if err := checkPayload(&w); err != nil {
		return "", at, nil, err
	}
	if w.At > 0 {
		at = time.UnixMicro(w.At)
	}
	return w.Node, at, &chat.Event{
		Kind: w.Kind, Room: w.Room, Message: w.Message, Presence: w.Presence,
		Typing: w.Typing, User: w.User, TypingSignal: w.TypingSignal, Deleted: w.Deleted,
		Reaction: w.Reaction, Reads: w.Reads,
	}, nil
}

// checkPayload: exactly the payload of the kind is set, and rooms agree,
// so that a handler can trust what it dereferences.
func checkPayload(w *wireEvent) error {
	set := 0
	for _, p := range []bool{w.Message != nil, w.Presence != nil, w.Typing != nil, w.User != nil, w.TypingSignal != nil, w.Deleted != nil,
		w.Reaction != nil, w.Reads != nil} {
		if p {
			set++
		}
	}
	var ok bool
	var room string
	switch w.Kind {
	case chat.EventMessage, chat.EventEdited:
		ok = w.Message != nil
		if ok {
			room = w.Message.Room
		}
	case chat.EventPresence:
		ok = w.Presence != nil
		if ok {
			room = w.Presence.Room
		}
	case chat.EventTyping:
		ok = w.Typing != nil
		if ok {
			room = w.Typing.Room
		}
	case chat.EventTypingSignal:
		ok = w.TypingSignal != nil
		if ok {
			room = w.TypingSignal.Room
		}
	case chat.EventUser:
		ok = w.User != nil
	case chat.EventDeleted:
		ok = w.Deleted != nil
		if ok {
			room = w.Deleted.Room
		}
	case chat.EventReaction:
		ok = w.Reaction != nil
		if ok {
			room = w.Reaction.Room
		}
	case chat.EventRead:
		// On a room's topic and on the user's "@" topic alike, the event
		// names its room.
		ok = w.Reads != nil
		if ok {
			room = w.Reads.Room
		}
	default:
		return fmt.Errorf("%w: unknown kind %d", ErrBadEvent, w.Kind)
	}
	if !ok || set != 1 {
		return fmt.Errorf("%w: kind %s needs exactly its own payload", ErrBadEvent, w.Kind)
	}
	if room != w.Room {
		return fmt.Errorf("%w: event room %q, payload room %q", ErrBadEvent, w.Room, room)
	}
	return nil
}
