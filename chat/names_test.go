package chat_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

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
