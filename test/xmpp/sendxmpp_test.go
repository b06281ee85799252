package xmpp_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/banter-chat/banter/internal/testutil"
)

var selfPresence = regexp.MustCompile(`<presence[^>]* from=['"]bob@`)

// sendxmpp runs go-sendxmpp (Debian) as user against tg with the message
// on its standard input.
func sendxmpp(t *testing.T, tg *target, user, msg string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go-sendxmpp", append([]string{"-u", user + "@" + domain, "-p", tg.password(user),
		"-j", tg.host + ":" + strconv.Itoa(tg.port), "-n"}, args...)...)
	cmd.Stdin = strings.NewReader(msg)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: go-sendxmpp %v: %v\n%s", tg.name, args, err, out)
	}
}

// TestGoSendxmpp: go-sendxmpp sends a DM to a listening go-sendxmpp and a
// message to a room; the room's history and archive (read with slixmpp)
// hold it. Run against prosody and Banter, the outputs compared.
func TestGoSendxmpp(t *testing.T) {
	if _, err := exec.LookPath("go-sendxmpp"); err != nil {
		t.Fatal("go-sendxmpp is not installed: run scripts/deps.sh")
	}
	run := func(tg *target) string {
		// bob listens; it prints "time from: body" lines.
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var out, debug testutil.LockedBuffer
		listen := exec.CommandContext(ctx, "go-sendxmpp", "-d", "-u", "bob@"+domain, "-p", tg.password("bob"),
			"-j", tg.host+":"+strconv.Itoa(tg.port), "-n", "-l")
		listen.Stdout, listen.Stderr = &out, &debug // -d writes the XML to stderr
		if err := listen.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- listen.Wait() }()
		// Online once the server reflected its initial presence.
		t0 := time.Now()
		online := false
		deadline := time.Now().Add(30 * time.Second)
		for !online && time.Now().Before(deadline) {
			select {
			case err := <-exited:
				t.Fatalf("%s: the listener exited: %v\n%s%s", tg.name, err, debug.String(), out.String())
			case <-time.After(20 * time.Millisecond):
			}
			online = selfPresence.MatchString(debug.String()) // attributes in any order (prosody's vary)
		}
		if !online {
			log, _ := os.ReadFile(tg.logFile)
			st, err := os.Stat(tg.logFile)
			ps, _ := exec.Command("sh", "-c", fmt.Sprintf("ss -tnp | grep :%d; ps -o pid,stat,etime,cmd -p %d", tg.port, listen.Process.Pid)).CombinedOutput()
			t.Fatalf("%s: listener not online; log %v %v:\n%s\n%s\ndebug: %s", tg.name, st.Size(), err, log, ps, debug.String())
		}
		t.Logf("%s: the listener was online after %v", tg.name, time.Since(t0).Round(time.Millisecond))
		sendxmpp(t, tg, "alice", "hello from go-sendxmpp", "bob@"+domain)
		sendxmpp(t, tg, "alice", "to the room", "-c", "-a", "alice", "sendroom@rooms."+domain)
		hist, err := scenarioArgs(t, tg, "history", []string{"--room", "sendroom"}, "bob")
		if err != nil {
			t.Fatalf("%s: history: %v\n%s", tg.name, err, hist)
		}
		testutil.Eventually(t, 10*time.Second, func() bool { return strings.Contains(out.String(), "hello from go-sendxmpp") },
			"the DM at bob's listener on "+tg.name)
		cancel()
		<-exited
		// "2026-12-08T03:12:43Z alice@localhost: hello": drop the time.
		line := out.String()
		if i := strings.Index(line, " "); i >= 0 {
			line = line[i+1:]
		}
		return "listener: " + line + hist
	}
	prosody := startProsody(t)
	banter := startBanter(t)
	want := run(prosody)
	got := run(banter)
	if got != want {
		t.Errorf("outputs differ\n--- prosody:\n%s--- banter:\n%s", want, got)
	}
	t.Logf("output:\n%s", got)
}
