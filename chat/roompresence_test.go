package chat_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/banter-chat/banter/chat"
)

// A room above LargeRoom users stops announcing every user: its members
// get the count (at once when it becomes large, then at most once per
// window), join results list the first page of members with the count,
// and MemberPage lists them all on demand. Below half of LargeRoom the
// members get the whole list and per-user presence again.
func TestLargeRoomPresence(t *testing.T) {
	svc := newService(t, chat.Config{LargeRoom: 4, MemberPage: 3, PresenceWindow: time.Hour})
	var cs []client
	for i := range 4 {
		c := connect(t, svc, fmt.Sprintf("u%d", i), false)
		join(t, c, "big")
		cs = append(cs, c)
	}
	// Small so far: per-user presence, the whole member list.
	if got := presences(cs[0].take(chat.EventPresence)); len(got) != 4 {
		t.Fatalf("first member got %v, want 4 joins", got)
	}
	for _, c := range cs[1:] {
		c.take(chat.EventPresence)
	}
	// The fifth user makes it large: everyone gets the count, not a join.
	u4 := connect(t, svc, "u4", false)
	res := join(t, u4, "big")
	if !res.MoreMembers || res.MemberCount != 5 || !slices.Equal(res.Members, []string{"u0", "u1", "u2"}) {
		t.Fatalf("join result of a large room: %+v", res)
	}
	cs = append(cs, u4)
	for _, c := range cs {
		if p := c.take(chat.EventPresence); len(p) > 0 {
			t.Fatalf("%s got per-user presence in a large room: %v", c.Nickname(), presences(p))
		}
		m := c.take(chat.EventMembers)
		if len(m) != 1 || m[0].Members.Count != 5 || !m[0].Members.Large {
			t.Fatalf("%s got %d member counts, want one of 5", c.Nickname(), len(m))
		}
	}
	// Within the window more joins send nothing (the count waits).
	for i := 5; i < 9; i++ {
		c := connect(t, svc, fmt.Sprintf("u%d", i), false)
		join(t, c, "big")
		cs = append(cs, c)
	}
	if m := cs[0].take(chat.EventMembers); len(m) != 0 {
		t.Fatalf("counts within the window: %d", len(m))
	}
	// The whole list on demand, in pages.
	page, more, err := svc.MemberPage("big", "", 4)
	if err != nil || !more || !slices.Equal(page, []string{"u0", "u1", "u2"}) {
		t.Fatalf("first page (capped at MemberPage): %v %v %v", page, more, err)
	}
	page, more, err = svc.MemberPage("BIG", "u2", 3)
	if err != nil || !more || !slices.Equal(page, []string{"u3", "u4", "u5"}) {
		t.Fatalf("second page: %v %v %v", page, more, err)
	}
	page, more, err = svc.MemberPage("big", "u5", 3)
	if err != nil || more || !slices.Equal(page, []string{"u6", "u7", "u8"}) {
		t.Fatalf("last page: %v %v %v", page, more, err)
	}
	// Below half of LargeRoom (2): the whole list, then per-user presence.
	for _, c := range cs[1:8] {
		if err := c.Leave(ctx, "big"); err != nil {
			t.Fatal(err)
		}
	}
	ev := cs[0].waitFor(t, chat.EventMembers, "the list of a room that became small", func(ev *chat.Event) bool { return !ev.Members.Large })
	if ev.Members.Count != 2 || !slices.Equal(ev.Members.Nicknames, []string{"u0", "u8"}) {
		t.Fatalf("small again: %+v", ev.Members)
	}
	cs[8].Disconnect("bye")
	if got := presences(cs[0].take(chat.EventPresence)); !slices.Equal(got, []string{"big:u8:left"}) {
		t.Fatalf("per-user presence after the room became small: %v", got)
	}
}

// In a large room the count follows the joins at most once per window, and
// a storm of joins costs each member a bounded number of presence events.
func TestLargeRoomCountsPerWindow(t *testing.T) {
	svc := newService(t, chat.Config{LargeRoom: 10, PresenceWindow: 20 * time.Millisecond})
	first := connect(t, svc, "first", false)
	join(t, first, "big")
	const n = 300
	for i := range n {
		join(t, connect(t, svc, fmt.Sprintf("u%03d", i), false), "big")
	}
	// The last count says 301 (awaited: it may wait for the window).
	first.waitFor(t, chat.EventMembers, "a count of 301", func(ev *chat.Event) bool { return ev.Members.Count == n+1 })
	presence := len(first.take(chat.EventPresence))
	if presence > 10 {
		t.Errorf("%d per-user presence events in a room past its LargeRoom of 10", presence)
	}
	st := svc.Stats()
	// Per-user presence stopped at the 11th user: at most 1+2+...+11 deliveries.
	if d := st.Deliveries[chat.EventPresence]; d > 66 {
		t.Errorf("%d presence deliveries for %d joins to one room", d, n+1)
	}
}

// Typing lists of a large room go out at most once per window.
func TestLargeRoomTypingCoalesced(t *testing.T) {
	svc := newService(t, chat.Config{LargeRoom: 2, PresenceWindow: time.Hour})
	var cs []client
	for i := range 4 {
		c := connect(t, svc, fmt.Sprintf("u%d", i), false)
		join(t, c, "big")
		cs = append(cs, c)
	}
	cs[0].take(chat.EventTyping)
	// The count went out when the room became large; the window runs.
	for _, c := range cs[1:] {
		if err := c.Typing(ctx, "big", true); err != nil {
			t.Fatal(err)
		}
	}
	if got := cs[0].take(chat.EventTyping); len(got) != 0 {
		t.Fatalf("%d typing lists within the window of a large room", len(got))
	}
}
