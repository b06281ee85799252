package chat

import (
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"go.mau.fi/util/confusable"
	"golang.org/x/text/unicode/norm"
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
// nickname: 1 to 32 characters (Unicode code points) of valid UTF-8 (kept in
// NFC), no control characters, no ':' (it separates the two users in a DM
// room name) nor a character that looks like one, and nothing invisible or
// direction-changing: no bidi controls (U+202E…), no zero-width or other
// default-ignorable characters, except a variation selector after a symbol,
// digit or ideograph and a zero-width joiner between two symbols (emoji
// such as ❤️ and 👩‍💻 stay possible). Case and look are kept for display;
// uniqueness and DM room names use NickKey.
func NormalizeNickname(s string) (string, error) { return normalizeNick(s, MaxNicknameRunes) }

// maxKeyRunes bounds a nickname key in a DM room name: NFKC may expand a
// character of a valid nickname into several (ﬃ is ffi).
const maxKeyRunes = 18 * MaxNicknameRunes

func normalizeNick(s string, maxRunes int) (string, error) {
	if !utf8.ValidString(s) {
		return "", Errorf(CodeInvalidNickname, "nickname is not valid UTF-8")
	}
	s = norm.NFC.String(strings.TrimSpace(s))
	n := utf8.RuneCountInString(s)
	switch {
	case n == 0:
		return "", Errorf(CodeInvalidNickname, "nickname is empty")
	case n > maxRunes:
		return "", Errorf(CodeInvalidNickname, "nickname is longer than %d characters", maxRunes)
	}
	if err := checkNickRunes(s); err != nil {
		return "", err
	}
	key := NickKey(s)
	if strings.Contains(key, ":") {
		for _, r := range s {
			if r != ':' && strings.Contains(NickKey(string(r)), ":") {
				return "", Errorf(CodeInvalidNickname, "nickname must not contain %U (%c): it looks like ':'", r, r)
			}
		}
		return "", Errorf(CodeInvalidNickname, "nickname must not contain ':' or a character that looks like it")
	}
	if key == "" || strings.IndexFunc(key, unicode.IsControl) >= 0 {
		return "", Errorf(CodeInvalidNickname, "nickname has no visible characters")
	}
	return s, nil
}

// checkNickRunes refuses control, invisible and direction-changing
// characters and ':' in a trimmed nickname.
func checkNickRunes(s string) error {
	var prev rune = -1
	for i, r := range s {
		switch {
		case r == ':':
			return Errorf(CodeInvalidNickname, "nickname must not contain ':'")
		case unicode.IsControl(r):
			return Errorf(CodeInvalidNickname, "nickname contains a control character (%U)", r)
		case isBidiControl(r):
			return Errorf(CodeInvalidNickname, "nickname contains a text-direction control character (%U)", r)
		case r == zwj:
			next, _ := utf8.DecodeRuneInString(s[i+utf8.RuneLen(r):])
			if !isEmojiBase(prev) || !unicode.Is(unicode.So, next) {
				return Errorf(CodeInvalidNickname, "nickname contains an invisible character (%U); a zero-width joiner is only allowed inside an emoji", r)
			}
		case unicode.Is(unicode.Variation_Selector, r):
			if prev < 0 || !(unicode.In(prev, unicode.S, unicode.Nd, unicode.Han) || prev == '#' || prev == '*') {
				return Errorf(CodeInvalidNickname, "nickname contains an invisible character (%U); a variation selector is only allowed after a symbol, digit or ideograph", r)
			}
		case isInvisible(r):
			return Errorf(CodeInvalidNickname, "nickname contains an invisible character (%U)", r)
		}
		prev = r
	}
	return nil
}

const zwj = '\u200d' // ZERO WIDTH JOINER

// isBidiControl reports the characters that change the direction of the
// text around them (U+202E…: Unicode's Bidi_Control property).
func isBidiControl(r rune) bool { return unicode.Is(unicode.Bidi_Control, r) }

// isInvisible reports characters that show nothing: format characters
// (zero-width space, soft hyphen, tags…), the other default-ignorable code
// points (Hangul fillers…), and the blank Braille pattern.
func isInvisible(r rune) bool {
	return unicode.In(r, unicode.Cf, unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector) ||
		r == '\u2800'
}

// isEmojiBase reports what may precede a zero-width joiner in an emoji
// sequence: a symbol, a variation selector or a skin-tone modifier.
func isEmojiBase(r rune) bool {
	return r >= 0 && (unicode.In(r, unicode.So, unicode.Variation_Selector) || r >= 0x1f3fb && r <= 0x1f3ff)
}

// NickKey is the identity of a valid nickname: two users whose keys are
// equal cannot be online at the same time, DM room names are made of keys,
// and client-id de-duplication uses them. The key ignores case and the
// differences that do not show:
//
//   - compatibility forms and case: NFKC then simple case folding, so
//     "Ａｌｉｃｅ", "ALICE" and "ﬁ" are "alice" and "fi";
//   - look-alikes of ASCII: a non-ASCII character that Unicode's confusables
//     data (UTS #39, via go.mau.fi/util/confusable) maps to ASCII text
//     becomes that text, so Cyrillic "Аlice" and Greek "Αlice" are "alice";
//   - white space: runs of spaces of any kind are one space; variation
//     selectors and zero-width joiners are dropped.
//
// ASCII characters are never mapped to others (only lowercased), so the key
// of an ASCII nickname, and with it the name of its DM rooms, is its
// lowercase form, as it always was; I/l and 0/O therefore stay distinct
// (case-insensitivity makes "I" the same as "i", not "l"). The key looks
// like the nickname (its characters are look-alikes of the original ones),
// which matters because DM room names show it.
func NickKey(nickname string) string {
	ascii := true
	for i := 0; i < len(nickname); i++ {
		if nickname[i] >= utf8.RuneSelf || nickname[i] == ' ' && i > 0 && nickname[i-1] == ' ' {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToLower(nickname) // no allocation when already lower case
	}
	return cachedKey(nickname)
}

// keyCache remembers the keys of non-ASCII nicknames: folding costs a few
// microseconds, and the same few nicknames are keyed again and again
// (member lists, rate limits, DM rooms). It holds at most keyCacheSize
// entries and starts afresh when full, so distinct nicknames sent by a
// client cannot grow it.
var keyCache atomic.Pointer[keyCacheMap]

type keyCacheMap struct {
	m sync.Map // nickname → key
	n atomic.Int32
}

const keyCacheSize = 4096

func cachedKey(nickname string) string {
	c := keyCache.Load()
	if c == nil {
		keyCache.CompareAndSwap(nil, &keyCacheMap{})
		c = keyCache.Load()
	}
	if k, ok := c.m.Load(nickname); ok {
		return k.(string)
	}
	k := foldFixed(nickname)
	if c.n.Add(1) > keyCacheSize {
		keyCache.CompareAndSwap(c, &keyCacheMap{})
	} else {
		c.m.Store(strings.Clone(nickname), k) // not a slice of a larger buffer
	}
	return k
}

// foldFixed folds a nickname to its key.
func foldFixed(nickname string) string {
	k := foldKey(nickname)
	// A mapped character's folded form can map again (rarely): stop at the
	// fixed point so that NickKey(NickKey(s)) == NickKey(s).
	for range 4 {
		next := foldKey(k)
		if next == k {
			break
		}
		k = next
	}
	return k
}

// foldKey is one pass of NickKey's folding.
func foldKey(s string) string {
	s = caseFold(norm.NFKC.String(s))
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range norm.NFD.String(s) {
		switch {
		case unicode.IsSpace(r):
			if !space {
				b.WriteByte(' ')
			}
			space = true
			continue
		case r == zwj || unicode.Is(unicode.Variation_Selector, r):
			continue
		case r >= utf8.RuneSelf:
			if to := asciiLookAlike(r); to != "" {
				b.WriteString(to)
				space = false
				continue
			}
		}
		b.WriteRune(r)
		space = false
	}
	return strings.TrimSpace(caseFold(norm.NFKC.String(b.String())))
}

// caseFold is simple case folding to lower case: each character becomes the
// lower case of its upper case, so the case variants of a character share
// one form ("ς", "σ" and "Σ" are σ) and ASCII is lowercased. (golang.org/x/text's
// full folding is not used: it is not idempotent for Cherokee.)
func caseFold(s string) string { return strings.ToLower(strings.ToUpper(s)) }

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
	na, err := normalizeNick(a, maxKeyRunes)
	if err != nil || na != a { // surrounding spaces: not canonical
		return "", Errorf(CodeInvalidRoom, "invalid nickname %q in DM room name", a)
	}
	nb, err := normalizeNick(b, maxKeyRunes)
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

// asciiLookAlike returns the ASCII text (lower case) that a non-ASCII
// character or one of its case variants is confusable with, or "". The case
// variants matter because folding is not the same as lowercasing for every
// script (Cherokee folds to upper case).
func asciiLookAlike(r rune) string {
	for c := r; ; {
		if to := confusable.GetReplacement(c); isPrintableASCII(to) {
			return strings.ToLower(to)
		}
		if c = unicode.SimpleFold(c); c == r {
			return ""
		}
	}
}

func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return s != ""
}
