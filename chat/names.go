package chat

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on names and identifiers. They are part of protocol version 1.
const (
	MaxNicknameRunes = 32
	MaxRoomBytes     = 64 // public rooms; a DM room name is derived and may be longer
	MaxClientIDBytes = 128
	// DMPrefix starts every direct-message room name: "dm:<a>:<b>".
	DMPrefix = "dm:"
)

// NormalizeNickname trims surrounding white space and checks the rules for a
// nickname: 1 to 32 characters (Unicode code points) of valid UTF-8, no
// control characters, no ':' (it separates the two users in a DM room name).
// Case is kept for display; uniqueness and DM room names use NickKey.
func NormalizeNickname(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", Errorf(CodeInvalidNickname, "nickname is not valid UTF-8")
	}
	s = strings.TrimSpace(s)
	n := utf8.RuneCountInString(s)
	switch {
	case n == 0:
		return "", Errorf(CodeInvalidNickname, "nickname is empty")
	case n > MaxNicknameRunes:
		return "", Errorf(CodeInvalidNickname, "nickname is longer than %d characters", MaxNicknameRunes)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return "", Errorf(CodeInvalidNickname, "nickname contains a control character")
		}
		if r == ':' {
			return "", Errorf(CodeInvalidNickname, "nickname must not contain ':'")
		}
	}
	return s, nil
}

// NickKey is the case-insensitive identity of a valid nickname: two users
// whose keys are equal cannot be online at the same time, and DM room names
// and client-id de-duplication use the key. It is strings.ToLower (simple
// Unicode lowercase mapping), so "Zoë" and "ZOË" are the same user.
func NickKey(nickname string) string { return strings.ToLower(nickname) }

// NormalizeRoom returns the canonical name of a room, or an ErrInvalidRoom.
//
// A public room name is lowercased and must then match [a-z0-9][a-z0-9_-]*
// with at most 64 bytes. A direct-message room name is "dm:" followed by the
// keys (NickKey) of two different valid nicknames separated by ':', in
// ascending byte order; NormalizeRoom lowercases and sorts them, so
// "DM:Bob:alice" becomes "dm:alice:bob".
func NormalizeRoom(name string) (string, error) {
	if !utf8.ValidString(name) {
		return "", Errorf(CodeInvalidRoom, "room name is not valid UTF-8")
	}
	lower := strings.ToLower(name)
	if rest, ok := strings.CutPrefix(lower, DMPrefix); ok {
		a, b, ok := strings.Cut(rest, ":")
		if !ok {
			return "", Errorf(CodeInvalidRoom, "a DM room name is dm:<nickname>:<nickname>")
		}
		return dmRoom(a, b)
	}
	if lower == "" {
		return "", Errorf(CodeInvalidRoom, "room name is empty")
	}
	if len(lower) > MaxRoomBytes {
		return "", Errorf(CodeInvalidRoom, "room name is longer than %d characters", MaxRoomBytes)
	}
	for i := 0; i < len(lower); i++ {
		c := lower[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '_' && c != '-') {
			return "", Errorf(CodeInvalidRoom, "room name must match [a-z0-9][a-z0-9_-]*")
		}
	}
	return lower, nil
}

// DMRoom returns the canonical direct-message room of two users, given their
// nicknames in any case and order.
func DMRoom(a, b string) (string, error) { return dmRoom(a, b) }

func dmRoom(a, b string) (string, error) {
	na, err := NormalizeNickname(a)
	if err != nil || na != a { // surrounding spaces: not canonical
		return "", Errorf(CodeInvalidRoom, "invalid nickname %q in DM room name", a)
	}
	nb, err := NormalizeNickname(b)
	if err != nil || nb != b {
		return "", Errorf(CodeInvalidRoom, "invalid nickname %q in DM room name", b)
	}
	ka, kb := NickKey(na), NickKey(nb)
	switch {
	case ka == kb:
		return "", Errorf(CodeInvalidRoom, "a DM room needs two different users")
	case ka > kb:
		ka, kb = kb, ka
	}
	return DMPrefix + ka + ":" + kb, nil
}

// IsDMRoom reports whether a canonical room name is a direct-message room.
func IsDMRoom(room string) bool { return strings.HasPrefix(room, DMPrefix) }

// DMParticipants returns the two nickname keys of a canonical DM room name.
func DMParticipants(room string) (a, b string, ok bool) {
	rest, ok := strings.CutPrefix(room, DMPrefix)
	if !ok {
		return "", "", false
	}
	return strings.Cut(rest, ":")
}

// CheckText validates message text against maxBytes: valid UTF-8, not empty
// after trimming white space, at most maxBytes bytes. The text is stored as
// given (not trimmed) so that formatting the sender meant is kept.
func CheckText(text string, maxBytes int) error {
	if len(text) > maxBytes {
		return Errorf(CodeMessageTooLarge, "message text is %d bytes, the limit is %d", len(text), maxBytes)
	}
	if !utf8.ValidString(text) {
		return ErrInvalidMessage
	}
	if strings.TrimSpace(text) == "" {
		return ErrEmptyMessage
	}
	return nil
}

// CheckClientID validates an optional client message id: at most 128 bytes
// of printable ASCII (no spaces), so that any client can produce one
// (a counter, a UUID) and it can be logged verbatim.
func CheckClientID(id string) error {
	if len(id) > MaxClientIDBytes {
		return Errorf(CodeInvalidArgument, "clientId is longer than %d bytes", MaxClientIDBytes)
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return Errorf(CodeInvalidArgument, "clientId must be printable ASCII without spaces")
		}
	}
	return nil
}
