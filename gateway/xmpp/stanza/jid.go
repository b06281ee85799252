package stanza

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// JID is an XMPP address (RFC 7622): local@domain/resource.
type JID struct {
	Local, Domain, Resource string
}

// ErrJID is returned for a malformed JID.
var ErrJID = errors.New("malformed JID")

// ParseJID parses s. The domain and the localpart are lowercased (the
// gateway's users and rooms are case-insensitive); the resource is kept
// as it is. Each part is at most 1023 bytes of valid UTF-8; the domain
// must not be empty, nor may a localpart or resource that is present.
func ParseJID(s string) (JID, error) {
	if !utf8.ValidString(s) || s == "" || len(s) > 3071 {
		return JID{}, ErrJID
	}
	var j JID
	rest := s
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		j.Resource = rest[i+1:]
		rest = rest[:i]
		if j.Resource == "" {
			return JID{}, ErrJID
		}
	}
	if i := strings.IndexByte(rest, '@'); i >= 0 {
		j.Local = strings.ToLower(rest[:i])
		rest = rest[i+1:]
		if j.Local == "" {
			return JID{}, ErrJID
		}
	}
	j.Domain = strings.ToLower(strings.TrimSuffix(rest, "."))
	if j.Domain == "" || len(j.Local) > 1023 || len(j.Domain) > 1023 || len(j.Resource) > 1023 {
		return JID{}, ErrJID
	}
	if strings.ContainsAny(j.Local, "\"&'/:<>@ \t\r\n") || strings.ContainsAny(j.Domain, "@/ \t\r\n") {
		return JID{}, ErrJID
	}
	for _, r := range j.Resource {
		if r < 0x20 || r == 0x7f {
			return JID{}, ErrJID
		}
	}
	return j, nil
}

// Bare returns the JID without its resource.
func (j JID) Bare() JID { return JID{Local: j.Local, Domain: j.Domain} }

// String formats the JID.
func (j JID) String() string {
	var b strings.Builder
	if j.Local != "" {
		b.WriteString(j.Local)
		b.WriteByte('@')
	}
	b.WriteString(j.Domain)
	if j.Resource != "" {
		b.WriteByte('/')
		b.WriteString(j.Resource)
	}
	return b.String()
}

// IsZero reports whether j is empty.
func (j JID) IsZero() bool { return j.Domain == "" }

// escapes are the characters XEP-0106 escapes in a localpart.
const escapes = " \"&'/:<>@\\"

// EscapeLocal turns a nickname into a JID localpart: XEP-0106 escaping of
// the characters a localpart cannot hold (space, ", &, ', /, :, <, >, @,
// and a backslash that would read as an escape), then lowercase (the
// gateway's users are case-insensitive, like chat.NickKey).
func EscapeLocal(nick string) string {
	if !strings.ContainsAny(nick, escapes) {
		return strings.ToLower(nick)
	}
	var b strings.Builder
	for i := 0; i < len(nick); i++ {
		c := nick[i]
		if c == '\\' && !startsEscape(nick[i+1:]) {
			b.WriteByte(c)
			continue
		}
		if strings.IndexByte(escapes, c) >= 0 {
			b.WriteByte('\\')
			b.WriteByte("0123456789abcdef"[c>>4])
			b.WriteByte("0123456789abcdef"[c&15])
			continue
		}
		b.WriteByte(c)
	}
	return strings.ToLower(b.String())
}

// startsEscape reports whether s starts with the hex code of a character
// XEP-0106 escapes.
func startsEscape(s string) bool {
	if len(s) < 2 {
		return false
	}
	c, ok := unhex2(s[0], s[1])
	return ok && strings.IndexByte(escapes, c) >= 0
}

// UnescapeLocal undoes EscapeLocal's escaping (the case stays lowered).
func UnescapeLocal(local string) string {
	if !strings.Contains(local, `\`) {
		return local
	}
	var b strings.Builder
	for i := 0; i < len(local); i++ {
		c := local[i]
		if c == '\\' && i+2 < len(local) {
			if d, ok := unhex2(local[i+1], local[i+2]); ok && strings.IndexByte(escapes, d) >= 0 {
				b.WriteByte(d)
				i += 2
				continue
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

func unhex2(a, b byte) (byte, bool) {
	x, ok1 := unhex(a)
	y, ok2 := unhex(b)
	return x<<4 | y, ok1 && ok2
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
