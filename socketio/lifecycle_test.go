package socketio_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/banter-chat/banter/engineio"
	"github.com/banter-chat/banter/internal/testutil"
	"github.com/banter-chat/banter/socketio"
	"github.com/banter-chat/banter/socketio/parser"
	"github.com/coder/websocket"
)

// reasons delivers (socket id, reason) for every disconnect in n.
func reasons(n *socketio.Namespace) <-chan socketio.Reason {
	ch := make(chan socketio.Reason, 64)
	n.OnConnection(func(s *socketio.Socket) {
		s.OnDisconnect(func(r socketio.Reason) { ch <- r })
	})
	return ch
}

func TestDisconnectReasons(t *testing.T) {
	cases := []struct {
		name   string
		cfg    socketio.Config
		act    func(t *testing.T, ts *testServer, cl *client, s *socketio.Socket)
		reason socketio.Reason
	}{
		{"client namespace disconnect", socketio.Config{}, func(t *testing.T, ts *testServer, cl *client, s *socketio.Socket) {
			cl.send(&parser.Packet{Type: parser.Disconnect, Namespace: "/"})
		}, socketio.ReasonClientNamespaceDisconnect},
		{"server namespace disconnect", socketio.Config{}, func(t *testing.T, ts *testServer, cl *client, s *socketio.Socket) {
			s.Disconnect(false)
			cl.nextIn("/", parser.Disconnect)
			if s.Conn().Closed() {
				t.Error("Disconnect(false) closed the connection")
			}
		}, socketio.ReasonServerNamespaceDisconnect},
		{"server disconnect with close", socketio.Config{}, func(t *testing.T, ts *testServer, cl *client, s *socketio.Socket) {
			s.Disconnect(true)
			cl.nextIn("/", parser.Disconnect)
			cl.waitClosed()
		}, socketio.ReasonServerNamespaceDisconnect},
		{"forced server close", socketio.Config{}, func(t *testing.T, ts *testServer, cl *client, s *socketio.Socket) {
			s.Conn().Close(engineio.ReasonForcedClose)
			cl.waitClosed()
		}, socketio.ReasonForcedServerClose},
		{"transport close", socketio.Config{}, func(t *testing.T, ts *testServer, cl *client, s *socketio.Socket) {
			_ = cl.c.Close(websocket.StatusNormalClosure, "")
		}, socketio.ReasonTransportClose},
		{"ping timeout", socketio.Config{Engine: engineio.Config{PingInterval: 50 * time.Millisecond, PingTimeout: 50 * time.Millisecond}},
			func(t *testing.T, ts *testServer, cl *client, s *socketio.Socket) {
				cl.stopPongs()
			}, socketio.ReasonPingTimeout},
		{"parse error", socketio.Config{}, func(t *testing.T, ts *testServer, cl *client, s *socketio.Socket) {
			cl.write(websocket.MessageText, "4{not a packet")
		}, socketio.ReasonParseError},
		{"server shutting down", socketio.Config{}, func(t *testing.T, ts *testServer, cl *client, s *socketio.Socket) {
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			if err := ts.io.Shutdown(ctx); err != nil {
				t.Error(err)
			}
		}, socketio.ReasonServerShutdown},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ts := startServer(t, c.cfg)
			rs := reasons(ts.io.Of("/"))
			conns := sockets(ts.io.Of("/"))
			cl := ts.dial(t, 4, "")
			cl.mustConnect("/", nil)
			s := recv(t, conns, "socket")
			c.act(t, ts, cl, s)
			if r := recv(t, rs, "disconnect"); r != c.reason {
				t.Fatalf("reason %q, want %q", r, c.reason)
			}
			if s.Connected() || ts.io.Of("/").Len() != 0 {
				t.Fatalf("socket still connected after %q", c.reason)
			}
		})
	}
}

func TestConnectTimeout(t *testing.T) {
	ts := startServer(t, socketio.Config{ConnectTimeout: 50 * time.Millisecond})
	cl := ts.dial(t, 4, "")
	// No CONNECT: the server closes the connection.
	cl.waitClosed()
}

// TestRecovery: connection state recovery (Socket.IO 4.6+). A client whose
// transport drops comes back with its pid and last offset and gets the same
// id, its rooms, and the broadcasts it missed.
func TestRecovery(t *testing.T) {
	ts := startServer(t, socketio.Config{Recovery: &socketio.RecoveryConfig{}})
	nsp := ts.io.Of("/")
	conns := sockets(nsp)
	cl := ts.dial(t, 4, "")
	p := cl.connect("/", nil)
	var reply struct{ SID, PID string }
	if err := json.Unmarshal(p.Data, &reply); err != nil || reply.PID == "" {
		t.Fatalf("CONNECT reply without pid: %s", p.Data)
	}
	s := recv(t, conns, "socket")
	if s.Recovered() {
		t.Fatal("a fresh socket is Recovered")
	}
	s.Join("room")
	s.SetData("state")
	_ = nsp.To("room").Emit("news", 1)
	// Every event carries its offset as an extra last argument.
	_, args, _ := cl.nextEvent("/")
	if len(args) != 2 {
		t.Fatalf("event args %v: no offset", args)
	}
	offset, _ := args[1].(string)

	// The transport drops (no DISCONNECT packet).
	_ = cl.c.CloseNow()
	testutil.Eventually(t, waitTimeout, func() bool { return !s.Connected() }, "socket disconnected")
	_ = nsp.To("room").Emit("news", 2)
	_ = nsp.Emit("all", 3)
	_ = nsp.To("other-room").Emit("news", 4) // not for it

	cl2 := ts.dial(t, 4, "")
	// As Node does, the missed packets come first, then the CONNECT reply
	// (the client holds events until it is connected).
	cl2.send(&parser.Packet{Type: parser.Connect, Namespace: "/", Data: mustJSON(map[string]any{"pid": reply.PID, "offset": offset})})
	for _, want := range []string{"news", "all"} {
		name, args, _ := cl2.nextEvent("/")
		if name != want || len(args) != 2 {
			t.Fatalf("replayed %q %v, want %q", name, args, want)
		}
	}
	p = cl2.nextIn("/", parser.Connect, parser.ConnectError)
	var reply2 struct{ SID, PID string }
	_ = json.Unmarshal(p.Data, &reply2)
	if reply2.SID != reply.SID || reply2.PID != reply.PID {
		t.Fatalf("recovered CONNECT %s, want sid %q pid %q", p.Data, reply.SID, reply.PID)
	}
	s2 := recv(t, conns, "recovered socket")
	if !s2.Recovered() || s2.ID() != s.ID() || s2.Data() != "state" {
		t.Fatalf("recovered socket: Recovered %v id %q data %v", s2.Recovered(), s2.ID(), s2.Data())
	}
	if _, ok := s2.Handshake().Auth["pid"]; ok {
		t.Error("pid left in the handshake auth")
	}
	// Rooms restored: a new broadcast to the room reaches it.
	_ = nsp.To("room").Emit("news", 5)
	if name, args, _ := cl2.nextEvent("/"); name != "news" || args[0] != float64(5) {
		t.Fatalf("after recovery: %q %v", name, args)
	}

	// A stale pid or an unknown offset gives a fresh session.
	cl3 := ts.dial(t, 4, "")
	p = cl3.connect("/", map[string]any{"pid": "nope", "offset": offset})
	var reply3 struct{ SID, PID string }
	_ = json.Unmarshal(p.Data, &reply3)
	if reply3.SID == reply.SID || reply3.PID == reply.PID {
		t.Fatalf("unknown pid recovered: %s", p.Data)
	}
	if s3 := recv(t, conns, "fresh socket"); s3.Recovered() {
		t.Fatal("unknown pid: Recovered")
	}
}

// A session that missed more than RecoveryConfig.MaxMissedBytes is not
// recovered (its replay would overflow its send buffer and close it again,
// forever): the client gets a fresh session and resyncs.
func TestRecoveryMissedTooMuch(t *testing.T) {
	ts := startServer(t, socketio.Config{Recovery: &socketio.RecoveryConfig{MaxMissedBytes: 10_000}})
	nsp := ts.io.Of("/")
	conns := sockets(nsp)
	reply := func(p *parser.Packet) (r struct{ SID, PID string }) {
		if p.Type != parser.Connect || json.Unmarshal(p.Data, &r) != nil {
			t.Fatalf("CONNECT reply %s %s", p.Type, p.Data)
		}
		return r
	}
	cl := ts.dial(t, 4, "")
	first := reply(cl.connect("/", nil))
	s := recv(t, conns, "socket")
	s.Join("room")
	// drop disconnects the transport after the client saw one event, and
	// returns that event's offset.
	drop := func(cl *client, s *socketio.Socket) string {
		_ = nsp.To("room").Emit("news", 0)
		_, args, _ := cl.nextEvent("/")
		offset, _ := args[len(args)-1].(string)
		_ = cl.c.CloseNow()
		testutil.Eventually(t, waitTimeout, func() bool { return !s.Connected() }, "socket disconnected")
		return offset
	}
	offset := drop(cl, s)
	big := strings.Repeat("x", 1000)
	for range 5 { // 5 KB missed: within the budget
		_ = nsp.To("room").Emit("news", big)
	}
	_ = nsp.To("other-room").Emit("news", strings.Repeat("y", 20_000)) // not for it: does not count
	cl2 := ts.dial(t, 4, "")
	cl2.send(&parser.Packet{Type: parser.Connect, Namespace: "/", Data: mustJSON(map[string]any{"pid": first.PID, "offset": offset})})
	for range 5 {
		if name, args, _ := cl2.nextEvent("/"); name != "news" || args[0] != big {
			t.Fatalf("replayed %q", name)
		}
	}
	if r := reply(cl2.nextIn("/", parser.Connect)); r.SID != first.SID {
		t.Fatalf("5 KB missed: not recovered (%+v)", r)
	}
	s2 := recv(t, conns, "recovered socket")
	offset = drop(cl2, s2)
	for range 11 { // 11 KB missed: too much
		_ = nsp.To("room").Emit("news", big)
	}
	cl3 := ts.dial(t, 4, "")
	if r := reply(cl3.connect("/", map[string]any{"pid": first.PID, "offset": offset})); r.SID == first.SID || r.PID == first.PID {
		t.Fatalf("11 KB missed with a 10 KB budget: recovered (%+v)", r)
	}
	if s3 := recv(t, conns, "fresh socket"); s3.Recovered() {
		t.Fatal("Recovered after missing too much")
	}
}

func TestShutdownNoLeaks(t *testing.T) {
	testutil.CheckGoroutineLeaks(t)
	ts := startServer(t, socketio.Config{})
	rs := reasons(ts.io.Of("/"))
	var cls []*client
	for i := range 4 {
		cl := ts.dial(t, 3+i%2, "")
		if cl.eio == 4 {
			cl.mustConnect("/", nil)
		} else {
			cl.next()
		}
		cls = append(cls, cl)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := ts.io.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for range cls {
		if r := recv(t, rs, "disconnect"); r != socketio.ReasonServerShutdown {
			t.Fatalf("reason %q", r)
		}
	}
	for _, cl := range cls {
		cl.waitClosed()
	}
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// As with Node, the client sees CONNECT only once the connection handlers
// are done: a room they join is joined by then (a broadcast the client
// triggers right after connecting reaches it). A handler that writes to
// its socket is not held back by it.
func TestConnectAfterHandlers(t *testing.T) {
	ts := startServer(t, socketio.Config{})
	nsp := ts.io.Of("/")
	nsp.OnConnection(func(s *socketio.Socket) {
		time.Sleep(100 * time.Millisecond) // a slow handler (a store read, say)
		s.Join("room")
	})
	cl := ts.dial(t, 4, "")
	cl.mustConnect("/", nil)
	_ = nsp.To("room").Emit("news", 1)
	cl.expectEvent("/", "news", 1)

	// A handler that writes to its socket and then works on: what it wrote
	// leaves at once, after CONNECT, not when it returns.
	chat := ts.io.Of("/chat")
	release := make(chan struct{})
	chat.OnConnection(func(s *socketio.Socket) {
		_ = s.Emit("hello", 2)
		<-release
	})
	defer close(release)
	cl.send(&parser.Packet{Type: parser.Connect, Namespace: "/chat"})
	cl.nextIn("/chat", parser.Connect)
	cl.expectEvent("/chat", "hello", 2)
}
