package chat

import (
	"errors"
	"fmt"
)

// Code is a stable, machine-readable error code sent to clients. Gateways put
// it on the wire unchanged (docs/protocol.md lists every code); it never
// changes meaning within protocol version 1.
type Code string

// The codes a client can see.
const (
	CodeInvalidNickname Code = "invalid_nickname"
	CodeNicknameTaken   Code = "nickname_taken"
	CodeInvalidRoom     Code = "invalid_room"
	CodeInvalidMessage  Code = "invalid_message" // not valid UTF-8
	CodeEmptyMessage    Code = "empty_message"
	CodeMessageTooLarge Code = "message_too_large"
	CodeNotMember       Code = "not_member"      // must join the room first
	CodeForbidden       Code = "forbidden"       // a DM room of other users, a room the token does not allow, not an admin
	CodeNotFound        Code = "not_found"       // no such user online (kick)
	CodeUnauthenticated Code = "unauthenticated" // a token is required and none was sent
	CodeTokenExpired    Code = "token_expired"   // the token's exp has passed: get a new one
	CodeTokenInvalid    Code = "token_invalid"   // malformed, wrong algorithm, bad signature, wrong issuer/audience, bad claims
	CodeRateLimited     Code = "rate_limited"
	CodeTooManyRooms    Code = "too_many_rooms" // Config.MaxRoomsPerSession
	CodeInvalidArgument Code = "invalid_argument"
	CodeNotConnected    Code = "not_connected" // the session has ended
	CodeUnavailable     Code = "unavailable"   // store closed or failing; retry later
	CodeInternal        Code = "internal"
)

// Error is the error type of this package and of every Store. Code is for
// programs, Message is for humans (safe to show to the client), Err is the
// cause for logs and is never sent to clients.
//
// errors.Is(err, ErrX) matches on Code, so a specific message such as
// "room name must be at most 64 characters" still Is ErrInvalidRoom.
type Error struct {
	Code    Code
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return string(e.Code) + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Sentinel errors, one per code, for errors.Is.
var (
	ErrInvalidNickname = &Error{Code: CodeInvalidNickname, Message: "invalid nickname"}
	ErrNicknameTaken   = &Error{Code: CodeNicknameTaken, Message: "nickname is already in use"}
	ErrInvalidRoom     = &Error{Code: CodeInvalidRoom, Message: "invalid room name"}
	ErrInvalidMessage  = &Error{Code: CodeInvalidMessage, Message: "message text is not valid UTF-8"}
	ErrEmptyMessage    = &Error{Code: CodeEmptyMessage, Message: "message text is empty"}
	ErrMessageTooLarge = &Error{Code: CodeMessageTooLarge, Message: "message text is too large"}
	ErrNotMember       = &Error{Code: CodeNotMember, Message: "not a member of this room"}
	ErrForbidden       = &Error{Code: CodeForbidden, Message: "this room belongs to other users"}
	ErrRateLimited     = &Error{Code: CodeRateLimited, Message: "too many messages, slow down"}
	ErrTooManyRooms    = &Error{Code: CodeTooManyRooms, Message: "joined too many rooms; leave one first"}
	ErrNotFound        = &Error{Code: CodeNotFound, Message: "not found"}
	ErrUnauthenticated = &Error{Code: CodeUnauthenticated, Message: "authentication required: send a token"}
	ErrTokenExpired    = &Error{Code: CodeTokenExpired, Message: "token expired"}
	ErrTokenInvalid    = &Error{Code: CodeTokenInvalid, Message: "invalid token"}
	ErrInvalidArgument = &Error{Code: CodeInvalidArgument, Message: "invalid argument"}
	ErrNotConnected    = &Error{Code: CodeNotConnected, Message: "session has ended"}
	ErrUnavailable     = &Error{Code: CodeUnavailable, Message: "service unavailable, try again later"}
	ErrInternal        = &Error{Code: CodeInternal, Message: "internal error"}
)

// Errorf returns an *Error with the given code and a formatted human message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error with code and message that carries cause for logs.
func Wrap(code Code, message string, cause error) *Error {
	return &Error{Code: code, Message: message, Err: cause}
}

// ErrorCode returns the client-facing code of err: the code of the first
// *Error in its chain, or CodeInternal for any other non-nil error (a
// context error included: the client did not cause it).
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// ClientError returns the code and a message safe to send to a client: the
// Message of the first *Error in err's chain, or a generic text for other
// errors so that causes (paths, SQL) never leak to clients.
func ClientError(err error) (Code, string) {
	var e *Error
	if errors.As(err, &e) {
		return e.Code, e.Message
	}
	return CodeInternal, ErrInternal.Message
}
