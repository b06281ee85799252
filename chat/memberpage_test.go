package chat_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/banter-chat/banter/chat"
)

// A large room's first page (in the join result) is made at most once per
// presence window; a joiner is in it all the same, and paging on from its
// last name lists everyone once.
func TestLargeRoomFirstPageHasTheJoiner(t *testing.T) {
	svc, err := chat.New(chat.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	ctx := context.Background()
	sink := chat.SinkFunc(func(*chat.Event) {})
	join := func(nick string) (*chat.Session, chat.JoinResult) {
		t.Helper()
		s, err := svc.Connect(ctx, chat.ConnectParams{Nickname: nick, Sink: sink})
		if err != nil {
			t.Fatal(err)
		}
		res, err := s.Join(ctx, "general", chat.JoinOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return s, res
	}
	for i := range 250 {
		join(fmt.Sprintf("crowd%03d", i))
	}
	alice, res := join("Alice") // sorts first: the cached page was made without her
	if !res.MoreMembers || res.MemberCount != 251 || len(res.Members) != 100 || res.Members[0] != "Alice" {
		t.Fatalf("join result: %d members from %q, count %d, more %v; want 100 from Alice, 251, true",
			len(res.Members), res.Members[0], res.MemberCount, res.MoreMembers)
	}
	seen := slices.Clone(res.Members)
	for after, more := res.Members[len(res.Members)-1], true; more; {
		var page []string
		page, more, err = alice.Members("general", after, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			t.Fatal("an empty page that says more")
		}
		seen = append(seen, page...)
		after = page[len(page)-1]
	}
	slices.Sort(seen)
	if len(slices.Compact(seen)) != 251 || len(seen) != 251 {
		t.Fatalf("paging listed %d names, want the 251 members once each", len(seen))
	}
}
