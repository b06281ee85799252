package engineio_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/banter-chat/banter/engineio"
	"github.com/banter-chat/banter/internal/testutil"
	"github.com/coder/websocket"
)

// Heartbeat tests use short intervals so they finish fast, and only assert
// outcomes (a session survives N heartbeats, or ends with "ping timeout"),
// never durations. Where a client must answer in time, PingTimeout is
// generous so a loaded machine does not fail the test.

// v4: the server pings; a client that answers stays, one that does not is
// closed with "ping timeout".
func TestHeartbeatV4WebSocket(t *testing.T) {
	h := start(t, engineio.Config{PingInterval: 50 * time.Millisecond, PingTimeout: 2 * time.Second})
	c := h.dial("EIO=4&transport=websocket")
	_, _, _ = wsRead(t, c)
	sess := h.nextSession()
	for range 5 {
		wsExpect(t, c, "2")
		wsWrite(t, c, websocket.MessageText, "3")
	}
	if sess.s.Closed() {
		t.Fatal("a session that answers every ping was closed")
	}

	h2 := start(t, engineio.Config{PingInterval: 50 * time.Millisecond, PingTimeout: 50 * time.Millisecond})
	c2 := h2.dial("EIO=4&transport=websocket")
	_, _, _ = wsRead(t, c2)
	sess2 := h2.nextSession()
	wsExpect(t, c2, "2") // and never answer
	expectClosed(t, sess2, engineio.ReasonPingTimeout)
	if _, f, err := wsRead(t, c2); err == nil {
		t.Fatalf("connection open after ping timeout (frame %q)", f)
	}
}

func TestHeartbeatV4Polling(t *testing.T) {
	h := start(t, engineio.Config{PingInterval: 50 * time.Millisecond, PingTimeout: 2 * time.Second})
	op, sess := h.handshakeV4()
	q := pollQuery(4, op.SID)
	for range 3 {
		if _, body := h.get(q); string(body) != "2" {
			t.Fatalf("GET %q, want a ping", body)
		}
		if st, _ := h.post(q, "3"); st != http.StatusOK {
			t.Fatalf("POST pong: %d", st)
		}
	}
	if sess.s.Closed() {
		t.Fatal("a session that answers every ping was closed")
	}

	h2 := start(t, engineio.Config{PingInterval: 50 * time.Millisecond, PingTimeout: 50 * time.Millisecond})
	op2, sess2 := h2.handshakeV4()
	if _, body := h2.get(pollQuery(4, op2.SID)); string(body) != "2" {
		t.Fatalf("GET %q, want a ping", body)
	}
	expectClosed(t, sess2, engineio.ReasonPingTimeout)
	if st, body := h2.get(pollQuery(4, op2.SID)); st != http.StatusBadRequest || !strings.Contains(string(body), `"code":1`) {
		t.Fatalf("GET after ping timeout: %d %s", st, body)
	}
}

// v3: the client pings; the server answers each ping and closes a client
// silent for pingInterval + pingTimeout.
func TestHeartbeatV3(t *testing.T) {
	h := start(t, engineio.Config{PingInterval: 50 * time.Millisecond, PingTimeout: 50 * time.Millisecond})
	c := h.dial("EIO=3&transport=websocket")
	_, _, _ = wsRead(t, c)
	sess := h.nextSession()
	wsWrite(t, c, websocket.MessageText, "2")
	wsExpect(t, c, "3")
	// The server never pings a v3 client; silence ends the session.
	expectClosed(t, sess, engineio.ReasonPingTimeout)

	// Over polling, a client that keeps pinging stays. Its pings are what
	// keeps it alive, so only the interval between them matters here: make
	// it generous.
	h2 := start(t, engineio.Config{PingInterval: 50 * time.Millisecond, PingTimeout: 2 * time.Second})
	if st, _ := h2.get("EIO=3&transport=polling"); st != http.StatusOK {
		t.Fatal("handshake")
	}
	sess2 := h2.nextSession()
	q := pollQuery(3, sess2.s.ID())
	for range 3 {
		if st, _ := h2.post(q, "1:2"); st != http.StatusOK {
			t.Fatalf("POST ping: %d", st)
		}
		if _, body := h2.get(q); string(body) != "1:3" {
			t.Fatalf("GET %q, want a pong", body)
		}
	}
	if sess2.s.Closed() {
		t.Fatal("a v3 client that pings was closed")
	}
	// A v3 client must not send pongs (wrong direction).
	if st, _ := h2.post(q, "1:3"); st != http.StatusOK {
		t.Fatalf("POST pong: %d", st)
	}
	expectClosed(t, sess2, engineio.ReasonTransportError)
}

// TestShutdown: every kind of session ends with "server shutting down", a
// pending GET gets the close packet, WebSockets get a close frame, new
// handshakes are refused, and no goroutine is left behind.
func TestShutdown(t *testing.T) {
	testutil.CheckGoroutineLeaks(t)
	h := start(t, engineio.Config{})
	// Polling with a pending GET.
	op1, s1 := h.handshakeV4()
	pending := make(chan string, 1)
	background(t, func() {
		_, body := getRaw(h, pollQuery(4, op1.SID))
		pending <- body
	})
	// Polling with queued data and no GET: must not hold Shutdown up.
	_, s2 := h.handshakeV4()
	_ = s2.s.Send(engineio.TextMessage("never fetched"))
	// WebSocket v4 and v3, and an upgraded session.
	c3 := h.dial("EIO=4&transport=websocket")
	_, _, _ = wsRead(t, c3)
	s3 := h.nextSession()
	c4 := h.dial("EIO=3&transport=websocket")
	_, _, _ = wsRead(t, c4)
	s4 := h.nextSession()
	op5, s5 := h.handshakeV4()
	c5 := h.dial("EIO=4&transport=websocket&sid=" + op5.SID)
	wsWrite(t, c5, websocket.MessageText, "2probe")
	wsExpect(t, c5, "3probe")
	wsWrite(t, c5, websocket.MessageText, "5")
	testutil.Eventually(t, waitTimeout, func() bool { return s5.s.Transport() == "websocket" }, "upgrade")
	if n := h.srv.Count(); n != 5 {
		t.Fatalf("Count() = %d, want 5", n)
	}

	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := h.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for i, s := range []*session{s1, s2, s3, s4, s5} {
		if r := recv(t, s.closed, "OnClose"); r != engineio.ReasonServerShutdown {
			t.Errorf("session %d closed with %q", i+1, r)
		}
	}
	if body := recv(t, pending, "the pending GET"); body != "1" {
		t.Errorf("pending GET got %q, want the close packet", body)
	}
	for i, c := range []*websocket.Conn{c3, c4, c5} {
		for {
			_, f, err := wsRead(t, c)
			if err != nil {
				if websocket.CloseStatus(err) != websocket.StatusNormalClosure {
					t.Errorf("websocket %d: %v, want a normal close", i+1, err)
				}
				break
			}
			if f != "1" && f != "6" { // engine.io close packet before the frame
				t.Errorf("websocket %d: unexpected frame %q", i+1, f)
			}
		}
	}
	if n := h.srv.Count(); n != 0 {
		t.Errorf("Count() = %d after Shutdown", n)
	}
	if st, _ := h.get("EIO=4&transport=polling"); st != http.StatusServiceUnavailable {
		t.Errorf("handshake after Shutdown: %d", st)
	}
	if err := s3.s.Send(engineio.TextMessage("x")); err != engineio.ErrClosed {
		t.Errorf("Send after Shutdown: %v", err)
	}
	// Shutdown is idempotent.
	if err := h.srv.Shutdown(ctx); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
}
