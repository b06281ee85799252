package siogw

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/banter-chat/banter/chat"
)

// encoding/json replaces invalid UTF-8 with U+FFFD without an error; the
// gateway must refuse it instead of storing text the client never sent.
func TestDecodeJSONRefusesInvalidUTF8(t *testing.T) {
	var a sendArgs
	err := decodeJSON(json.RawMessage("{\"room\":\"r\",\"text\":\"bad \xff here\"}"), "send", &a)
	if !errors.Is(err, chat.ErrInvalidArgument) {
		t.Fatalf("decodeJSON with invalid UTF-8 = %v (text %q), want invalid_argument", err, derefText(a.Text))
	}
	if err := decodeJSON(json.RawMessage(`{"room":"r","text":"fine é"}`), "send", &a); err != nil || *a.Text != "fine é" {
		t.Fatalf("valid UTF-8: %v %q", err, derefText(a.Text))
	}
}

func derefText(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}
