package chatclient

import (
	"encoding/json"
	"errors"
	"time"
)

// Message is a chat message (docs/protocol.md, "Message object").
type Message struct {
	ID       string `json:"id"`
	Room     string `json:"room"`
	Seq      int64  `json:"seq"`
	From     string `json:"from"`
	Text     string `json:"text"`
	ClientID string `json:"clientId,omitempty"`
	TS       int64  `json:"ts"`
}

// Time is the server time the message was stored.
func (m Message) Time() time.Time { return time.UnixMilli(m.TS) }

// JoinResult is the answer to a join (and one per room of a hello).
type JoinResult struct {
	Room     string    `json:"room"`
	Members  []string  `json:"members"`
	LastSeq  int64     `json:"lastSeq"`
	Messages []Message `json:"messages"`
	More     bool      `json:"more"`
	OK       bool      `json:"ok"`
	Error    *Error    `json:"error,omitempty"`
}

// SendResult acknowledges a stored message.
type SendResult struct {
	ID        string `json:"id"`
	Room      string `json:"room"`
	Seq       int64  `json:"seq"`
	TS        int64  `json:"ts"`
	Duplicate bool   `json:"duplicate"`
}

// RoomInfo is one entry of Rooms.
type RoomInfo struct {
	Room    string `json:"room"`
	LastSeq int64  `json:"lastSeq"`
	Count   int64  `json:"count"`
	LastTS  int64  `json:"lastTs"`
}

// UserInfo is an online user.
type UserInfo struct {
	ID       string `json:"id"`
	Nickname string `json:"nickname"`
	Since    int64  `json:"since"`
}

// Limits are the server's limits from the hello ack.
type Limits struct {
	MaxMessageBytes int     `json:"maxMessageBytes"`
	PageLimit       int     `json:"pageLimit"`
	MaxPageLimit    int     `json:"maxPageLimit"`
	TypingTTLMs     int     `json:"typingTtlMs"`
	RateBurst       int     `json:"rateBurst"`
	RatePerSecond   float64 `json:"ratePerSecond"`
}

// Hello is the hello ack.
type Hello struct {
	Protocol    int          `json:"protocol"`
	ID          string       `json:"id"`
	Nickname    string       `json:"nickname"`
	Token       string       `json:"token"`
	Limits      Limits       `json:"limits"`
	DefaultRoom string       `json:"defaultRoom"`
	Rooms       []JoinResult `json:"rooms"`
	Users       []UserInfo   `json:"users"`
}

// Error is a failure answered by the server: {"code", "message"}. Compare
// with errors.Is against the Err* values, which match by code.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Event   string `json:"event,omitempty"`
}

func (e *Error) Error() string {
	if e.Message == "" {
		return "chat: " + e.Code
	}
	return "chat: " + e.Message + " (" + e.Code + ")"
}

// Is matches errors of the same code.
func (e *Error) Is(target error) bool {
	var t *Error
	return errors.As(target, &t) && t.Code == e.Code
}

// Error codes of protocol 1 (docs/protocol.md, "Error codes").
var (
	ErrInvalidNickname = &Error{Code: "invalid_nickname"}
	ErrNicknameTaken   = &Error{Code: "nickname_taken"}
	ErrInvalidRoom     = &Error{Code: "invalid_room"}
	ErrEmptyMessage    = &Error{Code: "empty_message"}
	ErrTooLarge        = &Error{Code: "message_too_large"}
	ErrNotMember       = &Error{Code: "not_member"}
	ErrForbidden       = &Error{Code: "forbidden"}
	ErrRateLimited     = &Error{Code: "rate_limited"}
	ErrInvalidArgument = &Error{Code: "invalid_argument"}
	ErrNotConnected    = &Error{Code: "not_connected"}
	ErrUnavailable     = &Error{Code: "unavailable"}
)

// ErrClosed: the client was closed.
var ErrClosed = errors.New("chat: client closed")

// ErrReplaced: another connection took this session over (bye "replaced");
// the client does not reconnect.
var ErrReplaced = errors.New("chat: session taken over by another connection")

// decodeAck decodes a protocol-1 ack {"ok": ..., ...} into v, or returns
// its error.
func decodeAck(raw json.RawMessage, v any) error {
	var head struct {
		OK    bool   `json:"ok"`
		Error *Error `json:"error"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return &Error{Code: "internal", Message: "bad ack: " + err.Error()}
	}
	if !head.OK {
		if head.Error == nil {
			return &Error{Code: "internal", Message: "ack without ok or error"}
		}
		return head.Error
	}
	if v == nil {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return &Error{Code: "internal", Message: "bad ack: " + err.Error()}
	}
	return nil
}

// Events delivered to Config.OnEvent.
type (
	// MessageEvent: a message, per room in seq order and each seq once
	// (join pages, catch-up and live messages alike).
	MessageEvent struct{ Message Message }
	// JoinedEvent: the client is in Room (after Join, and after each
	// reconnect). More says older history exists (see History).
	JoinedEvent struct {
		Room    string
		Members []string
		LastSeq int64
		More    bool
		// FirstSeq is the oldest seq the client holds for the room (0: none).
		FirstSeq int64
	}
	// LeftEvent: the client left Room.
	LeftEvent struct{ Room string }
	// PresenceEvent: someone joined, left or was renamed in Room.
	PresenceEvent struct {
		Room, Nickname, Action, From string
	}
	// TypingEvent: who is typing in Room now.
	TypingEvent struct {
		Room      string
		Nicknames []string
	}
	// UserEvent: a user went online, offline or was renamed (WatchUsers).
	UserEvent struct {
		User         UserInfo
		Status, From string
	}
	// StateEvent: the connection changed. Connected is true once the
	// session is (re)established; otherwise Reason says why it dropped and
	// Attempt/Delay describe the next reconnection attempt, if any.
	StateEvent struct {
		Connected bool
		Nickname  string
		Reason    string
		Attempt   int
		Delay     time.Duration
	}
	// ByeEvent: the server is closing the connection on purpose.
	ByeEvent struct{ Reason string }
	// ErrorEvent: a failure the server reported without an ack, or one the
	// client hit in the background (a failed resume).
	ErrorEvent struct{ Err error }
	// RenamedEvent: this client's nickname changed.
	RenamedEvent struct{ Nickname string }
)

// Event is one of the *Event types above.
type Event any
