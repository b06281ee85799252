package xmppgw_test

import (
	"context"
	"crypto/tls"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/banter-chat/banter/auth"
	"github.com/banter-chat/banter/chat"
	xmppgw "github.com/banter-chat/banter/gateway/xmpp"
)

var secret = []byte(strings.Repeat("k", 32))

// tokenServer is a server that verifies HS256 tokens (anonymous mode:
// tokens optional).
func tokenServer(t *testing.T, cfg xmppgw.Config) *server {
	t.Helper()
	v, err := auth.New(context.Background(), auth.Config{HMACSecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	return startServer(t, chat.Config{Authenticator: v}, cfg)
}

func token(t *testing.T, c auth.Claims) string {
	t.Helper()
	tok, err := auth.Sign("HS256", secret, c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// loginPass is login with a password (a token).
func (c *rawClient) loginPass(user, pass, res string) {
	c.t.Helper()
	c.send(streamOpen)
	c.expect("mechanisms", "OAUTHBEARER")
	c.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" + b64("\x00"+user+"\x00"+pass) + "</auth>")
	c.expect("<success")
	c.send(streamOpen)
	c.expect("<bind")
	c.send("<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>" + res + "</resource></bind></iq>")
	c.expect("type='result'", "id='b1'")
}

func (c *rawClient) join(room, nick string) {
	c.t.Helper()
	c.send("<presence to='" + room + "@rooms.example.test/" + nick + "'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
	c.expect("<subject/>")
}

// TestRightsAndModeration: a token's room rights refuse a MUC join and a
// post; an admin kicks (the occupants see status 307, the kicked user's
// stream ends) and retracts a message (XEP-0425: chat deletes it).
func TestRightsAndModeration(t *testing.T) {
	srv := tokenServer(t, xmppgw.Config{})
	admin := dialRaw(t, srv.addr)
	admin.loginPass("ada", token(t, auth.Claims{Subject: "ada", Roles: []string{"admin"}}), "a")
	reader := dialRaw(t, srv.addr)
	reader.loginPass("rita", token(t, auth.Claims{Subject: "rita", Rooms: []string{"public"}, Post: []string{}}), "r")
	// Rights: rita may read "public" but not post; "secret" is refused.
	reader.send("<presence to='secret@rooms.example.test/rita'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
	reader.expect("type='error'", "<forbidden")
	reader.join("public", "rita")
	reader.send("<message to='public@rooms.example.test' type='groupchat' id='p1'><body>hi</body></message>")
	reader.expect("type='error'", "id='p1'", "<forbidden")
	admin.join("public", "ada")
	reader.expect("from='public@rooms.example.test/ada'")
	// Moderation: ada posts, then retracts it.
	admin.send("<message to='public@rooms.example.test' type='groupchat' id='m1'><body>oops</body></message>")
	got := reader.expect("oops")
	if !strings.Contains(got, "<stanza-id xmlns='urn:xmpp:sid:0' id='1'") {
		t.Fatalf("stanza-id: %s", got)
	}
	admin.send("<iq type='set' id='mod' to='public@rooms.example.test'><moderate id='1' xmlns='urn:xmpp:message-moderate:1'><retract xmlns='urn:xmpp:message-retract:1'/></moderate></iq>")
	admin.expect("type='result'", "id='mod'")
	reader.expect("<retract", "id='1'", "<moderated")
	msgs, err := srv.svc.Rooms(context.Background())
	if err != nil || len(msgs) != 1 {
		t.Fatalf("rooms: %v %v", msgs, err)
	}
	// rita may not kick; ada kicks rita.
	reader.send("<iq type='set' id='k0' to='public@rooms.example.test'><query xmlns='http://jabber.org/protocol/muc#admin'><item nick='ada' role='none'/></query></iq>")
	reader.expect("type='error'", "id='k0'", "<forbidden")
	admin.send("<iq type='set' id='k1' to='public@rooms.example.test'><query xmlns='http://jabber.org/protocol/muc#admin'><item nick='rita' role='none'><reason>spam</reason></item></query></iq>")
	admin.expect("from='public@rooms.example.test/rita'", "type='unavailable'", "code='307'", "spam")
	admin.expect("type='result'", "id='k1'") // after the room heard it
	reader.expect("<stream:error>", "policy-violation", "kicked by ada: spam")
	reader.expect("CLOSE")
}

// TestRequestRateLimit: past the per-connection bucket, stanzas get
// resource-constraint errors and are not acted on.
func TestRequestRateLimit(t *testing.T) {
	srv := startServer(t, chat.Config{}, xmppgw.Config{RequestBurst: 5, RequestsPerSecond: 0.001})
	c := dialRaw(t, srv.addr)
	c.login("flood", "r")
	var b strings.Builder
	for i := range 8 {
		b.WriteString("<iq type='get' id='p" + string(rune('0'+i)) + "'><ping xmlns='urn:xmpp:ping'/></iq>")
	}
	c.send(b.String())
	for i := range 5 {
		c.expect("type='result'", "id='p"+string(rune('0'+i))+"'")
	}
	c.expect("type='error'", "<resource-constraint")
}

// TestStreamResumption: stream management acks; the connection drops;
// the session hibernates with what arrives meanwhile; a new connection
// resumes it and gets those stanzas once; a wrong user cannot.
func TestStreamResumption(t *testing.T) {
	srv := startServer(t, chat.Config{}, xmppgw.Config{})
	a := dialRaw(t, srv.addr)
	a.login("sam", "r")
	a.send("<enable xmlns='urn:xmpp:sm:3' resume='true'/>")
	enabled := a.expect("<enabled", "resume='true'")
	id := enabled[strings.Index(enabled, "id='")+4:]
	id = id[:strings.IndexByte(id, '\'')]
	a.join("lobby", "sam")
	a.send("<r xmlns='urn:xmpp:sm:3'/>")
	a.expect("<a xmlns='urn:xmpp:sm:3' h='1'/>") // the join presence
	b := dialRaw(t, srv.addr)
	b.login("tom", "r")
	b.join("lobby", "tom")
	a.expect("from='lobby@rooms.example.test/tom'")
	// sam has received: self-presence, subject, tom's presence (3
	// stanzas after enable, the ack-request's <r/> apart).
	a.send("<a xmlns='urn:xmpp:sm:3' h='3'/>")
	a.conn.Close()
	for _, m := range []string{"one", "two"} {
		b.send("<message to='lobby@rooms.example.test' type='groupchat'><body>" + m + "</body></message>")
		b.expect(m)
	}
	// Someone else cannot take the session over.
	x := dialRaw(t, srv.addr)
	x.send(streamOpen)
	x.expect("mechanisms")
	x.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" + b64("\x00mallory\x00x") + "</auth>")
	x.expect("<success")
	x.send(streamOpen)
	x.expect("<bind")
	x.send("<resume xmlns='urn:xmpp:sm:3' previd='" + id + "' h='3'/>")
	x.expect("<failed", "item-not-found")
	// sam resumes: what it missed, once.
	c := dialRaw(t, srv.addr)
	c.send(streamOpen)
	c.expect("mechanisms")
	c.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" + b64("\x00sam\x00x") + "</auth>")
	c.expect("<success")
	c.send(streamOpen)
	c.expect("<bind")
	c.send("<resume xmlns='urn:xmpp:sm:3' previd='" + id + "' h='3'/>")
	c.expect("<resumed", "previd='"+id+"'")
	c.expect("one")
	c.expect("two")
	c.send("<iq type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>")
	c.expect("id='p'") // nothing else in between: no duplicate of tom's presence
	if st := srv.gw.Stats(); st.Resumed != 1 {
		t.Errorf("resumed %d, want 1", st.Resumed)
	}
}

// TestChatStates: XEP-0085 in 1:1 chat and in a room maps to chat's
// typing (composing, then paused); a client that said it is inactive
// (XEP-0352) gets none.
func TestChatStates(t *testing.T) {
	srv := startServer(t, chat.Config{}, xmppgw.Config{})
	a := dialRaw(t, srv.addr)
	a.login("amy", "r")
	b := dialRaw(t, srv.addr)
	b.login("ben", "r")
	a.send("<message to='ben@example.test' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>")
	b.expect("from='amy@example.test'", "<composing")
	a.send("<message to='ben@example.test' type='chat'><paused xmlns='http://jabber.org/protocol/chatstates'/></message>")
	b.expect("from='amy@example.test'", "<paused")
	a.join("lounge", "amy")
	b.join("lounge", "ben")
	a.send("<message to='lounge@rooms.example.test' type='groupchat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>")
	b.expect("from='lounge@rooms.example.test/amy'", "<composing")
	b.send("<inactive xmlns='urn:xmpp:csi:0'/>")
	a.send("<message to='lounge@rooms.example.test' type='groupchat'><active xmlns='http://jabber.org/protocol/chatstates'/></message>")
	a.send("<message to='lounge@rooms.example.test' type='groupchat'><body>after typing</body></message>")
	got := b.expect("after typing")
	_ = got
	b.send("<iq type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>")
	// Between the composing and the ping's answer: only the message.
	for {
		el := b.expect("")
		if strings.Contains(el, "id='p'") {
			break
		}
		if strings.Contains(el, "chatstates") {
			t.Fatalf("an inactive client got a chat state: %s", el)
		}
	}
}

// TestNoGoroutinePerIdleConnection: idle authenticated connections, plain
// and STARTTLS, leave no goroutine behind on the server (the event loop
// reads them; processors and TLS handshakes end).
func TestNoGoroutinePerIdleConnection(t *testing.T) {
	plain := startServer(t, chat.Config{}, xmppgw.Config{})
	withTLS := startServer(t, chat.Config{}, xmppgw.Config{TLS: testTLSConfig(t)})
	// Warm up: the event loops and flush workers start.
	for _, s := range []*server{plain, withTLS} {
		c := dialRaw(t, s.addr)
		c.send(streamOpen)
		c.expect("<stream:features")
	}
	base := runtime.NumGoroutine()
	const n = 20
	var conns []net.Conn
	for range n {
		conns = append(conns, idleLoginT(t, plain.addr, false), idleLoginT(t, withTLS.addr, true))
	}
	// idleLogin's own reader goroutines have ended: what is left is the
	// servers'.
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > base+5 {
		if time.Now().After(deadline) {
			t.Fatalf("%d more goroutines with %d idle connections", runtime.NumGoroutine()-base, 2*n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, s := range []*server{plain, withTLS} {
		if st := s.gw.Stats(); st.Sessions != n {
			t.Fatalf("sessions %d, want %d", st.Sessions, n)
		}
	}
	for _, c := range conns {
		c.Close()
	}
}

// TestDirectTLS: XEP-0368 direct TLS on ServeTLS's listener (TLS from
// the first byte, on the event loop), and STARTTLS required on Serve's.
func TestDirectTLS(t *testing.T) {
	tcfg := testTLSConfig(t)
	srv := startServer(t, chat.Config{}, xmppgw.Config{TLS: tcfg})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.gw.ServeTLS(ln) }()
	tc, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // the test's certificate
	if err != nil {
		t.Fatal(err)
	}
	c := &rawClient{t: t, conn: tc, in: make(chan string, 100)}
	t.Cleanup(func() { tc.Close() })
	go c.read(tc)
	c.login("tess", "r") // no STARTTLS offered: already TLS
	c.send("<iq type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>")
	c.expect("type='result'", "id='p'")
	if st := srv.gw.Stats(); st.TLS != 1 || st.Accepted[1] != 1 {
		t.Errorf("stats %+v", st)
	}
	// On the STARTTLS listener, authenticating in the clear is refused.
	p := dialRaw(t, srv.addr)
	p.send(streamOpen)
	p.expect("<starttls", "<required/>")
	p.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" + b64("\x00eve\x00x") + "</auth>")
	p.expect("policy-violation", "STARTTLS")
}

// TestTLSSessionResumption: a returning client resumes its TLS session
// with the ticket of its previous connection (no certificate signature),
// over STARTTLS and over direct TLS.
func TestTLSSessionResumption(t *testing.T) {
	srv := startServer(t, chat.Config{}, xmppgw.Config{TLS: testTLSConfig(t)})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.gw.ServeTLS(ln) }()
	starttls := func(cache tls.ClientSessionCache) (resumed bool) {
		t.Helper()
		nc, err := net.Dial("tcp", srv.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		c := &rawClient{t: t, conn: nc, in: make(chan string, 100), stopOn: "<proceed"}
		done := make(chan struct{})
		go func() { c.read(nc); close(done) }()
		c.send(streamOpen)
		c.expect("<starttls")
		c.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
		c.expect("<proceed")
		<-done
		tc := tls.Client(nc, &tls.Config{InsecureSkipVerify: true, ClientSessionCache: cache}) //nolint:gosec // the test's certificate
		tlsLogin(t, tc)
		return tc.ConnectionState().DidResume
	}
	direct := func(cache tls.ClientSessionCache) (resumed bool) {
		t.Helper()
		tc, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true, ClientSessionCache: cache}) //nolint:gosec // the test's certificate
		if err != nil {
			t.Fatal(err)
		}
		defer tc.Close()
		tlsLogin(t, tc)
		return tc.ConnectionState().DidResume
	}
	for name, connect := range map[string]func(tls.ClientSessionCache) bool{"STARTTLS": starttls, "direct TLS": direct} {
		cache := tls.NewLRUClientSessionCache(4)
		if connect(cache) {
			t.Errorf("%s: the first connection resumed a session", name)
		}
		if !connect(cache) {
			t.Errorf("%s: the second connection did not resume the first one's TLS session", name)
		}
		if connect(nil) {
			t.Errorf("%s: a client without tickets resumed", name)
		}
	}
}

// tlsLogin logs in over an established (or starting) TLS connection:
// reading the server's first records brings the session ticket in.
func tlsLogin(t *testing.T, tc *tls.Conn) {
	t.Helper()
	c := &rawClient{t: t, conn: tc, in: make(chan string, 100)}
	go c.read(tc)
	c.send(streamOpen)
	c.expect("<stream:features", "ANONYMOUS")
	c.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='ANONYMOUS'>=</auth>")
	c.expect("<success")
	c.send(streamOpen)
	c.expect("<bind")
	c.send("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>")
	c.expect("<jid>")
}
