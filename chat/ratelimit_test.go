package chat_test

import (
	"testing"
	"time"

	"github.com/banter-chat/banter/chat"
)

func TestBucket(t *testing.T) {
	now := time.Unix(0, 0)
	b := chat.NewBucket(2, 1, func() time.Time { return now })
	if !b.Take() || !b.Take() || b.Take() {
		t.Fatal("burst of 2 not enforced")
	}
	now = now.Add(time.Second)
	if !b.Take() || b.Take() {
		t.Fatal("refill of 1/s not applied")
	}
	now = now.Add(time.Hour)
	if !b.Take() || !b.Take() || b.Take() {
		t.Fatal("refill beyond the burst")
	}
}
