package chatclient_test

import (
	"errors"
	"testing"
	"time"

	"github.com/banter-chat/banter/client"
	"github.com/banter-chat/banter/client/chatclient"
	"github.com/banter-chat/banter/internal/testutil"
)

// TestMessageState: replies, edits, reactions, deletions and read markers
// through the client, and a client cut off meanwhile that, once back,
// gets the changes it missed (ChangedEvent, current state) after its
// messages.
func TestMessageState(t *testing.T) {
	testutil.CheckGoroutineLeaks(t)
	url := startApp(t)
	p, purl := startProxy(t, url)
	alice := dial(t, url, "alice", []string{"general"}, client.Config{})
	bob := dial(t, purl, "bob", []string{"general"}, client.Config{ReconnectDelay: 10 * time.Millisecond, ReconnectDelayMax: 50 * time.Millisecond})
	ctx := ctxT(t)
	if alice.Hello().Key != "alice" || alice.Hello().Limits.EditWindowMs <= 0 {
		t.Fatalf("hello: key %q, edit window %d", alice.Hello().Key, alice.Hello().Limits.EditWindowMs)
	}
	q, err := alice.Send(ctx, "general", "question for @bob")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Reply(ctx, "general", q.ID, "an answer"); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, waitTimeout, func() bool {
		return alice.has(func(ev chatclient.Event) bool {
			m, ok := ev.(chatclient.MessageEvent)
			return ok && m.Message.ReplyTo != nil && m.Message.ReplyTo.ID == q.ID && m.Message.ReplyTo.Text == "question for @bob"
		})
	}, "alice got the reply with its quote")
	if _, err := bob.React(ctx, "general", q.Seq, "👍", true); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, waitTimeout, func() bool {
		return alice.has(func(ev chatclient.Event) bool {
			r, ok := ev.(chatclient.ReactionEvent)
			return ok && r.Seq == q.Seq && r.Added && len(r.Reactions) == 1 && r.Reactions[0].Count == 1
		})
	}, "alice got the reaction")
	if _, err := bob.Edit(ctx, "general", q.Seq, "mine now"); !errors.Is(err, chatclient.ErrForbidden) {
		t.Fatalf("editing someone else's message: %v", err)
	}
	if err := bob.Mark(ctx, "general", 2); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, waitTimeout, func() bool {
		return alice.has(func(ev chatclient.Event) bool {
			r, ok := ev.(chatclient.ReadEvent)
			return ok && len(r.Readers) == 1 && r.Readers[0].Nickname == "bob" && r.Readers[0].Read == 2
		})
	}, "alice got bob's read marker")
	if n, names, err := alice.Seen(ctx, "general", q.Seq); err != nil || n != 1 || len(names) != 1 || names[0] != "bob" {
		t.Fatalf("Seen = %d %v %v", n, names, err)
	}

	// Bob is cut off; meanwhile his answer is edited away and Alice's
	// question changes.
	p.Down.Store(true)
	p.Cut()
	testutil.Eventually(t, waitTimeout, func() bool { return !bob.Connected() }, "bob disconnected")
	if _, err := alice.Edit(ctx, "general", q.Seq, "question for @bob, edited"); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.React(ctx, "general", 2, "🎉", true); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Send(ctx, "general", "and a new one"); err != nil {
		t.Fatal(err)
	}
	p.Down.Store(false)
	testutil.Eventually(t, waitTimeout, func() bool { return len(bob.texts("general")) == 3 }, "bob caught up with the new message")
	testutil.Eventually(t, waitTimeout, func() bool {
		return bob.has(func(ev chatclient.Event) bool {
			c, ok := ev.(chatclient.ChangedEvent)
			return ok && c.Message.Seq == q.Seq && c.Message.Text == "question for @bob, edited" && c.Message.Edited > 0
		}) && bob.has(func(ev chatclient.Event) bool {
			c, ok := ev.(chatclient.ChangedEvent)
			return ok && c.Message.Seq == 2 && len(c.Message.Reactions) == 1 && c.Message.Reactions[0].Emoji == "🎉"
		})
	}, "bob got the changes he missed")
	rooms, err := bob.RoomList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rooms {
		if r.Room == "general" && (r.Read == nil || r.Read.Seq != 2 || r.Read.Unread != 1) {
			t.Fatalf("bob's read state of general: %+v", r.Read)
		}
	}
	if err := alice.Delete(ctx, "general", 3); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, waitTimeout, func() bool {
		return bob.has(func(ev chatclient.Event) bool {
			d, ok := ev.(chatclient.DeletedEvent)
			return ok && d.Seq == 3 && d.By == "alice" && d.Rev > 0
		})
	}, "bob got the deletion")
}
