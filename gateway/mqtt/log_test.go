package mqttgw_test

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/banter-chat/banter/chat"
	mqttgw "github.com/banter-chat/banter/gateway/mqtt"
	"github.com/mochi-mqtt/server/v2/packets"
)

// logBuffer collects log lines (text format, every level).
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Split(strings.TrimSpace(b.buf.String()), "\n")
}

// maxLogLine bounds every log line of the gateway.
const maxLogLine = 1024

// TestLogsCarryNoUserContent: no message body, password or token reaches a
// log line at any level, and every line is bounded whatever a client sends
// (a refused 5,000-byte publish wrote a 22 KB WARN line with the payload).
func TestLogsCarryNoUserContent(t *testing.T) {
	var logs logBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := startWith(t, chat.Config{Logger: logger, Authenticator: testTokens}, mqttgw.Config{Logger: logger})

	body := "BODY" + strings.Repeat("b", 5000)
	long := strings.Repeat("L", 5000)
	dm, _ := chat.DMRoom("bob", "carol")

	// Anonymous (no password), MQTT 5: refused publishes of every kind.
	a, _ := dial(t, e.addr, connectOpts{id: "a" + long, user: "alice5", clean: true, v: 5, password: ptr("")})
	a.subscribe(1, "banter/errors", "banter/rooms/"+long)
	for _, topic := range []string{"banter/rooms/" + dm, "$SYS/" + long, "banter/rooms/general/presence", "banter/rooms/general"} {
		if ack := a.publish(1, topic, body); ack.ReasonCode == 0 {
			t.Fatalf("publish to %.40q accepted", topic)
		}
	}
	a.publish(1, "banter/rooms/general", `{"text":"`+body+`","clientId":"`+long+`"}`)
	a.publish(1, "banter/history", `{"room":"`+long+`"}`)
	a.publish(1, "banter/dm", `{"to":"`+long+`","text":"`+body+`"}`)
	// A protocol error after a large packet.
	a.write(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, PacketID: 9,
		Filters: packets.Subscriptions{{Filter: "banter/rooms/" + long, Qos: 3}}})
	a.ended()

	// 3.1.1: a refused publish closes the connection.
	b, _ := dial(t, e.addr, connectOpts{id: "b3", user: "bob3", clean: true, password: ptr("")})
	b.write(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}, PacketID: 1,
		TopicName: "banter/rooms/" + dm, Payload: []byte(body)})
	b.ended()

	// Tokens and passwords: a forged token, an expired one, a password
	// where a username is a nickname of another user.
	for _, pw := range []string{"SECRETTOKEN-forged." + long, "expired"} {
		c, ack := dial(t, e.addr, connectOpts{id: "t", user: "tok", v: 5, password: ptr(pw)})
		if ack.ReasonCode == 0 {
			t.Fatal("bad token accepted")
		}
		c.ended()
	}
	if _, ack := dial(t, e.addr, connectOpts{id: "u", user: "SECRETUSER" + long, v: 5, password: ptr("alice")}); ack.ReasonCode == 0 {
		t.Fatal("a username that is not the token's accepted")
	}

	// A will whose body is performed after a lost connection.
	w, _ := dial(t, e.addr, connectOpts{id: "w", user: "willy", clean: true, password: ptr(""),
		willTopic: "banter/rooms/general", will: []byte("WILLBODY" + body)})
	w.subscribe(0, "banter/rooms/general")
	bob := e.chatUser("watcher", "general") // in the room before willy leaves it
	w.nc.Close()
	bob.next("willy's will or departure", func(ev *chat.Event) bool {
		return ev.Kind == chat.EventPresence && ev.Presence.Nickname == "willy" && ev.Presence.Action == chat.PresenceLeft
	})

	lines := logs.lines()
	if len(lines) < 10 {
		t.Fatalf("only %d log lines: the scenario did not run", len(lines))
	}
	for _, l := range lines {
		for _, secret := range []string{"BODY", "WILLBODY", "SECRETTOKEN", "hunter2", strings.Repeat("b", 200), strings.Repeat("L", 200)} {
			if strings.Contains(l, secret) {
				t.Errorf("log line carries %q: %.300s", secret[:min(len(secret), 20)], l)
			}
		}
		if len(l) > maxLogLine {
			t.Errorf("log line of %d bytes: %.300s…", len(l), l)
		}
	}
}
