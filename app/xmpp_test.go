package app_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/banter-chat/banter/app"
	"github.com/banter-chat/banter/internal/testutil"
)

// TestXMPPShutdown: an XMPP client of the whole app chats, then hears
// why its stream ends when the server shuts down, and the shutdown leaves
// no goroutine behind.
func TestXMPPShutdown(t *testing.T) {
	testutil.CheckGoroutineLeaks(t)
	a, err := app.New(app.Config{DBPath: filepath.Join(t.TempDir(), "b.db"), Logger: quiet(),
		XMPPAddr: "127.0.0.1:0", XMPPDomain: "example.test"})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- a.Serve(ln) }()
	if a.XMPPAddr() == nil || a.XMPPDomain() != "example.test" {
		t.Fatalf("XMPP listener %v, domain %q", a.XMPPAddr(), a.XMPPDomain())
	}
	nc, err := net.Dial("tcp", a.XMPPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(nc)
	// readUntil reads until s appears (the stream restarts keep this
	// simple: no XML parsing needed to see the answers).
	var seen strings.Builder
	readUntil := func(s string) {
		t.Helper()
		for !strings.Contains(seen.String(), s) {
			b, err := r.ReadByte()
			if err != nil {
				t.Fatalf("waiting for %q: %v; got %s", s, err, seen.String())
			}
			seen.WriteByte(b)
		}
		rest := seen.String()[strings.Index(seen.String(), s)+len(s):]
		seen.Reset()
		seen.WriteString(rest)
	}
	open := "<stream:stream to='example.test' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"
	send := func(s string) {
		if _, err := nc.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	send(open)
	readUntil("</stream:features>")
	send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" + base64.StdEncoding.EncodeToString([]byte("\x00xavier\x00-")) + "</auth>")
	readUntil("<success")
	send(open)
	readUntil("</stream:features>")
	send("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq><presence to='general@rooms.example.test/xavier'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
	readUntil("<subject/>")
	send("<message to='general@rooms.example.test' type='groupchat'><body>hi from xmpp</body></message>")
	readUntil("hi from xmpp")
	if users := a.Service().Users(); len(users) != 1 || users[0].Nickname != "xavier" {
		t.Fatalf("users %v", users)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	readUntil("system-shutdown")
	readUntil("</stream:stream>")
	if err := <-served; err != nil {
		t.Fatalf("serve: %v", err)
	}
}

// TestXMPPWebSocketOnTheLoop: XMPP over WebSocket at /xmpp of the app's
// HTTP port (whose listener engineio.Accept serves, handing requests
// other than Socket.IO's to net/http) lives on the event loop once
// upgraded: idle connections keep no goroutine.
func TestXMPPWebSocketOnTheLoop(t *testing.T) {
	a, err := app.New(app.Config{DBPath: filepath.Join(t.TempDir(), "b.db"), Logger: quiet(), XMPPDomain: "example.test"})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- a.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		<-served
	})
	login := func(nick string) *testutil.WSClient {
		t.Helper()
		c, resp := testutil.DialWebSocket(t, ln.Addr().String(), "/xmpp", http.Header{"Sec-WebSocket-Protocol": {"xmpp"}})
		if c.Conn == nil {
			t.Fatalf("upgrade: %s", resp.Status)
		}
		open := "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='example.test' version='1.0'/>"
		for _, step := range [][2]string{
			{open, "<stream:features"},
			{"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" + base64.StdEncoding.EncodeToString([]byte("\x00"+nick+"\x00-")) + "</auth>", "<success"},
			{open, "<bind"},
			{"<iq type='set' id='b' xmlns='jabber:client'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>", "<jid>"},
		} {
			if err := c.SendText(step[0]); err != nil {
				t.Fatal(err)
			}
			c.ReadText(t, step[1])
		}
		return c
	}
	login("warm") // the loops and workers start
	base := runtime.NumGoroutine()
	const n = 20
	for i := range n {
		login("idle" + strconv.Itoa(i))
	}
	testutil.Eventually(t, 10*time.Second, func() bool { return runtime.NumGoroutine() <= base+5 },
		"%d idle /xmpp WebSocket connections keep goroutines: %d more than before", n, runtime.NumGoroutine()-base)
	if st := a.Service().Users(); len(st) != n+1 {
		t.Fatalf("%d users, want %d", len(st), n+1)
	}
}
