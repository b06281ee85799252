package proto1

import (
	"encoding/json"
	"strconv"

	"github.com/banter-chat/banter/chat"
)

// EventPayload returns the name and JSON payload under which every gateway
// sends a chat event (docs/protocol.md, "Server → client events"); name is
// "" for kinds clients never see (disconnect notices, bus-only signals).
// Gateways wrap it in their framing once per event (chat.Event.Encoded or
// Cached), never per recipient.
func EventPayload(ev *chat.Event) (name string, payload []byte, err error) {
	name, v, ok := ev.ClientEvent()
	if !ok {
		return "", nil, nil
	}
	payload, err = json.Marshal(v)
	if err != nil {
		return "", nil, err
	}
	return name, payload, nil
}

// ByePayload is the payload of "bye": {"reason", "by"?, "message"?}.
func ByePayload(d *chat.Disconnect) []byte {
	b, _ := json.Marshal(d) // strings only: cannot fail
	return b
}

// The JSON framing of protocol 1 (docs/protocol.md, "Plain WebSocket"):
// one object per /ws text frame or TCP line. Events are {"type": <event>,
// "data": <payload>}; replies {"type": "reply", "ref": <ref>, "ok": ...}.

// EncodeEvent returns {"type": name, "data": payload} (no "data" if
// payload is nil). payload must be one JSON value.
func EncodeEvent(name string, payload []byte) []byte {
	out := make([]byte, 0, len(name)+len(payload)+24)
	out = append(out, `{"type":`...)
	out = strconv.AppendQuote(out, name)
	if payload != nil {
		out = append(out, `,"data":`...)
		out = append(out, payload...)
	}
	return append(out, '}')
}

// EncodeChatEvent is the JSON frame of a chat event; nil for kinds that
// are not sent to clients.
func EncodeChatEvent(ev *chat.Event) ([]byte, error) {
	name, payload, err := EventPayload(ev)
	if name == "" || err != nil {
		return nil, err
	}
	return EncodeEvent(name, payload), nil
}

// EncodeBye is the "bye" frame sent before the server closes a connection
// on purpose (the details of a kick included).
func EncodeBye(d *chat.Disconnect) []byte { return EncodeEvent("bye", ByePayload(d)) }

// EncodeError is the "error" event of a failed command sent without a ref
// (command: its type; "" when unknown, e.g. a frame that is not JSON).
func EncodeError(err error, command string) []byte {
	b, _ := json.Marshal(struct {
		ErrorBody
		Command string `json:"command,omitempty"`
	}{ErrorFor(err), command}) // strings only: cannot fail
	return EncodeEvent("error", b)
}

// EncodeReply returns the answer to a command that carried ref: Ack(result)
// or, when err is not nil, Failure(err), as {"type": "reply", "ref": ref,
// "ok": ...}.
func EncodeReply(ref json.RawMessage, result any, err error) []byte {
	var body []byte
	if err != nil {
		body = Failure(err)
	} else {
		body = Ack(result)
	}
	out := make([]byte, 0, len(body)+len(ref)+24)
	out = append(out, `{"type":"reply"`...)
	if len(ref) > 0 {
		out = append(out, `,"ref":`...)
		out = append(out, ref...)
	}
	out = append(out, ',')
	return append(out, body[1:]...)
}

// Ping is the server heartbeat of the JSON framing; clients answer
// {"type":"pong"}.
var Ping = []byte(`{"type":"ping"}`)

// encodePong answers a client's {"type":"ping","ref":…}.
func encodePong(ref json.RawMessage) []byte {
	if len(ref) == 0 {
		return []byte(`{"type":"pong"}`)
	}
	return append(append([]byte(`{"type":"pong","ref":`), ref...), '}')
}
