package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/banter-chat/banter/client"
	"github.com/banter-chat/banter/internal/testutil"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

func newManager(t *testing.T, url string, cfg client.Config) *client.Manager {
	t.Helper()
	m, err := client.NewManager(url, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

// whoami asks the server which socket, engine and transport it sees.
type whoami struct {
	ID        string         `json:"id"`
	Nsp       string         `json:"nsp"`
	EngineID  string         `json:"engineId"`
	Transport string         `json:"transport"`
	Auth      map[string]any `json:"auth"`
	Query     map[string]any `json:"query"`
}

func askWhoami(t *testing.T, s *client.Socket) whoami {
	t.Helper()
	ack, err := s.EmitWithAck(ctxT(t), "whoami")
	if err != nil {
		t.Fatalf("whoami: %v", err)
	}
	var w whoami
	if err := ack.Bind(0, &w); err != nil {
		t.Fatal(err)
	}
	return w
}

var transportSets = []struct {
	name       string
	transports []string
	want       string // the transport the server ends on
}{
	{"polling-only", []string{"polling"}, "polling"},
	{"websocket-only", []string{"websocket"}, "websocket"},
	{"upgrade", nil, "websocket"},
}

// TestInterop runs the basic client behaviour against Banter and the Node
// reference server, over every transport choice.
func TestInterop(t *testing.T) {
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			testutil.CheckGoroutineLeaks(t)
			// A fresh server per case: connections of the previous case
			// close while the next one connects, and Banter's WebSocket
			// event loop (nbio) may apply a stale hang-up event to a new
			// connection that reused a descriptor (docs/architecture.md,
			// known issues). Cases stay independent either way.
			run := func(name string, f func(t *testing.T, url string)) {
				t.Run(name, func(t *testing.T) { f(t, tg.start(t)) })
			}
			for _, ts := range transportSets {
				run(ts.name, func(t *testing.T, url string) { testBasics(t, url, ts.transports, ts.want) })
			}
			run("namespaces", testNamespaces)
			run("server-ack", testServerAck)
			run("server-disconnect", testServerDisconnect)
			run("heartbeat", testHeartbeat)
			run("reconnect", testReconnect)
			run("dead-server", testDeadServer)
		})
	}
}

func testBasics(t *testing.T, url string, transports []string, want string) {
	m := newManager(t, url, client.Config{Transports: transports, Query: map[string][]string{"v": {"1"}}})
	s := m.Socket("/", client.SocketOptions{Auth: map[string]any{"user": "ann"}})
	auth := make(chan *client.Event, 1)
	s.On("auth", func(ev *client.Event) { auth <- ev })
	back := make(chan *client.Event, 4)
	s.On("message-back", func(ev *client.Event) { back <- ev })
	if err := s.Connect(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if s.ID() == "" || !s.Connected() {
		t.Fatalf("connected socket: id %q connected %v", s.ID(), s.Connected())
	}
	// The server emits the handshake auth right after CONNECT.
	select {
	case ev := <-auth:
		var a map[string]any
		if err := ev.Bind(0, &a); err != nil || a["user"] != "ann" {
			t.Fatalf("auth event %v %v", a, err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("no auth event")
	}

	// Text and binary, at the top level and nested, both ways.
	bin := []byte{0, 1, 2, 0xff}
	if err := s.Emit("message", "héllo", 42.5, map[string]any{"b": bin, "n": nil}, bin); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-back:
		vs, err := ev.Values()
		if err != nil || len(vs) != 4 {
			t.Fatalf("message-back %v %v", vs, err)
		}
		if vs[0] != "héllo" || vs[1] != 42.5 {
			t.Fatalf("message-back scalars %v", vs)
		}
		if b, _ := vs[2].(map[string]any)["b"].([]byte); !bytes.Equal(b, bin) {
			t.Fatalf("nested binary %v", vs[2])
		}
		var top []byte
		if err := ev.Bind(3, &top); err != nil || !bytes.Equal(top, bin) {
			t.Fatalf("Bind binary: %v %v", top, err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("no message-back")
	}

	ack, err := s.EmitWithAck(ctxT(t), "message-with-ack", 1, "two", bin)
	if err != nil {
		t.Fatal(err)
	}
	var one int
	var two string
	var three []byte
	if ack.Len() != 3 || ack.Bind(0, &one) != nil || ack.Bind(1, &two) != nil || ack.Bind(2, &three) != nil ||
		one != 1 || two != "two" || !bytes.Equal(three, bin) {
		t.Fatalf("ack %d args: %d %q %v", ack.Len(), one, two, three)
	}
	if err := ack.Bind(3, &one); !errors.Is(err, client.ErrNoArg) {
		t.Fatalf("Bind past the end: %v", err)
	}

	testutil.Eventually(t, waitTimeout, func() bool { return askWhoami(t, s).Transport == want },
		"server sees transport %s", want)
	w := askWhoami(t, s)
	if w.ID != s.ID() || w.Query["v"] != "1" {
		t.Fatalf("whoami %+v, socket id %q", w, s.ID())
	}
	if got := m.Transport(); got != want {
		t.Fatalf("Manager.Transport %q, want %q", got, want)
	}

	if err := s.Emit("connect"); !errors.Is(err, client.ErrReservedEvent) {
		t.Fatalf("reserved event: %v", err)
	}
	if err := s.Emit("x", func() {}); err == nil {
		t.Fatal("a func argument was encoded")
	}
	disc := make(chan client.Reason, 1)
	s.OnDisconnect(func(r client.Reason) { disc <- r })
	s.Disconnect()
	if r := <-disc; r != client.ReasonClientDisconnect {
		t.Fatalf("reason %q", r)
	}
	if err := s.Emit("message", 1); !errors.Is(err, client.ErrDisconnected) {
		t.Fatalf("emit after Disconnect: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}

func testNamespaces(t *testing.T, url string) {
	m := newManager(t, url, client.Config{})
	root := m.Socket("/", client.SocketOptions{})
	custom := m.Socket("custom", client.SocketOptions{Auth: map[string]any{"k": "v"}})
	priv := m.Socket("/private", client.SocketOptions{AuthFunc: func() map[string]any { return map[string]any{"token": "s3cret"} }})
	bad := m.Socket("/private", client.SocketOptions{})
	if bad != priv {
		t.Fatal("Socket returned a second socket for one namespace")
	}
	for _, s := range []*client.Socket{root, custom, priv} {
		if err := s.Connect(ctxT(t)); err != nil {
			t.Fatalf("%s: %v", s.Namespace(), err)
		}
	}
	// One Engine.IO connection carries the three namespaces.
	w1, w2, w3 := askWhoami(t, root), askWhoami(t, custom), askWhoami(t, priv)
	if w1.EngineID == "" || w1.EngineID != w2.EngineID || w2.EngineID != w3.EngineID {
		t.Fatalf("engine ids %q %q %q", w1.EngineID, w2.EngineID, w3.EngineID)
	}
	if w2.Nsp != "/custom" || w2.Auth["k"] != "v" || w3.Nsp != "/private" {
		t.Fatalf("whoami %+v %+v", w2, w3)
	}

	// Refused by middleware: a ConnectError with the server's data.
	m2 := newManager(t, url, client.Config{})
	denied := m2.Socket("/private", client.SocketOptions{Auth: map[string]any{"token": "wrong"}})
	cerrs := make(chan error, 1)
	denied.OnConnectError(func(err error) { cerrs <- err })
	err := denied.Connect(ctxT(t))
	var ce *client.ConnectError
	if !errors.As(err, &ce) || ce.Message != "unauthorized" || fmt.Sprint(ce.Data) != "map[code:401]" {
		t.Fatalf("refused connect: %v", err)
	}
	if got := <-cerrs; !errors.As(got, &ce) {
		t.Fatalf("OnConnectError got %v", got)
	}
	// An unknown namespace.
	err = m2.Socket("/nowhere", client.SocketOptions{}).Connect(ctxT(t))
	if !errors.As(err, &ce) || ce.Message != "Invalid namespace" {
		t.Fatalf("unknown namespace: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	_ = m2.Close()
}

// testServerAck: the server emits with an ack callback and the client answers.
func testServerAck(t *testing.T, url string) {
	s, err := client.Dial(ctxT(t), url, client.Config{}, client.SocketOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Manager().Close()
	res := make(chan []any, 1)
	s.On("server-ack", func(ev *client.Event) {
		if !ev.HasAck() {
			t.Error("server-ack without ack id")
		}
		vs, _ := ev.Values()
		if !ev.Ack(append(vs, "done")...) || ev.Ack("twice") {
			t.Error("Ack should succeed once")
		}
	})
	s.On("server-ack-result", func(ev *client.Event) { vs, _ := ev.Values(); res <- vs })
	if err := s.Emit("request-server-ack", "a", 2.0); err != nil {
		t.Fatal(err)
	}
	select {
	case vs := <-res:
		if fmt.Sprint(vs) != "[a 2 done]" {
			t.Fatalf("server got ack %v", vs)
		}
	case <-time.After(waitTimeout):
		t.Fatal("no server-ack-result")
	}
}

// testServerDisconnect: a server-side disconnect is not retried.
func testServerDisconnect(t *testing.T, url string) {
	for _, closeConn := range []bool{false, true} {
		m := newManager(t, url, client.Config{ReconnectDelay: 10 * time.Millisecond})
		s := m.Socket("/", client.SocketOptions{})
		var rec recorder
		s.OnConnect(func() { rec.add("connect") })
		s.OnDisconnect(func(r client.Reason) { rec.add("disconnect " + string(r)) })
		if err := s.Connect(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		if err := s.Emit("server-disconnect", closeConn); err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, waitTimeout, func() bool { return rec.has("disconnect io server disconnect") }, "io server disconnect")
		testutil.Eventually(t, waitTimeout, func() bool { return m.Transport() == "" }, "connection closed (no socket active)")
		if err := s.Emit("x"); !errors.Is(err, client.ErrDisconnected) {
			t.Fatalf("emit after server disconnect: %v", err)
		}
		_ = m.Close()
		if n := rec.count("connect"); n != 1 {
			t.Fatalf("close=%v: %d connects (%v): a server disconnect was retried", closeConn, n, rec.list())
		}
	}
}

// testHeartbeat: the servers ping every targetPingInterval; a client that
// answers stays on one session across many pings.
func testHeartbeat(t *testing.T, url string) {
	for _, tr := range [][]string{{"polling"}, {"websocket"}} {
		m := newManager(t, url, client.Config{Transports: tr})
		s := m.Socket("/", client.SocketOptions{})
		var rec recorder
		s.OnDisconnect(func(r client.Reason) { rec.add(string(r)) })
		if err := s.Connect(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		before := askWhoami(t, s)
		testutil.Eventually(t, waitTimeout, func() bool { return m.PongsSent() >= 5 }, "five pongs")
		after := askWhoami(t, s)
		if after.EngineID != before.EngineID || len(rec.list()) > 0 {
			t.Fatalf("%v: session changed %q → %q, disconnects %v", tr, before.EngineID, after.EngineID, rec.list())
		}
		_ = m.Close()
	}
}

// testReconnect: the network drops; the client reconnects with back-off,
// emits made meanwhile are buffered (bounded) and delivered after.
func testReconnect(t *testing.T, url string) {
	p, purl := startProxy(t, url)
	m := newManager(t, purl, client.Config{ReconnectDelay: 20 * time.Millisecond, ReconnectDelayMax: 50 * time.Millisecond, MaxBufferedEmits: 3})
	var attempts recorder
	m.OnReconnectAttempt(func(n int, d time.Duration) {
		if d <= 0 || d > 50*time.Millisecond {
			t.Errorf("attempt %d delay %v out of range", n, d)
		}
		attempts.add(fmt.Sprint(n))
	})
	s := m.Socket("/", client.SocketOptions{})
	var rec recorder
	s.OnConnect(func() { rec.add("connect") })
	s.OnDisconnect(func(r client.Reason) { rec.add("disconnect " + string(r)) })
	s.OnConnectError(func(err error) {
		if !errors.Is(err, client.ErrTransport) {
			t.Errorf("connect error %v does not wrap ErrTransport", err)
		}
		rec.add("connect_error")
	})
	back := make(chan string, 10)
	s.On("message-back", func(ev *client.Event) { v, _ := ev.String(0); back <- v })
	if err := s.Connect(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	first := s.ID()
	// An ack in flight when the connection drops fails.
	p.Frozen.Store(true)
	ackErr := make(chan error, 1)
	go func() {
		_, err := s.EmitWithAck(ctxT(t), "message-with-ack", 1)
		ackErr <- err
	}()
	p.Down.Store(true)
	testutil.Eventually(t, waitTimeout, func() bool { return !s.Connected() }, "disconnected")
	p.Cut()
	p.Frozen.Store(false)
	testutil.Eventually(t, waitTimeout, func() bool {
		return rec.count("disconnect transport close")+rec.count("disconnect transport error")+rec.count("disconnect ping timeout") == 1
	}, "disconnect reported: %v", rec.list())
	if err := <-ackErr; !errors.Is(err, client.ErrDisconnected) {
		t.Fatalf("ack across a drop: %v", err)
	}
	testutil.Eventually(t, waitTimeout, func() bool { return rec.count("connect_error") >= 2 }, "failed attempts reported")
	for i := range 3 {
		if err := s.Emit("message", fmt.Sprint("buffered ", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Emit("message", "one too many"); !errors.Is(err, client.ErrBufferFull) {
		t.Fatalf("emit past the buffer: %v", err)
	}
	p.Down.Store(false)
	testutil.Eventually(t, waitTimeout, func() bool { return rec.count("connect") == 2 }, "reconnected: %v", rec.list())
	for i := range 3 {
		select {
		case v := <-back:
			if v != fmt.Sprint("buffered ", i) {
				t.Fatalf("buffered emit %d came back as %q", i, v)
			}
		case <-time.After(waitTimeout):
			t.Fatalf("buffered emit %d not delivered", i)
		}
	}
	if s.ID() == first || s.Recovered() {
		t.Fatalf("new session expected without recovery: id %q (was %q) recovered %v", s.ID(), first, s.Recovered())
	}
	if len(attempts.list()) < 2 || attempts.list()[0] != "1" {
		t.Fatalf("reconnect attempts %v", attempts.list())
	}
	_ = m.Close()
}

// testDeadServer: a server that stops answering (its sockets stay open) is
// declared dead after pingInterval+pingTimeout.
func testDeadServer(t *testing.T, url string) {
	for _, tr := range [][]string{{"polling"}, {"websocket"}} {
		p, purl := startProxy(t, url)
		m := newManager(t, purl, client.Config{Transports: tr, NoReconnect: true})
		s := m.Socket("/", client.SocketOptions{})
		reasons := make(chan client.Reason, 1)
		s.OnDisconnect(func(r client.Reason) { reasons <- r })
		if err := s.Connect(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		p.Frozen.Store(true)
		select {
		case r := <-reasons:
			if r != client.ReasonPingTimeout {
				t.Fatalf("%v: reason %q, want ping timeout", tr, r)
			}
		case <-time.After(waitTimeout):
			t.Fatalf("%v: dead server not detected", tr)
		}
		// NoReconnect: it gives up, and Connect says so.
		testutil.Eventually(t, waitTimeout, func() bool { return m.Transport() == "" }, "closed")
		_ = m.Close()
	}
}

func TestBackoff(t *testing.T) {
	cfg := client.Config{ReconnectDelay: 100 * time.Millisecond, ReconnectDelayMax: time.Second}
	for _, c := range []struct {
		n    int
		rnd  float64
		want time.Duration
	}{
		{1, 0, 100 * time.Millisecond},       // no deviation
		{2, 0, 200 * time.Millisecond},       // doubles
		{4, 0, 800 * time.Millisecond},       //
		{5, 0, time.Second},                  // capped
		{50, 0, time.Second},                 // no overflow
		{1, 0.25, 87500 * time.Microsecond},  // int(2.5) even: minus 0.25*0.5*100ms
		{1, 0.35, 117500 * time.Microsecond}, // int(3.5) odd: plus 0.35*0.5*100ms
		{5, 0.35, time.Second},               // jitter never passes the cap
	} {
		if got := client.Backoff(cfg, c.n, c.rnd); got != c.want {
			t.Errorf("backoff(%d, %v) = %v, want %v", c.n, c.rnd, got, c.want)
		}
	}
	noJitter := client.Config{RandomizationFactor: -1}
	if got := client.Backoff(noJitter, 1, 0.99); got != time.Second {
		t.Errorf("default first delay without jitter %v", got)
	}
}

func TestBadConfig(t *testing.T) {
	for _, u := range []string{"ftp://x", "http://", "::"} {
		if _, err := client.NewManager(u, client.Config{}); err == nil {
			t.Errorf("NewManager(%q) accepted", u)
		}
	}
	if _, err := client.NewManager("http://x", client.Config{Transports: []string{"carrier-pigeon"}}); err == nil {
		t.Error("unknown transport accepted")
	}
	m, _ := client.NewManager("http://x", client.Config{})
	_ = m.Close()
	if err := m.Socket("/", client.SocketOptions{}).Connect(context.Background()); !errors.Is(err, client.ErrClosed) {
		t.Errorf("Connect on a closed manager: %v", err)
	}
}

// TestUnreachable: nothing listens; Connect reports transport errors until
// its context ends, and ReconnectAttempts gives up.
func TestUnreachable(t *testing.T) {
	testutil.CheckGoroutineLeaks(t)
	p, purl := startProxy(t, "http://127.0.0.1:1")
	p.Down.Store(true)
	m := newManager(t, purl, client.Config{ReconnectDelay: 5 * time.Millisecond, ReconnectAttempts: 2})
	err := m.Socket("/", client.SocketOptions{}).Connect(ctxT(t))
	if !errors.Is(err, client.ErrReconnectFailed) {
		t.Fatalf("Connect: %v", err)
	}
	if n := p.Accepts(); n != 3 {
		t.Fatalf("%d connection attempts, want 3 (first + 2 retries)", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	m2 := newManager(t, purl, client.Config{ReconnectDelay: 5 * time.Millisecond})
	err = m2.Socket("/", client.SocketOptions{}).Connect(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, client.ErrTransport) {
		t.Fatalf("Connect with deadline: %v", err)
	}
}
