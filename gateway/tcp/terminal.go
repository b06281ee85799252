package tcp

import (
	"strings"
	"unicode/utf8"
)

// Everything the text mode writes goes to a terminal (nc, telnet), and
// much of it comes from peers: message texts, nicknames, kick reasons,
// error messages naming what a client sent. Stored history may predate
// any input policy, and other gateways or nodes may be more lenient, so
// the text mode makes every line safe itself: a control character (C0,
// DEL, C1) would let a peer move the cursor, recolour or clear the screen,
// retitle the window or ring the bell. Each becomes a visible symbol
// instead, so the reader still sees that something was there: C0 and DEL
// their Unicode Control Pictures (ESC is "␛", BEL "␇"), C1 and invalid
// UTF-8 "�". Tab is kept; a newline only where a message's text continues
// on the next (indented) line.

// terminalSafe returns s with every control character replaced, except tab
// and, with keepNewlines, newline. A string that needs nothing is returned
// as is.
func terminalSafe(s string, keepNewlines bool) string {
	i := 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if unsafeRune(r, n, keepNewlines) {
			break
		}
		i += n
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		switch {
		case !unsafeRune(r, n, keepNewlines):
			b.WriteRune(r)
		case r == utf8.RuneError:
			b.WriteRune(utf8.RuneError)
		case r < 0x20:
			b.WriteRune(0x2400 + r) // CONTROL PICTURES: ␀ … ␟ (newline: ␊)
		case r == 0x7f:
			b.WriteRune('\u2421') // ␡
		default: // C1
			b.WriteRune(utf8.RuneError)
		}
	}
	return b.String()
}

// unsafeRune reports whether the rune r, n bytes long, must not reach a
// terminal as is.
func unsafeRune(r rune, n int, keepNewlines bool) bool {
	switch {
	case r == utf8.RuneError && n <= 1: // invalid UTF-8
		return true
	case r == '\t', r == '\n' && keepNewlines:
		return false
	}
	return r < 0x20 || r >= 0x7f && r < 0xa0
}
