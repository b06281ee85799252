package siogw

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/socketio"
)

// Argument decoding. Protocol 1 is strict about types ("a field of the wrong
// type is invalid_argument") and lenient about unknown fields; every failure
// becomes a *chat.Error with a message that names the culprit.

// MaxHelloRooms bounds rooms+since of one hello (docs/protocol.md).
const MaxHelloRooms = 50

// bindArg decodes argument i of ev into v (a pointer to a struct or a
// string). what names the argument in error messages.
func bindArg(ev *socketio.Event, i int, what string, v any) error {
	raw := ev.RawArgs()
	if i >= len(raw) || isNull(raw[i]) {
		return chat.Errorf(chat.CodeInvalidArgument, "%s is missing", what)
	}
	return decodeJSON(raw[i], what, v)
}

func isNull(b json.RawMessage) bool {
	return len(bytes.TrimSpace(b)) == 0 || string(bytes.TrimSpace(b)) == "null"
}

// decodeJSON unmarshals raw into v and turns type errors into
// invalid_argument errors naming the field. Invalid UTF-8 is refused:
// encoding/json would silently turn it into U+FFFD, storing text the
// client never sent.
func decodeJSON(raw json.RawMessage, what string, v any) error {
	if !utf8.Valid(raw) {
		return chat.Errorf(chat.CodeInvalidArgument, "%s: not valid UTF-8", what)
	}
	err := json.Unmarshal(raw, v)
	if err == nil {
		return nil
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field != "" {
			return chat.Errorf(chat.CodeInvalidArgument, "%s: field %q must be %s, not %s", what, te.Field, jsonKind(te.Type.Kind().String()), te.Value)
		}
		return chat.Errorf(chat.CodeInvalidArgument, "%s must be %s, not %s", what, jsonKind(te.Type.Kind().String()), te.Value)
	}
	return chat.Errorf(chat.CodeInvalidArgument, "%s: %v", what, err)
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

// stringArg returns argument i as a string.
func stringArg(ev *socketio.Event, i int, what string) (string, error) {
	var s string
	if err := bindArg(ev, i, what, &s); err != nil {
		return "", err
	}
	return s, nil
}

// roomArg accepts a room name or {"room": name} (join takes more fields; see
// joinArgs).
type joinArgs struct {
	Room  string `json:"room"`
	After *int64 `json:"after"`
	Limit int    `json:"limit"`
}

func bindJoin(ev *socketio.Event) (joinArgs, error) {
	raw := ev.RawArgs()
	if len(raw) == 0 || isNull(raw[0]) {
		return joinArgs{}, chat.Errorf(chat.CodeInvalidArgument, "join: the room is missing")
	}
	var a joinArgs
	if t := bytes.TrimSpace(raw[0]); len(t) > 0 && t[0] == '"' {
		if err := decodeJSON(raw[0], "join", &a.Room); err != nil {
			return a, err
		}
		return a, nil
	}
	if err := decodeJSON(raw[0], "join", &a); err != nil {
		return a, err
	}
	if a.Room == "" {
		return a, chat.Errorf(chat.CodeInvalidRoom, "join: field \"room\" is missing")
	}
	return a, nil
}

type helloArgs struct {
	Nickname   *string         `json:"nickname"`
	Rooms      []string        `json:"rooms"`
	Since      json.RawMessage `json:"since"`
	WatchUsers bool            `json:"watchUsers"`
	Resume     string          `json:"resume"`
	Token      string          `json:"token"`

	since []sinceEntry // Since decoded, in the order sent
}

type sinceEntry struct {
	room string
	seq  int64
}

func bindHello(ev *socketio.Event) (helloArgs, error) {
	var a helloArgs
	if err := bindArg(ev, 0, "hello", &a); err != nil {
		return a, err
	}
	var err error
	if a.since, err = orderedSince(a.Since); err != nil {
		return a, err
	}
	if len(a.Rooms)+len(a.since) > MaxHelloRooms {
		return a, chat.Errorf(chat.CodeInvalidArgument, "hello: at most %d rooms", MaxHelloRooms)
	}
	return a, nil
}

// orderedSince decodes {"room": seq, ...} keeping the order of the keys:
// the hello ack lists join results "in the order given".
func orderedSince(raw json.RawMessage) ([]sinceEntry, error) {
	if isNull(raw) {
		return nil, nil
	}
	bad := chat.Errorf(chat.CodeInvalidArgument, "hello: \"since\" must be an object of room: non-negative integer")
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, bad
	}
	var out []sinceEntry
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, bad
		}
		room, _ := tok.(string)
		tok, err = dec.Token()
		if err != nil {
			return nil, bad
		}
		n, ok := tok.(json.Number)
		if !ok {
			return nil, bad
		}
		seq, err := n.Int64()
		if err != nil || seq < 0 {
			return nil, bad
		}
		out = append(out, sinceEntry{room: room, seq: seq})
		if len(out) > MaxHelloRooms {
			return nil, chat.Errorf(chat.CodeInvalidArgument, "hello: at most %d rooms", MaxHelloRooms)
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, bad
	}
	return out, nil
}

type sendArgs struct {
	Room     string  `json:"room"`
	To       string  `json:"to"`
	Text     *string `json:"text"`
	ClientID string  `json:"clientId"`
}

func bindSend(ev *socketio.Event, dm bool) (sendArgs, error) {
	name := "send"
	if dm {
		name = "dm"
	}
	var a sendArgs
	if raw := ev.RawArgs(); len(raw) > 0 && !utf8.Valid(raw[0]) {
		// As chat.Session.Send answers text that is not UTF-8.
		return a, chat.Errorf(chat.CodeInvalidMessage, "%s: message text is not valid UTF-8", name)
	}
	if err := bindArg(ev, 0, name, &a); err != nil {
		return a, err
	}
	if a.Text == nil {
		return a, chat.Errorf(chat.CodeInvalidArgument, "%s: field \"text\" is missing", name)
	}
	switch {
	case dm && a.To == "":
		return a, chat.Errorf(chat.CodeInvalidNickname, "dm: field \"to\" is missing")
	case !dm && a.Room == "":
		return a, chat.Errorf(chat.CodeInvalidRoom, "send: field \"room\" is missing")
	}
	return a, nil
}

type pageArgs struct {
	Room   string `json:"room"`
	Before int64  `json:"before"`
	After  int64  `json:"after"`
	Limit  int    `json:"limit"`
}

func bindPage(ev *socketio.Event, name string) (pageArgs, error) {
	var a pageArgs
	if err := bindArg(ev, 0, name, &a); err != nil {
		return a, err
	}
	if a.Room == "" {
		return a, chat.Errorf(chat.CodeInvalidRoom, "%s: field \"room\" is missing", name)
	}
	if a.Before < 0 || a.After < 0 {
		return a, chat.Errorf(chat.CodeInvalidArgument, "%s: sequence numbers must not be negative", name)
	}
	return a, nil
}

type typingArgs struct {
	Room   string `json:"room"`
	Typing *bool  `json:"typing"`
}

func bindTyping(ev *socketio.Event) (typingArgs, error) {
	var a typingArgs
	if err := bindArg(ev, 0, "typing", &a); err != nil {
		return a, err
	}
	if a.Room == "" {
		return a, chat.Errorf(chat.CodeInvalidRoom, "typing: field \"room\" is missing")
	}
	if a.Typing == nil {
		return a, chat.Errorf(chat.CodeInvalidArgument, "typing: field \"typing\" is missing")
	}
	return a, nil
}

// errorBody is the error object of acks and of the error event.
type errorBody struct {
	Code    chat.Code `json:"code"`
	Message string    `json:"message"`
	Event   string    `json:"event,omitempty"`
}

type errorAck struct {
	OK    bool      `json:"ok"`
	Error errorBody `json:"error"`
}

func errorFor(err error) errorBody {
	code, msg := chat.ClientError(err)
	return errorBody{Code: code, Message: msg}
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own types are marshalled: this is a bug.
		panic(fmt.Sprintf("siogw: cannot encode %T: %v", v, err))
	}
	return b
}

type kickArgs struct {
	Nickname string `json:"nickname"`
	Reason   string `json:"reason"`
}

func bindKick(ev *socketio.Event) (kickArgs, error) {
	var a kickArgs
	if err := bindArg(ev, 0, "kick", &a); err != nil {
		return a, err
	}
	if a.Nickname == "" {
		return a, chat.Errorf(chat.CodeInvalidNickname, "kick: field \"nickname\" is missing")
	}
	return a, nil
}

type deleteArgs struct {
	Room string `json:"room"`
	Seq  int64  `json:"seq"`
}

func bindDelete(ev *socketio.Event) (deleteArgs, error) {
	var a deleteArgs
	if err := bindArg(ev, 0, "delete", &a); err != nil {
		return a, err
	}
	if a.Room == "" {
		return a, chat.Errorf(chat.CodeInvalidRoom, "delete: field \"room\" is missing")
	}
	return a, nil
}
