package siogw

import (
	"testing"

	"github.com/banter-chat/banter/chat"
)

func TestPlainText(t *testing.T) {
	a := &chat.Attachment{Name: "cat.png"}
	for _, c := range []struct {
		m    chat.Message
		want string
	}{
		{chat.Message{Text: "hi"}, "hi"},
		{chat.Message{Attachment: a}, "[file cat.png]"},
		{chat.Message{Text: "look", Attachment: a}, "look [file cat.png]"},
	} {
		if got := plainText(&c.m); got != c.want {
			t.Errorf("plainText(%+v) = %q, want %q", c.m, got, c.want)
		}
	}
}
