package xmppgw_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"log/slog"
	"math/big"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/banter-chat/banter/chat"
	xmppgw "github.com/banter-chat/banter/gateway/xmpp"
	"github.com/banter-chat/banter/gateway/xmpp/stanza"
)

// server is a chat service with the XMPP gateway on a random port.
type server struct {
	svc  *chat.Service
	gw   *xmppgw.Gateway
	addr string
}

func startServer(t testing.TB, ccfg chat.Config, cfg xmppgw.Config) *server {
	t.Helper()
	svc, err := chat.New(ccfg)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Domain == "" {
		cfg.Domain = "example.test"
	}
	if cfg.Logger == nil && os.Getenv("XMPP_DEBUG") != "" {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	gw, err := xmppgw.New(svc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- gw.Serve(ln) }()
	t.Cleanup(func() {
		svc.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := gw.Close(ctx); err != nil {
			t.Errorf("gateway close: %v", err)
		}
		<-done
	})
	return &server{svc: svc, gw: gw, addr: ln.Addr().String()}
}

// rawClient speaks XMPP by hand: it writes strings and reads elements.
type rawClient struct {
	t    testing.TB
	conn net.Conn
	mu   sync.Mutex
	in   chan string // elements (and "OPEN"/"CLOSE")
	err  error
	// stopOn, if set, ends the reader after an element with this prefix
	// (<proceed: TLS follows, read by another client).
	stopOn string
}

func dialRaw(t testing.TB, addr string) *rawClient {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := &rawClient{t: t, conn: nc, in: make(chan string, 1000)}
	t.Cleanup(func() { nc.Close() })
	go c.read(nc)
	return c
}

func (c *rawClient) read(r net.Conn) {
	var sc stanza.Scanner
	restart, stop := false, false
	buf := make([]byte, 4096)
	defer close(c.in)
	for {
		n, err := r.Read(buf)
		p := buf[:n]
		for len(p) > 0 {
			m, ferr := sc.Feed(p, func(k stanza.Kind, d []byte) error {
				switch k {
				case stanza.KindOpen:
					c.in <- "OPEN " + string(d)
				case stanza.KindClose:
					c.in <- "CLOSE"
				default:
					c.in <- string(d)
					if c.stopOn != "" && strings.HasPrefix(string(d), c.stopOn) {
						stop = true
						return stanza.ErrStop
					}
					if strings.HasPrefix(string(d), "<success") {
						restart = true
						return stanza.ErrStop // a new stream follows
					}
				}
				return nil
			})
			if ferr != nil {
				c.in <- "SCANERR " + ferr.Error()
				return
			}
			if stop {
				return
			}
			if restart {
				restart = false
				sc.Reset()
			}
			p = p[m:]
		}
		if err != nil {
			return
		}
	}
}

func (c *rawClient) send(s string) {
	c.t.Helper()
	if _, err := c.conn.Write([]byte(s)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// expect reads elements until one contains all of subs; it fails after 5s.
func (c *rawClient) expect(subs ...string) string {
	c.t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case el, ok := <-c.in:
			if !ok {
				c.t.Fatalf("connection closed while waiting for %q", subs)
			}
			if strings.HasPrefix(el, "SCANERR") {
				c.t.Fatalf("reading: %s", el)
			}
			if testing.Verbose() {
				c.t.Logf("got %s", el)
			}
			all := true
			for _, s := range subs {
				all = all && strings.Contains(el, s)
			}
			if all {
				return el
			}
		case <-timeout:
			c.t.Fatalf("timed out waiting for %q", subs)
		}
	}
}

const streamOpen = "<?xml version='1.0'?><stream:stream to='example.test' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// login authenticates with PLAIN as nick and binds resource.
func (c *rawClient) login(nick, res string) {
	c.t.Helper()
	c.send(streamOpen)
	c.expect("OPEN")
	c.expect("mechanisms", "PLAIN")
	c.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" + b64("\x00"+nick+"\x00x") + "</auth>")
	c.expect("<success")
	c.send(streamOpen)
	c.expect("OPEN")
	c.expect("<bind")
	c.send("<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>" + res + "</resource></bind></iq>")
	c.expect("type='result'", "id='b1'", "<jid>")
}

func TestRawLoginMessageMUC(t *testing.T) {
	srv := startServer(t, chat.Config{}, xmppgw.Config{})
	a := dialRaw(t, srv.addr)
	a.login("Alice", "phone")
	b := dialRaw(t, srv.addr)
	b.login("bob", "pc")
	a.send("<presence/>")
	a.expect("<presence", "from='alice@example.test/phone'")
	// DM both ways.
	a.send("<message to='bob@example.test' type='chat' id='m1'><body>hello bob</body></message>")
	got := b.expect("<message", "hello bob")
	if !strings.Contains(got, "from='alice@example.test'") || !strings.Contains(got, "id='m1'") || !strings.Contains(got, "stanza-id") {
		t.Fatalf("dm: %s", got)
	}
	// MUC.
	a.send("<presence to='lobby@rooms.example.test/Alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
	a.expect("<presence", "code='110'")
	a.expect("<subject/>")
	b.send("<presence to='lobby@rooms.example.test/whatever'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
	b.expect("from='lobby@rooms.example.test/Alice'")
	b.expect("code='110'", "code='210'")
	b.expect("<subject/>")
	a.expect("from='lobby@rooms.example.test/bob'")
	a.send("<message to='lobby@rooms.example.test' type='groupchat' id='g1'><body>hi all</body></message>")
	got = b.expect("hi all")
	if !strings.Contains(got, "type='groupchat'") || !strings.Contains(got, "to='bob@example.test/pc'") {
		t.Fatalf("groupchat: %s", got)
	}
	a.expect("hi all", "id='g1'") // reflection
	// MAM on the room.
	b.send("<iq type='set' id='q1' to='lobby@rooms.example.test'><query xmlns='urn:xmpp:mam:2' queryid='x'/></iq>")
	b.expect("<result", "queryid='x'", "hi all")
	b.expect("<fin", "complete='true'")
	// Clean close.
	a.send("</stream:stream>")
	a.expect("CLOSE")
	b.expect("type='unavailable'", "lobby@rooms.example.test/Alice")
}

func TestRawStreamErrors(t *testing.T) {
	srv := startServer(t, chat.Config{}, xmppgw.Config{MaxStanzaBytes: 1000})
	c := dialRaw(t, srv.addr)
	c.send(streamOpen)
	c.expect("OPEN")
	c.send("<message><body>" + strings.Repeat("x", 2000) + "</body></message>")
	c.expect("policy-violation")
	c = dialRaw(t, srv.addr)
	c.send("<!DOCTYPE lol [<!ENTITY a 'aaaa'>]>")
	c.expect("restricted-xml")
	c = dialRaw(t, srv.addr)
	c.send(strings.Replace(streamOpen, "example.test", "other.test", 1))
	c.expect("host-unknown")
}

// testTLSConfig is a server configuration with a fresh self-signed
// certificate for example.test.
func testTLSConfig(t testing.TB) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "example.test"}, DNSNames: []string{"example.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}
}
