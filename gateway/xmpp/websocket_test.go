package xmppgw_test

import (
	"encoding/binary"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/banter-chat/banter/chat"
	xmppgw "github.com/banter-chat/banter/gateway/xmpp"
	"github.com/banter-chat/banter/internal/testutil"
)

const wsOpen = "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='example.test' version='1.0'/>"

// wsServer serves the gateway's WebSocket binding on a test HTTP server.
func wsServer(t *testing.T) (*server, string) {
	t.Helper()
	srv := startServer(t, chat.Config{}, xmppgw.Config{})
	hs := httptest.NewServer(srv.gw)
	t.Cleanup(hs.Close)
	return srv, strings.TrimPrefix(hs.URL, "http://")
}

// wsLogin upgrades, logs in anonymously as nick and binds a resource.
func wsLogin(t *testing.T, addr, nick string) *testutil.WSClient {
	t.Helper()
	c, resp := testutil.DialWebSocket(t, addr, "/xmpp", http.Header{"Sec-WebSocket-Protocol": {"xmpp"}})
	if c.Conn == nil || resp.Header.Get("Sec-WebSocket-Protocol") != "xmpp" {
		t.Fatalf("upgrade: %s, protocol %q", resp.Status, resp.Header.Get("Sec-WebSocket-Protocol"))
	}
	send := func(s string) {
		t.Helper()
		if err := c.SendText(s); err != nil {
			t.Fatal(err)
		}
	}
	send(wsOpen)
	c.ReadText(t, "<open ", "urn:ietf:params:xml:ns:xmpp-framing")
	c.ReadText(t, "<stream:features", "ANONYMOUS")
	send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='ANONYMOUS'>" + b64(nick) + "</auth>")
	c.ReadText(t, "<success")
	send(wsOpen)
	c.ReadText(t, "<open ")
	c.ReadText(t, "<bind")
	send("<iq type='set' id='b' xmlns='jabber:client'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>")
	c.ReadText(t, "<jid>"+nick+"@example.test/", "xmlns='jabber:client'")
	return c
}

// TestWebSocketBinding: RFC 7395 over the event loop with internal/wsframe:
// login, pings answered, stanzas in text frames with their namespace, the
// client's <close/> answered with ours and a close frame, and idle
// connections with no goroutine on the server.
func TestWebSocketBinding(t *testing.T) {
	_, addr := wsServer(t)
	warm := wsLogin(t, addr, "warm") // the event loop and flush workers start
	base := runtime.NumGoroutine()
	const n = 20
	clients := make([]*testutil.WSClient, n)
	for i := range clients {
		clients[i] = wsLogin(t, addr, "user"+string(rune('a'+i)))
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > base+5 {
		if time.Now().After(deadline) {
			t.Fatalf("%d more goroutines with %d idle WebSocket connections", runtime.NumGoroutine()-base, n)
		}
		time.Sleep(10 * time.Millisecond)
	}

	c := clients[0]
	if err := c.Send(9, []byte("are you there"), false); err != nil {
		t.Fatal(err)
	}
	for {
		op, p, err := c.Read()
		if err != nil {
			t.Fatal(err)
		}
		if op == 10 {
			if string(p) != "are you there" {
				t.Fatalf("pong %q", p)
			}
			break
		}
	}
	if err := warm.SendText("<message to='usera@example.test' type='chat' xmlns='jabber:client'><body>over the loop</body></message>"); err != nil {
		t.Fatal(err)
	}
	c.ReadText(t, "<message", "xmlns='jabber:client'", "over the loop")

	if err := c.SendText("<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>"); err != nil {
		t.Fatal(err)
	}
	c.ReadText(t, "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'")
	for {
		op, p, err := c.Read()
		if err != nil {
			t.Fatalf("no close frame after <close/>: %v", err)
		}
		if op == 8 {
			if len(p) < 2 || binary.BigEndian.Uint16(p) != 1000 {
				t.Fatalf("close frame % x, want status 1000", p)
			}
			break
		}
	}
}

// TestWebSocketFrameErrors: a binary frame (RFC 7395 carries XMPP in text
// frames), an unmasked frame and invalid UTF-8 close the connection with
// their RFC 6455 status.
func TestWebSocketFrameErrors(t *testing.T) {
	_, addr := wsServer(t)
	for _, tc := range []struct {
		name     string
		op       byte
		payload  string
		unmasked bool
		code     uint16
	}{
		{"binary", 2, wsOpen, false, 1003},
		{"unmasked", 1, wsOpen, true, 1002},
		{"invalid UTF-8", 1, "<message>\xff</message>", false, 1007},
	} {
		c := wsLogin(t, addr, "err"+strconv.Itoa(int(tc.code)))
		if err := c.Send(tc.op, []byte(tc.payload), tc.unmasked); err != nil {
			t.Fatal(err)
		}
		for {
			op, p, err := c.Read()
			if err != nil {
				t.Fatalf("%s: no close frame: %v", tc.name, err)
			}
			if op == 8 {
				if len(p) < 2 || binary.BigEndian.Uint16(p) != tc.code {
					t.Errorf("%s: close frame % x, want status %d", tc.name, p, tc.code)
				}
				break
			}
		}
		if _, _, err := c.Read(); err == nil {
			t.Errorf("%s: the connection is still open after the close frame", tc.name)
		}
	}
}

// TestWebSocketRefusals: the upgrade is checked before anything else.
func TestWebSocketRefusals(t *testing.T) {
	srv := startServer(t, chat.Config{}, xmppgw.Config{CheckOrigin: func(r *http.Request) error {
		if r.Header.Get("Origin") == "https://evil.example" {
			return errOrigin
		}
		return nil
	}})
	hs := httptest.NewServer(srv.gw)
	t.Cleanup(hs.Close)
	addr := strings.TrimPrefix(hs.URL, "http://")
	if _, resp := testutil.DialWebSocket(t, addr, "/xmpp", http.Header{"Origin": {"https://evil.example"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("refused origin: %s", resp.Status)
	}
	resp, err := http.Get(hs.URL + "/xmpp")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Sec-WebSocket-Version") != "13" {
		t.Errorf("plain GET: %s, Sec-WebSocket-Version %q", resp.Status, resp.Header.Get("Sec-WebSocket-Version"))
	}
}

type originError struct{}

func (originError) Error() string { return "origin not allowed" }

var errOrigin = originError{}
