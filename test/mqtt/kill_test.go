package mqtt_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/banter-chat/banter/internal/testutil"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testutil.RemoveBanterBinary()
	os.Exit(code)
}

var mqttLine = regexp.MustCompile(`Banter MQTT on 127\.0\.0\.1:(\d+)`)

// killSub is the MQTT.js subscriber of killsub.js: what it printed.
type killSub struct {
	mu       sync.Mutex
	seqOf    map[string]int64 // text → seq (each text must keep one seq)
	texts    map[int64]string
	connects int
	history  int // messages that came through the catch-up
	errs     []string
	lines    int
}

func (k *killSub) read(t *testing.T, sc *bufio.Scanner) {
	for sc.Scan() {
		var l struct {
			Event, Text, Message, Via string
			Seq                       int64
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Errorf("killsub.js printed %q", sc.Text())
			continue
		}
		k.mu.Lock()
		k.lines++
		switch {
		case l.Event == "connect":
			k.connects++
		case l.Event == "error":
			k.errs = append(k.errs, l.Message)
		case l.Event == "":
			if s, ok := k.seqOf[l.Text]; ok && s != l.Seq {
				t.Errorf("%q arrived with seq %d and %d: stored twice", l.Text, s, l.Seq)
			}
			if x, ok := k.texts[l.Seq]; ok && x != l.Text {
				t.Errorf("seq %d is %q and %q", l.Seq, x, l.Text)
			}
			if _, dup := k.seqOf[l.Text]; !dup && l.Via == "history" {
				k.history++
			}
			k.seqOf[l.Text] = l.Seq
			k.texts[l.Seq] = l.Text
		}
		k.mu.Unlock()
	}
}

func (k *killSub) count() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.seqOf)
}

// TestSIGKILLLosesNoAcknowledgedMessage: publishers send QoS 1 messages to
// a room while an MQTT.js client with a persistent session receives them
// at QoS 1; the broker (the banter binary) is killed with SIGKILL in the
// middle and restarted on its database. Every message whose PUBACK a
// publisher got (mosquitto_pub exits 0 only then) reaches the subscriber,
// live or, after the restart (which forgets MQTT sessions), through its
// history request; each is stored once (publishers resend with the same
// clientId) and the seqs have no gap. (Mosquitto, with persistence on,
// loses what it acknowledged since its last autosave: docs/reliability.md.)
func TestSIGKILLLosesNoAcknowledgedMessage(t *testing.T) {
	requireTool(t, "mosquitto_pub")
	testutil.RequireNode(t)
	db := filepath.Join(t.TempDir(), "banter.db")
	args := func(mqttAddr string) []string {
		return []string{"--addr", "127.0.0.1:0", "--mqtt", mqttAddr, "--db", db, "--rate-per-second", "1000", "--rate-burst", "1000"}
	}
	srv := testutil.StartBanter(t, args("127.0.0.1:0")...)
	var port string
	testutil.Eventually(t, 10*time.Second, func() bool {
		m := mqttLine.FindStringSubmatch(srv.Stderr.String())
		if m != nil {
			port = m[1]
		}
		return m != nil
	}, "banter logged its MQTT address")

	ctx, cancel := context.WithTimeout(context.Background(), 3*timeout)
	defer cancel()
	room := "sigkill"
	sub := exec.CommandContext(ctx, "node", "killsub.js", port, room)
	sub.Env = append(os.Environ(), "NODE_PATH="+testutil.NodeModules(t))
	stdout, err := sub.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	subErr := &testutil.LockedBuffer{}
	sub.Stderr = subErr
	if err := sub.Start(); err != nil {
		t.Fatal(err)
	}
	ks := &killSub{seqOf: map[string]int64{}, texts: map[int64]string{}}
	readDone := make(chan struct{})
	go func() { defer close(readDone); ks.read(t, bufio.NewScanner(stdout)) }()
	t.Cleanup(func() {
		_ = sub.Process.Kill()
		_ = sub.Wait()
		<-readDone
		if t.Failed() {
			t.Logf("killsub.js stderr:\n%s", subErr.String())
		}
	})
	testutil.Eventually(t, 30*time.Second, func() bool {
		m, _ := memberOf(srv.URL, room)
		return m
	}, "the MQTT.js subscriber joined %s", room)

	// Publishers: three client ids taking turns, each message retried with
	// the same clientId until a PUBACK comes. The broker is killed while
	// message 45 is being published, and restarted (same port, same
	// database) when a publish finds it gone.
	const total, killAt = 90, 45
	killed := make(chan struct{})
	var srv2 *testutil.Banter
	var acked []string
	failures := 0
	for i := range total {
		text := fmt.Sprintf("msg-%03d", i)
		payload := fmt.Sprintf(`{"text":%q,"clientId":%q}`, text, text)
		who := fmt.Sprintf("kpub%d", i%3)
		if i == killAt {
			go func() {
				_ = srv.Cmd.Process.Signal(syscall.SIGKILL)
				<-srv.Done()
				close(killed)
			}()
		}
		for try := 0; ; try++ {
			pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
			out, err := exec.CommandContext(pctx, "mosquitto_pub", "-h", "127.0.0.1", "-p", port, "-u", who, "-i", who,
				"-q", "1", "-t", "banter/rooms/"+room, "-m", payload).CombinedOutput()
			pcancel()
			if err == nil {
				acked = append(acked, text)
				break
			}
			failures++
			if try > 5 || i < killAt {
				t.Fatalf("%s: mosquitto_pub: %v %s", text, err, out)
			}
			select {
			case <-killed:
			case <-ctx.Done():
				t.Fatal(ctx.Err())
			}
			if srv2 == nil {
				srv2 = testutil.StartBanter(t, args("127.0.0.1:"+port)...)
			}
		}
	}
	if srv2 == nil {
		t.Fatal("no publish failed: the broker was not killed mid-traffic")
	}

	// Every acknowledged message reaches the subscriber, once per seq,
	// seqs 1..n without a gap.
	testutil.Eventually(t, 60*time.Second, func() bool { return ks.count() >= len(acked) }, "the subscriber has every acknowledged message")
	ks.mu.Lock()
	defer ks.mu.Unlock()
	for _, text := range acked {
		if _, ok := ks.seqOf[text]; !ok {
			t.Errorf("acknowledged %q never reached the subscriber", text)
		}
	}
	for seq := int64(1); seq <= int64(len(ks.texts)); seq++ {
		if _, ok := ks.texts[seq]; !ok {
			t.Errorf("seq %d missing (gap)", seq)
		}
	}
	if len(ks.seqOf) != total {
		t.Errorf("%d distinct messages, want %d", len(ks.seqOf), total)
	}
	if ks.connects < 2 {
		t.Errorf("the subscriber connected %d times: the kill did not cut it", ks.connects)
	}
	if ks.history == 0 {
		t.Errorf("no message came through the catch-up: the test did not exercise it")
	}
	t.Logf("%d acknowledged, %d publish attempts failed during the outage, subscriber connected %d times, %d messages by catch-up, errors %q",
		len(acked), failures, ks.connects, ks.history, ks.errs)
}

// memberOf reports whether the room's member list (REST) names the MQTT.js
// subscriber.
func memberOf(base, room string) (bool, error) {
	resp, err := http.Get(base + "/api/v1/rooms/" + room + "/members")
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return strings.Contains(string(b), `"killsub"`), err
}
