package web_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/banter-chat/banter/internal/testutil"
)

// Files and message state together on the page: a file sent while
// replying answers the message (its quote shown), a reply to the file
// quotes its name, a reaction and an edited caption keep the preview,
// search finds the caption, and the sender's deletion takes the file away
// on every page (preview, link, download, quote, search), also after a
// reload.
func TestChatFileMessageState(t *testing.T) {
	url, _ := startApp(t, newDB(t), nil)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), testutil.BrowserRunTimeout)
	defer cancel()
	rig := filepath.Join(testutil.RepoRoot(t), "test", "browser", "browser_rig.js")
	out, err := testutil.RunNode(t, ctx, rig, url, "chat_file_msgstate", "--screenshots", dir)
	if err != nil {
		t.Fatalf("browser rig: %v\n%s", err, out)
	}
	data, err := os.ReadFile(filepath.Join(dir, "file-msgstate-desktop-light.png"))
	if err != nil || !bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("screenshot missing or not a PNG (%v)", err)
	}
}
