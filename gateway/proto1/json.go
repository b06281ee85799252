package proto1

import (
	"bytes"
	"encoding/json"
	"errors"
	"unicode/utf8"

	"github.com/banter-chat/banter/chat"
)

// Unmarshal decodes the JSON value raw into v, the one decoding step of
// every client input of protocol 1 (Socket.IO arguments, /ws frames, TCP
// lines, REST bodies). label names the input in error messages ("send",
// or "" for none). Every failure is a *chat.Error: invalid_argument naming
// the field and the types, or, for text that is not valid UTF-8 (raw
// bytes, or an escaped lone surrogate such as "\ud800"), invalid_message
// when isText is set (the input carries message text) and invalid_argument
// otherwise. encoding/json would silently turn such text into U+FFFD,
// storing what the client never sent.
func Unmarshal(raw []byte, label string, isText bool, v any) error {
	if !ValidText(raw) {
		return textError(label, isText)
	}
	err := json.Unmarshal(raw, v)
	if err == nil {
		return nil
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field != "" {
			return chat.Errorf(chat.CodeInvalidArgument, "%sfield %q must be %s, not %s", prefix(label), te.Field, jsonKind(te.Type.Kind().String()), te.Value)
		}
		if label == "" {
			label = "the value"
		}
		return chat.Errorf(chat.CodeInvalidArgument, "%s must be %s, not %s", label, jsonKind(te.Type.Kind().String()), te.Value)
	}
	return chat.Errorf(chat.CodeInvalidArgument, "%snot valid JSON: %v", prefix(label), err)
}

// textError refuses input that is not valid UTF-8 text.
func textError(label string, isText bool) error {
	if isText {
		return chat.Errorf(chat.CodeInvalidMessage, "%smessage text is not valid UTF-8 (invalid bytes or an unpaired surrogate)", prefix(label))
	}
	return chat.Errorf(chat.CodeInvalidArgument, "%snot valid UTF-8 (invalid bytes or an unpaired surrogate)", prefix(label))
}

func prefix(label string) string {
	if label == "" {
		return ""
	}
	return label + ": "
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

// ValidText reports whether raw, JSON text, is valid UTF-8 and none of
// its \u escapes is an unpaired UTF-16 surrogate: what a client sends must
// decode to exactly the text it meant.
func ValidText(raw []byte) bool {
	if !utf8.Valid(raw) {
		return false
	}
	for i := bytes.IndexByte(raw, '\\'); i >= 0; {
		// raw[i] starts an escape (backslashes occur only in strings,
		// each escape is read whole, so i is never in the middle of one).
		n := 2
		if i+1 < len(raw) && raw[i+1] == 'u' {
			r, ok := hex4(raw[i+2:])
			switch {
			case !ok:
				// A syntax error: json.Unmarshal reports it.
			case r >= 0xd800 && r < 0xdc00: // high surrogate: a low one must follow
				if len(raw) < i+12 || raw[i+6] != '\\' || raw[i+7] != 'u' {
					return false
				}
				if lo, ok := hex4(raw[i+8:]); !ok || lo < 0xdc00 || lo >= 0xe000 {
					return false
				}
				n = 12
			case r >= 0xdc00 && r < 0xe000:
				return false
			default:
				n = 6
			}
		}
		next := bytes.IndexByte(raw[min(i+n, len(raw)):], '\\')
		if next < 0 {
			break
		}
		i = min(i+n, len(raw)) + next
	}
	return true
}

// hex4 reads four hex digits.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
