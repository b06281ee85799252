package chat_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/banter-chat/banter/chat"
)

// TestCheckMessageText: control characters other than newline and tab are
// refused with invalid_message naming the character (issue 19, item 3).
func TestCheckMessageText(t *testing.T) {
	for _, c := range []struct {
		text string
		want error
		msg  string
	}{
		{"hi", nil, ""},
		{"two\nlines\tand a tab", nil, ""},
		{"emoji 👩\u200d💻 and \u200fRTL mark", nil, ""},
		{"\x1b[31mred", chat.ErrInvalidMessage, "U+001B at byte 0"},
		{"ding\a", chat.ErrInvalidMessage, "U+0007 at byte 4"},
		{"nul\x00", chat.ErrInvalidMessage, "U+0000"},
		{"del\x7f", chat.ErrInvalidMessage, "U+007F"},
		{"c1 \u009b31m", chat.ErrInvalidMessage, "U+009B"},
		{"crlf\r\n", chat.ErrInvalidMessage, "carriage return"},
		{"\xff", chat.ErrInvalidMessage, ""},
		{" \n", chat.ErrEmptyMessage, ""},
		{strings.Repeat("x", 101), chat.ErrMessageTooLarge, ""},
	} {
		err := chat.CheckMessageText(c.text, 100)
		if c.want == nil {
			if err != nil {
				t.Errorf("CheckMessageText(%q) = %v, want nil", c.text, err)
			}
			continue
		}
		if !errors.Is(err, c.want) || !strings.Contains(errMsg(err), c.msg) {
			t.Errorf("CheckMessageText(%q) = %v, want %v mentioning %q", c.text, err, c.want, c.msg)
		}
	}
}

func errMsg(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestPrintable(t *testing.T) {
	for _, c := range []struct{ in, text, line string }{
		{"plain", "plain", "plain"},
		{"a\nb\tc", "a\nb\tc", "a␤b c"},
		{"\x1b[31mred\x1b[0m", "␛[31mred␛[0m", "␛[31mred␛[0m"},
		{"bell\a nul\x00 del\x7f", "bell␇ nul␀ del␡", "bell␇ nul␀ del␡"},
		{"csi\u009b2J", "csi\ufffd2J", "csi\ufffd2J"},
		{"bad\xffutf8", "bad\ufffdutf8", "bad\ufffdutf8"},
		{"\u202eecilA", "\u202eecilA", "\ufffdecilA"},
		{"Zoë 👩\u200d💻", "Zoë 👩\u200d💻", "Zoë 👩\u200d💻"},
	} {
		if got := chat.Printable(c.in); got != c.text {
			t.Errorf("Printable(%q) = %q, want %q", c.in, got, c.text)
		}
		if got := chat.PrintableLine(c.in); got != c.line {
			t.Errorf("PrintableLine(%q) = %q, want %q", c.in, got, c.line)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = chat.Printable("nothing to escape here") }); n != 0 {
		t.Errorf("Printable of clean text allocates %v times", n)
	}
}

// TestSendRefusesControlCharacters: Send and DirectMessage refuse them and
// store nothing.
func TestSendRefusesControlCharacters(t *testing.T) {
	svc, err := chat.New(chat.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	ctx := context.Background()
	sess, err := svc.Connect(ctx, chat.ConnectParams{Nickname: "mallory", Sink: chat.SinkFunc(func(*chat.Event) {})})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sess.Join(ctx, "general", chat.JoinOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := sess.Send(ctx, "general", "\x1b]0;pwned\a\x1b[2J", ""); !errors.Is(err, chat.ErrInvalidMessage) {
		t.Fatalf("Send with escapes: %v, want invalid_message", err)
	}
	if _, err := sess.DirectMessage(ctx, "bob", "ring\a", ""); !errors.Is(err, chat.ErrInvalidMessage) {
		t.Fatalf("DirectMessage with BEL: %v, want invalid_message", err)
	}
	if m, err := sess.Send(ctx, "general", "fine\n\tindented", ""); err != nil || m.Seq != 1 {
		t.Fatalf("Send with newline and tab: %+v, %v", m, err)
	}
}
