package chat_test

import (
	"bytes"
	"slices"
	"testing"

	"github.com/banter-chat/banter/chat"
)

// A file is a message like the others: an upload may answer a message
// and mention users in its caption, its sender may edit the caption and
// delete it (the file goes with it), and search follows.
func TestUploadWithMessageState(t *testing.T) {
	svc := newService(t, chat.Config{Files: chat.FileConfig{MaxBytes: 1 << 20}})
	alice, bob := connect(t, svc, "alice", false), connect(t, svc, "bob", false)
	join(t, alice, "pics")
	join(t, bob, "pics")
	join(t, bob, "other")
	q, err := alice.Send(ctx, "pics", "show me the view", "")
	if err != nil {
		t.Fatal(err)
	}
	elsewhere, err := bob.Send(ctx, "other", "elsewhere", "")
	if err != nil {
		t.Fatal(err)
	}
	img := pngBytes(t, 8, 6)
	req := chat.UploadRequest{Room: "pics", Name: "view.png", Size: int64(len(img)), Text: "here @alice", ReplyTo: q.ID}

	// The reply is checked when the slot is asked for.
	bad := req
	bad.ReplyTo = elsewhere.ID
	_, err = bob.UploadSlot(ctx, bad)
	wantErr(t, "an upload replying to another room's message", err, chat.ErrInvalidArgument)
	bad.ReplyTo = "999999"
	_, err = bob.UploadSlot(ctx, bad)
	wantErr(t, "an upload replying to no message", err, chat.ErrNotFound)

	m, err := bob.Upload(ctx, req, bytes.NewReader(img), "")
	if err != nil {
		t.Fatal(err)
	}
	if m.Attachment == nil || m.ReplyTo == nil || m.ReplyTo.ID != q.ID || m.ReplyTo.Text != "show me the view" || !slices.Equal(m.Mentions, []string{"alice"}) {
		t.Fatalf("an upload that replies and mentions: %+v (quote %+v)", m, m.ReplyTo)
	}
	ev := alice.waitFor(t, chat.EventMessage, "alice hears the file", func(ev *chat.Event) bool { return ev.Message.Seq == m.Seq })
	if ev.Message.Attachment == nil || ev.Message.ReplyTo == nil || !slices.Equal(ev.Message.Mentions, []string{"alice"}) {
		t.Fatalf("alice's event: %+v", ev.Message)
	}
	// alice read up to her message: the file is unread, and mentions her.
	if _, err := alice.Mark(ctx, "pics", q.Seq, 0); err != nil {
		t.Fatal(err)
	}
	rooms, err := alice.Rooms(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(rooms, func(r chat.RoomInfo) bool { return r.Name == "pics" }); i < 0 || rooms[i].Read == nil ||
		rooms[i].Read.Unread != 1 || rooms[i].Read.Mentions != 1 {
		t.Fatalf("alice's unread counts: %+v", rooms)
	}

	// A reply to the file quotes its name.
	r, err := alice.SendMessage(ctx, chat.SendParams{Room: "pics", Text: "lovely", ReplyTo: m.ID})
	if err != nil || r.ReplyTo == nil || r.ReplyTo.File != "view.png" {
		t.Fatalf("a reply to a file: %+v, %v", r, err)
	}

	// The sender edits the caption: the file stays, search follows.
	e, err := bob.Edit(ctx, "pics", m.Seq, "the harbour at dusk")
	if err != nil || e.Attachment == nil || *e.Attachment != *m.Attachment || e.Edited == 0 || len(e.Mentions) != 0 {
		t.Fatalf("edit of a caption: %+v, %v", e, err)
	}
	alice.waitFor(t, chat.EventEdited, "alice hears the edit", func(ev *chat.Event) bool {
		return ev.Message.Seq == m.Seq && ev.Message.Attachment != nil
	})
	page, err := alice.Search(ctx, chat.SearchParams{Text: "harbour"})
	if err != nil || len(page.Results) != 1 || page.Results[0].Message.Attachment == nil || page.Results[0].Message.ReplyTo == nil {
		t.Fatalf("search of the new caption: %+v, %v", page, err)
	}
	if page, err := alice.Search(ctx, chat.SearchParams{Text: "here"}); err != nil || len(page.Results) != 0 {
		t.Fatalf("search of the old caption: %+v, %v", page, err)
	}

	// The sender deletes it: the file goes, and so does the search entry.
	tok, err := alice.FileToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.DeleteMessage(ctx, "pics", m.Seq); err != nil {
		t.Fatalf("the sender deletes its file: %v", err)
	}
	alice.waitFor(t, chat.EventDeleted, "alice hears the deletion", func(ev *chat.Event) bool { return ev.Room == "pics" })
	_, err = svc.OpenFile(ctx, tok.Token, m.Attachment.ID)
	wantErr(t, "a file its sender deleted", err, chat.ErrNotFound)
	if page, err := alice.Search(ctx, chat.SearchParams{Text: "harbour"}); err != nil || len(page.Results) != 0 {
		t.Fatalf("search after the deletion: %+v, %v", page, err)
	}
	hist, err := alice.History(ctx, "pics", 0, 10)
	if err != nil || len(hist) != 3 || !hist[1].Deleted || hist[1].Attachment != nil || hist[2].ReplyTo == nil || !hist[2].ReplyTo.Deleted || hist[2].ReplyTo.File != "" {
		t.Fatalf("history after the deletion: %+v, %v", hist, err)
	}
}
