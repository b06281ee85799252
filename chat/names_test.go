package chat_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode"

	"github.com/banter-chat/banter/chat"
)

func TestNormalizeNickname(t *testing.T) {
	for _, c := range []struct {
		in, want string
		ok       bool
	}{
		{"alice", "alice", true},
		{"  Alice Smith \t", "Alice Smith", true},
		{"Zoë 🎉", "Zoë 🎉", true},
		{strings.Repeat("é", 32), strings.Repeat("é", 32), true},
		{strings.Repeat("é", 33), "", false},
		{"", "", false},
		{"   ", "", false},
		{"a\x00b", "", false},
		{"a\nb", "", false},
		{"a\u0085b", "", false}, // C1 control
		{"a:b", "", false},
		{"bad\xffutf8", "", false},
		// Invisible and direction-changing characters (issue 19, item 2).
		{"Alice\u200e", "", false},                       // LEFT-TO-RIGHT MARK
		{"Al\u200bice", "", false},                       // ZERO WIDTH SPACE
		{"\u202eecilA", "", false},                       // RIGHT-TO-LEFT OVERRIDE
		{"Ali\u2066ce\u2069", "", false},                 // isolates
		{"Al\u00adice", "", false},                       // SOFT HYPHEN
		{"Al\u2060ice", "", false},                       // WORD JOINER
		{"Alice\u3164", "", false},                       // HANGUL FILLER
		{"Alice\u2800", "", false},                       // BRAILLE PATTERN BLANK
		{"Alice\ufe0f", "", false},                       // a variation selector after a letter
		{"Al\u200dice", "", false},                       // a joiner outside an emoji
		{"Al\U000E0041ice", "", false},                   // TAG LATIN CAPITAL LETTER A
		{"a\u02d0b", "", false},                          // MODIFIER LETTER TRIANGULAR COLON looks like ':'
		{"I \u2764\ufe0f Go", "I \u2764\ufe0f Go", true}, // ❤️
		{"dev \U0001F469\u200d\U0001F4BB", "dev \U0001F469\u200d\U0001F4BB", true}, // 👩‍💻
		{"\u845b\U000E0100", "\u845b\U000E0100", true},                             // an ideographic variation sequence
		{"Zoe\u0308", "Zo\u00eb", true},                                            // kept in NFC
		{"Ａｌｉｃｅ", "Ａｌｉｃｅ", true},                                                   // display is kept; NickKey makes it alice
	} {
		got, err := chat.NormalizeNickname(c.in)
		if c.ok && (err != nil || got != c.want) {
			t.Errorf("NormalizeNickname(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
		if !c.ok && !errors.Is(err, chat.ErrInvalidNickname) {
			t.Errorf("NormalizeNickname(%q) = %q, %v; want ErrInvalidNickname", c.in, got, err)
		}
	}
}

// TestNickKeyLookAlikes: nicknames that look the same have the same key,
// so one cannot be online while the other is (issue 19, item 2).
func TestNickKeyLookAlikes(t *testing.T) {
	for _, c := range []struct{ a, b string }{
		{"Alice", "alice"},
		{"Alice", "ALICE"},
		{"Alice", "Ａｌｉｃｅ"},                          // fullwidth
		{"Alice", "\u0410lice"},                     // Cyrillic A
		{"alice", "\u0430lice"},                     // Cyrillic a
		{"Alice", "\u0391lice"},                     // Greek Alpha
		{"paypal", "𝔭𝒶ỿ𝕡𝕒ℓ"},                        // mathematical letters, ℓ
		{"scope", "\u0455\u0441\u043e\u0440\u0435"}, // all Cyrillic
		{"Zoë", "Zoe\u0308"},                        // canonical equivalence
		{"Zoë", "Zo\u0451"},                         // Cyrillic ё
		{"ΟΔΥΣΣΕΥΣ", "οδυσσευς"},                    // final sigma
		{"fine", "ﬁne"},                             // ligature
		{"Alice Smith", "Alice  Smith"},
		{"Alice Smith", "Alice\u00a0Smith"},
		{"Alice Smith", "Alice\u3000Smith"},
		{"I \u2764 Go", "I \u2764\ufe0f Go"},
		{"ıstanbul", "istanbul"}, // dotless i
	} {
		na, err := chat.NormalizeNickname(c.a)
		nb, err2 := chat.NormalizeNickname(c.b)
		if err != nil || err2 != nil {
			t.Errorf("NormalizeNickname(%q, %q): %v, %v", c.a, c.b, err, err2)
			continue
		}
		if ka, kb := chat.NickKey(na), chat.NickKey(nb); ka != kb {
			t.Errorf("NickKey(%q) = %q, NickKey(%q) = %q: want equal", c.a, ka, c.b, kb)
		}
	}
	for _, c := range []struct{ a, b string }{
		{"alice", "alicia"},
		{"AIice", "Alice"}, // ASCII is only lowercased: I is i, not l
		{"B0b", "Bob"},
		{"\u0434\u0438\u043c\u0430", "\u0434\u0438\u043c\u043e"}, // дима, димо
		{"Alice Smith", "AliceSmith"},
	} {
		if ka, kb := chat.NickKey(c.a), chat.NickKey(c.b); ka == kb {
			t.Errorf("NickKey(%q) = NickKey(%q) = %q: want different", c.a, c.b, ka)
		}
	}
	// ASCII keys are the lowercase nickname: DM rooms of existing ASCII
	// nicknames keep their names.
	for _, s := range []string{"alice", "Bob", "r2-D2", "O'Neil", "x y"} {
		if k := chat.NickKey(s); k != strings.ToLower(s) {
			t.Errorf("NickKey(%q) = %q, want %q", s, k, strings.ToLower(s))
		}
	}
}

// TestNickKeyEveryCharacter checks, for every character in a nickname, the
// properties the rest of chat relies on: a valid nickname's key is stable
// (NickKey of the key, also lowercased as NormalizeRoom does, is the key),
// and its DM room name round-trips through NormalizeRoom with the key as a
// participant.
func TestNickKeyEveryCharacter(t *testing.T) {
	if testing.Short() {
		t.Skip("every code point: slow")
	}
	valid := 0
	for r := rune(0x21); r <= unicode.MaxRune; r++ {
		if !unicode.IsGraphic(r) && !unicode.Is(unicode.Cf, r) || r > 0xffff && r%7 != 0 {
			continue // outside the BMP: a sample, to keep the test quick under -race
		}
		forms := []string{string(r)}
		if unicode.Is(unicode.M, r) {
			forms = append(forms, "x"+string(r)) // a mark on a letter
		}
		for _, s := range forms {
			n, err := chat.NormalizeNickname(s)
			if err != nil {
				continue
			}
			valid++
			k := chat.NickKey(n)
			if chat.NickKey(k) != k || chat.NickKey(strings.ToLower(k)) != k {
				t.Fatalf("%U: NickKey(%q) = %q is not stable: %q, %q", r, n, k, chat.NickKey(k), chat.NickKey(strings.ToLower(k)))
			}
			if k == "zz" {
				continue
			}
			room, err := chat.DMRoom(n, "zz")
			if err != nil {
				t.Fatalf("%U: DMRoom(%q, zz): %v", r, n, err)
			}
			if again, err := chat.NormalizeRoom(room); err != nil || again != room {
				t.Fatalf("%U: NormalizeRoom(%q) = %q, %v", r, room, again, err)
			}
			if a, b, _ := chat.DMParticipants(room); a != k && b != k {
				t.Fatalf("%U: DM room %q of %q lacks its key %q", r, room, n, k)
			}
		}
	}
	if valid < 50000 {
		t.Fatalf("only %d nicknames were valid", valid)
	}
}

func TestNormalizeRoom(t *testing.T) {
	for _, c := range []struct {
		in, want string
	}{
		{"general", "general"},
		{"General", "general"},
		{"a", "a"},
		{"0day_room-2", "0day_room-2"},
		{strings.Repeat("x", 64), strings.Repeat("x", 64)},
		{"DM:Bob:alice", "dm:alice:bob"},
		{"dm:alice:bob", "dm:alice:bob"},
		{"dm:zoë:ÉMILE", "dm:zoë:émile"},
		{"dm:alice smith:bob", "dm:alice smith:bob"},
		{"", ""},
		{"-lead", ""},
		{"_lead", ""},
		{"has space", ""},
		{"dot.ted", ""},
		{"ünï", ""},
		{strings.Repeat("x", 65), ""},
		{"dm:alice", ""},
		{"dm:alice:alice", ""},
		{"dm:Alice:ALICE", ""},
		{"dm::bob", ""},
		{"dm:a:b:c", ""},
		{"dm: alice:bob", ""},
		{"bad\xff", ""},
	} {
		got, err := chat.NormalizeRoom(c.in)
		if c.want != "" && (err != nil || got != c.want) {
			t.Errorf("NormalizeRoom(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
		if c.want == "" && !errors.Is(err, chat.ErrInvalidRoom) {
			t.Errorf("NormalizeRoom(%q) = %q, %v; want ErrInvalidRoom", c.in, got, err)
		}
	}
}

func TestDMRoom(t *testing.T) {
	a, err := chat.DMRoom("Bob", "alice")
	b, err2 := chat.DMRoom("ALICE", "bob")
	if err != nil || err2 != nil || a != "dm:alice:bob" || a != b {
		t.Fatalf("DMRoom: %q %v, %q %v", a, err, b, err2)
	}
	if !chat.IsDMRoom(a) || chat.IsDMRoom("general") {
		t.Fatal("IsDMRoom")
	}
	if x, y, ok := chat.DMParticipants(a); !ok || x != "alice" || y != "bob" {
		t.Fatalf("DMParticipants = %q %q %v", x, y, ok)
	}
	if _, err := chat.DMRoom("alice", "Alice"); !errors.Is(err, chat.ErrInvalidRoom) {
		t.Fatalf("DMRoom with oneself: %v", err)
	}
}

func TestCheckText(t *testing.T) {
	for _, c := range []struct {
		text string
		want error
	}{
		{"hi", nil},
		{" hi ", nil},
		{strings.Repeat("x", 10), nil},
		{strings.Repeat("x", 11), chat.ErrMessageTooLarge},
		{"", chat.ErrEmptyMessage},
		{" \n\t", chat.ErrEmptyMessage},
		{"\xff", chat.ErrInvalidMessage},
	} {
		if err := chat.CheckText(c.text, 10); !errors.Is(err, c.want) && (err != nil || c.want != nil) {
			t.Errorf("CheckText(%q) = %v, want %v", c.text, err, c.want)
		}
	}
}

func TestErrors(t *testing.T) {
	err := fmt.Errorf("gateway: %w", chat.Errorf(chat.CodeInvalidRoom, "room %q is too long", "x"))
	if !errors.Is(err, chat.ErrInvalidRoom) || errors.Is(err, chat.ErrNotMember) {
		t.Fatalf("errors.Is by code failed for %v", err)
	}
	if code, msg := chat.ClientError(err); code != chat.CodeInvalidRoom || msg != `room "x" is too long` {
		t.Fatalf("ClientError = %s, %q", code, msg)
	}
	secret := chat.Wrap(chat.CodeUnavailable, "try later", errors.New("disk /var/db full"))
	if code, msg := chat.ClientError(secret); code != chat.CodeUnavailable || strings.Contains(msg, "disk") {
		t.Fatalf("ClientError leaked the cause: %s, %q", code, msg)
	}
	if !strings.Contains(secret.Error(), "disk") {
		t.Fatalf("Error() lost the cause for logs: %q", secret.Error())
	}
	if code, msg := chat.ClientError(errors.New("boom")); code != chat.CodeInternal || msg == "boom" {
		t.Fatalf("ClientError of a foreign error = %s, %q", code, msg)
	}
	if chat.ErrorCode(nil) != "" || chat.ErrorCode(chat.ErrRateLimited) != chat.CodeRateLimited {
		t.Fatal("ErrorCode")
	}
}
