package storetest

import (
	"context"
	"reflect"
	"slices"
	"testing"

	"github.com/banter-chat/banter/chat"
)

// testFileMessageState: a message with a file also answers a message,
// mentions a user, gets reactions and is edited; every read path returns
// all of it, the search index follows its edits, and its deletion removes
// the file and takes it out of search.
func testFileMessageState(t *testing.T, s chat.Store) {
	ctx := context.Background()
	orig := mustAppend(t, s, draft("mix", "alice", "the original words", ""))
	d := fileDraft("mix", "bob", "look @alice", "f-1", "sunset beach.png", chat.FileChunkBytes+5)
	d.ReplyTo, d.Mentions = orig.ID, []string{"alice"}
	m := mustAppend(t, s, d)
	wantQ := &chat.Quote{ID: orig.ID, Seq: 1, From: "alice", Text: "the original words"}
	if m.Seq != 2 || m.Attachment == nil || *m.Attachment != d.File.Attachment || !reflect.DeepEqual(m.ReplyTo, wantQ) ||
		!slices.Equal(m.Mentions, []string{"alice"}) {
		t.Fatalf("Append of a file that replies and mentions: %+v (attachment %+v, quote %+v)", m, m.Attachment, m.ReplyTo)
	}
	same := func(what string, got chat.Message, want chat.Message) {
		t.Helper()
		if !equalMsg(got, want) {
			t.Fatalf("%s: %+v (attachment %+v, quote %+v), want %+v (attachment %+v, quote %+v)",
				what, got, got.Attachment, got.ReplyTo, want, want.Attachment, want.ReplyTo)
		}
	}
	same("Since", readOne(t, s, "mix", 2), m)
	if got, err := s.History(ctx, "mix", 0, 5); err != nil || len(got) != 2 {
		t.Fatalf("History: %+v, %v", got, err)
	} else {
		same("History", got[1], m)
	}
	if got, err := s.MessageByID(ctx, m.ID); err != nil {
		t.Fatal(err)
	} else {
		same("MessageByID", got, m)
	}
	search := func(what string, terms ...string) []chat.Message {
		t.Helper()
		got, err := s.Search(ctx, chat.SearchQuery{Terms: terms, Rooms: []string{"mix"}, Limit: 10})
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return got
	}
	if got := search("search by caption", "look"); len(got) != 1 {
		t.Fatalf("search by caption: %+v", got)
	} else {
		same("search result", got[0], m)
	}

	// A reply to the file quotes its name (a file may have no caption).
	r := mustAppend(t, s, chat.Draft{Room: "mix", Sender: "alice", Text: "nice", ReplyTo: m.ID})
	if r.ReplyTo == nil || r.ReplyTo.File != "sunset beach.png" || r.ReplyTo.Text != "look @alice" {
		t.Fatalf("the quote of a file: %+v", r.ReplyTo)
	}
	same("reply read back", readOne(t, s, "mix", 3), r)

	// A reaction keeps the file, the quote and the mentions.
	rm, changed, err := s.React(ctx, chat.ReactionChange{Room: "mix", Seq: 2, Emoji: "👍", User: "alice", Nickname: "alice", Add: true})
	if err != nil || !changed || rm.Attachment == nil || *rm.Attachment != d.File.Attachment || !reflect.DeepEqual(rm.ReplyTo, wantQ) ||
		len(rm.Reactions) != 1 || !slices.Equal(rm.Mentions, []string{"alice"}) {
		t.Fatalf("React to a file: %+v (attachment %+v), %v, %v", rm, rm.Attachment, changed, err)
	}

	// An edit changes the caption: search follows it (the old words are
	// gone, the new ones and the file's name are found).
	em, err := s.Edit(ctx, chat.Edit{Room: "mix", Seq: 2, Text: "golden hour"})
	if err != nil || em.Text != "golden hour" || em.Edited == 0 || em.Attachment == nil || *em.Attachment != d.File.Attachment ||
		!reflect.DeepEqual(em.ReplyTo, wantQ) || len(em.Reactions) != 1 || len(em.Mentions) != 0 || em.Rev <= rm.Rev {
		t.Fatalf("Edit of a file's caption: %+v (attachment %+v), %v", em, em.Attachment, err)
	}
	same("edited, read back", readOne(t, s, "mix", 2), em)
	if got := search("the old caption", "look"); len(got) != 0 {
		t.Fatalf("the old caption is still found: %+v", got)
	}
	for _, terms := range [][]string{{"golden"}, {"hour", "sunset"}, {"beach"}} {
		got := search("the new caption", terms...)
		if len(got) != 1 {
			t.Fatalf("search %q after the edit: %+v", terms, got)
		}
		same("search after the edit", got[0], em)
	}
	if got := readOne(t, s, "mix", 3); got.ReplyTo == nil || got.ReplyTo.Text != "golden hour" || got.ReplyTo.File != "sunset beach.png" {
		t.Fatalf("the quote of an edited file: %+v", got.ReplyTo)
	}
	// The original's edit shows in the file's quote, and in search.
	if _, err := s.Edit(ctx, chat.Edit{Room: "mix", Seq: 1, Text: "updated words"}); err != nil {
		t.Fatal(err)
	}
	if got := search("the original edited", "golden"); len(got) != 1 || got[0].ReplyTo == nil || got[0].ReplyTo.Text != "updated words" {
		t.Fatalf("the quote in a search result after the original's edit: %+v", got)
	}
	if got := search("the original's old words", "original"); len(got) != 0 {
		t.Fatalf("an edited message is found by its old words: %+v", got)
	}
	if got := search("the original's new words", "updated"); len(got) != 1 || got[0].Seq != 1 {
		t.Fatalf("an edited message is not found by its new words: %+v", got)
	}

	// Changes and a retried upload return the message as it is now.
	ch, err := s.Changes(ctx, "mix", em.Rev-1, 10)
	if err != nil || len(ch) != 2 {
		t.Fatalf("Changes: %+v, %v", ch, err)
	}
	same("Changes", ch[0], readOne(t, s, "mix", 2))
	retry := fileDraft("mix", "bob", "look @alice", "f-1", "again.png", 3)
	retry.ReplyTo, retry.Mentions = orig.ID, []string{"alice"}
	dup := mustAppend(t, s, retry)
	cur := readOne(t, s, "mix", 2)
	cur.Duplicate = true
	same("a retried upload", dup, cur)

	// Deleting it (own or admin: the same Store call) takes a rev, drops
	// the file, its reactions and mentions, and takes it out of search.
	del, err := s.Delete(ctx, "mix", 2)
	if err != nil || !del.Deleted || del.Text != "" || del.Attachment != nil || len(del.Reactions) != 0 || del.Rev <= em.Rev ||
		!reflect.DeepEqual(del.ReplyTo, &chat.Quote{ID: orig.ID, Seq: 1, From: "alice", Text: "updated words"}) {
		t.Fatalf("Delete of a file message: %+v (attachment %+v, quote %+v), %v", del, del.Attachment, del.ReplyTo, err)
	}
	_, err = s.File(ctx, d.File.ID)
	wantCode(t, "File after its message was deleted", err, chat.CodeNotFound)
	_, err = s.FileChunk(ctx, d.File.ID, 1)
	wantCode(t, "FileChunk after its message was deleted", err, chat.CodeNotFound)
	for _, terms := range [][]string{{"golden"}, {"sunset"}} {
		if got := search("after the deletion", terms...); len(got) != 0 {
			t.Fatalf("search %q finds a deleted file message: %+v", terms, got)
		}
	}
	if got := readOne(t, s, "mix", 3); got.ReplyTo == nil || !got.ReplyTo.Deleted || got.ReplyTo.File != "" || got.ReplyTo.Text != "" {
		t.Fatalf("the quote of a deleted file: %+v", got.ReplyTo)
	}
	ch, err = s.Changes(ctx, "mix", del.Rev-1, 10)
	if err != nil || len(ch) != 1 {
		t.Fatalf("Changes after the deletion: %+v, %v", ch, err)
	}
	same("the deletion in Changes", ch[0], del)
	_, _, err = s.React(ctx, chat.ReactionChange{Room: "mix", Seq: 2, Emoji: "🎉", User: "alice", Nickname: "alice", Add: true})
	wantCode(t, "React to a deleted file", err, chat.CodeInvalidArgument)
}
