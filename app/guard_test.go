package app_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/banter-chat/banter/app"
	"github.com/banter-chat/banter/internal/testutil"
)

func getWithOrigin(t *testing.T, url, origin string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return resp.StatusCode, string(body)
}

func dialWithOrigin(t *testing.T, url, origin string, subprotocols ...string) (*websocket.Conn, int, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	c, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: h, Subprotocols: subprotocols})
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	return c, status, err
}

// Pages of other sites cannot connect through their visitors' browsers,
// on any gateway; allowed origins, the server's own and native clients
// (no Origin) can.
func TestOriginAllowlist(t *testing.T) {
	base, _ := serveApp(t, app.Config{CORSOrigins: []string{"https://chat.example.com"}})
	ws := "ws" + strings.TrimPrefix(base, "http")
	self := base
	for _, c := range []struct {
		name, origin string
		ok           bool
	}{
		{"native", "", true},
		{"same origin", self, true},
		{"allowed", "https://chat.example.com", true},
		{"foreign", "https://evil.example", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, body := getWithOrigin(t, base+"/socket.io/?EIO=4&transport=polling", c.origin)
			if (st == http.StatusOK) != c.ok {
				t.Errorf("polling handshake: %d %s", st, body)
			}
			if !c.ok && body != `{"code":4,"message":"this origin is not allowed to connect"}` {
				t.Errorf("polling refusal body %q", body)
			}
			for _, u := range []struct {
				path string
				sub  []string
			}{
				{"/socket.io/?EIO=4&transport=websocket", nil},
				{"/ws", nil},
				{"/mqtt", []string{"mqtt"}},
			} {
				conn, st, err := dialWithOrigin(t, ws+u.path, c.origin, u.sub...)
				if (err == nil) != c.ok {
					t.Errorf("WebSocket %s: status %d, err %v", u.path, st, err)
				}
				if !c.ok && st != http.StatusForbidden {
					t.Errorf("WebSocket %s refused with %d, want 403", u.path, st)
				}
				if conn != nil {
					conn.CloseNow()
				}
			}
			st, _ = getWithOrigin(t, base+"/api/v1/rooms/general/events", c.origin)
			if !c.ok && st != http.StatusForbidden {
				t.Errorf("SSE from a foreign origin: %d, want 403", st)
			}
		})
	}
}

// Per-address limits count connections of every gateway together, answer
// refusals clearly, and give places back when connections end.
func TestConnectionLimits(t *testing.T) {
	base, a := serveApp(t, app.Config{MaxConnsPerIP: 2, LimitLoopback: true, TCPAddr: "127.0.0.1:0"})
	ws := "ws" + strings.TrimPrefix(base, "http")
	c1, _, err := dialWithOrigin(t, ws+"/socket.io/?EIO=4&transport=websocket", "")
	if err != nil {
		t.Fatal(err)
	}
	c2, _, err := dialWithOrigin(t, ws+"/ws", "")
	if err != nil {
		t.Fatal(err)
	}
	defer c2.CloseNow()
	// Third connection from this address, whatever the gateway: refused.
	st, body := getWithOrigin(t, base+"/socket.io/?EIO=4&transport=polling", "")
	if st != http.StatusTooManyRequests || body != `{"code":4,"message":"too many connections from your address"}` {
		t.Errorf("polling handshake over the limit: %d %s", st, body)
	}
	if _, st, err := dialWithOrigin(t, ws+"/mqtt", "", "mqtt"); err == nil || st != http.StatusTooManyRequests {
		t.Errorf("/mqtt over the limit: %d %v", st, err)
	}
	tc, err := net.Dial("tcp", a.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	tc.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(tc).ReadString('\n')
	tc.Close()
	if err != nil || !strings.Contains(line, `"too many connections from your address"`) || !strings.Contains(line, `"rate_limited"`) {
		t.Errorf("TCP over the limit read %q, %v", line, err)
	}
	// REST requests are not connections.
	if st, _ := getWithOrigin(t, base+"/api/v1/rooms", ""); st != http.StatusOK {
		t.Errorf("REST while at the connection limit: %d", st)
	}
	if n := scrape(t, base+"/metrics").get(t, `banter_connections_refused_total{reason="per_ip"}`); n != 3 {
		t.Errorf("banter_connections_refused_total{reason=\"per_ip\"} = %v, want 3 (polling, /mqtt, TCP)", n)
	}
	c1.CloseNow()
	testutil.Eventually(t, 10*time.Second, func() bool {
		st, _ := getWithOrigin(t, base+"/socket.io/?EIO=4&transport=polling", "")
		return st == http.StatusOK
	}, "a place is free again after a Socket.IO connection closed")
}

// REST: pages of allowed origins get CORS (preflight included), others do
// not; creating sessions is rate-limited per client address.
func TestRESTCORSAndSessionRate(t *testing.T) {
	base, _ := serveApp(t, app.Config{CORSOrigins: []string{"https://chat.example.com"},
		HandshakesPerSecondPerIP: 1, LimitLoopback: true})
	pre := func(origin string) *http.Response {
		req, _ := http.NewRequest(http.MethodOptions, base+"/api/v1/sessions", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := pre("https://chat.example.com"); resp.StatusCode != http.StatusNoContent ||
		resp.Header.Get("Access-Control-Allow-Origin") != "https://chat.example.com" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Content-Type") {
		t.Errorf("preflight from an allowed origin: %d %v", resp.StatusCode, resp.Header)
	}
	if resp := pre("https://evil.example"); resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight from a foreign origin got CORS: %v", resp.Header)
	}
	post := func(nick string) (int, string, http.Header) {
		req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/sessions", strings.NewReader(`{"nickname":"`+nick+`"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", "https://chat.example.com")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body), resp.Header
	}
	// Burst 2 at 1/s: the third session in a row is refused.
	for i, nick := range []string{"rest-a", "rest-b"} {
		if st, body, h := post(nick); st != http.StatusCreated && st != http.StatusOK || h.Get("Access-Control-Allow-Origin") != "https://chat.example.com" {
			t.Fatalf("session %d: %d %s %v", i, st, body, h)
		}
	}
	st, body, h := post("rest-c")
	if st != http.StatusTooManyRequests || h.Get("Retry-After") == "" ||
		body != `{"ok":false,"error":{"code":"rate_limited","message":"too many new connections from your address; slow down"}}`+"\n" {
		t.Errorf("third session at once: %d %q %v", st, body, h)
	}
	// Other REST requests are not limited.
	for range 5 {
		if st, _ := getWithOrigin(t, base+"/api/v1/rooms", ""); st != http.StatusOK {
			t.Fatalf("GET rooms: %d", st)
		}
	}
}
