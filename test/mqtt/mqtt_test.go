// Package mqtt_test runs real MQTT clients against the whole server:
// MQTT.js (npm mqtt, over TCP and WebSocket), mosquitto_pub and
// mosquitto_sub (Debian mosquitto-clients), next to a socket.io-client user.
package mqtt_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/banter-chat/banter/app"
	"github.com/banter-chat/banter/internal/apptest"
	"github.com/banter-chat/banter/internal/testutil"
)

const timeout = 90 * time.Second

// startApp runs the whole server with MQTT on a random port (Mosquitto may
// hold 1883 on this machine) and returns the HTTP URL and the MQTT port.
func startApp(t *testing.T) (*app.App, string, string) {
	t.Helper()
	base, a := apptest.Serve(t, app.Config{MQTTAddr: "127.0.0.1:0"})
	_, port, _ := net.SplitHostPort(a.MQTTAddr().String())
	return a, base, port
}

func requireTool(t *testing.T, name string) {
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s not installed (scripts/deps.sh installs mosquitto-clients)", name)
	}
}

// TestRealClientsShareARoom: mosquitto_sub listens while socket.io-client,
// MQTT.js over TCP and over WebSocket, and mosquitto_pub each send one
// message to the same room (rooms.js).
func TestRealClientsShareARoom(t *testing.T) {
	requireTool(t, "mosquitto_sub")
	requireTool(t, "mosquitto_pub")
	testutil.RequireNode(t)
	a, url, port := startApp(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	sub := startSub(t, ctx, a, port, "mosqsub", "lobby", "-V", "mqttv311", "-q", "1", "-t", "banter/rooms/lobby", "-C", "4", "-v")

	out, err := testutil.RunNode(t, ctx, "rooms.js", url, port)
	var rep struct {
		OK     bool
		Error  string
		Checks []string
	}
	if jerr := json.Unmarshal([]byte(lastLine(out)), &rep); jerr != nil || err != nil || !rep.OK {
		t.Fatalf("rooms.js: %v %s\nchecks: %v\nstdout %s", err, rep.Error, rep.Checks, out)
	}
	t.Logf("rooms.js: %s", strings.Join(rep.Checks, "; "))

	lines := sub.wait(t)
	var texts []string
	for _, l := range lines {
		topic, payload, _ := strings.Cut(l, " ")
		var m struct{ Text, From string }
		if topic != "banter/rooms/lobby" || json.Unmarshal([]byte(payload), &m) != nil {
			t.Fatalf("mosquitto_sub printed %q", l)
		}
		texts = append(texts, m.Text)
	}
	slices.Sort(texts)
	want := []string{"from mosquitto_pub", "from mqtt tcp", "from mqtt ws", "from socket.io"}
	if !slices.Equal(texts, want) {
		t.Fatalf("mosquitto_sub got %q, want %q", texts, want)
	}
}

// TestMosquittoPersistentSessionCatchUp: mosquitto_sub with a persistent
// session (-c) receives, when it comes back, what was sent while it was
// away; QoS 1 delivery survives the reconnect.
func TestMosquittoPersistentSessionCatchUp(t *testing.T) {
	requireTool(t, "mosquitto_sub")
	requireTool(t, "mosquitto_pub")
	a, _, port := startApp(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	subArgs := []string{"-h", "127.0.0.1", "-p", port, "-u", "away", "-i", "away-phone", "-c", "-q", "1",
		"-t", "banter/rooms/news"}
	// First visit: subscribe, receive one message, leave (-C 1).
	first := exec.CommandContext(ctx, "mosquitto_sub", append(subArgs, "-C", "1")...)
	var out1 bytes.Buffer
	first.Stdout = &out1
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 20*time.Second, func() bool {
		m, _ := a.Service().Members("news")
		return slices.Contains(m, "away")
	}, "mosquitto_sub joined news")
	pub := func(text string) {
		t.Helper()
		if out, err := exec.CommandContext(ctx, "mosquitto_pub", "-h", "127.0.0.1", "-p", port, "-u", "poster",
			"-i", "poster", "-q", "1", "-t", "banter/rooms/news", "-m", text).CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_pub: %v %s", err, out)
		}
	}
	pub("before")
	if err := first.Wait(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out1.String(), `"text":"before"`) {
		t.Fatalf("first visit got %q", out1.String())
	}
	testutil.Eventually(t, 20*time.Second, func() bool {
		_, online := a.Service().Lookup("away")
		return !online
	}, "away went offline")
	pub("while away 1")
	pub("while away 2")
	pub("while away 3")

	// Back: without subscribing again, the session brings them, in order.
	// If the first visit's PUBACK of "before" was lost, "before" comes
	// first again (QoS 1 is at least once; mosquitto_sub -C 1 may leave
	// before acknowledging).
	second := exec.CommandContext(ctx, "mosquitto_sub", "-h", "127.0.0.1", "-p", port, "-u", "away",
		"-i", "away-phone", "-c", "-q", "1", "-t", "banter/rooms/news", "-C", "3")
	var out2, err2 bytes.Buffer
	second.Stdout, second.Stderr = &out2, &err2
	if err := second.Run(); err != nil {
		t.Fatalf("second visit: %v %s", err, err2.String())
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(out2.String()), "\n") {
		var m struct{ Text string }
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("second visit printed %q", l)
		}
		got = append(got, m.Text)
	}
	if len(got) > 0 && got[0] == "before" {
		got = got[1:]
	}
	want := []string{"while away 1", "while away 2", "while away 3"}
	if len(got) == 0 || !slices.Equal(got, want[:len(got)]) {
		t.Fatalf("second visit got %q, want %q", got, want)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// subscriber is a mosquitto_sub process.
type subscriber struct {
	cmd      *exec.Cmd
	out, err bytes.Buffer
}

// startSub runs mosquitto_sub on port as user (also its client id) with
// args (topic, QoS, count…), and waits until user is a member of room.
func startSub(t *testing.T, ctx context.Context, a *app.App, port, user, room string, args ...string) *subscriber {
	t.Helper()
	s := &subscriber{}
	s.cmd = exec.CommandContext(ctx, "mosquitto_sub", append([]string{"-h", "127.0.0.1", "-p", port, "-u", user, "-i", user}, args...)...)
	s.cmd.Stdout, s.cmd.Stderr = &s.out, &s.err
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.cmd.Process.Kill(); _ = s.cmd.Wait() })
	testutil.Eventually(t, 20*time.Second, func() bool {
		m, _ := a.Service().Members(room)
		return slices.Contains(m, user)
	}, "mosquitto_sub (%s) joined %s", user, room)
	return s
}

// wait waits for mosquitto_sub to exit (its -C count reached) and returns
// its output lines.
func (s *subscriber) wait(t *testing.T) []string {
	t.Helper()
	if err := s.cmd.Wait(); err != nil {
		t.Fatalf("mosquitto_sub: %v\n%s", err, s.err.String())
	}
	return strings.Split(strings.TrimSpace(s.out.String()), "\n")
}
