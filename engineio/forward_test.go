package engineio_test

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/banter-chat/banter/engineio"
	"github.com/banter-chat/banter/internal/testutil"
	"github.com/coder/websocket"
)

// pair starts two servers that know each other as a cluster of two: each
// creates sids with its own prefix ("a." and "b.") and forwards requests for
// the other's sids there. owners counts the Owner calls of each.
func pair(t *testing.T) (a, b *harness, owners *[2]atomic.Int64) {
	t.Helper()
	owners = new([2]atomic.Int64)
	var aURL, bURL atomic.Pointer[url.URL]
	owner := func(self int, other *atomic.Pointer[url.URL], prefix string) func(context.Context, string) *url.URL {
		return func(_ context.Context, sid string) *url.URL {
			owners[self].Add(1)
			if strings.HasPrefix(sid, prefix) {
				return other.Load()
			}
			return nil
		}
	}
	a = start(t, engineio.Config{SIDPrefix: "a.", Owner: owner(0, &bURL, "b.")})
	b = start(t, engineio.Config{SIDPrefix: "b.", Owner: owner(1, &aURL, "a.")})
	for _, x := range []struct {
		h *harness
		p *atomic.Pointer[url.URL]
	}{{a, &aURL}, {b, &bURL}} {
		u, err := url.Parse(strings.TrimSuffix(x.h.base, "/engine.io/"))
		if err != nil {
			t.Fatal(err)
		}
		x.p.Store(u)
	}
	return a, b, owners
}

// via returns a harness that sends requests to h's base URL but is served
// by the server of other: a round-robin balancer that picked the wrong node.
func via(h, other *harness) *harness {
	c := *h
	c.base = other.base
	return &c
}

func TestForwardPolling(t *testing.T) {
	a, b, owners := pair(t)
	a.rec.echo = true
	op, sess := a.handshakeV4()
	if !strings.HasPrefix(op.SID, "a.") || len(op.SID) != 22 {
		t.Fatalf("sid %q: want a. and 20 random characters", op.SID)
	}
	onB := via(a, b)
	q := pollQuery(4, op.SID)
	if st, body := onB.post(q, "4hello"); st != 200 || string(body) != "ok" {
		t.Fatalf("POST through b: %d %q", st, body)
	}
	expectMsg(t, sess, "hello", false)
	if got := onB.collectV4(op.SID, 1); got[0] != "hello" {
		t.Fatalf("echo through b: %q", got)
	}
	// A long-poll parked on b ends when a queues something.
	done := make(chan []string, 1)
	background(t, func() { done <- onB.collectV4(op.SID, 1) })
	time.Sleep(50 * time.Millisecond) // let the poll park (if it has not, it returns the message at once)
	if err := sess.s.Send(engineio.TextMessage("later")); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, done, "the forwarded long-poll"); got[0] != "later" {
		t.Fatalf("forwarded long-poll: %q", got)
	}
	if owners[1].Load() == 0 || owners[0].Load() != 0 {
		t.Fatalf("Owner calls a=%d b=%d: only b should have asked", owners[0].Load(), owners[1].Load())
	}
	// Requests for a's own sessions do not consult Owner.
	a.post(q, "4direct")
	expectMsg(t, sess, "direct", false)
	if owners[0].Load() != 0 {
		t.Fatal("a asked Owner about its own session")
	}
}

func TestForwardUpgrade(t *testing.T) {
	a, b, _ := pair(t)
	a.rec.echo = true
	op, sess := a.handshakeV4()
	onB := via(a, b)
	c := onB.dial("EIO=4&transport=websocket&sid=" + op.SID)
	wsWrite(t, c, websocket.MessageText, "2probe")
	wsExpect(t, c, "3probe")
	wsWrite(t, c, websocket.MessageText, "5")
	wsWrite(t, c, websocket.MessageText, "4over the tunnel")
	expectMsg(t, sess, "over the tunnel", false)
	wsExpect(t, c, "4over the tunnel")
	if sess.s.Transport() != "websocket" {
		t.Fatalf("transport %q after an upgrade through b", sess.s.Transport())
	}

	// b's shutdown cuts the tunnel (it is not b's session) and does not
	// wait for a's session to end.
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := b.srv.Shutdown(ctx); err != nil {
		t.Fatalf("b.Shutdown with a tunnel open: %v", err)
	}
	if _, f, err := wsRead(t, c); err == nil {
		t.Fatalf("tunnel still open after b's shutdown: read %q", f)
	}
	expectClosed(t, sess, engineio.ReasonTransportClose)
}

// TestForwardUnknown: a sid nobody has, a forwarded request the receiver
// does not own, and an owner that is down all end with Engine.IO's usual
// error, never a loop.
func TestForwardUnknown(t *testing.T) {
	_, b, owners := pair(t)
	const unknown = `{"code":1,"message":"Session ID unknown"}`
	// b forwards a.* to a, which does not have it and must not forward
	// it back even though its Owner would.
	st, body := b.get(pollQuery(4, "a.nosuchsession"))
	if st != 400 || string(body) != unknown {
		t.Fatalf("forwarded unknown sid: %d %q", st, body)
	}
	if owners[0].Load() != 0 {
		t.Fatal("a consulted Owner for a forwarded request")
	}
	// Marked as forwarded by the client itself: not forwarded.
	req, _ := http.NewRequest(http.MethodGet, b.base+"?"+pollQuery(4, "a.x"), nil)
	req.Header.Set(engineio.ForwardedHeader, "1")
	resp, err := b.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("request marked forwarded: %d", resp.StatusCode)
	}
	// Unknown to Owner.
	if st, body := b.get(pollQuery(4, "zz")); st != 400 || string(body) != unknown {
		t.Fatalf("sid unknown to Owner: %d %q", st, body)
	}
	if _, resp, err := websocket.Dial(t.Context(), wsURL(b.base, "EIO=4&transport=websocket&sid=a.nope"), &websocket.DialOptions{HTTPClient: b.client}); err == nil || resp == nil || resp.StatusCode != 400 {
		t.Fatalf("upgrade forwarded for an unknown sid: %v %v", resp, err)
	}

	// An owner that is down.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := &url.URL{Scheme: "http", Host: ln.Addr().String()}
	ln.Close()
	c := start(t, engineio.Config{Owner: func(context.Context, string) *url.URL { return dead }})
	if st, body := c.get(pollQuery(4, "x.gone")); st != 400 || string(body) != unknown {
		t.Fatalf("owner down: %d %q", st, body)
	}
	if _, resp, err := websocket.Dial(t.Context(), wsURL(c.base, "EIO=4&transport=websocket&sid=x.gone"), &websocket.DialOptions{HTTPClient: c.client}); err == nil || resp == nil || resp.StatusCode != 400 {
		t.Fatalf("upgrade with the owner down: %v %v", resp, err)
	}
}

func TestSIDPrefixValidated(t *testing.T) {
	for _, p := range []string{"a/b", "a b", "é", strings.Repeat("x", 33)} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("SIDPrefix %q accepted", p)
				}
			}()
			_ = engineio.NewServer(engineio.Config{SIDPrefix: p})
		}()
	}
}

// TestForwardHeaders: the owner gets the request as the client sent it
// (Host included), marked as forwarded, with the client chain of a
// balancer in front kept and this hop added.
func TestForwardHeaders(t *testing.T) {
	got := make(chan http.Header, 1)
	hosts := make(chan string, 1)
	owner := testutil.StartHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
		hosts <- r.Host
		_, _ = w.Write([]byte("ok"))
	}))
	u, err := url.Parse(owner)
	if err != nil {
		t.Fatal(err)
	}
	h := start(t, engineio.Config{Owner: func(context.Context, string) *url.URL { return u }})
	req, _ := http.NewRequest(http.MethodPost, h.base+"?"+pollQuery(4, "x.y"), strings.NewReader("4hi"))
	req.Header.Set("X-Forwarded-For", "203.0.113.7")
	req.Header.Set("X-Forwarded-Proto", "https")
	req.Host = "chat.example.com"
	resp, err := h.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	hd := recv(t, got, "the forwarded request")
	if host := <-hosts; host != "chat.example.com" {
		t.Errorf("owner saw Host %q", host)
	}
	if v := hd.Get("X-Forwarded-For"); v != "203.0.113.7, 127.0.0.1" {
		t.Errorf("X-Forwarded-For %q", v)
	}
	if v := hd.Get("X-Forwarded-Proto"); v != "https" {
		t.Errorf("X-Forwarded-Proto %q", v)
	}
	if v := hd.Get(engineio.ForwardedHeader); v != "1" {
		t.Errorf("%s %q", engineio.ForwardedHeader, v)
	}
}
