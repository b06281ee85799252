package chat_test

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/banter-chat/banter/chat"
)

// pngBytes encodes a w×h PNG.
func pngBytes(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	img.Set(0, 0, color.RGBA{R: 255, A: 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// pngBomb is a PNG signature and header declaring w×h pixels (no data):
// what a decompression bomb starts with.
func pngBomb(w, h uint32) []byte {
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	chunk := append([]byte("IHDR"), ihdr...)
	out := []byte("\x89PNG\r\n\x1a\n")
	out = binary.BigEndian.AppendUint32(out, 13)
	out = append(out, chunk...)
	out = binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(chunk))
	return append(out, make([]byte, 64)...)
}

// A 1×1 lossless WebP.
var webp1x1, _ = base64.StdEncoding.DecodeString("UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==")

func TestSniffFile(t *testing.T) {
	cfg := chat.FileConfig{Types: chat.DefaultFileTypes}
	pdf := []byte("%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n")
	for _, c := range []struct {
		name, file, declared string
		data                 []byte
		want                 string // media type, or the start of the error
		w, h                 int
	}{
		{"png", "cat.png", "image/png", pngBytes(t, 33, 17), "image/png", 33, 17},
		{"png undeclared", "cat", "", pngBytes(t, 2, 3), "image/png", 2, 3},
		{"webp", "x.webp", "", webp1x1, "image/webp", 1, 1},
		{"pdf", "doc.pdf", "application/pdf", pdf, "application/pdf", 0, 0},
		{"text", "notes.txt", "text/plain", []byte("hello\nworld\n"), "text/plain", 0, 0},
		{"markdown declared", "notes.md", "text/markdown", []byte("# title\n"), "text/plain", 0, 0},
		{"disguised png", "cat.png", "image/png", pdf, "the file was declared image/png but its content is application/pdf", 0, 0},
		{"name lies", "cat.png", "", pdf, `the name "cat.png" says image/png but the content is application/pdf`, 0, 0},
		{"html", "page.txt", "", []byte("<!DOCTYPE html><script>alert(1)</script>"), "the file is", 0, 0},
		{"svg as text", "pic.txt", "text/plain", []byte("  <svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>"), "the file is HTML, SVG or XML markup", 0, 0},
		{"svg named svg", "pic.svg", "", []byte("<svg onload='alert(1)'/>"), "the file is HTML, SVG or XML markup", 0, 0},
		{"xml", "a.txt", "", []byte("<?xml version='1.0'?><x/>"), "the file is", 0, 0},
		{"html declared", "a.html", "text/html", []byte("hello"), "files of type text/html are not accepted", 0, 0},
		{"zip", "a.zip", "", []byte("PK\x03\x04aaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), "files of type application/zip are not accepted", 0, 0},
		{"zip unnamed", "a", "", []byte("PK\x03\x04aaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), "files of type application/zip are not accepted", 0, 0},
		{"binary", "a", "", []byte{0, 1, 2, 3, 0xff, 0xfe}, "files of type unrecognized binary data are not accepted", 0, 0},
		{"latin-1 text", "a.txt", "", []byte("caf\xe9 au lait"), "text files must be UTF-8", 0, 0},
		{"bomb", "b.png", "", pngBomb(100000, 100000), "the image is 100000 × 100000 pixels", 0, 0},
		{"broken png", "b.png", "", append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 40)...), "the png image header is damaged", 0, 0},
	} {
		typ, w, h, err := cfg.SniffFile(c.data, c.file, c.declared)
		if err != nil {
			if chat.ErrorCode(err) != chat.CodeUnsupportedFile {
				t.Errorf("%s: error %v, want code unsupported_file", c.name, err)
			}
			_, msg := chat.ClientError(err)
			if !strings.HasPrefix(msg, c.want) {
				t.Errorf("%s: %q, want %q", c.name, msg, c.want)
			}
			continue
		}
		if typ != c.want || w != c.w || h != c.h {
			t.Errorf("%s: %s %d×%d, want %s %d×%d", c.name, typ, w, h, c.want, c.w, c.h)
		}
	}
}

func TestUploadAndDownload(t *testing.T) {
	svc := newService(t, chat.Config{Files: chat.FileConfig{MaxBytes: 1 << 20}})
	alice, bob, eve := connect(t, svc, "alice", false), connect(t, svc, "bob", false), connect(t, svc, "eve", false)
	join(t, alice, "pics")
	join(t, bob, "pics")
	img := pngBytes(t, 40, 30)
	slot, err := alice.UploadSlot(ctx, chat.UploadRequest{Room: "pics", Name: "C:\\photos\\cat.png", Size: int64(len(img)), Type: "image/png", Text: "my cat", ClientID: "u1"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := svc.Upload(ctx, slot.Token, bytes.NewReader(img), "image/png")
	if err != nil {
		t.Fatal(err)
	}
	a := m.Attachment
	if a == nil || a.Name != "cat.png" || a.Type != "image/png" || a.Size != int64(len(img)) || a.Width != 40 || a.Height != 30 || m.Text != "my cat" || m.Sender != "alice" {
		t.Fatalf("uploaded message %+v, attachment %+v", m, a)
	}
	ev := bob.waitFor(t, chat.EventMessage, "bob hears the file", func(ev *chat.Event) bool { return ev.Message.Seq == m.Seq })
	if ev.Message.Attachment == nil || *ev.Message.Attachment != *a {
		t.Fatalf("bob's event has attachment %+v", ev.Message.Attachment)
	}
	// The same slot again (a retry): nothing new.
	again, err := svc.Upload(ctx, slot.Token, bytes.NewReader(img), "")
	if err != nil || !again.Duplicate || again.Seq != m.Seq || *again.Attachment != *a {
		t.Fatalf("retried upload: %+v, %v", again, err)
	}

	// Download: a file token of a reader, from the Service (any node).
	tok, err := bob.FileToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f, err := svc.OpenFile(ctx, tok.Token, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(f)
	if err != nil || !bytes.Equal(got, img) || f.File.Room != "pics" {
		t.Fatalf("download: %d bytes, %v, room %q", len(got), err, f.File.Room)
	}
	_, err = svc.OpenFile(ctx, tok.Token+"x", a.ID)
	wantErr(t, "tampered token", err, chat.ErrForbidden)
	_, err = svc.OpenFile(ctx, slot.Token, a.ID)
	wantErr(t, "a slot used as a file token", err, chat.ErrForbidden)
	_, err = svc.Upload(ctx, tok.Token, bytes.NewReader(img), "")
	wantErr(t, "a file token used as a slot", err, chat.ErrForbidden)
	_, err = svc.OpenFile(ctx, tok.Token, chat.NewFileID())
	wantErr(t, "unknown file", err, chat.ErrNotFound)

	// A DM's file: only its two users read it.
	if _, err := alice.DirectMessage(ctx, "bob", "hi", ""); err != nil {
		t.Fatal(err)
	}
	dm, _ := chat.DMRoom("alice", "bob")
	text := []byte("private notes\n")
	dmMsg, err := alice.Upload(ctx, chat.UploadRequest{Room: dm, Name: "notes.txt", Size: int64(len(text))}, bytes.NewReader(text), "")
	if err != nil {
		t.Fatal(err)
	}
	bob.waitFor(t, chat.EventMessage, "bob gets the DM file", func(ev *chat.Event) bool { return ev.Message.Attachment != nil && ev.Room == dm })
	if _, err := svc.OpenFile(ctx, tok.Token, dmMsg.Attachment.ID); err != nil {
		t.Fatalf("bob reads his DM's file: %v", err)
	}
	eveTok, err := eve.FileToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = svc.OpenFile(ctx, eveTok.Token, dmMsg.Attachment.ID)
	wantErr(t, "eve reads alice and bob's DM file", err, chat.ErrForbidden)
	_, err = eve.OpenFile(ctx, dmMsg.Attachment.ID)
	wantErr(t, "eve's session reads it", err, chat.ErrForbidden)
	if _, err := svc.OpenFile(ctx, eveTok.Token, a.ID); err != nil {
		t.Fatalf("eve reads a public room's file: %v", err)
	}

	// The file goes with its message.
	admin := connectIdentity(t, svc, &chat.Identity{Subject: "mod", Nickname: "mod", Admin: true})
	if _, err := admin.DeleteMessage(ctx, "pics", m.Seq); err != nil {
		t.Fatal(err)
	}
	_, err = svc.OpenFile(ctx, tok.Token, a.ID)
	wantErr(t, "a deleted message's file", err, chat.ErrNotFound)
}

func connectIdentity(t *testing.T, svc *chat.Service, id *chat.Identity) client {
	t.Helper()
	rec := newRecorder()
	s, err := svc.Connect(ctx, chat.ConnectParams{Identity: id, Sink: rec})
	if err != nil {
		t.Fatal(err)
	}
	return client{s, rec}
}

func TestUploadRefused(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	store := chat.NewMemStore()
	svc := newService(t, chat.Config{Now: clock, Store: store, Files: chat.FileConfig{MaxBytes: 1000}})
	alice := connect(t, svc, "alice", false)
	join(t, alice, "pics")
	reader := connectIdentity(t, svc, &chat.Identity{Subject: "r", Nickname: "reader", Rooms: []string{"pics"}, Post: []string{}})
	join(t, reader, "pics")
	img := pngBytes(t, 4, 4)
	req := func(edit func(*chat.UploadRequest)) chat.UploadRequest {
		r := chat.UploadRequest{Room: "pics", Name: "a.png", Size: int64(len(img))}
		edit(&r)
		return r
	}
	for _, c := range []struct {
		what string
		req  chat.UploadRequest
		code chat.Code
	}{
		{"too large", req(func(r *chat.UploadRequest) { r.Size = 1001 }), chat.CodeFileTooLarge},
		{"empty", req(func(r *chat.UploadRequest) { r.Size = 0 }), chat.CodeInvalidArgument},
		{"no name", req(func(r *chat.UploadRequest) { r.Name = " " }), chat.CodeInvalidArgument},
		{"html name", req(func(r *chat.UploadRequest) { r.Name = "x.html" }), chat.CodeUnsupportedFile},
		{"svg declared", req(func(r *chat.UploadRequest) { r.Type = "image/svg+xml" }), chat.CodeUnsupportedFile},
		{"zip declared", req(func(r *chat.UploadRequest) { r.Type = "application/zip" }), chat.CodeUnsupportedFile},
		{"not joined", req(func(r *chat.UploadRequest) { r.Room = "elsewhere" }), chat.CodeNotMember},
		{"bad caption", req(func(r *chat.UploadRequest) { r.Text = "a\x1bb" }), chat.CodeInvalidMessage},
	} {
		_, err := alice.UploadSlot(ctx, c.req)
		if chat.ErrorCode(err) != c.code {
			t.Errorf("%s: %v, want %s", c.what, err, c.code)
		}
	}
	_, err := reader.UploadSlot(ctx, req(func(*chat.UploadRequest) {}))
	wantErr(t, "a read-only user uploads", err, chat.ErrForbidden)

	slot, err := alice.UploadSlot(ctx, req(func(*chat.UploadRequest) {}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = svc.Upload(ctx, slot.Token, bytes.NewReader(img[:10]), "")
	if chat.ErrorCode(err) != chat.CodeInvalidArgument {
		t.Fatalf("short body: %v", err)
	}
	_, err = svc.Upload(ctx, slot.Token, io.MultiReader(bytes.NewReader(img), strings.NewReader("more")), "")
	if chat.ErrorCode(err) != chat.CodeFileTooLarge {
		t.Fatalf("long body: %v", err)
	}
	pdf := append([]byte("%PDF-1.4\n"), make([]byte, len(img)-9)...)
	_, err = svc.Upload(ctx, slot.Token, bytes.NewReader(pdf), "")
	if chat.ErrorCode(err) != chat.CodeUnsupportedFile {
		t.Fatalf("a PDF named a.png: %v", err)
	}
	_, err = svc.Upload(ctx, slot.Token, bytes.NewReader(img), "image/gif")
	if chat.ErrorCode(err) != chat.CodeUnsupportedFile {
		t.Fatalf("Content-Type says gif: %v", err)
	}
	if n, _ := store.LastSeq(ctx, "pics"); n != 0 {
		t.Fatalf("refused uploads stored %d messages", n)
	}
	now = now.Add(16 * time.Minute)
	_, err = svc.Upload(ctx, slot.Token, bytes.NewReader(img), "")
	wantErr(t, "expired slot", err, chat.ErrForbidden)
}

func TestSessionSearch(t *testing.T) {
	svc := newService(t, chat.Config{})
	alice, bob, eve := connect(t, svc, "alice", false), connect(t, svc, "bob", false), connect(t, svc, "eve", false)
	join(t, alice, "general")
	join(t, eve, "general")
	send(t, alice, "general", "hello everyone")
	if _, err := alice.DirectMessage(ctx, "bob", "hello bob, the secret plan", ""); err != nil {
		t.Fatal(err)
	}
	team := connectIdentity(t, svc, &chat.Identity{Subject: "t", Nickname: "teamer", Rooms: []string{"team-*"}})
	join(t, team, "team-a")
	send(t, team, "team-a", "hello team 🎉 naïve héllo")

	texts := func(c client, p chat.SearchParams) []string {
		t.Helper()
		page, err := c.Search(ctx, p)
		if err != nil {
			t.Fatalf("%s searches %+v: %v", c.Nickname(), p, err)
		}
		var out []string
		for _, h := range page.Results {
			out = append(out, h.Message.Room+": "+h.Message.Text)
		}
		return out
	}
	if got := texts(eve, chat.SearchParams{Text: "hello"}); strings.Join(got, "|") != "team-a: hello team 🎉 naïve héllo|general: hello everyone" {
		t.Fatalf("eve (anonymous) finds %q: public rooms only, no DM of others", got)
	}
	if got := texts(bob, chat.SearchParams{Text: "secret"}); len(got) != 1 {
		t.Fatalf("bob finds his DM: %q", got)
	}
	if got := texts(team, chat.SearchParams{Text: "hello"}); strings.Join(got, "|") != "team-a: hello team 🎉 naïve héllo" {
		t.Fatalf("a user allowed team-* finds %q", got)
	}
	dm, _ := chat.DMRoom("alice", "bob")
	_, err := eve.Search(ctx, chat.SearchParams{Text: "secret", Room: dm})
	wantErr(t, "eve searches alice and bob's DM", err, chat.ErrForbidden)
	_, err = team.Search(ctx, chat.SearchParams{Text: "hello", Room: "general"})
	wantErr(t, "team searches general", err, chat.ErrForbidden)
	_, err = eve.Search(ctx, chat.SearchParams{Text: "!!! ..."})
	wantErr(t, "no words", err, chat.ErrInvalidArgument)

	// Highlights in UTF-16 units: 🎉 is two.
	page, err := eve.Search(ctx, chat.SearchParams{Text: "HÉL na", Room: "team-a"})
	if err != nil || len(page.Results) != 1 {
		t.Fatalf("search: %+v %v", page, err)
	}
	h := page.Results[0].Highlights.Text
	text := page.Results[0].Message.Text
	if len(h) != 2 || h[0] != [2]int{14, 16} || h[1] != [2]int{20, 23} {
		t.Fatalf("highlights %v in %q, want [[14 16] [20 23]] (naïve's 'na', héllo's 'hél')", h, text)
	}

	// Pages.
	for i := range 5 {
		send(t, alice, "general", "page "+strings.Repeat("x", i+1))
	}
	first, err := alice.Search(ctx, chat.SearchParams{Text: "page", Limit: 3})
	if err != nil || len(first.Results) != 3 || !first.More || first.Next == "" {
		t.Fatalf("first page: %+v %v", first, err)
	}
	second, err := alice.Search(ctx, chat.SearchParams{Text: "page", Limit: 3, Before: first.Next})
	if err != nil || len(second.Results) != 2 || second.More || second.Results[1].Message.Text != "page x" {
		t.Fatalf("second page: %+v %v", second, err)
	}
}
