package sqlstore

import (
	"context"
	"errors"
	"testing"

	"github.com/banter-chat/banter/chat"
)

// A caller that gives up before its request is claimed gets its context
// error, and the writer skips the request; once claimed, the caller gets
// the writer's answer even though its context has ended.
func TestAbandonAndClaim(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	gone := newRequest(chat.Draft{Room: "a"})
	if _, err := gone.wait(ctx, "test: append"); !errors.Is(err, context.Canceled) {
		t.Fatalf("abandoned request: %v", err)
	}
	kept := newRequest(chat.Draft{Room: "b"})
	batch := claim([]*request{gone, kept})
	if len(batch) != 1 || batch[0] != kept {
		t.Fatalf("claimed %d requests, want only the one still waited for", len(batch))
	}
	answer(batch, []chat.Message{{Room: "b", Seq: 7}}, nil)
	if m, err := kept.wait(ctx, "test: append"); err != nil || m.Seq != 7 {
		t.Fatalf("claimed request after its context ended: %+v %v", m, err)
	}
	failed := newRequest(chat.Draft{Room: "c"})
	boom := errors.New("boom")
	answer(claim([]*request{failed}), make([]chat.Message, 1), boom)
	if _, err := failed.wait(context.Background(), "test: append"); !errors.Is(err, boom) {
		t.Fatalf("failed batch: %v", err)
	}
}
