package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/banter-chat/banter/app"
	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/client/chatclient"
	"github.com/banter-chat/banter/internal/apptest"
	"github.com/banter-chat/banter/internal/testutil"
	"github.com/banter-chat/banter/sqlite"
)

// oldEscapes is a message stored before the server refused control
// characters: colours, a bell, a screen clear and a window title.
const oldEscapes = "\x1b[31mred\x1b[0m\a\x1b[2J\x1b]0;pwned\a"

// startServerWithHistory serves an app whose database already holds
// oldEscapes in general, sent by "oldtimer" (history predating the rule).
func startServerWithHistory(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "banter.db")
	db, err := sqlite.Open(path, sqlite.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Append(context.Background(), chat.Draft{Room: "general", Sender: "oldtimer", Text: oldEscapes}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	base, _ := apptest.Serve(t, app.Config{DBPath: path})
	return base
}

// history returns the texts stored in room.
func history(t *testing.T, url, room string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), chatWait)
	defer cancel()
	c, err := chatclient.Dial(ctx, url, chatclient.Config{Nickname: "reader-" + time.Now().Format("150405.000000")})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msgs, err := c.History(ctx, room, 0, 200)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		out = append(out, m.Text)
	}
	return out
}

// TestChatLineModeUntrusted: line mode never writes a control character
// from a peer, prefixes every line of a multi-line message, refuses an
// oversized line with its number and size (not its text), and says what
// happened when there was nothing to send (issue 19, items 3 and 13).
func TestChatLineModeUntrusted(t *testing.T) {
	url := startServerWithHistory(t)

	// History with escapes, and a multi-line message from a peer.
	peer, err := chatclient.Dial(context.Background(), url, chatclient.Config{Nickname: "peer", Rooms: []string{"general"}})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	if _, err := peer.Send(context.Background(), "general", "first line\nsecond line\n\tindented"); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runChat(t, "", "--url", url, "--nick", "reader", "--room", "general")
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if strings.ContainsAny(out+errOut, "\x1b\a") {
		t.Fatalf("line mode wrote control characters:\n%q", out)
	}
	for _, want := range []string{
		"[general] oldtimer: ␛[31mred␛[0m␇␛[2J␛]0;pwned␇\n",
		"[general] peer: first line\n[general] peer: second line\n[general] peer: \tindented\n",
		"* end of input: nothing was sent",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}

	// An oversized line: not sent, the reason and line number on stderr,
	// not the text; the lines around it are sent; exit status 1.
	big := strings.Repeat("x", 5000)
	code, out, errOut = runChat(t, "before\n"+big+"\nafter\n", "--url", url, "--nick", "bigsender", "--room", "general")
	if code != exitFailure || strings.Contains(out+errOut, "xxxxxxxxxx") {
		t.Fatalf("exit %d, want 1 without echoing the text\nstdout:\n%.500s\nstderr:\n%.500s", code, out, errOut)
	}
	for _, want := range []string{"line 2", "5000 bytes", "4096"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if !strings.Contains(out, "[general] bigsender: after") {
		t.Errorf("the line after the oversized one was not sent:\n%s", out)
	}
	texts := history(t, url, "general")
	if strings.Join(texts[len(texts)-2:], ",") != "before,after" {
		t.Errorf("stored %q", texts)
	}

	// A line longer than any buffer: the same, and reading goes on.
	huge := strings.Repeat("y", 3<<20)
	code, _, errOut = runChat(t, huge+"\nlast\n", "--url", url, "--nick", "hugesender", "--room", "general")
	if code != exitFailure || !strings.Contains(errOut, "line 1") || strings.Contains(errOut, "yyyyyyyyyy") {
		t.Fatalf("huge line: exit %d\nstderr:\n%.500s", code, errOut)
	}
	if texts := history(t, url, "general"); texts[len(texts)-1] != "last" {
		t.Errorf("after a huge line, stored %q", texts[len(texts)-1])
	}
}

// TestChatTUIInput runs the full-screen client in tmux: words that are key
// names arrive in one chunk and are sent as typed, a message over the
// server's limit is refused with the reason and kept for editing, and
// history with escape sequences is shown as visible symbols (issue 19,
// items 3 and 12).
func TestChatTUIInput(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatalf("tmux is not installed (scripts/deps.sh installs it): %v", err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "banter")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	url := startServerWithHistory(t)
	x := &tmux{t: t, sock: filepath.Join(dir, "tmux.sock")}
	cmdline := bin + " chat --url " + url + " --nick alice --room general"
	if out, err := x.run("-f", "/dev/null", "new-session", "-d", "-s", "chat", "-x", "120", "-y", "30",
		"env", "TERM=xterm-256color", "LANG=C.UTF-8", "sh", "-c", cmdline+"; echo EXITED $?; sleep 30"); err != nil {
		t.Fatalf("tmux: %v %s", err, out)
	}
	t.Cleanup(func() { _, _ = x.run("kill-server") })
	x.waitScreen("start", "alice @ "+url, "#general")
	// The stored escapes are shown, not executed (a cleared screen or a
	// colour would leave no "␛[31m" on it).
	x.waitScreen("history", "oldtimer: ␛[31mred␛[0m␇␛[2J␛]0;pwned␇")

	// tmux send-keys without -l: one chunk of text, as a fast typist or a
	// non-bracketed paste delivers it.
	for _, text := range []string{"up and down and left", "home end delete backspace tab enter"} {
		x.run("send-keys", "-t", "chat", text)
		x.run("send-keys", "-t", "chat", "Enter")
		x.waitScreen("own message", "alice: "+text)
	}
	texts := history(t, url, "general")
	if got := strings.Join(texts[len(texts)-2:], "|"); got != "up and down and left|home end delete backspace tab enter" {
		t.Fatalf("stored %q", got)
	}

	// Over the server's limit (4096 bytes): refused with the reason, and
	// the text stays in the input.
	long := strings.Repeat("z", 4100)
	x.run("send-keys", "-t", "chat", "-l", long)
	x.run("send-keys", "-t", "chat", "Enter")
	x.waitScreen("refusal", "4100 bytes", "4096")
	x.run("send-keys", "-t", "chat", "BSpace", "BSpace", "BSpace", "BSpace", "Enter")
	testutil.Eventually(t, chatWait, func() bool {
		texts := history(t, url, "general")
		return texts[len(texts)-1] == long[:4096]
	}, "the shortened message (4096 bytes) was not stored")
	x.run("send-keys", "-t", "chat", "-l", "/quit")
	x.run("send-keys", "-t", "chat", "Enter")
	x.waitScreen("quit", "EXITED 0")
}
