package engineio_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/banter-chat/banter/engineio"
	"github.com/banter-chat/banter/internal/testutil"
	"github.com/coder/websocket"
)

var sidRE = regexp.MustCompile(`^[A-Za-z0-9_-]{20}$`)

func TestHandshakeV4(t *testing.T) {
	h := start(t, engineio.Config{PingInterval: 300 * time.Millisecond, PingTimeout: 200 * time.Millisecond, MaxPayload: 12345})
	st, hdr, body := h.do(http.MethodGet, "EIO=4&transport=polling", "", nil)
	if st != http.StatusOK {
		t.Fatalf("status %d %q", st, body)
	}
	if ct := hdr.Get("Content-Type"); ct != "text/plain; charset=UTF-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if !strings.HasPrefix(string(body), `0{"sid":"`) {
		t.Fatalf("body %q is not a lone OPEN packet", body)
	}
	var op openPacket
	if err := json.Unmarshal(body[1:], &op); err != nil {
		t.Fatal(err)
	}
	if !sidRE.MatchString(op.SID) {
		t.Errorf("sid %q is not 20 base64url characters", op.SID)
	}
	if len(op.Upgrades) != 1 || op.Upgrades[0] != "websocket" || op.PingInterval != 300 || op.PingTimeout != 200 || op.MaxPayload != 12345 {
		t.Errorf("OPEN %+v", op)
	}
	sess := h.nextSession()
	if sess.s.ID() != op.SID || sess.s.Protocol() != 4 || sess.s.Transport() != "polling" {
		t.Errorf("server session: id %q protocol %d transport %q", sess.s.ID(), sess.s.Protocol(), sess.s.Transport())
	}
	if h.srv.Socket(op.SID) != sess.s || h.srv.Count() != 1 {
		t.Errorf("Session(%q) / Count() = %v / %d", op.SID, h.srv.Socket(op.SID), h.srv.Count())
	}
	// A second handshake gets another, unguessable sid.
	op2, _ := h.handshakeV4()
	if op2.SID == op.SID {
		t.Error("two sessions share a sid")
	}
}

func TestHandshakeV3(t *testing.T) {
	h := start(t, engineio.Config{})
	for _, q := range []string{"EIO=3&transport=polling", "transport=polling" /* no EIO: v3, as socket.io-client-swift <= 15.2 */} {
		st, body := h.get(q)
		if st != http.StatusOK {
			t.Fatalf("%s: status %d %q", q, st, body)
		}
		// v3 text payload: <length in UTF-16 units>:<packet>.
		n, pkt, ok := strings.Cut(string(body), ":")
		if !ok || !strings.HasPrefix(pkt, `0{"sid":"`) || n != strconv.Itoa(len(pkt)) {
			t.Fatalf("%s: body %q is not a v3 payload holding one OPEN packet", q, body)
		}
		var op openPacket
		if err := json.Unmarshal([]byte(pkt[1:]), &op); err != nil || op.PingInterval != 25000 || op.PingTimeout != 20000 {
			t.Fatalf("%s: OPEN %q: %+v %v", q, pkt, op, err)
		}
		if sess := h.nextSession(); sess.s.Protocol() != 3 || sess.s.ID() != op.SID {
			t.Errorf("%s: server session protocol %d id %q", q, sess.s.Protocol(), sess.s.ID())
		}
	}
}

// TestErrorCodes checks every Engine.IO error: status and JSON body exactly
// as Node's engine.io 6 sends them.
func TestErrorCodes(t *testing.T) {
	h := start(t, engineio.Config{DisableEIO3: true})
	op, _ := h.handshakeV4()
	cases := []struct {
		name   string
		method string
		query  string
		status int
		body   string
	}{
		{"unknown transport", "GET", "EIO=4&transport=carrier-pigeon", 400, `{"code":0,"message":"Transport unknown"}`},
		{"no transport", "GET", "EIO=4", 400, `{"code":0,"message":"Transport unknown"}`},
		{"unknown sid", "GET", "EIO=4&transport=polling&sid=nope", 400, `{"code":1,"message":"Session ID unknown"}`},
		{"unknown sid on POST", "POST", "EIO=4&transport=polling&sid=nope", 400, `{"code":1,"message":"Session ID unknown"}`},
		{"POST handshake", "POST", "EIO=4&transport=polling", 400, `{"code":2,"message":"Bad handshake method"}`},
		{"PUT handshake", "PUT", "EIO=4&transport=polling", 400, `{"code":2,"message":"Bad handshake method"}`},
		{"websocket without upgrade", "GET", "EIO=4&transport=websocket", 400, `{"code":3,"message":"Bad request"}`},
		{"websocket sid without upgrade", "GET", "EIO=4&transport=websocket&sid=" + op.SID, 400, `{"code":3,"message":"Bad request"}`},
		{"bad method on session", "PUT", "EIO=4&transport=polling&sid=" + op.SID, 400, `{"code":3,"message":"Bad request"}`},
		{"EIO=5", "GET", "EIO=5&transport=polling", 400, `{"code":5,"message":"Unsupported protocol version"}`},
		{"EIO empty", "GET", "EIO=&transport=polling", 400, `{"code":5,"message":"Unsupported protocol version"}`},
		{"EIO=3 refused", "GET", "EIO=3&transport=polling", 400, `{"code":5,"message":"Unsupported protocol version"}`},
		{"no EIO refused", "GET", "transport=polling", 400, `{"code":5,"message":"Unsupported protocol version"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, hdr, body := h.do(c.method, c.query, "", nil)
			if st != c.status || string(body) != c.body {
				t.Errorf("%s %s: %d %s, want %d %s", c.method, c.query, st, body, c.status, c.body)
			}
			if ct := hdr.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
	if h.srv.Count() != 1 {
		t.Errorf("Count() = %d after refused requests, want 1", h.srv.Count())
	}
}

func TestAllowRequest(t *testing.T) {
	var refuse error
	h := start(t, engineio.Config{AllowRequest: func(r *http.Request) error {
		if r.URL.Query().Get("token") == "ok" {
			return nil
		}
		return refuse
	}})
	refuse = &engineio.RequestError{Message: "no token, no chat"}
	st, body := h.get("EIO=4&transport=polling")
	if st != http.StatusForbidden || string(body) != `{"code":4,"message":"no token, no chat"}` {
		t.Errorf("custom refusal: %d %s", st, body)
	}
	// Any other error gives the generic message (the cause stays in the logs).
	refuse = errors.New("internal detail")
	st, body = h.get("EIO=4&transport=polling")
	if st != http.StatusForbidden || string(body) != `{"code":4,"message":"Forbidden"}` {
		t.Errorf("generic refusal: %d %s", st, body)
	}
	// The hook also guards WebSocket handshakes and upgrades.
	_, resp, err := websocket.Dial(t.Context(), wsURL(h.base, "EIO=4&transport=websocket"), &websocket.DialOptions{HTTPClient: h.client})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("websocket handshake without token: %v, %v", resp, err)
	}
	st, body = h.get("EIO=4&transport=polling&token=ok")
	if st != http.StatusOK || body[0] != '0' {
		t.Fatalf("allowed handshake: %d %s", st, body)
	}
	sess := h.nextSession()
	_, resp, err = websocket.Dial(t.Context(), wsURL(h.base, "EIO=4&transport=websocket&sid="+sess.s.ID()), &websocket.DialOptions{HTTPClient: h.client})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("upgrade without token: %v, %v", resp, err)
	}
	if sess.s.Closed() {
		t.Error("a refused upgrade closed the polling session")
	}
}

func TestCORS(t *testing.T) {
	h := start(t, engineio.Config{CORS: &engineio.CORS{Origins: []string{"https://chat.example"}, Credentials: true}})
	req, _ := http.NewRequest(http.MethodOptions, h.base+"?EIO=4&transport=polling", nil)
	req.Header.Set("Origin", "https://chat.example")
	req.Header.Set("Access-Control-Request-Headers", "content-type")
	resp, err := h.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	hd := resp.Header
	if resp.StatusCode != http.StatusNoContent || hd.Get("Access-Control-Allow-Origin") != "https://chat.example" ||
		hd.Get("Access-Control-Allow-Credentials") != "true" || hd.Get("Access-Control-Allow-Headers") != "content-type" {
		t.Errorf("preflight: %d %v", resp.StatusCode, hd)
	}
	req, _ = http.NewRequest(http.MethodGet, h.base+"?EIO=4&transport=polling", nil)
	req.Header.Set("Origin", "https://evil.example")
	resp, err = h.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("foreign origin allowed: %q", got)
	}
}

// Config.Admit refuses handshakes with its status and message, and every
// admitted session releases its place exactly once when it ends, over
// polling and WebSocket alike.
func TestAdmit(t *testing.T) {
	var mu sync.Mutex
	admitted, released := 0, 0
	full := false
	h := start(t, engineio.Config{Admit: func(r *http.Request) (func(), error) {
		mu.Lock()
		defer mu.Unlock()
		if full {
			return nil, &engineio.RequestError{Message: "server is full", Status: http.StatusServiceUnavailable}
		}
		admitted++
		var once sync.Once
		return func() { once.Do(func() { mu.Lock(); released++; mu.Unlock() }) }, nil
	}})
	counts := func() (int, int) { mu.Lock(); defer mu.Unlock(); return admitted, released }

	_, sess := h.handshakeV4()
	ws, _, err := websocket.Dial(t.Context(), wsURL(h.base, "EIO=4&transport=websocket"), &websocket.DialOptions{HTTPClient: h.client})
	if err != nil {
		t.Fatal(err)
	}
	wsSess := h.nextSession()
	if a, r := counts(); a != 2 || r != 0 {
		t.Fatalf("admitted %d released %d, want 2 and 0", a, r)
	}
	mu.Lock()
	full = true
	mu.Unlock()
	st, body := h.get("EIO=4&transport=polling")
	if st != http.StatusServiceUnavailable || string(body) != `{"code":4,"message":"server is full"}` {
		t.Errorf("refused polling handshake: %d %s", st, body)
	}
	_, resp, err := websocket.Dial(t.Context(), wsURL(h.base, "EIO=4&transport=websocket"), &websocket.DialOptions{HTTPClient: h.client})
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("refused websocket handshake: %v, %v", resp, err)
	}
	// An upgrade is not a new session: Admit is not asked.
	up, _, err := websocket.Dial(t.Context(), wsURL(h.base, "EIO=4&transport=websocket&sid="+sess.s.ID()), &websocket.DialOptions{HTTPClient: h.client})
	if err != nil {
		t.Fatalf("upgrade while full: %v", err)
	}
	defer up.CloseNow()
	sess.s.Close(engineio.ReasonForcedClose)
	ws.Close(websocket.StatusNormalClosure, "")
	recv(t, wsSess.closed, "websocket session close")
	testutil.Eventually(t, 5*time.Second, func() bool { _, r := counts(); return r == 2 }, "both sessions released their place")
	if a, r := counts(); a != 2 || r != 2 {
		t.Fatalf("admitted %d released %d, want 2 and 2", a, r)
	}
}
