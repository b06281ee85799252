package web_test

// Real-browser tests of the chat page: the whole server (app.New: SQLite,
// chat, Socket.IO, gateway, this page) runs in-process on a loopback port and
// headless Chromium drives two pages through test/browser/browser_rig.js and
// the scenarios in test/browser/scenarios/chat_*.json.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/banter-chat/banter/app"
	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/internal/testutil"
)

// syncBuffer collects the server's log; it is printed only if the test fails.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startApp serves a fresh Banter (its database in dbPath) on ln, or on a new
// loopback port when ln is nil, and returns its URL and the app; opts adjust
// its settings. Cleanup shuts it down (a test may do so earlier).
func startApp(t *testing.T, dbPath string, ln net.Listener, opts ...func(*app.Config)) (string, *app.App) {
	t.Helper()
	logs := &syncBuffer{}
	cfg := app.Config{
		Addr:   "127.0.0.1:0",
		DBPath: dbPath,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, o := range opts {
		o(&cfg)
	}
	a, err := app.New(cfg)
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	if ln == nil {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("listen: %v", err)
		}
	}
	served := make(chan error, 1)
	go func() { served <- a.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return "http://" + ln.Addr().String(), a
}

func newDB(t *testing.T) string {
	return filepath.Join(t.TempDir(), "banter.db")
}

// Two people sign in, see each other online, see each other type, chat
// (including an HTML injection attempt, which shows as text), reload and get
// the history, and exchange direct messages that stay out of #general.
func TestChatTwoUsers(t *testing.T) {
	url, _ := startApp(t, newDB(t), nil)
	res := testutil.RunBrowserScenario(t, url, "chat_two_users")
	want := []any{"Hello Bob, how are you?", "<img src=x onerror=alert(1)> fine, and you?", "Great. Shall we try a direct message?\nTwo lines, even."}
	if got := res.Results["historyAfterReload"]; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("history after reload = %q, want %q", got, want)
	}
}

// A page whose connection drops misses messages, queues one of its own, and
// on reconnecting shows every message once, in order, without gaps.
func TestChatReconnectCatchUp(t *testing.T) {
	url, _ := startApp(t, newDB(t), nil)
	testutil.RunBrowserScenario(t, url, "chat_reconnect")
}

// The server stops (every client hears "bye: shutdown") and a new one starts
// on the same port and database: the pages reconnect by themselves, history
// survives, and a page that was offline across the restart catches up on what
// it missed, once.
func TestChatServerRestart(t *testing.T) {
	testutil.RequireNode(t)
	db := newDB(t)
	url, first := startApp(t, db, nil)
	addr := strings.TrimPrefix(url, "http://")

	rig := make(chan error, 1)
	go func() {
		_, err := testutil.RunBrowser(t, url, "chat_restart")
		rig <- err
	}()
	// The scenario's first part is done when Ivy has gone offline and Hank's
	// message is stored; the rig then waits for Hank's second session.
	ready := func() bool {
		users := first.Service().Users()
		if len(users) != 1 || users[0].Nickname != "Hank" {
			return false
		}
		rooms, err := first.Service().Rooms(context.Background())
		return err == nil && slices.ContainsFunc(rooms, func(r chat.RoomInfo) bool { return r.Name == "general" && r.LastSeq == 1 })
	}
	deadline := time.Now().Add(testutil.BrowserRunTimeout)
	for !ready() {
		select {
		case err := <-rig:
			t.Fatalf("browser rig ended before the restart: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the scenario never reached the restart point; rig: %v", <-rig)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := first.Shutdown(ctx); err != nil {
		t.Errorf("first server's Shutdown: %v", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		<-rig
		t.Fatalf("listen again on %s: %v", addr, err)
	}
	startApp(t, db, ln)
	if err := <-rig; err != nil {
		t.Fatal(err)
	}
}

// A newcomer gets the latest page on join and older pages when scrolling up.
func TestChatHistoryPaging(t *testing.T) {
	url, _ := startApp(t, newDB(t), nil)
	testutil.RunBrowserScenario(t, url, "chat_history")
}

// The page takes screenshots of itself at desktop and phone sizes in light
// and dark mode. With BANTER_UPDATE_SCREENSHOTS=1 the ones the README shows
// are copied to docs/img/.
func TestChatScreenshots(t *testing.T) {
	url, _ := startApp(t, newDB(t), nil)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), testutil.BrowserRunTimeout)
	defer cancel()
	rig := filepath.Join(testutil.RepoRoot(t), "test", "browser", "browser_rig.js")
	// RunBrowser deletes its screenshots on success: run the rig directly so
	// they stay in dir.
	out, err := testutil.RunNode(t, ctx, rig, url, "chat_screenshots", "--screenshots", dir)
	if err != nil {
		t.Fatalf("browser rig: %v\n%s", err, out)
	}
	shots := []string{"signin-desktop-light", "chat-desktop-light", "chat-desktop-dark", "chat-phone-dark", "drawer-phone-dark", "drawer-phone-light"}
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
	if err := os.MkdirAll(docs, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"chat-desktop-light", "chat-phone-dark"} {
		if err := copyFile(filepath.Join(dir, name+".png"), filepath.Join(docs, name+".png")); err != nil {
			t.Fatal(err)
		}
	}
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// Three people share files and search: an image through the attach button
// (previewed at its size before it loads, loaded with the file token), a
// text file dropped on the room (served with nosniff, its name as
// Content-Disposition and a sandboxing CSP), a disguised SVG refused with a
// reason, a DM between two of them that the third cannot find, and a search
// result that jumps to a message older than the page's first page. With
// BANTER_UPDATE_SCREENSHOTS=1 the screenshots go to docs/img/.
func TestChatFilesAndSearch(t *testing.T) {
	url, _ := startApp(t, newDB(t), nil)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), testutil.BrowserRunTimeout)
	defer cancel()
	rig := filepath.Join(testutil.RepoRoot(t), "test", "browser", "browser_rig.js")
	out, err := testutil.RunNode(t, ctx, rig, url, "chat_files", "--screenshots", dir)
	if err != nil {
		t.Fatalf("browser rig: %v\n%s", err, out)
	}
	for _, name := range []string{"files-desktop-light", "search-desktop-light"} {
		data, err := os.ReadFile(filepath.Join(dir, name+".png"))
		if err != nil || !bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")) {
			t.Fatalf("screenshot %s missing or not a PNG (%v)", name, err)
		}
		if os.Getenv("BANTER_UPDATE_SCREENSHOTS") == "1" {
			if err := copyFile(filepath.Join(dir, name+".png"), filepath.Join(testutil.RepoRoot(t), "docs", "img", name+".png")); err != nil {
				t.Fatal(err)
			}
		}
	}
}
