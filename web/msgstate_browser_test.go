package web_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/banter-chat/banter/internal/testutil"
)

// Three people exercise message state on the page: links (safe) and
// mentions, reactions, a reply whose quote jumps to its original, an edit
// (the quote follows), "seen by", a deletion, unread and mention counts in
// the room list and the title, a notification while the page is hidden,
// the read marker kept across a reload, a page that was offline catching
// up with an edit and a reaction, and the polite notification offer. The
// screenshots it takes go to docs/img with BANTER_UPDATE_SCREENSHOTS=1.
func TestChatMessageState(t *testing.T) {
	url, _ := startApp(t, newDB(t), nil)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), testutil.BrowserRunTimeout)
	defer cancel()
	rig := filepath.Join(testutil.RepoRoot(t), "test", "browser", "browser_rig.js")
	out, err := testutil.RunNode(t, ctx, rig, url, "chat_msgstate", "--screenshots", dir)
	if err != nil {
		t.Fatalf("browser rig: %v\n%s", err, out)
	}
	shots := []string{"msgstate-desktop-light", "msgstate-phone-dark"}
	for _, name := range shots {
		data, err := os.ReadFile(filepath.Join(dir, name+".png"))
		if err != nil || !bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")) {
			t.Fatalf("screenshot %s missing or not a PNG (%v)", name, err)
		}
	}
	if os.Getenv("BANTER_UPDATE_SCREENSHOTS") != "1" {
		return
	}
	docs := filepath.Join(testutil.RepoRoot(t), "docs", "img")
	for _, name := range shots {
		if err := copyFile(filepath.Join(dir, name+".png"), filepath.Join(docs, "chat-"+name+".png")); err != nil {
			t.Fatal(err)
		}
	}
}
