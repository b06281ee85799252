package app_test

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/banter-chat/banter/app"
	"github.com/banter-chat/banter/internal/apptest"
)

// TestIdleWebSocketGatewaysHoldNoGoroutine: WebSocket connections to /mqtt
// (an MQTT client past CONNECT) and /ws through the app's own listener
// (whose first bytes the event loop reads before handing the request to
// net/http) end up on an event loop: no goroutine per idle connection.
func TestIdleWebSocketGatewaysHoldNoGoroutine(t *testing.T) {
	base, _ := apptest.Serve(t, app.Config{})
	addr := strings.TrimPrefix(base, "http://")
	const n = 40
	// Warm up: the loops, workers and sweepers exist from the first one.
	for _, path := range []string{"/mqtt", "/ws"} {
		c := wsDial(t, addr, path)
		if path == "/mqtt" {
			mqttConnectWS(t, c, "warm")
		}
		c.Close()
	}
	before := runtime.NumGoroutine()
	var held []net.Conn
	for i := range n {
		c := wsDial(t, addr, "/mqtt")
		mqttConnectWS(t, c, fmt.Sprintf("idle%d", i))
		held = append(held, c, wsDial(t, addr, "/ws"))
	}
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	// The HTTP handlers that upgraded them have returned; nothing else
	// runs for them.
	var now int
	if !pollFor(10*time.Second, func() bool { now = runtime.NumGoroutine(); return now < before+n/2 }) {
		t.Fatalf("%d goroutines with %d idle /mqtt and %d idle /ws connections, %d before", now, n, n, before)
	}
}

func pollFor(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); ; {
		if cond() {
			return true
		}
		if time.Now().After(end) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// wsDial opens a WebSocket to path (subprotocol mqtt) over a raw
// connection, reading nothing past the 101's head.
func wsDial(t *testing.T, addr, path string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	var key [16]byte
	_, _ = rand.Read(key[:])
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n",
		path, addr, base64.StdEncoding.EncodeToString(key[:]))
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReaderSize(oneByte{c}, 16), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("%s: %s", path, resp.Status)
	}
	_ = c.SetReadDeadline(time.Time{})
	return c
}

// oneByte reads a byte at a time: nothing after the response head is taken
// from the connection.
type oneByte struct{ r io.Reader }

func (o oneByte) Read(b []byte) (int, error) { return o.r.Read(b[:1]) }

// mqttConnectWS sends an MQTT 3.1.1 CONNECT in a masked binary frame and
// reads the CONNACK's frame.
func mqttConnectWS(t *testing.T, c net.Conn, id string) {
	t.Helper()
	body := []byte{0, 4, 'M', 'Q', 'T', 'T', 4, 0x82, 0, 60, 0, byte(len(id))}
	body = append(body, id...)
	body = append(body, 0, byte(len(id)))
	body = append(body, id...)
	pkt := append([]byte{0x10, byte(len(body))}, body...)
	frame := []byte{0x82, 0x80 | byte(len(pkt)), 1, 2, 3, 4}
	for i, b := range pkt {
		frame = append(frame, b^[]byte{1, 2, 3, 4}[i%4])
	}
	if _, err := c.Write(frame); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, 6)
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if got[0] != 0x82 || got[1] != 4 || got[2] != 0x20 || got[5] != 0 {
		t.Fatalf("CONNACK frame % x", got)
	}
	_ = c.SetReadDeadline(time.Time{})
}
