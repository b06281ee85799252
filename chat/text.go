package chat

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Control characters in message text.
//
// Policy: message text may not contain control characters (Unicode Cc: C0,
// DEL and C1) other than newline and tab; such a message is refused with
// invalid_message, and the error names the character and where it is. The
// text is never changed behind the sender's back: stripping ESC from
// "\x1b[31m" would store "[31m", which nobody wrote, and the sender would
// not learn why its message looks different. Chat text never needs them
// (CR included: lines end with "\n"). Format characters (zero-width joiner,
// bidi marks) are allowed in text: emoji and right-to-left writing need
// them.
//
// Whatever shows stored text in a terminal must still make it Printable:
// history may predate this rule, and a terminal must never receive a
// control character from a peer.

// CheckMessageText is the check of message text on the way in: CheckText
// (UTF-8, not empty, at most maxBytes bytes), then no control character
// other than newline and tab.
func CheckMessageText(text string, maxBytes int) error {
	if err := CheckText(text, maxBytes); err != nil {
		return err
	}
	for i, r := range text {
		if r == '\n' || r == '\t' || !unicode.IsControl(r) {
			continue
		}
		if r == '\r' {
			return Errorf(CodeInvalidMessage, "message text contains a carriage return (U+000D) at byte %d: end lines with \\n alone", i)
		}
		return Errorf(CodeInvalidMessage, "message text contains the control character %U at byte %d: only newline and tab are allowed", r, i)
	}
	return nil
}

// Printable returns text safe to write to a terminal, keeping newlines and
// tabs: every other control character becomes a visible symbol (C0 and DEL
// their Control Pictures, "\x1b" is "␛"; C1 "�"), and invalid UTF-8 becomes
// "�". Text without any is returned as is, without allocating.
func Printable(text string) string { return printable(text, false) }

// PrintableLine is Printable for text that must stay on one line and keep
// its direction (a nickname, a room name, an error message): newline and
// tab become "␤" and a space, and bidi controls (which could reorder the
// rest of the terminal line) become "�".
func PrintableLine(text string) string { return printable(text, true) }

func printable(s string, line bool) string {
	clean := true
	for i := 0; i < len(s) && clean; {
		r, n := utf8.DecodeRuneInString(s[i:])
		clean = !needsEscape(r, n, line)
		i += n
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		switch {
		case !needsEscape(r, n, line):
			b.WriteRune(r)
		case r == '\n':
			b.WriteRune('\u2424') // SYMBOL FOR NEWLINE
		case r == '\t':
			b.WriteByte(' ')
		case r < 0x20:
			b.WriteRune(0x2400 + r) // CONTROL PICTURES: ␀ … ␟
		case r == 0x7f:
			b.WriteRune('\u2421') // SYMBOL FOR DELETE
		default: // C1, bidi controls, invalid UTF-8
			b.WriteRune(utf8.RuneError)
		}
	}
	return b.String()
}

// needsEscape reports whether a decoded rune (n bytes) may not be written
// as is.
func needsEscape(r rune, n int, line bool) bool {
	switch {
	case r == utf8.RuneError && n <= 1:
		return true
	case r == '\n' || r == '\t':
		return line
	case unicode.IsControl(r):
		return true
	}
	return line && isBidiControl(r)
}
