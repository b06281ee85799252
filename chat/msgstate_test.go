package chat_test

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/banter-chat/banter/chat"
)

// clock is a settable Config.Now.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Now().UnixNano())
	return c
}

func (c *clock) now() time.Time                  { return time.Unix(0, c.ns.Load()) }
func (c *clock) advance(d time.Duration)         { c.ns.Add(int64(d)) }
func (c *clock) cfg(cfg chat.Config) chat.Config { cfg.Now = c.now; return cfg }

func TestParseMentions(t *testing.T) {
	for _, c := range []struct {
		text string
		want []string
	}{
		{"no mention", nil},
		{"@bob hi", []string{"bob"}},
		{"hi @Bob, and (@CAROL) and @bob again!", []string{"bob", "carol"}},
		{"mail me at bob@example.org", nil},
		{"@", nil},
		{"@@x @:bad @Ａｌｉｃｅ.", []string{"x", "alice"}},
		{"line\n@dave\t@erin?", []string{"dave", "erin"}},
		{"@Zoë's", []string{"zoë's"}},
	} {
		if got := chat.ParseMentions(c.text); !slices.Equal(got, c.want) {
			t.Errorf("ParseMentions(%q) = %q, want %q", c.text, got, c.want)
		}
	}
	many := strings.Repeat("@a @b @c @d @e @f @g @h @i @j @k @l @m @n @o @p @q @r @s @t @u @v ", 2)
	if got := chat.ParseMentions(many); len(got) != chat.MaxMentions {
		t.Errorf("%d mentions kept, want at most %d", len(got), chat.MaxMentions)
	}
}

func TestCheckEmoji(t *testing.T) {
	for _, ok := range []string{"👍", "❤️", "🇫🇷", "👩‍💻", "👍🏽", "1️⃣", "#️⃣", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "✅", "☕", "➕"} {
		if err := chat.CheckEmoji(ok); err != nil {
			t.Errorf("CheckEmoji(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a", "lol", "1", "👍 ", " 👍", "👍a", "\u200d", "\ufe0f", "<b>", "\x00", strings.Repeat("👍", 9), "👍\n"} {
		if err := chat.CheckEmoji(bad); err == nil {
			t.Errorf("CheckEmoji(%q) accepted", bad)
		}
	}
}

func TestEditOwnMessage(t *testing.T) {
	clk := newClock()
	svc := newService(t, clk.cfg(chat.Config{Authenticator: testTokens, EditWindow: time.Hour}))
	alice, bob := connectAs(t, svc, "alice"), connect(t, svc, "bobby", false)
	join(t, alice, "general")
	join(t, bob, "general")
	m := send(t, alice, "general", "helo")
	bob.take(chat.EventMessage)

	e, err := alice.Edit(ctx, "General", m.Seq, "hello @bobby")
	if err != nil {
		t.Fatal(err)
	}
	if e.Text != "hello @bobby" || e.Edited <= 0 || e.Rev != 1 || e.Seq != m.Seq || e.ID != m.ID || !slices.Equal(e.Mentions, []string{"bobby"}) {
		t.Fatalf("Edit returned %+v", e)
	}
	evs := bob.take(chat.EventEdited)
	if len(evs) != 1 || evs[0].Message.Text != "hello @bobby" || evs[0].Message.Rev != 1 {
		t.Fatalf("members got %v", evs)
	}
	if name, _, ok := evs[0].ClientEvent(); !ok || name != "edited" {
		t.Fatalf("client event %q", name)
	}
	if len(alice.take(chat.EventEdited)) != 1 {
		t.Fatal("the editor's own sessions are members too: no edited event")
	}
	hist, _ := bob.History(ctx, "general", 0, 10)
	if len(hist) != 1 || hist[0].Text != "hello @bobby" || hist[0].Edited != e.Edited {
		t.Fatalf("history after the edit: %+v", hist)
	}

	_, err = bob.Edit(ctx, "general", m.Seq, "mine now")
	wantErr(t, "editing someone else's message", err, chat.ErrForbidden)
	_, err = alice.Edit(ctx, "general", m.Seq, "  ")
	wantErr(t, "an empty edit", err, chat.ErrEmptyMessage)
	_, err = alice.Edit(ctx, "general", m.Seq, "bell \a")
	wantErr(t, "a control character", err, chat.ErrInvalidMessage)
	_, err = alice.Edit(ctx, "general", 9, "x")
	wantErr(t, "a seq not stored", err, chat.ErrNotFound)
	eve := connectAs(t, svc, "eve") // may read no public room
	_, err = eve.Edit(ctx, "general", m.Seq, "x")
	wantErr(t, "a room one may not post in", err, chat.ErrForbidden)

	clk.advance(time.Hour + time.Second)
	_, err = alice.Edit(ctx, "general", m.Seq, "too late")
	wantErr(t, "an edit past the window", err, chat.ErrForbidden)
	if !strings.Contains(err.Error(), "1 hour") {
		t.Errorf("the error does not say the window: %v", err)
	}
	if len(bob.take(chat.EventEdited)) != 0 {
		t.Fatal("refused edits were announced")
	}
	if hist, _ := bob.History(ctx, "general", 0, 10); hist[0].Text != "hello @bobby" {
		t.Fatalf("a refused edit changed the message: %+v", hist[0])
	}
}

func TestDeleteOwnMessage(t *testing.T) {
	clk := newClock()
	svc := newService(t, clk.cfg(chat.Config{Authenticator: testTokens, EditWindow: 15 * time.Minute}))
	alice, bob, mod := connectAs(t, svc, "alice"), connect(t, svc, "bobby", false), connectAs(t, svc, "admin")
	join(t, alice, "general")
	join(t, bob, "general")
	m1 := send(t, alice, "general", "oops")
	m2 := send(t, alice, "general", "keep")
	_, _ = alice.React(ctx, "general", m1.Seq, "👍", true) // rev 1

	_, err := bob.DeleteMessage(ctx, "general", m1.Seq)
	wantErr(t, "deleting someone else's message", err, chat.ErrForbidden)
	d, err := alice.DeleteMessage(ctx, "general", m1.Seq)
	if err != nil || !d.Deleted || d.Text != "" || d.Rev != 2 || len(d.Reactions) != 0 {
		t.Fatalf("own deletion: %+v, %v", d, err)
	}
	evs := bob.take(chat.EventDeleted)
	if len(evs) != 1 || *evs[0].Deleted != (chat.Deleted{Room: "general", Seq: m1.Seq, By: "Alice", Rev: 2}) {
		t.Fatalf("members got %v", evs)
	}
	_, err = alice.Edit(ctx, "general", m1.Seq, "back")
	wantErr(t, "editing a deleted message", err, chat.ErrInvalidArgument)
	clk.advance(16 * time.Minute)
	_, err = alice.DeleteMessage(ctx, "general", m2.Seq)
	wantErr(t, "a deletion past the window", err, chat.ErrForbidden)
	if d, err := mod.DeleteMessage(ctx, "general", m2.Seq); err != nil || !d.Deleted {
		t.Fatalf("an admin deletes any message at any time: %+v, %v", d, err)
	}
}

func TestReactions(t *testing.T) {
	svc := newService(t, chat.Config{Authenticator: testTokens, RateBurst: 3, RatePerSecond: 0.001})
	alice, bob := connectAs(t, svc, "alice"), connect(t, svc, "bobby", false)
	join(t, alice, "general")
	join(t, bob, "general")
	m := send(t, alice, "general", "react")
	got, err := bob.React(ctx, "general", m.Seq, "👍", true)
	want := []chat.Reaction{{Emoji: "👍", Count: 1, Users: []string{"bobby"}}}
	if err != nil || !reflect.DeepEqual(got.Reactions, want) || got.Rev != 1 {
		t.Fatalf("React = %+v, %v", got, err)
	}
	evs := alice.take(chat.EventReaction)
	wantEv := chat.ReactionEvent{Room: "general", Seq: m.Seq, Rev: 1, Emoji: "👍", Nickname: "bobby", Added: true, Reactions: want}
	if len(evs) != 1 || !reflect.DeepEqual(*evs[0].Reaction, wantEv) {
		t.Fatalf("members got %v", evs)
	}
	if _, err := bob.React(ctx, "general", m.Seq, "👍", true); err != nil || len(alice.take(chat.EventReaction)) != 0 {
		t.Fatalf("the same reaction again: %v, or it was announced", err)
	}
	if got, err := bob.React(ctx, "general", m.Seq, "👍", false); err != nil || len(got.Reactions) != 0 {
		t.Fatalf("removal: %+v, %v", got, err)
	}
	if evs := alice.take(chat.EventReaction); len(evs) != 1 || evs[0].Reaction.Added || len(evs[0].Reaction.Reactions) != 0 {
		t.Fatalf("members got %v for the removal", evs)
	}
	// The bucket (3) is spent: reactions are rate limited like messages.
	_, err = bob.React(ctx, "general", m.Seq, "🎉", true)
	wantErr(t, "a reaction past the bucket", err, chat.ErrRateLimited)

	_, err = alice.React(ctx, "general", m.Seq, "lol", true)
	wantErr(t, "not an emoji", err, chat.ErrInvalidArgument)
	eve := connectAs(t, svc, "eve")
	_, err = eve.React(ctx, "general", m.Seq, "👍", true)
	wantErr(t, "reacting in a room one cannot read", err, chat.ErrForbidden)
	bobT := connectAs(t, svc, "bob") // may read general, post only in team-*
	_, err = bobT.React(ctx, "general", m.Seq, "👍", true)
	wantErr(t, "reacting in a room one may not post in", err, chat.ErrForbidden)
	dm := connect(t, svc, "mallory", false)
	_, err = dm.React(ctx, "dm:alice:bobby", 1, "👍", true)
	wantErr(t, "reacting in someone else's DM room", err, chat.ErrForbidden)
}

func TestReplies(t *testing.T) {
	svc := newService(t, chat.Config{})
	alice, bob := connect(t, svc, "alice", false), connect(t, svc, "bob", false)
	join(t, alice, "general")
	join(t, bob, "general")
	join(t, alice, "other")
	orig := send(t, alice, "general", "question?")
	elsewhere := send(t, alice, "other", "elsewhere")
	bob.take(chat.EventMessage)
	alice.take(chat.EventMessage)

	r, err := bob.SendMessage(ctx, chat.SendParams{Room: "general", Text: "answer", ReplyTo: orig.ID, ClientID: "r1"})
	wantQ := &chat.Quote{ID: orig.ID, Seq: orig.Seq, From: "alice", Text: "question?"}
	if err != nil || !reflect.DeepEqual(r.ReplyTo, wantQ) {
		t.Fatalf("reply = %+v, %v", r, err)
	}
	if evs := alice.take(chat.EventMessage); len(evs) != 1 || !reflect.DeepEqual(evs[0].Message.ReplyTo, wantQ) {
		t.Fatalf("members got %v", evs)
	}
	_, err = bob.SendMessage(ctx, chat.SendParams{Room: "general", Text: "x", ReplyTo: elsewhere.ID})
	wantErr(t, "a reply to a message of another room", err, chat.ErrInvalidArgument)
	if !strings.Contains(err.Error(), "another room") {
		t.Errorf("unclear error: %v", err)
	}
	_, err = bob.SendMessage(ctx, chat.SendParams{Room: "general", Text: "x", ReplyTo: "999"})
	wantErr(t, "a reply to no message", err, chat.ErrNotFound)
	_, err = bob.SendMessage(ctx, chat.SendParams{Room: "general", Text: "x", ReplyTo: "first"})
	wantErr(t, "a reply id that is no id", err, chat.ErrInvalidArgument)
	if last, _ := bob.History(ctx, "general", 0, 5); len(last) != 2 {
		t.Fatalf("refused replies were stored: %+v", last)
	}
	// Direct messages reply in their DM room.
	d1, err := alice.DirectMessage(ctx, "bob", "psst", "")
	if err != nil {
		t.Fatal(err)
	}
	d2, err := bob.SendMessage(ctx, chat.SendParams{To: "alice", Text: "yes?", ReplyTo: d1.ID})
	if err != nil || d2.ReplyTo == nil || d2.ReplyTo.Text != "psst" || d2.Room != "dm:alice:bob" {
		t.Fatalf("DM reply = %+v, %v", d2, err)
	}
}

func TestUnreadAndMentions(t *testing.T) {
	svc := newService(t, chat.Config{})
	alice, bob := connect(t, svc, "alice", false), connect(t, svc, "bob", false)
	join(t, alice, "general")
	join(t, bob, "general")
	join(t, alice, "quiet")
	send(t, alice, "quiet", "nobody marked me")
	m1 := send(t, alice, "general", "one")
	if _, err := bob.Mark(ctx, "general", m1.Seq, 0); err != nil {
		t.Fatal(err)
	}
	m2 := send(t, alice, "general", "hey @Bob look")
	if !slices.Equal(m2.Mentions, []string{"bob"}) {
		t.Fatalf("mentions of %q: %v", m2.Text, m2.Mentions)
	}
	send(t, alice, "general", "three")
	send(t, bob, "general", "mine does not count")
	if _, err := alice.DirectMessage(ctx, "bob", "dm for @bob", ""); err != nil {
		t.Fatal(err)
	}
	rooms, err := bob.Rooms(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]chat.RoomRead{}
	for _, r := range rooms {
		if r.Read != nil {
			got[r.Name] = *r.Read
		}
	}
	want := map[string]chat.RoomRead{
		"general":      {Seq: 1, Delivered: 1, Unread: 2, Mentions: 1},
		"dm:alice:bob": {Unread: 1, Mentions: 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("bob's read state %+v, want %+v (quiet: never marked, left out)", got, want)
	}
	if _, err := bob.Mark(ctx, "general", 4, 0); err != nil {
		t.Fatal(err)
	}
	rooms, _ = bob.Rooms(ctx)
	for _, r := range rooms {
		if r.Name == "general" && (r.Read == nil || r.Read.Unread != 0 || r.Read.Mentions != 0) {
			t.Fatalf("after reading everything: %+v", r.Read)
		}
	}
	_, err = bob.Mark(ctx, "general", 99, 0)
	wantErr(t, "marking past the last message", err, chat.ErrInvalidArgument)
	_, err = bob.Mark(ctx, "general", 0, 0)
	wantErr(t, "marking nothing", err, chat.ErrInvalidArgument)
	_, err = connect(t, svc, "carol", false).Mark(ctx, "dm:alice:bob", 1, 0)
	wantErr(t, "marking someone else's DM", err, chat.ErrForbidden)
}

// A user's marker reaches all its sessions at once; the members of a
// small room get markers coalesced, those of a large room none; join
// results carry them.
func TestReadMarkersEvents(t *testing.T) {
	svc := newService(t, chat.Config{Authenticator: testTokens, LargeRoom: 3, PresenceWindow: 50 * time.Millisecond})
	laptop, phone := connectAs(t, svc, "alice"), connectAs(t, svc, "alice")
	bob := connect(t, svc, "bob", false)
	join(t, laptop, "general")
	join(t, bob, "general")
	m := send(t, bob, "general", "hi")
	send(t, bob, "general", "again")

	if _, err := laptop.Mark(ctx, "general", m.Seq, 0); err != nil {
		t.Fatal(err)
	}
	// The phone is in no room: it hears on the user's own topic.
	ev := phone.waitFor(t, chat.EventRead, "the user's other session", func(*chat.Event) bool { return true })
	if r := ev.Reads.Readers; len(r) != 1 || r[0].Nickname != "Alice" || r[0].Read != m.Seq {
		t.Fatalf("phone got %+v", ev.Reads)
	}
	bob.waitFor(t, chat.EventRead, "a member of a small room", func(ev *chat.Event) bool {
		return len(ev.Reads.Readers) == 1 && ev.Reads.Readers[0].Read == m.Seq
	})
	// Two markers within one window: one event with both.
	carol := connect(t, svc, "carol", false)
	join(t, carol, "general")
	if _, err := laptop.Mark(ctx, "general", 2, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := carol.Mark(ctx, "general", 2, 0); err != nil {
		t.Fatal(err)
	}
	ev = bob.waitFor(t, chat.EventRead, "the window's markers", func(ev *chat.Event) bool {
		return len(ev.Reads.Readers) == 2 || len(ev.Reads.Readers) == 1 && ev.Reads.Readers[0].Nickname == "carol"
	})
	// The join result: the joiner's marker, the others'.
	res := join(t, carol, "general")
	if res.Read == nil || res.Read.Read != 2 || len(res.Readers) != 1 || res.Readers[0].Nickname != "Alice" {
		t.Fatalf("join result read %+v readers %+v", res.Read, res.Readers)
	}
	// A large room (more than 3 users) tells no one but the user.
	dave := connect(t, svc, "dave", false)
	join(t, dave, "general")
	bob.take(chat.EventRead)
	if _, err := dave.Mark(ctx, "general", 2, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := phone.Mark(ctx, "general", 2, 2); err != nil { // a change for Alice's sessions
		t.Fatal(err)
	}
	laptop.waitFor(t, chat.EventRead, "the user's own marker in a large room", func(ev *chat.Event) bool {
		return ev.Reads.Readers[0].Nickname == "Alice" && ev.Reads.Readers[0].Delivered == 2
	})
	if evs := bob.take(chat.EventRead); len(evs) != 0 {
		t.Fatalf("a member of a large room got markers: %v", evs[0].Reads)
	}
	if res := join(t, dave, "general"); len(res.Readers) != 0 {
		t.Fatalf("a large room's join result lists readers: %+v", res.Readers)
	}
	seen, err := bob.Seen(ctx, "general", 2)
	if err != nil || seen.Count != 3 || len(seen.Nicknames) != 0 {
		t.Fatalf("Seen in the large room = %+v, %v; want 3 readers, counted only", seen, err)
	}
	if err := laptop.Leave(ctx, "general"); err != nil {
		t.Fatal(err)
	}
	if err := dave.Leave(ctx, "general"); err != nil {
		t.Fatal(err)
	}
	// Small again (at half of LargeRoom... 1 or fewer users): listed.
	if err := carol.Leave(ctx, "general"); err != nil {
		t.Fatal(err)
	}
	seen, err = bob.Seen(ctx, "general", 2)
	if err != nil || seen.Count != 3 || len(seen.Nicknames) != 3 {
		t.Fatalf("Seen in a small room = %+v, %v; want 3 readers, listed", seen, err)
	}
}

func TestSeenCountsOnlyInLargeRooms(t *testing.T) {
	svc := newService(t, chat.Config{LargeRoom: 2})
	users := make([]client, 4)
	for i := range users {
		users[i] = connect(t, svc, fmt.Sprintf("u%d", i), false)
		join(t, users[i], "big")
	}
	m := send(t, users[0], "big", "hello all")
	for _, u := range users[1:] {
		if _, err := u.Mark(ctx, "big", m.Seq, 0); err != nil {
			t.Fatal(err)
		}
	}
	seen, err := users[0].Seen(ctx, "big", m.Seq)
	if err != nil || seen.Count != 3 || len(seen.Nicknames) != 0 {
		t.Fatalf("Seen in a large room = %+v, %v; want a count only", seen, err)
	}
	_, err = users[0].Seen(ctx, "big", 7)
	wantErr(t, "Seen of a seq not stored", err, chat.ErrNotFound)
}

// An offline client catches up with changes: Since gives new messages in
// their current state, Changes the older ones that changed.
func TestChangesCatchUp(t *testing.T) {
	svc := newService(t, chat.Config{})
	alice, bob := connect(t, svc, "alice", false), connect(t, svc, "bob", false)
	join(t, alice, "r")
	res := join(t, bob, "r")
	for i := range 3 {
		send(t, alice, "r", fmt.Sprint(i))
	}
	res = join(t, bob, "r")
	lastSeq, lastRev := res.LastSeq, res.LastRev
	bob.Disconnect("offline")
	if _, err := alice.Edit(ctx, "r", 1, "zero, edited"); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.DeleteMessage(ctx, "r", 2); err != nil {
		t.Fatal(err)
	}
	send(t, alice, "r", "new")
	if _, err := alice.Edit(ctx, "r", 4, "new, edited"); err != nil {
		t.Fatal(err)
	}

	bob = connect(t, svc, "bob", false)
	res, err := bob.Join(ctx, "r", chat.JoinOptions{CatchUp: true, After: lastSeq})
	if err != nil || len(res.Messages) != 1 || res.Messages[0].Text != "new, edited" || res.LastRev != 3 {
		t.Fatalf("catch-up join: %+v, %v", res, err)
	}
	changes, err := bob.Changes(ctx, "r", lastRev, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range changes {
		got = append(got, fmt.Sprintf("%d@%d:%q:%v", m.Seq, m.Rev, m.Text, m.Deleted))
	}
	if want := []string{`1@1:"zero, edited":false`, `2@2:"":true`, `4@3:"new, edited":false`}; !slices.Equal(got, want) {
		t.Fatalf("Changes = %v, want %v", got, want)
	}
	if more, _ := bob.Changes(ctx, "r", res.LastRev, 0); len(more) != 0 {
		t.Fatalf("Changes after the join's LastRev = %+v", more)
	}
	eve := connect(t, svc, "eve", false)
	_, err = eve.Changes(ctx, "dm:alice:bob", 0, 0)
	wantErr(t, "Changes of someone else's DM", err, chat.ErrForbidden)
}

// holdBus holds back the publications hold selects until release.
type holdBus struct {
	*chat.LocalBus
	mu   sync.Mutex
	hold func(*chat.Event) bool
	held []func()
}

func (b *holdBus) Publish(ctx context.Context, topic string, ev *chat.Event) error {
	b.mu.Lock()
	if b.hold != nil && b.hold(ev) {
		b.held = append(b.held, func() { b.LocalBus.Publish(ctx, topic, ev) })
		b.mu.Unlock()
		return nil
	}
	b.mu.Unlock()
	return b.LocalBus.Publish(ctx, topic, ev)
}

func (b *holdBus) release() {
	b.mu.Lock()
	held := b.held
	b.held, b.hold = nil, nil
	b.mu.Unlock()
	for _, f := range held {
		f()
	}
}

// A change of a message that waits in a member's sequencer (behind a gap)
// is delivered after the message, never before it.
func TestChangeAfterItsMessage(t *testing.T) {
	bus := &holdBus{LocalBus: chat.NewLocalBus()}
	svc := newService(t, chat.Config{Bus: bus, GapWait: time.Minute})
	alice, bob := connect(t, svc, "alice", false), connect(t, svc, "bob", false)
	join(t, alice, "r")
	join(t, bob, "r")
	bob.take(chat.EventPresence)
	bus.mu.Lock()
	bus.hold = func(ev *chat.Event) bool { return ev.Kind == chat.EventMessage && ev.Message.Seq == 1 }
	bus.mu.Unlock()
	send(t, alice, "r", "one") // held on the bus
	m2 := send(t, alice, "r", "two")
	if _, err := alice.Edit(ctx, "r", m2.Seq, "two, edited"); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.React(ctx, "r", m2.Seq, "👍", true); err != nil {
		t.Fatal(err)
	}
	bob.recorder.mu.Lock()
	early := len(bob.evs)
	bob.recorder.mu.Unlock()
	if early != 0 {
		t.Fatalf("bob got %d events before message 1", early)
	}
	bus.release()
	bob.recorder.mu.Lock()
	var order []string
	for _, ev := range bob.evs {
		seq, _ := changed(ev)
		order = append(order, fmt.Sprintf("%s#%d", ev.Kind, seq))
	}
	bob.recorder.mu.Unlock()
	if want := []string{"message#1", "message#2", "edited#2", "reaction#2"}; !slices.Equal(order, want) {
		t.Fatalf("bob got %v, want %v", order, want)
	}
}

func changed(ev *chat.Event) (int64, bool) {
	switch ev.Kind {
	case chat.EventMessage, chat.EventEdited:
		return ev.Message.Seq, true
	case chat.EventReaction:
		return ev.Reaction.Seq, true
	case chat.EventDeleted:
		return ev.Deleted.Seq, true
	}
	return 0, false
}
