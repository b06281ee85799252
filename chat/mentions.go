package chat

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ParseMentions returns the NickKeys of the users text mentions, in order
// of first appearance, at most MaxMentions: every "@" that starts the text
// or follows a character that is not a letter, digit or "_" (so that
// "a@b.org" mentions nobody), followed by a nickname up to the next white
// space, without the punctuation that usually ends a sentence or a
// parenthesis after it ("@bob," and "(@bob)" mention bob). A nickname with
// a space in it is mentioned by its first word only, which is what people
// type. Words that cannot be nicknames are skipped; whether anyone has
// that nickname does not matter (the key is what unread counts look for).
func ParseMentions(text string) []string {
	if !strings.Contains(text, "@") {
		return nil
	}
	var out []string
	prev := ' '
	for i := 0; i < len(text); {
		r, n := utf8.DecodeRuneInString(text[i:])
		if r != '@' || isWordRune(prev) {
			prev = r
			i += n
			continue
		}
		j := i + n
		for j < len(text) {
			r2, n2 := utf8.DecodeRuneInString(text[j:])
			if unicode.IsSpace(r2) || r2 == '@' {
				break
			}
			j += n2
		}
		word := strings.TrimRightFunc(text[i+n:j], isClosingPunct)
		if key := mentionKey(word); key != "" && !slices.Contains(out, key) {
			out = append(out, key)
			if len(out) == MaxMentions {
				return out
			}
		}
		prev = '@'
		i = j
	}
	return out
}

func mentionKey(word string) string {
	if word == "" {
		return ""
	}
	nick, err := NormalizeNickname(word)
	if err != nil {
		return ""
	}
	return NickKey(nick)
}

func isWordRune(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }

// isClosingPunct: what may follow a mention without being part of it.
func isClosingPunct(r rune) bool {
	switch r {
	case '.', ',', ';', ':', '!', '?', ')', ']', '}', '"', '\'', '…', '»', '”', '’':
		return true
	}
	return false
}

func isControl(r rune) bool { return unicode.IsControl(r) }

// CheckEmoji validates a reaction: one emoji (a ZWJ sequence, a flag, a
// keycap or a symbol with its variation selector and skin tone), at most
// MaxEmojiBytes. Letters, digits alone, spaces and controls are refused:
// a reaction is not a message.
func CheckEmoji(e string) error {
	bad := Errorf(CodeInvalidArgument, "a reaction must be one emoji")
	if e == "" || len(e) > MaxEmojiBytes || !utf8.ValidString(e) {
		return bad
	}
	symbols := 0
	keycapBase := false
	for i, r := range e {
		switch {
		case unicode.Is(unicode.So, r) || unicode.Is(unicode.Sk, r) && r >= 0x1f3fb && r <= 0x1f3ff:
			symbols++
		case r == 0x2640 || r == 0x2642 || unicode.Is(unicode.Sm, r) && r > 0x7f:
			symbols++ // ♀ ♂ and mathematical symbols (➕)
		case r == 0xfe0f || r == 0xfe0e || r == zwj:
		case r >= 0xe0020 && r <= 0xe007f: // tag sequences (subdivision flags)
		case r == 0x20e3: // combining enclosing keycap
			if !keycapBase {
				return bad
			}
			symbols++
		case i == 0 && (r >= '0' && r <= '9' || r == '#' || r == '*'):
			keycapBase = true
		default:
			return bad
		}
	}
	if symbols == 0 {
		return bad
	}
	return nil
}
