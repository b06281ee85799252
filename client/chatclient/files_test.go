package chatclient_test

import (
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/banter-chat/banter/client"
	"github.com/banter-chat/banter/client/chatclient"
	"github.com/banter-chat/banter/internal/testutil"
)

// A file sent with SendFile reaches the room's members with a working
// download link; a file whose content lies about its type is refused; a
// search finds messages and files of the rooms one may read, never another
// user's DMs.
func TestFilesAndSearch(t *testing.T) {
	url := startApp(t)
	alice := dial(t, url, "alice", []string{"general"}, client.Config{})
	bob := dial(t, url, "bob", []string{"general"}, client.Config{Transports: []string{"websocket"}})
	eve := dial(t, url, "eve", []string{"general"}, client.Config{})
	dir := t.TempDir()
	notes := filepath.Join(dir, "release notes.txt")
	if err := os.WriteFile(notes, []byte("v2 ships on Friday\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := alice.SendFile(ctxT(t), "general", notes, "the notes")
	if err != nil {
		t.Fatal(err)
	}
	if a := m.Attachment; a == nil || a.Name != "release notes.txt" || a.Type != "text/plain" || a.Size != 19 || m.Text != "the notes" {
		t.Fatalf("sent %+v (attachment %+v)", m, m.Attachment)
	}
	var got chatclient.Message
	testutil.Eventually(t, waitTimeout, func() bool {
		return bob.has(func(ev chatclient.Event) bool {
			me, ok := ev.(chatclient.MessageEvent)
			if ok && me.Message.Attachment != nil {
				got = me.Message
			}
			return ok && me.Message.Attachment != nil
		})
	}, "bob gets the file")
	res, err := http.Get(got.Attachment.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(body) != "v2 ships on Friday\n" {
		t.Fatalf("GET %s: %d %q", got.Attachment.URL, res.StatusCode, body)
	}

	fake := filepath.Join(dir, "photo.png")
	if err := os.WriteFile(fake, []byte("<html><script>alert(1)</script></html>"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = alice.SendFile(ctxT(t), "general", fake, "")
	var ce *chatclient.Error
	if !errors.As(err, &ce) || ce.Code != "unsupported_file" {
		t.Fatalf("a disguised file: %v", err)
	}

	if _, err := alice.DM(ctxT(t), "bob", "our secret Friday plan"); err != nil {
		t.Fatal(err)
	}
	p, err := bob.Search(ctxT(t), "release note", "", "", 10)
	if err != nil || len(p.Results) != 1 || p.Results[0].Message.Attachment == nil || p.Results[0].Message.Attachment.URL == "" {
		t.Fatalf("bob's search for the file: %+v %v", p, err)
	}
	p, err = bob.Search(ctxT(t), "friday", "", "", 10)
	if err != nil || len(p.Results) != 1 || p.Results[0].Message.Text != "our secret Friday plan" {
		t.Fatalf("bob's search: %+v %v", p, err)
	}
	if h := p.Results[0].Highlights.Text; len(h) != 1 || h[0] != [2]int{11, 17} {
		t.Fatalf("highlights %v, want [[11 17]]", h)
	}
	p, err = eve.Search(ctxT(t), "secret", "", "", 10)
	if err != nil || len(p.Results) != 0 {
		t.Fatalf("eve finds alice and bob's DM: %+v %v", p, err)
	}
	_, err = eve.Search(ctxT(t), "secret", "dm:alice:bob", "", 10)
	if !errors.Is(err, chatclient.ErrForbidden) {
		t.Fatalf("eve searches their DM room: %v", err)
	}
}
