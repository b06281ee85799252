package jsonproto

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/banter-chat/banter/chat"
)

// MaxFrameBytes bounds one client command (a frame on /ws, a line on TCP):
// the largest message text plus its JSON escaping and the other fields.
const MaxFrameBytes = 4*chat.MaxStoredTextBytes + 4096

// MaxHelloRooms bounds rooms+since of one hello, as on Socket.IO.
const MaxHelloRooms = 50

// Command is one client command. Type selects which other fields matter
// (docs/protocol.md, "Plain WebSocket"); unknown fields are ignored.
type Command struct {
	Type string `json:"type"`
	// ID ("ref" on the wire), if present, is echoed in the reply (a JSON
	// number or string); a command without one gets no reply on success
	// and an "error" event on failure. It is not called "id" because
	// results carry ids of their own (the session's, a message's).
	ID json.RawMessage `json:"ref,omitempty"`

	Nickname   string           `json:"nickname,omitempty"`
	Rooms      []string         `json:"rooms,omitempty"`
	Since      map[string]int64 `json:"since,omitempty"`
	WatchUsers bool             `json:"watchUsers,omitempty"`
	Resume     string           `json:"resume,omitempty"`
	Token      string           `json:"token,omitempty"`  // hello: a JWT
	Reason     string           `json:"reason,omitempty"` // kick
	Seq        int64            `json:"seq,omitempty"`    // delete

	Room     string  `json:"room,omitempty"`
	To       string  `json:"to,omitempty"`
	Text     *string `json:"text,omitempty"`
	ClientID string  `json:"clientId,omitempty"`
	After    *int64  `json:"after,omitempty"`
	Before   int64   `json:"before,omitempty"`
	Limit    int     `json:"limit,omitempty"`
	Typing   *bool   `json:"typing,omitempty"`
}

// HasID reports whether the client asked for a reply.
func (c *Command) HasID() bool { return len(c.ID) > 0 && string(c.ID) != "null" }

// DecodeCommand parses one frame. Every failure is a *chat.Error with code
// invalid_argument naming the culprit; the command's ID is returned when it
// could be read, so that the error can still be answered as a reply.
func DecodeCommand(data []byte) (Command, error) {
	var c Command
	if len(data) > MaxFrameBytes {
		return c, chat.Errorf(chat.CodeInvalidArgument, "command is %d bytes, the limit is %d", len(data), MaxFrameBytes)
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return c, chat.Errorf(chat.CodeInvalidArgument, "a command is a JSON object")
	}
	if err := json.Unmarshal(data, &c); err != nil {
		// Try to rescue the id so the client learns which command failed.
		var idOnly struct {
			ID json.RawMessage `json:"ref"`
		}
		if json.Unmarshal(data, &idOnly) == nil && validID(idOnly.ID) {
			c = Command{ID: idOnly.ID}
		} else {
			c = Command{}
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return c, chat.Errorf(chat.CodeInvalidArgument, "field %q must be %s, not %s", te.Field, jsonKind(te.Type.Kind().String()), te.Value)
		}
		return c, chat.Errorf(chat.CodeInvalidArgument, "command is not valid JSON: %v", err)
	}
	if c.HasID() && !validID(c.ID) {
		c.ID = nil
		return c, chat.Errorf(chat.CodeInvalidArgument, "ref must be a number or a string of at most 64 bytes")
	}
	if c.Type == "" {
		return c, chat.Errorf(chat.CodeInvalidArgument, "field \"type\" is missing")
	}
	return c, nil
}

func validID(id json.RawMessage) bool {
	if len(id) == 0 || len(id) > 66 {
		return false
	}
	if id[0] == '"' {
		var s string
		return json.Unmarshal(id, &s) == nil
	}
	_, err := strconv.ParseFloat(string(id), 64)
	return err == nil
}

// jsonKind names a Go kind the way a JavaScript programmer would.
func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "int", "int64", "int32", "uint", "uint64":
		return "an integer"
	case "float64":
		return "a number"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	}
	return k
}

// ErrorBody is the error object of a failed reply or an "error" event.
type ErrorBody struct {
	Code    chat.Code `json:"code"`
	Message string    `json:"message"`
	Command string    `json:"command,omitempty"` // "error" events: the failed command's type
}

// ErrorFor returns the client-facing error object of err (never its cause).
func ErrorFor(err error) ErrorBody {
	code, msg := chat.ClientError(err)
	return ErrorBody{Code: code, Message: msg}
}

// EncodeReply returns {"type":"reply","ref":<id>,"ok":true,...fields of v}.
// v must encode as a JSON object (a struct); nil means no fields.
func EncodeReply(id json.RawMessage, v any) []byte {
	fields := []byte("{}")
	if v != nil {
		b, err := json.Marshal(v)
		if err != nil || len(b) < 2 || b[0] != '{' {
			// Only our own result structs reach here: a bug, not input.
			panic("jsonproto: reply value is not a JSON object")
		}
		fields = b
	}
	out := make([]byte, 0, len(fields)+40+len(id))
	out = append(out, `{"type":"reply"`...)
	if len(id) > 0 {
		out = append(out, `,"ref":`...)
		out = append(out, id...)
	}
	out = append(out, `,"ok":true`...)
	if len(fields) > 2 {
		out = append(out, ',')
		out = append(out, fields[1:]...)
	} else {
		out = append(out, '}')
	}
	return out
}

// EncodeFailure returns {"type":"reply","ref":<id>,"ok":false,"error":{...}}.
func EncodeFailure(id json.RawMessage, e ErrorBody) []byte {
	b, _ := json.Marshal(e) // strings only: cannot fail
	out := make([]byte, 0, len(b)+48+len(id))
	out = append(out, `{"type":"reply"`...)
	if len(id) > 0 {
		out = append(out, `,"ref":`...)
		out = append(out, id...)
	}
	out = append(out, `,"ok":false,"error":`...)
	out = append(out, b...)
	return append(out, '}')
}

// EncodeEvent returns {"type":<name>,"data":<data>} (no data if nil).
func EncodeEvent(name string, data any) ([]byte, error) {
	out := make([]byte, 0, 128)
	out = append(out, `{"type":`...)
	out = strconv.AppendQuote(out, name)
	if data != nil {
		b, err := json.Marshal(data)
		if err != nil {
			return nil, err
		}
		out = append(out, `,"data":`...)
		out = append(out, b...)
	}
	return append(out, '}'), nil
}

// EncodeChatEvent is the JSON wire format of a chat event: message,
// presence, typing or user; nil for kinds that are not sent to clients.
func EncodeChatEvent(ev *chat.Event) ([]byte, error) {
	name, payload, ok := ev.ClientEvent()
	if !ok {
		return nil, nil
	}
	return EncodeEvent(name, payload)
}

// EncodeBye is the "bye" event sent before the server closes a connection
// on purpose.
func EncodeBye(reason string) []byte {
	return EncodeDisconnect(&chat.Disconnect{Reason: chat.DisconnectReason(reason)})
}

// EncodeDisconnect is EncodeBye with the details of a kick: {"type":"bye",
// "data":{"reason":"kicked","by":...,"message":...}}.
func EncodeDisconnect(d *chat.Disconnect) []byte {
	b, _ := EncodeEvent("bye", d) // strings only: cannot fail
	return b
}

// Ping is the server heartbeat; clients answer {"type":"pong"}.
var Ping = []byte(`{"type":"ping"}`)
