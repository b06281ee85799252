package storetest

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/banter-chat/banter/chat"
)

// fileDraft is a message of room by sender carrying a file of size bytes
// (a recognizable pattern), with caption text.
func fileDraft(room, sender, text, clientID, name string, size int) chat.Draft {
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i*7 + i/chat.FileChunkBytes) // differs between parts
	}
	return chat.Draft{Room: room, Sender: sender, Text: text, ClientID: clientID, File: &chat.FileDraft{
		Attachment: chat.Attachment{ID: chat.NewFileID(), Name: name, Type: "image/png", Size: int64(size), Width: 640, Height: 480},
		Data:       data,
	}}
}

// readFile reads every part of file id.
func readFile(t *testing.T, s chat.Store, id string, size int64) []byte {
	t.Helper()
	var out []byte
	for n := 0; int64(len(out)) < size; n++ {
		part, err := s.FileChunk(context.Background(), id, n)
		if err != nil {
			t.Fatalf("FileChunk(%s, %d): %v", id, n, err)
		}
		if len(part) == 0 || len(part) > chat.FileChunkBytes {
			t.Fatalf("FileChunk(%s, %d): %d bytes", id, n, len(part))
		}
		out = append(out, part...)
	}
	return out
}

func sameMessage(t *testing.T, what string, got, want chat.Message) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: %+v (attachment %+v), want %+v (attachment %+v)", what, got, got.Attachment, want, want.Attachment)
	}
}

func testFiles(t *testing.T, s chat.Store) {
	ctx := context.Background()
	plain := mustAppend(t, s, draft("pics", "alice", "before", ""))
	d := fileDraft("pics", "Bob", "", "up-1", "holiday photo.png", 2*chat.FileChunkBytes+1234)
	m := mustAppend(t, s, d)
	if m.Seq != 2 || m.Text != "" || m.Attachment == nil || *m.Attachment != d.File.Attachment {
		t.Fatalf("Append with a file returned %+v (attachment %+v), want seq 2 and %+v", m, m.Attachment, d.File.Attachment)
	}
	if plain.Attachment != nil {
		t.Fatalf("a message without a file has attachment %+v", plain.Attachment)
	}
	caption := mustAppend(t, s, fileDraft("pics", "alice", "look ✓", "", "a.png", 10))
	for _, read := range []struct {
		name string
		f    func() ([]chat.Message, error)
	}{
		{"Since", func() ([]chat.Message, error) { return s.Since(ctx, "pics", 0, 10) }},
		{"History", func() ([]chat.Message, error) { return s.History(ctx, "pics", 0, 10) }},
	} {
		got, err := read.f()
		if err != nil || len(got) != 3 {
			t.Fatalf("%s: %+v, %v", read.name, got, err)
		}
		sameMessage(t, read.name+" plain", got[0], plain)
		sameMessage(t, read.name+" file", got[1], m)
		sameMessage(t, read.name+" caption", got[2], caption)
	}
	f, err := s.File(ctx, d.File.ID)
	if err != nil {
		t.Fatalf("File: %v", err)
	}
	if f.Attachment != d.File.Attachment || f.Room != "pics" || f.Seq != 2 || f.TS != m.TS {
		t.Fatalf("File = %+v, want %+v in pics #2 at %d", f, d.File.Attachment, m.TS)
	}
	if got := readFile(t, s, d.File.ID, f.Size); !bytes.Equal(got, d.File.Data) {
		t.Fatalf("the file's parts do not add up to its bytes (%d bytes read)", len(got))
	}
	_, err = s.FileChunk(ctx, d.File.ID, 3)
	wantCode(t, "FileChunk past the end", err, chat.CodeNotFound)
	_, err = s.FileChunk(ctx, d.File.ID, -1)
	wantCode(t, "FileChunk -1", err, chat.CodeNotFound)
	_, err = s.File(ctx, chat.NewFileID())
	wantCode(t, "File of an unknown id", err, chat.CodeNotFound)
	_, err = s.File(ctx, "../../etc/passwd")
	wantCode(t, "File of a malformed id", err, chat.CodeNotFound)
	_, err = s.FileChunk(ctx, "x' OR 1=1 --", 0)
	wantCode(t, "FileChunk of a malformed id", err, chat.CodeNotFound)

	// A retried upload (same client id) stores neither its message nor
	// its file again: the original comes back.
	retry := fileDraft("pics", "bob", "", "up-1", "other.png", 99)
	dup := mustAppend(t, s, retry)
	if !dup.Duplicate || dup.Seq != 2 || dup.Attachment == nil || *dup.Attachment != d.File.Attachment {
		t.Fatalf("retried upload: %+v (attachment %+v), want the original #2", dup, dup.Attachment)
	}
	_, err = s.File(ctx, retry.File.ID)
	wantCode(t, "the retried upload's file", err, chat.CodeNotFound)
	if n := lastSeq(t, s, "pics"); n != 3 {
		t.Fatalf("LastSeq %d after a retried upload, want 3", n)
	}

	// The file goes with its message.
	del, err := s.Delete(ctx, "pics", 2)
	if err != nil || !del.Deleted || del.Attachment != nil || del.Text != "" {
		t.Fatalf("Delete of a file's message: %+v (attachment %+v), %v", del, del.Attachment, err)
	}
	_, err = s.File(ctx, d.File.ID)
	wantCode(t, "File after its message was deleted", err, chat.CodeNotFound)
	_, err = s.FileChunk(ctx, d.File.ID, 0)
	wantCode(t, "FileChunk after its message was deleted", err, chat.CodeNotFound)
	got, err := s.Since(ctx, "pics", 1, 1)
	if err != nil || len(got) != 1 || got[0].Attachment != nil || !got[0].Deleted {
		t.Fatalf("the tombstone read back: %+v, %v", got, err)
	}
	again := mustAppend(t, s, fileDraft("pics", "Bob", "", "up-1", "third.png", 5))
	if !again.Duplicate || again.Seq != 2 || again.Attachment != nil || !again.Deleted {
		t.Fatalf("upload retried after its deletion: %+v, want the tombstone", again)
	}
	if _, err := s.File(ctx, caption.Attachment.ID); err != nil {
		t.Fatalf("another message's file after a deletion: %v", err)
	}
}

func testFileBadInput(t *testing.T, s chat.Store) {
	ctx := context.Background()
	bad := func(what string, code chat.Code, edit func(d *chat.Draft)) {
		t.Helper()
		d := fileDraft("r", "alice", "", "", "f.png", 10)
		edit(&d)
		_, err := s.Append(ctx, d)
		wantCode(t, what, err, code)
	}
	bad("empty file", chat.CodeInvalidArgument, func(d *chat.Draft) { d.File.Data, d.File.Size = nil, 0 })
	bad("size not the data's", chat.CodeInvalidArgument, func(d *chat.Draft) { d.File.Size = 11 })
	bad("bad id", chat.CodeInvalidArgument, func(d *chat.Draft) { d.File.ID = "short" })
	bad("path as name", chat.CodeInvalidArgument, func(d *chat.Draft) { d.File.Name = "dir/f.png" })
	bad("control character in name", chat.CodeInvalidArgument, func(d *chat.Draft) { d.File.Name = "f\x1b.png" })
	bad("no type", chat.CodeInvalidArgument, func(d *chat.Draft) { d.File.Type = "" })
	bad("negative width", chat.CodeInvalidArgument, func(d *chat.Draft) { d.File.Width = -1 })
	bad("blank caption", chat.CodeEmptyMessage, func(d *chat.Draft) { d.Text = "  " })
	if _, err := s.Append(ctx, draft("r", "alice", "", "")); err == nil {
		t.Fatal("a message with neither text nor file was stored")
	}
	if n := lastSeq(t, s, "r"); n != 0 {
		t.Fatalf("bad input stored %d messages", n)
	}
}

func testSecret(t *testing.T, s chat.Store) {
	ctx := context.Background()
	a, err := s.Secret(ctx)
	if err != nil || len(a) < 16 {
		t.Fatalf("Secret: %d bytes, %v", len(a), err)
	}
	b, err := s.Secret(ctx)
	if err != nil || !bytes.Equal(a, b) {
		t.Fatalf("Secret changed between calls (%v)", err)
	}
}

// searchIDs runs a search and returns the texts found, in order.
func searchTexts(t *testing.T, s chat.Store, q chat.SearchQuery) []string {
	t.Helper()
	if q.Limit == 0 {
		q.Limit = 50
	}
	msgs, err := s.Search(context.Background(), q)
	if err != nil {
		t.Fatalf("Search(%+v): %v", q, err)
	}
	out := []string{}
	for _, m := range msgs {
		if m.Deleted {
			t.Fatalf("Search returned a tombstone: %+v", m)
		}
		if !slices.Contains(q.Rooms, m.Room) {
			t.Fatalf("Search(%+v) returned a message of room %q", q, m.Room)
		}
		text := m.Text
		if m.Attachment != nil {
			text += " [" + m.Attachment.Name + "]"
		}
		out = append(out, text)
	}
	return out
}

func wantTexts(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s: found %q, want %q", what, got, want)
	}
}

func testSearch(t *testing.T, s chat.Store) {
	ctx := context.Background()
	for _, d := range []chat.Draft{
		draft("lobby", "alice", "Hello world", ""),
		draft("lobby", "bob", "the WORLD is big; hello again", ""),
		draft("lobby", "alice", "worldwide news", ""),
		draft("lobby", "carol", "Ünïcode Straße 日本語 works", ""),
		draft("dm:alice:bob", "alice", "secret hello world", ""),
		draft("other", "dave", "hello from elsewhere", ""),
		draft("lobby", "bob", "hello_world and foo-bar, x@example.com", ""),
	} {
		mustAppend(t, s, d)
	}
	mustAppend(t, s, fileDraft("lobby", "alice", "the plan", "", "Quarterly-report 2024.pdf", 3))
	lobby := []string{"lobby"}
	wantTexts(t, "one word", searchTexts(t, s, chat.SearchQuery{Terms: []string{"hello"}, Rooms: lobby}),
		"hello_world and foo-bar, x@example.com", "the WORLD is big; hello again", "Hello world")
	wantTexts(t, "prefix, any case", searchTexts(t, s, chat.SearchQuery{Terms: []string{"worl"}, Rooms: lobby}),
		"hello_world and foo-bar, x@example.com", "worldwide news", "the WORLD is big; hello again", "Hello world")
	wantTexts(t, "all words", searchTexts(t, s, chat.SearchQuery{Terms: []string{"hello", "big"}, Rooms: lobby}),
		"the WORLD is big; hello again")
	wantTexts(t, "punctuation separates words", searchTexts(t, s, chat.SearchQuery{Terms: []string{"bar", "example"}, Rooms: lobby}),
		"hello_world and foo-bar, x@example.com")
	wantTexts(t, "non-ASCII, folded case", searchTexts(t, s, chat.SearchQuery{Terms: []string{"ünï", "straße"}, Rooms: lobby}),
		"Ünïcode Straße 日本語 works")
	wantTexts(t, "CJK word", searchTexts(t, s, chat.SearchQuery{Terms: []string{"日本"}, Rooms: lobby}),
		"Ünïcode Straße 日本語 works")
	wantTexts(t, "file name", searchTexts(t, s, chat.SearchQuery{Terms: []string{"report"}, Rooms: lobby}),
		"the plan [Quarterly-report 2024.pdf]")
	wantTexts(t, "file name and text", searchTexts(t, s, chat.SearchQuery{Terms: []string{"2024", "plan"}, Rooms: lobby}),
		"the plan [Quarterly-report 2024.pdf]")
	wantTexts(t, "no match", searchTexts(t, s, chat.SearchQuery{Terms: []string{"zebra"}, Rooms: lobby}))
	wantTexts(t, "a word's middle is not a prefix", searchTexts(t, s, chat.SearchQuery{Terms: []string{"orld"}, Rooms: lobby}))

	// Only the rooms asked for: a DM room or another room is never
	// searched unless listed.
	wantTexts(t, "DM room not listed", searchTexts(t, s, chat.SearchQuery{Terms: []string{"secret"}, Rooms: []string{"lobby", "other"}}))
	wantTexts(t, "two rooms", searchTexts(t, s, chat.SearchQuery{Terms: []string{"hello"}, Rooms: []string{"other", "dm:alice:bob"}}),
		"hello from elsewhere", "secret hello world")
	wantTexts(t, "no rooms", searchTexts(t, s, chat.SearchQuery{Terms: []string{"hello"}, Rooms: []string{}}))
	wantTexts(t, "unknown room", searchTexts(t, s, chat.SearchQuery{Terms: []string{"hello"}, Rooms: []string{"nowhere"}}))

	// Pages, newest first.
	q := chat.SearchQuery{Terms: []string{"hello"}, Rooms: []string{"lobby", "other", "dm:alice:bob"}, Limit: 2}
	var all []string
	for page := 0; ; page++ {
		msgs, err := s.Search(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			all = append(all, m.Text)
		}
		if len(msgs) < q.Limit {
			break
		}
		if page > 5 {
			t.Fatal("paging does not end")
		}
		q.Before = msgs[len(msgs)-1].ID
	}
	wantTexts(t, "paged", all, "hello_world and foo-bar, x@example.com", "hello from elsewhere", "secret hello world",
		"the WORLD is big; hello again", "Hello world")

	// Tombstones are not found.
	if _, err := s.Delete(ctx, "lobby", 1); err != nil {
		t.Fatal(err)
	}
	wantTexts(t, "after a deletion", searchTexts(t, s, chat.SearchQuery{Terms: []string{"hello", "world"}, Rooms: lobby}),
		"hello_world and foo-bar, x@example.com", "the WORLD is big; hello again")
	if _, err := s.Delete(ctx, "lobby", 6); err != nil {
		t.Fatal(err)
	}
	wantTexts(t, "a deleted file's name", searchTexts(t, s, chat.SearchQuery{Terms: []string{"report"}, Rooms: lobby}))

	// Bad input.
	for _, bad := range []chat.SearchQuery{
		{Terms: nil, Rooms: lobby, Limit: 5},
		{Terms: []string{"two words"}, Rooms: lobby, Limit: 5},
		{Terms: []string{`"quoted"`}, Rooms: lobby, Limit: 5},
		{Terms: []string{"Upper"}, Rooms: lobby, Limit: 5},
		{Terms: []string{"x"}, Rooms: lobby, Limit: 0},
		{Terms: []string{"x"}, Rooms: lobby, Limit: chat.MaxSearchLimit + 1},
		{Terms: []string{"x"}, Rooms: []string{"Not Canonical"}, Limit: 5},
		{Terms: []string{"x"}, Rooms: lobby, Limit: 5, Before: "abc"},
		{Terms: strings.Fields(strings.Repeat("a ", chat.MaxSearchTerms+1)), Rooms: lobby, Limit: 5},
	} {
		if _, err := s.Search(ctx, bad); err == nil {
			t.Fatalf("Search(%+v) accepted", bad)
		} else if code := chat.ErrorCode(err); code != chat.CodeInvalidArgument && code != chat.CodeInvalidRoom {
			t.Fatalf("Search(%+v): %v, want invalid_argument", bad, err)
		}
	}
}

// testFilesPersist: files, attachments, the secret and the search index
// survive a restart.
func testFilesPersist(t *testing.T, s chat.Store, reopen func(*testing.T, chat.Store) chat.Store) {
	ctx := context.Background()
	d := fileDraft("keep", "alice", "persistent words", "", "kept.png", chat.FileChunkBytes+10)
	m := mustAppend(t, s, d)
	secret, err := s.Secret(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s)
	got, err := s.Since(ctx, "keep", 0, 5)
	if err != nil || len(got) != 1 {
		t.Fatalf("after reopen: %+v, %v", got, err)
	}
	sameMessage(t, "after reopen", got[0], m)
	if data := readFile(t, s, d.File.ID, d.File.Size); !bytes.Equal(data, d.File.Data) {
		t.Fatal("the file's bytes changed across a reopen")
	}
	if again, err := s.Secret(ctx); err != nil || !bytes.Equal(again, secret) {
		t.Fatalf("the secret changed across a reopen (%v)", err)
	}
	wantTexts(t, "search after reopen", searchTexts(t, s, chat.SearchQuery{Terms: []string{"persist"}, Rooms: []string{"keep"}}),
		fmt.Sprintf("persistent words [%s]", d.File.Name))
}
