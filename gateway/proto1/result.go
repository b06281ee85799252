package proto1

import (
	"encoding/json"
	"fmt"

	"github.com/banter-chat/banter/chat"
)

// ProtocolVersion is the version of docs/protocol.md.
const ProtocolVersion = 1

// The results of the commands: the fields of each success answer
// (docs/protocol.md). Ack adds "ok": true; join answers a chat.JoinResult,
// kick and typing answer nothing more.
type (
	// HelloResult answers hello (and REST's POST /api/v1/sessions).
	HelloResult struct {
		Protocol    int           `json:"protocol"`
		ID          string        `json:"id"`
		Nickname    string        `json:"nickname"`
		Token       string        `json:"token"`
		Limits      chat.Limits   `json:"limits"`
		DefaultRoom string        `json:"defaultRoom"`
		Rooms       []JoinOutcome `json:"rooms"`
		Users       []chat.User   `json:"users,omitempty"`
	}
	// NickResult answers nick.
	NickResult struct {
		Nickname string `json:"nickname"`
	}
	// RoomResult answers leave.
	RoomResult struct {
		Room string `json:"room"`
	}
	// RoomsResult answers rooms.
	RoomsResult struct {
		Rooms []chat.RoomInfo `json:"rooms"`
	}
	// SendResult answers send and dm.
	SendResult struct {
		ID        string `json:"id"`
		Room      string `json:"room"`
		Seq       int64  `json:"seq"`
		TS        int64  `json:"ts"`
		Duplicate bool   `json:"duplicate,omitempty"`
	}
	// PageResult answers history and since.
	PageResult struct {
		Room     string         `json:"room"`
		Messages []chat.Message `json:"messages"`
	}
	// DeleteResult answers delete.
	DeleteResult struct {
		Room string `json:"room"`
		Seq  int64  `json:"seq"`
	}
	// MembersResult answers members: a page of the room's members,
	// sorted; More says a next page starts after the last of them.
	MembersResult struct {
		Room    string   `json:"room"`
		Members []string `json:"members"`
		More    bool     `json:"more"`
	}
)

// JoinOutcome is one room of a hello: its join result, or why it could not
// be joined (the session itself still succeeds).
type JoinOutcome struct {
	Room   string // as the client sent it
	Result chat.JoinResult
	Err    error
}

// MarshalJSON writes {"ok": true, ...join result} or
// {"room": <as sent>, "ok": false, "error": {...}}.
func (o JoinOutcome) MarshalJSON() ([]byte, error) {
	if o.Err != nil {
		return json.Marshal(struct {
			Room  string    `json:"room"`
			OK    bool      `json:"ok"`
			Error ErrorBody `json:"error"`
		}{o.Room, false, ErrorFor(o.Err)})
	}
	return Ack(o.Result), nil
}

// ErrorBody is the error object of every failure: a code of
// docs/protocol.md for programs and an English message for people (never
// the cause, which is for logs).
type ErrorBody struct {
	Code    chat.Code `json:"code"`
	Message string    `json:"message"`
}

// ErrorFor returns the client-facing error object of err.
func ErrorFor(err error) ErrorBody {
	code, msg := chat.ClientError(err)
	return ErrorBody{Code: code, Message: msg}
}

// Ack returns the success answer of a command, {"ok": true, ...fields of
// result} (result nil: {"ok": true}): a Socket.IO ack's argument, a REST
// body, and, after the "type" and "ref" of a reply, a /ws or TCP reply.
func Ack(result any) []byte {
	fields := []byte("{}")
	if result != nil {
		b, err := json.Marshal(result)
		if err != nil || len(b) < 2 || b[0] != '{' {
			// Only this package's result types reach here: a bug, not input.
			panic(fmt.Sprintf("proto1: result %T does not encode as a JSON object: %v", result, err))
		}
		fields = b
	}
	out := make([]byte, 0, len(fields)+10)
	out = append(out, `{"ok":true`...)
	if len(fields) > 2 {
		out = append(out, ',')
	}
	return append(out, fields[1:]...)
}

// Failure returns the failure answer of a command, {"ok": false,
// "error": {"code", "message"}}.
func Failure(err error) []byte {
	b, _ := json.Marshal(struct {
		OK    bool      `json:"ok"`
		Error ErrorBody `json:"error"`
	}{false, ErrorFor(err)}) // strings only: cannot fail
	return b
}

// IsAuthError reports whether err refused a token (or its absence): a
// gateway whose client gets nowhere without one closes the connection.
func IsAuthError(err error) bool {
	switch chat.ErrorCode(err) {
	case chat.CodeUnauthenticated, chat.CodeTokenExpired, chat.CodeTokenInvalid:
		return true
	}
	return false
}

// ErrTooManyRequests refuses a request over the connection's request
// bucket (Conn.Allow).
var ErrTooManyRequests = chat.Errorf(chat.CodeRateLimited, "too many requests, slow down")
