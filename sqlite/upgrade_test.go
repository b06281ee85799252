package sqlite_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/chat/sqlstore"
)

// TestUpgradeFromSchema3: a database written at schema 3 (files and
// search, before message state) opens with this binary, which applies
// 0004; its messages, files and search index work with message state:
// edits re-index, deletions take the file and the search entry away.
func TestUpgradeFromSchema3(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v3.db")
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	run := func(q string, args ...any) {
		t.Helper()
		if _, err := raw.Exec(q, args...); err != nil {
			t.Fatalf("%.60s: %v", q, err)
		}
	}
	run(sqlstore.CreateVersionTable)
	run(`INSERT INTO schema_version (version) VALUES (3)`)
	for _, f := range []string{"0001_init.sql", "0002_deleted.sql", "0003_files_search.sql"} {
		b, err := os.ReadFile(filepath.Join("migrations", f))
		if err != nil {
			t.Fatal(err)
		}
		run(string(b))
	}
	// What schema 3's writer stored: a room, a message, a file with its
	// message and its bytes.
	att := chat.Attachment{ID: chat.NewFileID(), Name: "old photo.png", Type: "image/png", Size: 3, Width: 1, Height: 1}
	run(`INSERT INTO rooms (name, last_seq, msg_count, last_ts) VALUES ('old', 2, 2, 1000)`)
	run(`INSERT INTO messages (room_id, seq, sender, sender_key, text, client_id, ts, attachment)
		VALUES (1, 1, 'Ann', 'ann', 'hello there', NULL, 900, NULL), (1, 2, 'Bob', 'bob', 'a picture', 'c-1', 1000, ?)`,
		sqlstore.EncodeAttachment(&att))
	run(`INSERT INTO files (id, message_id) VALUES (?, 2)`, att.ID)
	run(`INSERT INTO file_chunks (file_id, n, data) VALUES (?, 0, x'010203')`, att.ID)

	db := open(t, path)
	var v int
	if err := raw.QueryRow(`SELECT version FROM schema_version`).Scan(&v); err != nil || v != 4 {
		t.Fatalf("schema version %d, %v; want 4", v, err)
	}
	msgs, err := db.History(ctx, "old", 0, 10)
	if err != nil || len(msgs) != 2 || msgs[1].Attachment == nil || *msgs[1].Attachment != att || msgs[1].Rev != 0 || msgs[0].Text != "hello there" {
		t.Fatalf("History after the upgrade: %+v, %v", msgs, err)
	}
	found := func(word string) []chat.Message {
		t.Helper()
		got, err := db.Search(ctx, chat.SearchQuery{Terms: []string{word}, Rooms: []string{"old"}, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := found("picture"); len(got) != 1 || got[0].Seq != 2 {
		t.Fatalf("search of an old message: %+v", got)
	}
	r, err := db.Append(ctx, chat.Draft{Room: "old", Sender: "Ann", Text: "@bob nice", ReplyTo: msgs[1].ID, Mentions: []string{"bob"}})
	if err != nil || r.Seq != 3 || r.ReplyTo == nil || r.ReplyTo.File != att.Name {
		t.Fatalf("a reply to an old file: %+v, %v", r, err)
	}
	e, err := db.Edit(ctx, chat.Edit{Room: "old", Seq: 2, Text: "a sunset"})
	if err != nil || e.Rev != 1 || e.Attachment == nil || *e.Attachment != att {
		t.Fatalf("Edit of an old file message: %+v, %v", e, err)
	}
	if len(found("picture")) != 0 || len(found("sunset")) != 1 || len(found("photo")) != 1 {
		t.Fatalf("search after an edit: picture %v, sunset %v, photo %v", found("picture"), found("sunset"), found("photo"))
	}
	if _, err := db.Delete(ctx, "old", 2); err != nil {
		t.Fatal(err)
	}
	if _, err := db.File(ctx, att.ID); chat.ErrorCode(err) != chat.CodeNotFound {
		t.Fatalf("File after the deletion: %v", err)
	}
	if got := found("sunset"); len(got) != 0 {
		t.Fatalf("search after the deletion: %+v", got)
	}
	if _, _, err := db.Mark(ctx, "old", "bob", "Bob", 3, 0); err != nil {
		t.Fatal(err)
	}
	if u, err := db.Unread(ctx, "ann", []string{"old"}); err != nil || len(u) != 0 {
		t.Fatalf("Unread of a user without a marker: %+v, %v", u, err)
	}
}
