package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/banter-chat/banter/chat"
)

// The conformance tests of chat.MessageStore: edits, reactions, replies,
// mentions, changes and read markers.

var msgTests = []struct {
	name string
	fn   func(t *testing.T, s chat.Store)
}{
	{"Edit", testEdit},
	{"Reactions", testReactions},
	{"ConcurrentReactions", testConcurrentReactions},
	{"Replies", testReplies},
	{"Changes", testChanges},
	{"ReadMarkers", testReadMarkers},
	{"Unread", testUnread},
	{"SeenBy", testSeenBy},
	{"MessageStoreBadInput", testMessageStoreBadInput},
	{"MessageStoreClosed", testMessageStoreClosed},
}

// equalMsg compares messages field by field, an empty slice equal to nil.
func equalMsg(a, b chat.Message) bool {
	norm := func(m chat.Message) chat.Message {
		if len(m.Mentions) == 0 {
			m.Mentions = nil
		}
		if len(m.Reactions) == 0 {
			m.Reactions = nil
		}
		return m
	}
	return reflect.DeepEqual(norm(a), norm(b))
}

func equalMsgs(a, b []chat.Message) bool {
	return slices.EqualFunc(a, b, equalMsg)
}

// readOne returns message seq of room as Since reads it.
func readOne(t *testing.T, s chat.Store, room string, seq int64) chat.Message {
	t.Helper()
	got, err := s.Since(context.Background(), room, seq-1, 1)
	if err != nil || len(got) != 1 || got[0].Seq != seq {
		t.Fatalf("Since(%s, %d, 1) = %+v, %v", room, seq-1, got, err)
	}
	return got[0]
}

func testEdit(t *testing.T, s chat.Store) {
	ctx := context.Background()
	m1 := mustAppend(t, s, chat.Draft{Room: "r", Sender: "alice", Text: "helo @bob", Mentions: []string{"bob"}, ClientID: "c1"})
	m2 := mustAppend(t, s, draft("r", "bob", "two", ""))
	if !slices.Equal(m1.Mentions, []string{"bob"}) || m1.Rev != 0 || m1.Edited != 0 {
		t.Fatalf("appended %+v: want mentions [bob], rev 0, not edited", m1)
	}
	if got := readOne(t, s, "r", 1); !equalMsg(got, m1) {
		t.Fatalf("read back %+v, appended %+v", got, m1)
	}
	e, err := s.Edit(ctx, chat.Edit{Room: "r", Seq: 1, Text: "hello @carol and @dave", Mentions: []string{"carol", "dave"}, TS: 5000})
	if err != nil {
		t.Fatalf("Edit: %v", err)
	}
	want := m1
	want.Text, want.Mentions, want.Edited, want.Rev = "hello @carol and @dave", []string{"carol", "dave"}, 5000, 1
	if !equalMsg(e, want) {
		t.Fatalf("Edit returned %+v, want %+v", e, want)
	}
	if got := readOne(t, s, "r", 1); !equalMsg(got, want) {
		t.Fatalf("after Edit Since reads %+v, want %+v", got, want)
	}
	if got, _ := s.History(ctx, "r", 0, 10); len(got) != 2 || !equalMsg(got[0], want) || !equalMsg(got[1], m2) {
		t.Fatalf("after Edit History = %+v", got)
	}
	// A second edit takes the next rev; the store stamps a missing TS.
	e2, err := s.Edit(ctx, chat.Edit{Room: "r", Seq: 1, Text: "final"})
	if err != nil || e2.Rev != 2 || e2.Edited <= 0 || e2.Text != "final" || len(e2.Mentions) != 0 {
		t.Fatalf("second Edit = %+v, %v; want rev 2, stamped, no mentions", e2, err)
	}
	// A retry of the original's client id answers with the edited message.
	if d := mustAppend(t, s, draft("r", "alice", "helo again", "c1")); !d.Duplicate || d.Text != "final" || d.Seq != 1 {
		t.Fatalf("retried client id after an edit: %+v", d)
	}
	if _, err := s.Delete(ctx, "r", 2); err != nil {
		t.Fatal(err)
	}
	_, err = s.Edit(ctx, chat.Edit{Room: "r", Seq: 2, Text: "resurrected"})
	wantCode(t, "Edit of a deleted message", err, chat.CodeInvalidArgument)
	if got := readOne(t, s, "r", 2); !got.Deleted || got.Text != "" {
		t.Fatalf("a refused edit changed the tombstone: %+v", got)
	}
	_, err = s.Edit(ctx, chat.Edit{Room: "r", Seq: 3, Text: "x"})
	wantCode(t, "Edit of a seq not stored", err, chat.CodeNotFound)
	_, err = s.Edit(ctx, chat.Edit{Room: "nowhere", Seq: 1, Text: "x"})
	wantCode(t, "Edit in an unknown room", err, chat.CodeNotFound)
	if n := lastSeq(t, s, "r"); n != 2 {
		t.Fatalf("LastSeq after edits = %d, want 2 (edits add no message)", n)
	}
}

func testReactions(t *testing.T, s chat.Store) {
	ctx := context.Background()
	mustAppend(t, s, draft("r", "alice", "react to me", ""))
	mustAppend(t, s, draft("r", "bob", "other", ""))
	react := func(user, emoji string, add bool) (chat.Message, bool) {
		t.Helper()
		m, changed, err := s.React(ctx, chat.ReactionChange{Room: "r", Seq: 1, Emoji: emoji, User: strings.ToLower(user), Nickname: user, Add: add})
		if err != nil {
			t.Fatalf("React(%s, %s, %v): %v", user, emoji, add, err)
		}
		return m, changed
	}
	if m, ch := react("Bob", "👍", true); !ch || m.Rev != 1 ||
		!reflect.DeepEqual(m.Reactions, []chat.Reaction{{Emoji: "👍", Count: 1, Users: []string{"Bob"}}}) {
		t.Fatalf("first reaction: %+v changed=%v", m, ch)
	}
	react("carol", "❤️", true)
	m, _ := react("alice", "👍", true)
	want := []chat.Reaction{{Emoji: "👍", Count: 2, Users: []string{"Bob", "alice"}}, {Emoji: "❤️", Count: 1, Users: []string{"carol"}}}
	if !reflect.DeepEqual(m.Reactions, want) || m.Rev != 3 {
		t.Fatalf("reactions %+v rev %d, want %+v rev 3", m.Reactions, m.Rev, want)
	}
	// One reaction per user and emoji: again is no change, and takes no rev.
	if m, ch := react("bob", "👍", true); ch || m.Rev != 3 || !reflect.DeepEqual(m.Reactions, want) {
		t.Fatalf("the same reaction again: changed=%v %+v", ch, m)
	}
	if m, ch := react("dave", "👍", false); ch || m.Rev != 3 {
		t.Fatalf("removing a reaction that does not exist: changed=%v %+v", ch, m)
	}
	if got := readOne(t, s, "r", 1); !reflect.DeepEqual(got.Reactions, want) || got.Rev != 3 {
		t.Fatalf("Since reads reactions %+v rev %d, want %+v", got.Reactions, got.Rev, want)
	}
	if got, _ := s.History(ctx, "r", 0, 10); len(got) != 2 || !reflect.DeepEqual(got[0].Reactions, want) || len(got[1].Reactions) != 0 {
		t.Fatalf("History reads %+v", got)
	}
	// Emojis come in the order of their oldest reaction: removing Bob's
	// puts ❤️ first.
	m, ch := react("bob", "👍", false)
	want = []chat.Reaction{{Emoji: "❤️", Count: 1, Users: []string{"carol"}}, {Emoji: "👍", Count: 1, Users: []string{"alice"}}}
	if !ch || m.Rev != 4 || !reflect.DeepEqual(m.Reactions, want) {
		t.Fatalf("after a removal: changed=%v %+v, want %+v", ch, m, want)
	}
	// Names are capped, counts are not.
	for i := range chat.MaxReactionNames + 5 {
		react(fmt.Sprintf("u%02d", i), "🎉", true)
	}
	m = readOne(t, s, "r", 1)
	party := m.Reactions[2]
	if party.Emoji != "🎉" || party.Count != chat.MaxReactionNames+5 || len(party.Users) != chat.MaxReactionNames || party.Users[0] != "u00" {
		t.Fatalf("a popular emoji: %+v", party)
	}
	// Distinct emojis are capped.
	emojis := []string{"😀", "😁", "😂", "🤣", "😃", "😄", "😅", "😆", "😉", "😊", "😋", "😎", "😍", "😘", "🥰", "😗", "🙂", "🤗", "🤩", "🤔", "🤨"}
	n := len(m.Reactions)
	for _, e := range emojis[:chat.MaxReactionEmojis-n] {
		react("alice", e, true)
	}
	_, _, err := s.React(ctx, chat.ReactionChange{Room: "r", Seq: 1, Emoji: emojis[len(emojis)-1], User: "alice", Nickname: "alice", Add: true})
	wantCode(t, "one emoji too many", err, chat.CodeInvalidArgument)
	if _, ch := react("zed", "👍", true); !ch { // an existing emoji is still fine
		t.Fatal("a reaction with an existing emoji was refused past the emoji cap")
	}
	// Deleting the message removes its reactions; reacting to it fails.
	d, err := s.Delete(ctx, "r", 1)
	if err != nil || len(d.Reactions) != 0 || !d.Deleted {
		t.Fatalf("Delete of a message with reactions: %+v, %v", d, err)
	}
	if got := readOne(t, s, "r", 1); len(got.Reactions) != 0 || got.Rev != d.Rev {
		t.Fatalf("a tombstone keeps reactions: %+v", got)
	}
	_, _, err = s.React(ctx, chat.ReactionChange{Room: "r", Seq: 1, Emoji: "👍", User: "bob", Nickname: "bob", Add: true})
	wantCode(t, "React to a deleted message", err, chat.CodeInvalidArgument)
	_, _, err = s.React(ctx, chat.ReactionChange{Room: "r", Seq: 9, Emoji: "👍", User: "bob", Nickname: "bob", Add: true})
	wantCode(t, "React to a seq not stored", err, chat.CodeNotFound)
}

// testConcurrentReactions: every change takes its own rev, none is lost.
func testConcurrentReactions(t *testing.T, s chat.Store) {
	ctx := context.Background()
	mustAppend(t, s, draft("r", "alice", "popular", ""))
	const users = 16
	var wg sync.WaitGroup
	errs := make(chan error, users*2)
	for i := range users {
		wg.Go(func() {
			for _, e := range []string{"👍", "❤️"} {
				nick := fmt.Sprintf("user%d", i)
				if _, ch, err := s.React(ctx, chat.ReactionChange{Room: "r", Seq: 1, Emoji: e, User: nick, Nickname: nick, Add: true}); err != nil || !ch {
					errs <- fmt.Errorf("%s %s: changed=%v %w", nick, e, ch, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	m := readOne(t, s, "r", 1)
	if len(m.Reactions) != 2 || m.Reactions[0].Count != users || m.Reactions[1].Count != users || m.Rev != 2*users {
		t.Fatalf("after %d concurrent reactions: %+v (rev %d)", 2*users, m.Reactions, m.Rev)
	}
	st, err := s.RoomState(ctx, "r", "alice", 0)
	if err != nil || st.LastRev != 2*users {
		t.Fatalf("RoomState = %+v, %v; want LastRev %d", st, err, 2*users)
	}
}

func testReplies(t *testing.T, s chat.Store) {
	ctx := context.Background()
	long := strings.Repeat("é", chat.QuoteRunes+10)
	orig := mustAppend(t, s, draft("r", "alice", long, ""))
	other := mustAppend(t, s, draft("r2", "bob", "elsewhere", ""))
	rep := mustAppend(t, s, chat.Draft{Room: "r", Sender: "bob", Text: "agreed", ReplyTo: orig.ID})
	wantQ := &chat.Quote{ID: orig.ID, Seq: 1, From: "alice", Text: strings.Repeat("é", chat.QuoteRunes)}
	if !reflect.DeepEqual(rep.ReplyTo, wantQ) {
		t.Fatalf("Append of a reply returned the quote %+v, want %+v", rep.ReplyTo, wantQ)
	}
	if got := readOne(t, s, "r", 2); !reflect.DeepEqual(got.ReplyTo, wantQ) || got.Text != "agreed" {
		t.Fatalf("a reply reads back as %+v", got)
	}
	if got, err := s.MessageByID(ctx, orig.ID); err != nil || !equalMsg(got, orig) {
		t.Fatalf("MessageByID(%s) = %+v, %v; want %+v", orig.ID, got, err, orig)
	}
	if got, err := s.MessageByID(ctx, other.ID); err != nil || got.Room != "r2" || got.Seq != 1 {
		t.Fatalf("MessageByID of another room's message = %+v, %v", got, err)
	}
	// The quote follows the original: edited, then deleted.
	if _, err := s.Edit(ctx, chat.Edit{Room: "r", Seq: 1, Text: "short now"}); err != nil {
		t.Fatal(err)
	}
	if got := readOne(t, s, "r", 2); got.ReplyTo == nil || got.ReplyTo.Text != "short now" {
		t.Fatalf("the quote of an edited message: %+v", got.ReplyTo)
	}
	if _, err := s.Delete(ctx, "r", 1); err != nil {
		t.Fatal(err)
	}
	got, _ := s.History(ctx, "r", 0, 10)
	if len(got) != 2 || got[1].ReplyTo == nil || !got[1].ReplyTo.Deleted || got[1].ReplyTo.Text != "" || got[1].ReplyTo.From != "alice" {
		t.Fatalf("the quote of a deleted message: %+v", got)
	}
	if got, err := s.MessageByID(ctx, rep.ID); err != nil || got.ReplyTo == nil || !got.ReplyTo.Deleted {
		t.Fatalf("MessageByID of the reply: %+v, %v", got, err)
	}
	for _, id := range []string{"999999", "0", "-1", "abc", "", "01"} {
		_, err := s.MessageByID(ctx, id)
		wantCode(t, fmt.Sprintf("MessageByID(%q)", id), err, chat.CodeNotFound)
	}
}

func testChanges(t *testing.T, s chat.Store) {
	ctx := context.Background()
	fill(t, s, "r", 5)
	mustAppend(t, s, draft("r2", "bob", "elsewhere", ""))
	if got, err := s.Changes(ctx, "r", 0, 10); err != nil || len(got) != 0 {
		t.Fatalf("Changes of an unchanged room = %+v, %v", got, err)
	}
	steps := []func() error{
		func() error { _, err := s.Edit(ctx, chat.Edit{Room: "r", Seq: 4, Text: "four"}); return err },
		func() error {
			_, _, err := s.React(ctx, chat.ReactionChange{Room: "r", Seq: 2, Emoji: "👍", User: "bob", Nickname: "bob", Add: true})
			return err
		},
		func() error { _, err := s.Delete(ctx, "r", 5); return err },
		func() error { _, err := s.Edit(ctx, chat.Edit{Room: "r", Seq: 4, Text: "FOUR"}); return err }, // 4 again: rev 4
		func() error { _, err := s.Edit(ctx, chat.Edit{Room: "r2", Seq: 1, Text: "other room"}); return err },
	}
	for i, f := range steps {
		if err := f(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	got, err := s.Changes(ctx, "r", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	// In rev order, each message once in its current state.
	wantSeqs(t, "Changes(r, 0)", got, []int64{2, 5, 4})
	if revs := []int64{got[0].Rev, got[1].Rev, got[2].Rev}; !slices.Equal(revs, []int64{2, 3, 4}) || got[2].Text != "FOUR" || !got[1].Deleted {
		t.Fatalf("Changes = %+v", got)
	}
	got, _ = s.Changes(ctx, "r", 2, 10)
	wantSeqs(t, "Changes(r, after 2)", got, []int64{5, 4})
	got, _ = s.Changes(ctx, "r", 0, 2)
	wantSeqs(t, "Changes(r, 0, limit 2)", got, []int64{2, 5})
	got, _ = s.Changes(ctx, "r", 4, 10)
	wantSeqs(t, "Changes(r, after the last)", got, nil)
	got, _ = s.Changes(ctx, "r2", 0, 10)
	if len(got) != 1 || got[0].Rev != 1 {
		t.Fatalf("another room's revs are its own: %+v", got)
	}
	if got, err := s.Changes(ctx, "nowhere", 0, 10); err != nil || len(got) != 0 {
		t.Fatalf("Changes of an unknown room = %+v, %v", got, err)
	}
	st, err := s.RoomState(ctx, "r", "bob", 0)
	if err != nil || st.LastRev != 4 {
		t.Fatalf("RoomState(r).LastRev = %d, %v; want 4", st.LastRev, err)
	}
}

func testReadMarkers(t *testing.T, s chat.Store) {
	ctx := context.Background()
	fill(t, s, "r", 5)
	mark := func(user string, read, delivered int64) (chat.ReadMark, bool) {
		t.Helper()
		m, ch, err := s.Mark(ctx, "r", strings.ToLower(user), user, read, delivered)
		if err != nil {
			t.Fatalf("Mark(%s, %d, %d): %v", user, read, delivered, err)
		}
		return m, ch
	}
	if m, ch := mark("Bob", 0, 2); !ch || m.Read != 0 || m.Delivered != 2 || m.Nickname != "Bob" || m.Room != "r" || m.TS <= 0 {
		t.Fatalf("first delivered mark: %+v changed=%v", m, ch)
	}
	if m, ch := mark("Bob", 3, 0); !ch || m.Read != 3 || m.Delivered != 3 {
		t.Fatalf("read raises delivered: %+v changed=%v", m, ch)
	}
	if m, ch := mark("Bob", 1, 1); ch || m.Read != 3 || m.Delivered != 3 {
		t.Fatalf("markers never move back: %+v changed=%v", m, ch)
	}
	mark("carol", 5, 0)
	mark("dave", 1, 0)
	_, _, err := s.Mark(ctx, "r", "bob", "Bob", 6, 0)
	wantCode(t, "Mark past the last message", err, chat.CodeInvalidArgument)
	_, _, err = s.Mark(ctx, "nowhere", "bob", "Bob", 1, 0)
	wantCode(t, "Mark in a room without messages", err, chat.CodeInvalidArgument)

	st, err := s.RoomState(ctx, "r", "bob", 10)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mine.Read != 3 || st.Mine.Delivered != 3 || st.Mine.Nickname != "Bob" || st.More || len(st.Readers) != 2 {
		t.Fatalf("RoomState(bob) = %+v", st)
	}
	names := []string{st.Readers[0].Nickname, st.Readers[1].Nickname}
	slices.Sort(names)
	if !slices.Equal(names, []string{"carol", "dave"}) {
		t.Fatalf("readers %v, want carol and dave", names)
	}
	if st, _ := s.RoomState(ctx, "r", "erin", 1); st.Mine.Read != 0 || st.Mine.Room != "r" || len(st.Readers) != 1 || !st.More {
		t.Fatalf("RoomState of a user without a marker, one reader asked: %+v", st)
	}
	if st, _ := s.RoomState(ctx, "r", "bob", 0); len(st.Readers) != 0 || st.More {
		t.Fatalf("RoomState with no readers asked: %+v", st)
	}
	if st, err := s.RoomState(ctx, "nowhere", "bob", 5); err != nil || st.LastRev != 0 || st.Mine.Read != 0 || len(st.Readers) != 0 {
		t.Fatalf("RoomState of an unknown room: %+v, %v", st, err)
	}
	// Renamed (same key): the marker follows the key, with the new spelling.
	if m, _ := mark("BOB", 4, 0); m.Nickname != "BOB" || m.Read != 4 {
		t.Fatalf("marker after a change of case: %+v", m)
	}
}

func testUnread(t *testing.T, s chat.Store) {
	ctx := context.Background()
	// r: bob read up to 2; then alice writes, one message mentions bob,
	// one is deleted, bob writes himself.
	mustAppend(t, s, draft("r", "alice", "1", ""))
	mustAppend(t, s, draft("r", "alice", "2", ""))
	if _, _, err := s.Mark(ctx, "r", "bob", "bob", 2, 0); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, chat.Draft{Room: "r", Sender: "alice", Text: "hey @bob", Mentions: []string{"bob"}})
	mustAppend(t, s, chat.Draft{Room: "r", Sender: "alice", Text: "@carol", Mentions: []string{"carol"}})
	mustAppend(t, s, draft("r", "Bob", "my own", ""))
	mustAppend(t, s, chat.Draft{Room: "r", Sender: "alice", Text: "oops @bob", Mentions: []string{"bob"}})
	if _, err := s.Delete(ctx, "r", 6); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, draft("r", "alice", "7", ""))
	// A DM bob never marked, a public room bob never marked, an empty DM.
	mustAppend(t, s, chat.Draft{Room: "dm:alice:bob", Sender: "alice", Text: "psst @bob", Mentions: []string{"bob"}})
	mustAppend(t, s, draft("dm:alice:bob", "alice", "again", ""))
	mustAppend(t, s, draft("unmarked", "alice", "x", ""))
	got, err := s.Unread(ctx, "bob", []string{"dm:alice:bob", "dm:bob:carol", "r", "unmarked"})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(got, func(a, b chat.Unread) int { return strings.Compare(a.Room, b.Room) })
	want := []chat.Unread{
		{Room: "dm:alice:bob", Unread: 2, Mentions: 1},
		{Room: "r", Read: 2, Delivered: 2, Unread: 3, Mentions: 1},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Unread = %+v, want %+v", got, want)
	}
	if got, err := s.Unread(ctx, "bob", nil); err != nil || len(got) != 0 {
		t.Fatalf("Unread of no rooms = %+v, %v", got, err)
	}
	if _, _, err := s.Mark(ctx, "r", "bob", "bob", 7, 0); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Unread(ctx, "bob", []string{"r"}); len(got) != 1 || got[0].Unread != 0 || got[0].Mentions != 0 || got[0].Read != 7 {
		t.Fatalf("Unread after reading everything = %+v", got)
	}
	// Past the window the count says "at least the window".
	fillConcurrently(t, s, "big", chat.UnreadWindow+2)
	if _, _, err := s.Mark(ctx, "big", "bob", "bob", 1, 0); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Unread(ctx, "bob", []string{"big"}); len(got) != 1 || got[0].Unread != chat.UnreadWindow {
		t.Fatalf("Unread of a room with more than the window = %+v", got)
	}
	if _, _, err := s.Mark(ctx, "big", "bob", "bob", 3, 0); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Unread(ctx, "bob", []string{"big"}); len(got) != 1 || got[0].Unread != chat.UnreadWindow-1 {
		t.Fatalf("Unread of a room with exactly the window less one = %+v", got)
	}
}

// fillConcurrently appends n messages from 8 goroutines (stores batch
// them), sender "alice".
func fillConcurrently(t *testing.T, s chat.Store, room string, n int) {
	t.Helper()
	var wg sync.WaitGroup
	var failed sync.Once
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				if _, err := s.Append(context.Background(), draft(room, "alice", fmt.Sprint(i), "")); err != nil {
					failed.Do(func() { t.Errorf("Append: %v", err) })
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
}

func testSeenBy(t *testing.T, s chat.Store) {
	ctx := context.Background()
	fill(t, s, "r", 3) // from alice
	mustAppend(t, s, draft("r", "bob", "mine", ""))
	for _, m := range []struct {
		nick string
		read int64
	}{{"alice", 4}, {"bob", 4}, {"carol", 2}, {"dave", 3}, {"erin", 4}} {
		if _, _, err := s.Mark(ctx, "r", m.nick, m.nick, m.read, 0); err != nil {
			t.Fatal(err)
		}
	}
	seen, err := s.SeenBy(ctx, "r", 3, 10)
	if err != nil {
		t.Fatal(err)
	}
	names := slices.Clone(seen.Nicknames)
	slices.Sort(names)
	if seen.Count != 3 || !slices.Equal(names, []string{"bob", "dave", "erin"}) {
		t.Fatalf("SeenBy(3) = %+v, want bob, dave, erin (not alice, its sender)", seen)
	}
	if seen, _ := s.SeenBy(ctx, "r", 4, 10); seen.Count != 2 || len(seen.Nicknames) != 2 || slices.Contains(seen.Nicknames, "bob") {
		t.Fatalf("SeenBy(4) = %+v, want alice and erin", seen)
	}
	if seen, _ := s.SeenBy(ctx, "r", 1, 0); seen.Count != 4 || len(seen.Nicknames) != 0 {
		t.Fatalf("SeenBy(1) counting only = %+v", seen)
	}
	if seen, _ := s.SeenBy(ctx, "r", 1, 2); seen.Count != 4 || len(seen.Nicknames) != 2 {
		t.Fatalf("SeenBy(1) limit 2 = %+v", seen)
	}
	_, err = s.SeenBy(ctx, "r", 9, 1)
	wantCode(t, "SeenBy of a seq not stored", err, chat.CodeNotFound)
}

func testMessageStoreBadInput(t *testing.T, s chat.Store) {
	ctx := context.Background()
	mustAppend(t, s, draft("r", "alice", "x", ""))
	cases := []struct {
		name string
		err  error
		code chat.Code
	}{
		{"Edit empty text", second(s.Edit(ctx, chat.Edit{Room: "r", Seq: 1, Text: " "})), chat.CodeEmptyMessage},
		{"Edit bad utf-8", second(s.Edit(ctx, chat.Edit{Room: "r", Seq: 1, Text: "\xff"})), chat.CodeInvalidMessage},
		{"Edit text too large", second(s.Edit(ctx, chat.Edit{Room: "r", Seq: 1, Text: strings.Repeat("x", chat.MaxStoredTextBytes+1)})), chat.CodeMessageTooLarge},
		{"Edit seq 0", second(s.Edit(ctx, chat.Edit{Room: "r", Seq: 0, Text: "x"})), chat.CodeInvalidArgument},
		{"Edit bad room", second(s.Edit(ctx, chat.Edit{Room: "R", Seq: 1, Text: "x"})), chat.CodeInvalidRoom},
		{"Edit bad mention", second(s.Edit(ctx, chat.Edit{Room: "r", Seq: 1, Text: "x", Mentions: []string{"a\nb"}})), chat.CodeInvalidNickname},
		{"React not an emoji", third(s.React(ctx, chat.ReactionChange{Room: "r", Seq: 1, Emoji: "lol", User: "bob", Nickname: "bob", Add: true})), chat.CodeInvalidArgument},
		{"React no user", third(s.React(ctx, chat.ReactionChange{Room: "r", Seq: 1, Emoji: "👍", Nickname: "bob", Add: true})), chat.CodeInvalidNickname},
		{"Changes negative rev", second(s.Changes(ctx, "r", -1, 10)), chat.CodeInvalidArgument},
		{"Changes limit 0", second(s.Changes(ctx, "r", 0, 0)), chat.CodeInvalidArgument},
		{"Mark nothing", third(s.Mark(ctx, "r", "bob", "bob", 0, 0)), chat.CodeInvalidArgument},
		{"Mark negative", third(s.Mark(ctx, "r", "bob", "bob", -1, 0)), chat.CodeInvalidArgument},
		{"Mark bad nickname", third(s.Mark(ctx, "r", "bob", "", 1, 0)), chat.CodeInvalidNickname},
		{"Unread bad room", second(s.Unread(ctx, "bob", []string{"Bad Room"})), chat.CodeInvalidRoom},
		{"SeenBy seq 0", second(s.SeenBy(ctx, "r", 0, 1)), chat.CodeInvalidArgument},
		{"Append bad reply id", second(s.Append(ctx, chat.Draft{Room: "r", Sender: "bob", Text: "x", ReplyTo: "x1"})), chat.CodeInvalidArgument},
		{"Append too many mentions", second(s.Append(ctx, chat.Draft{Room: "r", Sender: "bob", Text: "x", Mentions: slices.Repeat([]string{"a"}, chat.MaxMentions+1)})), chat.CodeInvalidArgument},
	}
	for _, c := range cases {
		wantCode(t, c.name, c.err, c.code)
	}
	if got := readOne(t, s, "r", 1); got.Text != "x" || got.Rev != 0 || len(got.Reactions) != 0 {
		t.Fatalf("refused changes changed the message: %+v", got)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Edit(cctx, chat.Edit{Room: "r", Seq: 1, Text: "y"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Edit with a canceled context: %v", err)
	}
	if _, err := s.Changes(cctx, "r", 0, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("Changes with a canceled context: %v", err)
	}
}

func testMessageStoreClosed(t *testing.T, s chat.Store) {
	mustAppend(t, s, draft("r", "alice", "x", ""))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	wantCode(t, "MessageByID after Close", second(s.MessageByID(ctx, "1")), chat.CodeUnavailable)
	wantCode(t, "Edit after Close", second(s.Edit(ctx, chat.Edit{Room: "r", Seq: 1, Text: "y"})), chat.CodeUnavailable)
	wantCode(t, "React after Close", third(s.React(ctx, chat.ReactionChange{Room: "r", Seq: 1, Emoji: "👍", User: "b", Nickname: "b", Add: true})), chat.CodeUnavailable)
	wantCode(t, "Changes after Close", second(s.Changes(ctx, "r", 0, 1)), chat.CodeUnavailable)
	wantCode(t, "Mark after Close", third(s.Mark(ctx, "r", "b", "b", 1, 0)), chat.CodeUnavailable)
	wantCode(t, "RoomState after Close", second(s.RoomState(ctx, "r", "b", 1)), chat.CodeUnavailable)
	wantCode(t, "Unread after Close", second(s.Unread(ctx, "b", []string{"r"})), chat.CodeUnavailable)
	wantCode(t, "SeenBy after Close", second(s.SeenBy(ctx, "r", 1, 1)), chat.CodeUnavailable)
}

func second[T any](_ T, err error) error        { return err }
func third[T, U any](_ T, _ U, err error) error { return err }

// testMessageStatePersistence: edits, reactions, replies and markers
// survive a restart.
func testMessageStatePersistence(t *testing.T, s chat.Store, reopen func(*testing.T, chat.Store) chat.Store) {
	ctx := context.Background()
	orig := mustAppend(t, s, chat.Draft{Room: "r", Sender: "alice", Text: "hi @bob", Mentions: []string{"bob"}})
	mustAppend(t, s, chat.Draft{Room: "r", Sender: "bob", Text: "hi", ReplyTo: orig.ID})
	if _, err := s.Edit(ctx, chat.Edit{Room: "r", Seq: 1, Text: "hello @bob", Mentions: []string{"bob"}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.React(ctx, chat.ReactionChange{Room: "r", Seq: 2, Emoji: "👍", User: "alice", Nickname: "alice", Add: true}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Mark(ctx, "r", "bob", "bob", 1, 2); err != nil {
		t.Fatal(err)
	}
	before, _ := s.Since(ctx, "r", 0, 10)
	s = reopen(t, s)
	after, err := s.Since(ctx, "r", 0, 10)
	if err != nil || !equalMsgs(after, before) {
		t.Fatalf("after reopen Since = %+v, %v; want %+v", after, err, before)
	}
	if after[1].ReplyTo == nil || after[1].ReplyTo.Text != "hello @bob" || len(after[1].Reactions) != 1 || !slices.Equal(after[0].Mentions, []string{"bob"}) {
		t.Fatalf("message state after reopen: %+v", after)
	}
	st, err := s.RoomState(ctx, "r", "bob", 0)
	if err != nil || st.LastRev != 2 || st.Mine.Read != 1 || st.Mine.Delivered != 2 {
		t.Fatalf("RoomState after reopen = %+v, %v", st, err)
	}
	if m, _, err := s.React(ctx, chat.ReactionChange{Room: "r", Seq: 1, Emoji: "👍", User: "bob", Nickname: "bob", Add: true}); err != nil || m.Rev != 3 {
		t.Fatalf("the next change after reopen: %+v, %v; want rev 3", m, err)
	}
}
