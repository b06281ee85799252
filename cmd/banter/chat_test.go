package main

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/banter-chat/banter/app"
	"github.com/banter-chat/banter/client/chatclient"
	"github.com/banter-chat/banter/internal/apptest"
	"github.com/banter-chat/banter/internal/testutil"
)

const chatWait = 20 * time.Second

// startChatServer runs the whole server in-process on a loopback port.
func startChatServer(t *testing.T) string {
	t.Helper()
	base, _ := apptest.Serve(t, app.Config{})
	return base
}

func runChat(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb buf
	ctx, cancel := context.WithTimeout(context.Background(), chatWait)
	defer cancel()
	code := chatMain(ctx, args, noEnv, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// TestChatLineMode: `echo hi | banter chat --nick bot --room general`
// posts, prints the echo, and exits 0; a watcher sees the message.
func TestChatLineMode(t *testing.T) {
	url := startChatServer(t)
	seen := make(chan chatclient.Message, 16)
	w, err := chatclient.Dial(context.Background(), url, chatclient.Config{
		Nickname: "watcher", Rooms: []string{"general"},
		OnEvent: func(ev chatclient.Event) {
			if m, ok := ev.(chatclient.MessageEvent); ok {
				seen <- m.Message
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()

	code, out, errOut := runChat(t, "hi\n", "--url", url, "--nick", "bot", "--room", "General")
	if code != exitOK || !strings.Contains(out, "[general] bot: hi\n") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	select {
	case m := <-seen:
		if m.From != "bot" || m.Text != "hi" || m.Seq != 1 {
			t.Fatalf("watcher saw %+v", m)
		}
	case <-time.After(chatWait):
		t.Fatal("the watcher did not see the message")
	}

	// Commands, a DM, and history printed on join; no --room: the default room.
	code, out, errOut = runChat(t, "/join random\nin random\n/dm watcher psst\n/rooms\n/quit\nnot sent\n", "--url", url, "--nick", "bot2")
	for _, want := range []string{"[general] bot: hi", "* joined random", "[random] bot2: in random", "[dm:bot2:watcher] bot2: psst", "general (1)", "random (1)"} {
		if !strings.Contains(out, want) {
			t.Errorf("line mode output lacks %q", want)
		}
	}
	if code != exitOK || strings.Contains(out, "not sent") {
		t.Fatalf("exit %d (after /quit nothing is sent)\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}

	// A line that cannot be posted makes the exit status 1.
	code, out, errOut = runChat(t, "/leave\norphan\n/nick\n/bogus\n", "--url", url, "--nick", "bot3", "--room", "general")
	if code != exitFailure || !strings.Contains(out, "! line 2 not sent: no room") || !strings.Contains(out, "! usage: /nick NAME") ||
		!strings.Contains(out, "! unknown command /bogus") || !strings.Contains(errOut, "1 line not sent: line 2: no room") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	// Bad command lines and an unreachable server.
	if code, _, errOut := runChat(t, "", "--url", url); code != exitUsage || !strings.Contains(errOut, "--nick is required") {
		t.Fatalf("no nick: %d %s", code, errOut)
	}
	if code, _, errOut := runChat(t, "", "--nick", "x", "extra"); code != exitUsage || !strings.Contains(errOut, "unexpected argument") {
		t.Fatalf("extra argument: %d %s", code, errOut)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String()
	ln.Close()
	if code, _, errOut := runChat(t, "hi\n", "--url", dead, "--nick", "x", "--timeout", "300ms"); code != exitFailure || !strings.Contains(errOut, "cannot start a session") || !strings.Contains(errOut, "nothing is listening") {
		t.Fatalf("unreachable: %d %s", code, errOut)
	}
	if code, _, errOut := runChat(t, "hi\n", "--url", url, "--nick", "Watcher"); code != exitFailure || !strings.Contains(errOut, "nickname is already in use: choose another nickname") {
		t.Fatalf("taken nickname: %d %s", code, errOut)
	}
}

// tmux drives a private tmux server (its own socket) for one test.
type tmux struct {
	t    *testing.T
	sock string
}

func (x *tmux) run(args ...string) (string, error) {
	out, err := exec.Command("tmux", append([]string{"-S", x.sock}, args...)...).CombinedOutput()
	return string(out), err
}

func (x *tmux) screen() string {
	out, _ := x.run("capture-pane", "-p", "-t", "chat")
	return out
}

// waitScreen waits until the screen shows every string of want.
func (x *tmux) waitScreen(what string, want ...string) {
	x.t.Helper()
	ok := false
	deadline := time.Now().Add(chatWait)
	for !ok && time.Now().Before(deadline) {
		s := x.screen()
		ok = true
		for _, w := range want {
			if !strings.Contains(s, w) {
				ok = false
			}
		}
		if !ok {
			time.Sleep(50 * time.Millisecond) // polling a screen: nothing to await
		}
	}
	if !ok {
		x.t.Fatalf("%s: screen does not show %q:\n%s", what, want, x.screen())
	}
}

// TestChatTUI runs the banter binary's full-screen chat in tmux next to a
// socket.io-client user and checks what the screen shows.
func TestChatTUI(t *testing.T) {
	testutil.RequireNode(t)
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatalf("tmux is not installed (scripts/deps.sh installs it): %v", err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "banter")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	url := startChatServer(t)
	x := &tmux{t: t, sock: filepath.Join(dir, "tmux.sock")}
	cmdline := bin + " chat --url " + url + " --nick alice --room general"
	if out, err := x.run("-f", "/dev/null", "new-session", "-d", "-s", "chat", "-x", "110", "-y", "30",
		"env", "TERM=xterm-256color", "sh", "-c", cmdline+"; echo EXITED $?; sleep 30"); err != nil {
		t.Fatalf("tmux: %v %s", err, out)
	}
	t.Cleanup(func() { _, _ = x.run("kill-server") })
	x.waitScreen("start", "alice @ "+url, "connected", "#general", "alice")

	peerDone := make(chan string, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		out, err := testutil.RunNode(t, ctx, "testdata/chatpeer.js", url)
		if err != nil {
			out += "\n" + err.Error()
		}
		peerDone <- out
	}()
	x.waitScreen("bob's message", "bob: hello from bob", "bob is typing")
	x.waitScreen("bob online", " bob")

	if _, err := x.run("send-keys", "-t", "chat", "-l", "hi from alice"); err != nil {
		t.Fatal(err)
	}
	x.run("send-keys", "-t", "chat", "Enter")
	x.waitScreen("own message", "alice: hi from alice")
	x.run("send-keys", "-t", "chat", "-l", "/dm bob psst")
	x.run("send-keys", "-t", "chat", "Enter")
	x.waitScreen("DM room", "@bob", "alice: psst")
	t.Logf("screen after the DM:\n%s", x.screen())

	var rep struct {
		OK     bool
		Error  string
		Checks []string
	}
	select {
	case out := <-peerDone:
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &rep); err != nil || !rep.OK {
			t.Fatalf("peer: %v %+v\n%s", err, rep, out)
		}
	case <-time.After(90 * time.Second):
		t.Fatal("peer did not finish")
	}
	x.run("send-keys", "-t", "chat", "-l", "/help")
	x.run("send-keys", "-t", "chat", "Enter")
	x.waitScreen("help", "/join ROOM")
	x.run("send-keys", "-t", "chat", "-l", "/quit")
	x.run("send-keys", "-t", "chat", "Enter")
	// The alternate screen is left and the shell prints the exit status.
	x.waitScreen("quit", "EXITED 0")
	if s := x.screen(); strings.Contains(s, "Online") {
		t.Fatalf("the UI is still on screen after /quit:\n%s", s)
	}
	_ = os.Remove(bin)
}
