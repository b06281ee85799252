package chat_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/banter-chat/banter/chat"
)

// A room watcher gets the room's messages from every node, in order, once,
// without being a member: no presence, no place in member lists.
func TestWatchRoom(t *testing.T) {
	store, bus := chat.NewMemStore(), chat.NewLocalBus()
	nodeA := newService(t, chat.Config{Store: store, Bus: bus})
	nodeB := newService(t, chat.Config{Store: store, Bus: bus})

	alice := connect(t, nodeA, "alice", false)
	join(t, alice, "general")
	send(t, alice, "general", "before the watcher")

	w := newRecorder()
	stop, err := nodeA.WatchRoom(ctx, "General", w)
	if err != nil {
		t.Fatal(err)
	}
	bob := connect(t, nodeB, "bob", false)
	join(t, bob, "general")
	send(t, alice, "general", "from A")
	send(t, bob, "general", "from B")
	if got := messages(w.take(chat.EventMessage)); !slices.Equal(got, []string{"general#2:from A", "general#3:from B"}) {
		t.Fatalf("watcher got %q", got)
	}
	if got := presences(w.take(chat.EventPresence)); !slices.Equal(got, []string{"general:bob:joined"}) {
		t.Fatalf("watcher presence %q", got)
	}
	if m, _ := nodeA.Members("general"); !slices.Equal(m, []string{"alice"}) {
		t.Fatalf("members on A: %q (the watcher is no member)", m)
	}
	if got := presences(alice.take(chat.EventPresence)); slices.Contains(got, "general::joined") || len(got) != 2 {
		t.Fatalf("alice saw presence %q", got)
	}

	// A room nobody on the node is in still reaches the watcher.
	if err := alice.Leave(ctx, "general"); err != nil {
		t.Fatal(err)
	}
	send(t, bob, "general", "nobody on A")
	if got := messages(w.take(chat.EventMessage)); !slices.Equal(got, []string{"general#4:nobody on A"}) {
		t.Fatalf("watcher got %q", got)
	}

	stop()
	send(t, bob, "general", "after stop")
	if got := w.take(chat.EventMessage); len(got) != 0 {
		t.Fatalf("watcher got %q after stop", messages(got))
	}
	if _, err := nodeA.WatchRoom(ctx, "no room!", w); !errors.Is(err, chat.ErrInvalidRoom) {
		t.Fatalf("bad room: %v", err)
	}
}
