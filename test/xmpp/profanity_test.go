package xmpp_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tmuxProc drives a private tmux server (its own socket) for one test.
type tmuxProc struct {
	t    *testing.T
	sock string
}

func (x *tmuxProc) run(args ...string) string {
	x.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", x.sock}, args...)...).CombinedOutput()
	if err != nil {
		x.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func (x *tmuxProc) screen() string { return x.run("capture-pane", "-p", "-t", "main") }

func (x *tmuxProc) keys(s string) {
	x.run("send-keys", "-t", "main", "-l", s)
	x.run("send-keys", "-t", "main", "Enter")
}

// waitScreen waits until the screen holds want (10s).
func (x *tmuxProc) waitScreen(want string) {
	x.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		sc := x.screen()
		if strings.Contains(sc, want) {
			return
		}
		if time.Now().After(deadline) {
			x.t.Fatalf("the screen does not show %q:\n%s", want, sc)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// runProfanity logs alice in with profanity (full-screen, in tmux), joins
// a room, reads bob's message there and answers; the room's history then
// holds both. It returns what was observed.
func runProfanity(t *testing.T, tg *target) string {
	t.Helper()
	dir := t.TempDir()
	x := &tmuxProc{t: t, sock: filepath.Join(dir, "tmux.sock")}
	env := []string{"XDG_CONFIG_HOME=" + filepath.Join(dir, "cfg"), "XDG_DATA_HOME=" + filepath.Join(dir, "data"), "TERM=xterm-256color"}
	cmd := exec.Command("tmux", "-S", x.sock, "new-session", "-d", "-s", "main", "-x", "150", "-y", "40", "profanity")
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tmux: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("tmux", "-S", x.sock, "kill-server").Run() })
	x.waitScreen("Profanity")
	x.keys("/connect alice@localhost server " + tg.host + " port " + itoa(tg.port) + " tls trust")
	x.waitScreen("Enter password")
	x.keys(tg.password("alice"))
	x.waitScreen("logged in successfully")
	x.keys("/join tuiroom@rooms.localhost")
	x.waitScreen("You have joined the room as alice")
	sendxmpp(t, tg, "bob", "hello profanity", "-c", "-a", "bob", "tuiroom@rooms."+domain)
	x.waitScreen("bob: hello profanity")
	x.keys("hi from the terminal")
	x.waitScreen("alice: hi from the terminal")
	hist, err := scenarioArgs(t, tg, "history", []string{"--room", "tuiroom"}, "bob")
	if err != nil {
		t.Fatalf("%s: history: %v\n%s", tg.name, err, hist)
	}
	x.keys("/quit")
	return "profanity joined, saw bob's message, posted\n" + hist
}

// TestProfanity: the full-screen client profanity, driven in tmux,
// against prosody and Banter.
func TestProfanity(t *testing.T) {
	for _, bin := range []string{"profanity", "tmux", "go-sendxmpp"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s is not installed: run scripts/deps.sh", bin)
		}
	}
	prosody := startProsody(t)
	banter := startBanter(t)
	want := runProfanity(t, prosody)
	got := runProfanity(t, banter)
	if got != want {
		t.Errorf("outputs differ\n--- prosody:\n%s--- banter:\n%s", want, got)
	}
	t.Logf("output:\n%s", got)
}
