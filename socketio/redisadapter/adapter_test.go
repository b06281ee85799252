package redisadapter_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/banter-chat/banter/client"
	"github.com/banter-chat/banter/internal/testutil"
	"github.com/banter-chat/banter/socketio"
	"github.com/banter-chat/banter/socketio/redisadapter"
	"github.com/redis/rueidis"
)

const waitTimeout = 10 * time.Second

// redisURL is the machine's Redis (scripts/deps.sh starts it);
// BANTER_TEST_REDIS overrides it.
func redisURL() string { return testutil.RedisURL() }

// uniqueKey keeps a test's channels apart from anyone else's on the shared
// Redis.
func uniqueKey() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "banter-test-" + hex.EncodeToString(b)
}

// redisClient connects to the test Redis; name (may be empty) names its
// connections in CLIENT LIST.
func redisClient(t testing.TB, name string) rueidis.Client {
	t.Helper()
	opt, err := rueidis.ParseURL(redisURL())
	if err != nil {
		t.Fatal(err)
	}
	opt.DisableCache = true
	opt.ClientName = name
	c, err := rueidis.NewClient(opt)
	if err != nil {
		t.Fatalf("Redis at %s is not reachable (is it running? scripts/deps.sh starts it): %v", redisURL(), err)
	}
	t.Cleanup(c.Close)
	return c
}

// logBuffer collects a node's log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// node is one Banter Socket.IO server of a cluster.
type node struct {
	srv     *socketio.Server
	cluster *redisadapter.Cluster
	url     string
	log     *logBuffer
	name    string // of its Redis connections
}

// newNode starts a server whose sockets join the rooms listed in their auth
// ("rooms": [...]) and keep their auth "name" as data.
func newNode(t *testing.T, key string, cfg redisadapter.Config) *node {
	t.Helper()
	return newNodeWith(t, key, cfg, socketio.Config{})
}

// newNodeWith is newNode with a server configuration (its Adapter is set
// here).
func newNodeWith(t *testing.T, key string, cfg redisadapter.Config, scfg socketio.Config) *node {
	t.Helper()
	n := &node{log: &logBuffer{}}
	cfg.Key = key
	if cfg.RequestsTimeout == 0 {
		cfg.RequestsTimeout = 3 * time.Second
	}
	cfg.Logger = slog.New(slog.NewTextHandler(n.log, nil))
	n.name = "banter-test-node-" + uniqueKey()
	n.cluster = redisadapter.New(redisClient(t, n.name), cfg)
	scfg.Adapter, scfg.DisableClientBundle = n.cluster.Adapter, true
	n.srv = socketio.NewServer(scfg)
	// In a middleware, not a connection handler: Banter writes the CONNECT
	// reply before connection handlers run, so a client could otherwise act
	// before its rooms are joined.
	n.srv.Of("/").Use(func(s *socketio.Socket) error {
		if rooms, ok := s.Handshake().Auth["rooms"].([]any); ok {
			for _, r := range rooms {
				s.Join(fmt.Sprint(r))
			}
		}
		s.SetData(map[string]any{"name": s.Handshake().Auth["name"]})
		return nil
	})
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", n.srv)
	ts := httptest.NewServer(mux)
	n.url = ts.URL
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = n.srv.Shutdown(ctx)
		ts.Close()
		_ = n.cluster.Close()
		if t.Failed() {
			t.Logf("node %s log:\n%s", n.url, n.log.String())
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := n.cluster.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	return n
}

// waitServers waits until every node sees n nodes.
func waitServers(t *testing.T, n int, nodes ...*node) {
	t.Helper()
	for _, nd := range nodes {
		testutil.Eventually(t, waitTimeout, func() bool {
			c, err := nd.srv.Of("/").ServerCount(context.Background())
			return err == nil && c == n
		}, "%d servers", n)
	}
}

// peer is a socket.io client recording what it receives.
type peer struct {
	s  *client.Socket
	ch chan received
}

type received struct {
	event string
	args  []any
}

func connect(t *testing.T, url, name string, rooms ...string) *peer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	p := &peer{ch: make(chan received, 64)}
	m, err := client.NewManager(url, client.Config{Transports: []string{"websocket"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	p.s = m.Socket("/", client.SocketOptions{Auth: map[string]any{"name": name, "rooms": rooms}})
	for _, ev := range []string{"hello", "to-room", "except", "local", "volatile", "from-socket", "private", "after-join", "emitter", "question"} {
		p.s.On(ev, func(e *client.Event) {
			vals, err := e.Values()
			if err != nil {
				t.Errorf("%s: %v", ev, err)
			}
			if e.HasAck() {
				e.Ack(name+" says yes", len(vals))
			}
			p.ch <- received{ev, vals}
		})
	}
	if err := p.s.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	return p
}

// expect waits for event; it fails on any other event first.
func (p *peer) expect(t *testing.T, event string) []any {
	t.Helper()
	select {
	case r := <-p.ch:
		if r.event != event {
			t.Fatalf("got %q %v, want %q", r.event, r.args, event)
		}
		return r.args
	case <-time.After(waitTimeout):
		t.Fatalf("no %q within %v", event, waitTimeout)
	}
	return nil
}

// nothing checks that no event is pending (call after an event that was
// sent later to everyone, so that anything before it has arrived).
func (p *peer) nothing(t *testing.T) {
	t.Helper()
	select {
	case r := <-p.ch:
		t.Fatalf("unexpected %q %v", r.event, r.args)
	default:
	}
}

// marker is broadcast to everyone after a step, so that each peer's
// "nothing" check is meaningful: events of one origin arrive in order.
func marker(t *testing.T, from *node, peers ...*peer) {
	t.Helper()
	if err := from.srv.Emit("hello", "marker"); err != nil {
		t.Fatal(err)
	}
	for _, p := range peers {
		if args := p.expect(t, "hello"); args[0] != "marker" {
			t.Fatalf("marker: %v", args)
		}
	}
}

func TestBroadcastAcrossNodes(t *testing.T) {
	key := uniqueKey()
	a, b := newNode(t, key, redisadapter.Config{}), newNode(t, key, redisadapter.Config{})
	waitServers(t, 2, a, b)
	pa := connect(t, a.url, "pa", "red")
	pb := connect(t, b.url, "pb", "red", "blue")
	pb2 := connect(t, b.url, "pb2", "blue")
	all := []*peer{pa, pb, pb2}

	// To everyone, binary included, from either node.
	if err := a.srv.Emit("hello", "from a", []byte{1, 2, 3}, map[string]any{"n": 1.5, "blob": []byte{}}); err != nil {
		t.Fatal(err)
	}
	for _, p := range all {
		args := p.expect(t, "hello")
		if args[0] != "from a" || !bytes.Equal(args[1].([]byte), []byte{1, 2, 3}) || args[2].(map[string]any)["n"] != 1.5 {
			t.Fatalf("hello: %v", args)
		}
	}
	marker(t, b, all...)

	// One room (published on its room channel), two rooms, except.
	_ = b.srv.To("red").Emit("to-room", "red")
	pa.expect(t, "to-room")
	pb.expect(t, "to-room")
	_ = a.srv.To("red", "blue").Emit("to-room", "red+blue")
	for _, p := range all {
		p.expect(t, "to-room")
	}
	_ = a.srv.Of("/").Except("blue").Emit("except", "not blue")
	pa.expect(t, "except")
	_ = a.srv.To("blue").Except("red").Emit("except", "blue not red")
	pb2.expect(t, "except")
	// Local stays on its node; volatile crosses.
	_ = b.srv.Of("/").Local().Emit("local", "b only")
	pb.expect(t, "local")
	pb2.expect(t, "local")
	_ = a.srv.Of("/").Volatile().Emit("volatile", "v")
	for _, p := range all {
		p.expect(t, "volatile")
	}
	marker(t, a, all...)
	for _, p := range all {
		p.nothing(t)
	}

	// From a socket: everyone else, on both nodes.
	sa := a.srv.Of("/").FetchSockets
	local, err := sa(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var fromA *socketio.Socket
	for _, r := range local {
		if r.Local() != nil {
			fromA = r.Local()
		}
	}
	if fromA == nil {
		t.Fatal("no local socket on a")
	}
	_ = fromA.Broadcast().Emit("from-socket", "x")
	pb.expect(t, "from-socket")
	pb2.expect(t, "from-socket")
	// A socket's own room: its id, on the node that has it.
	_ = a.srv.To(pb2.s.ID()).Emit("private", "just pb2")
	pb2.expect(t, "private")
	marker(t, b, all...)
	for _, p := range all {
		p.nothing(t)
	}
}

func TestRemoteOperations(t *testing.T) {
	key := uniqueKey()
	a, b := newNode(t, key, redisadapter.Config{}), newNode(t, key, redisadapter.Config{PublishOnSpecificResponseChannel: true})
	waitServers(t, 2, a, b)
	pa := connect(t, a.url, "pa", "red")
	pb := connect(t, b.url, "pb", "blue")
	ctx := context.Background()

	// FetchSockets sees both nodes, with rooms, handshake and data.
	all, err := a.srv.Of("/").FetchSockets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 {
		t.Fatalf("FetchSockets: %d sockets", len(all))
	}
	var remote *socketio.RemoteSocket
	for _, r := range all {
		if r.ID == pb.s.ID() {
			remote = r
		}
	}
	if remote == nil || remote.Local() != nil {
		t.Fatalf("pb's socket not fetched as remote: %+v", all)
	}
	if !slices.Contains(remote.Rooms, "blue") || !slices.Contains(remote.Rooms, pb.s.ID()) ||
		remote.Data.(map[string]any)["name"] != "pb" || remote.Handshake.Auth["name"] != "pb" ||
		remote.Handshake.Query.Get("EIO") != "4" || time.Since(remote.Handshake.Time) > time.Minute {
		t.Fatalf("remote socket: %+v", remote)
	}
	if got, err := b.srv.Of("/").In("red").FetchSockets(ctx); err != nil || len(got) != 1 || got[0].ID != pa.s.ID() {
		t.Fatalf("FetchSockets(red) from b: %v %v", got, err)
	}

	// A remote socket joins a room and is reached through it.
	if err := remote.Join("green"); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, waitTimeout, func() bool {
		s := b.srv.Of("/").Socket(pb.s.ID())
		return s != nil && slices.Contains(s.Rooms(), "green")
	}, "pb joined green")
	_ = a.srv.To("green").Emit("after-join", "green")
	pb.expect(t, "after-join")
	if err := remote.Emit("private", "direct"); err != nil {
		t.Fatal(err)
	}
	pb.expect(t, "private")

	// SocketsJoin by room, across nodes; AllRooms lists every node's rooms.
	if err := a.srv.Of("/").In("blue").SocketsJoin("purple"); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, waitTimeout, func() bool {
		rooms, err := a.srv.Of("/").AllRooms(ctx)
		return err == nil && slices.Contains(rooms, "purple") && slices.Contains(rooms, "red") && slices.Contains(rooms, pb.s.ID())
	}, "AllRooms has purple")
	if err := b.srv.Of("/").SocketsLeave("purple", "green"); err != nil {
		t.Fatal(err)
	}
	if s := b.srv.Of("/").Socket(pb.s.ID()); slices.Contains(s.Rooms(), "purple") {
		t.Fatal("local SocketsLeave is not immediate")
	}

	// DisconnectSockets reaches the other node.
	disc := make(chan client.Reason, 1)
	pa.s.OnDisconnect(func(r client.Reason) { disc <- r })
	if err := b.srv.Of("/").In("red").DisconnectSockets(false); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-disc:
		if r != client.ReasonServerDisconnect {
			t.Fatalf("reason %q", r)
		}
	case <-time.After(waitTimeout):
		t.Fatal("pa not disconnected")
	}
}

func TestServerSideEmit(t *testing.T) {
	key := uniqueKey()
	a, b, c := newNode(t, key, redisadapter.Config{}), newNode(t, key, redisadapter.Config{}), newNode(t, key, redisadapter.Config{RequestsTimeout: 500 * time.Millisecond})
	waitServers(t, 3, a, b, c)
	got := make(chan string, 8)
	for name, nd := range map[string]*node{"a": a, "b": b, "c": c} {
		nd.srv.Of("/").OnServerSideEmit("ping", func(ev *socketio.ServerSideEvent) {
			got <- name + ":" + fmt.Sprint(ev.Args)
			ev.Ack(name + " pong")
		})
		nd.srv.Of("/").OnServerSideEmit("silent", func(ev *socketio.ServerSideEvent) {
			if name == "b" {
				ev.Ack("only b")
			}
		})
	}
	if err := a.srv.Of("/").ServerSideEmit("ping", 1, "x"); err != nil {
		t.Fatal(err)
	}
	var heard []string
	for range 2 {
		select {
		case s := <-got:
			heard = append(heard, s)
		case <-time.After(waitTimeout):
			t.Fatalf("serverSideEmit reached %v only", heard)
		}
	}
	sort.Strings(heard)
	if !slices.Equal(heard, []string{"b:[1 x]", "c:[1 x]"}) {
		t.Fatalf("heard %v (the sender must not hear itself)", heard)
	}

	answers, err := c.srv.Of("/").ServerSideEmitWithAck(context.Background(), "ping")
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(answers, func(i, j int) bool { return fmt.Sprint(answers[i]) < fmt.Sprint(answers[j]) })
	if fmt.Sprint(answers) != "[a pong b pong]" {
		t.Fatalf("answers %v", answers)
	}
	for range 2 {
		<-got
	}

	// c's requests time out after 500ms: a does not answer "silent".
	answers, err = c.srv.Of("/").ServerSideEmitWithAck(context.Background(), "silent")
	if !errors.Is(err, redisadapter.ErrTimeout) || fmt.Sprint(answers) != "[only b]" {
		t.Fatalf("silent: %v %v", answers, err)
	}
	if !strings.Contains(err.Error(), "1 of 2") {
		t.Fatalf("error does not say how many answered: %v", err)
	}
	// A handler may itself wait for the other nodes: answers are not read
	// behind it.
	b.srv.Of("/").OnServerSideEmit("nested", func(ev *socketio.ServerSideEvent) {
		n, err := b.srv.Of("/").ServerCount(context.Background())
		rooms, err2 := b.srv.Of("/").AllRooms(context.Background())
		ev.Ack(fmt.Sprint(n, len(rooms), err, err2))
	})
	a.srv.Of("/").OnServerSideEmit("nested", func(ev *socketio.ServerSideEvent) { ev.Ack("a") })
	c.srv.Of("/").OnServerSideEmit("nested", func(ev *socketio.ServerSideEvent) { ev.Ack("c") })
	answers, err = a.srv.Of("/").ServerSideEmitWithAck(context.Background(), "nested")
	sort.Slice(answers, func(i, j int) bool { return fmt.Sprint(answers[i]) < fmt.Sprint(answers[j]) })
	if err != nil || fmt.Sprint(answers) != "[3 0 <nil> <nil> c]" {
		t.Fatalf("nested: %v %v", answers, err)
	}
	if _, err := a.srv.Of("/").ServerSideEmitWithAck(context.Background(), "disconnect"); !errors.Is(err, socketio.ErrReservedEvent) {
		t.Fatalf("reserved event: %v", err)
	}
}

func TestBroadcastWithAckAcrossNodes(t *testing.T) {
	key := uniqueKey()
	a, b := newNode(t, key, redisadapter.Config{}), newNode(t, key, redisadapter.Config{})
	waitServers(t, 2, a, b)
	connect(t, a.url, "pa")
	connect(t, b.url, "pb", "blue")
	connect(t, b.url, "pb2")

	answers, err := a.srv.Of("/").Timeout(waitTimeout).EmitWithAck(context.Background(), "question", "ok?", []byte{9})
	if err != nil {
		t.Fatal(err)
	}
	var says []string
	for _, ans := range answers {
		says = append(says, fmt.Sprint(ans[0]))
	}
	sort.Strings(says)
	if !slices.Equal(says, []string{"pa says yes", "pb says yes", "pb2 says yes"}) {
		t.Fatalf("answers %v", answers)
	}
	// A room that only exists on the other node; a local answer keeps all
	// of its arguments, a remote one its first (as Node's adapter sends).
	answers, err = a.srv.To("blue").Timeout(waitTimeout).EmitWithAck(context.Background(), "question")
	if err != nil || len(answers) != 1 || fmt.Sprint(answers[0]) != "[pb says yes]" {
		t.Fatalf("to blue: %v %v", answers, err)
	}
	// Nobody anywhere: both nodes report 0 clients, no waiting.
	start := time.Now()
	answers, err = a.srv.To("nobody").Timeout(waitTimeout).EmitWithAck(context.Background(), "question")
	if err != nil || len(answers) != 0 || time.Since(start) > waitTimeout/2 {
		t.Fatalf("to nobody: %v %v after %v", answers, err, time.Since(start))
	}
}

// TestBadMessages: garbage on every channel is logged and dropped; the
// node keeps working.
func TestBadMessages(t *testing.T) {
	key := uniqueKey()
	a := newNode(t, key, redisadapter.Config{})
	pa := connect(t, a.url, "pa", "red")
	rc := redisClient(t, "")
	ctx := context.Background()
	for _, m := range []struct{ channel, msg string }{
		{key + "#/#", "\x93\xa1x"},                                                        // truncated
		{key + "#/#", "\x93\xa1x\x82\xa4type\x01\xa4data\x91\xa1e\x80"},                   // a DISCONNECT packet
		{key + "#/#red#", "\xc1"},                                                         // never-used byte
		{key + "-request#/#", "{not json"},                                                // bad JSON
		{key + "-request#/#", `{"type":42,"uid":"x"}`},                                    // unknown type
		{key + "-request#/#", `{"type":6,"uid":"x","data":[1]}`},                          // event name not a string
		{key + "-response#/#", "\x81\xa4type"},                                            // truncated MessagePack
		{key + "-request#/#", `{"type":2,"uid":"x","opts":{"rooms":[{}]},"rooms":["a"]}`}, // bad room name
	} {
		if err := rc.Do(ctx, rc.B().Publish().Channel(m.channel).Message(m.msg).Build()).Error(); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, waitTimeout, func() bool {
		return strings.Count(a.log.String(), "dropped") >= 8
	}, "8 dropped messages logged")
	marker(t, a, pa)
	pa.nothing(t)
}

// TestRecoveryOnSameNode: a client that reconnects to its node recovers its
// session, with the broadcasts other nodes sent meanwhile.
func TestRecoveryOnSameNode(t *testing.T) {
	key := uniqueKey()
	a := newNodeWith(t, key, redisadapter.Config{}, socketio.Config{Recovery: &socketio.RecoveryConfig{}})
	b := newNode(t, key, redisadapter.Config{})
	waitServers(t, 2, a, b)
	proxy, purl := testutil.StartProxy(t, a.url)
	m, err := client.NewManager(purl, client.Config{Transports: []string{"websocket"},
		ReconnectDelay: 10 * time.Millisecond, ReconnectDelayMax: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	s := m.Socket("/", client.SocketOptions{Auth: map[string]any{"name": "pa", "rooms": []string{"r"}}})
	got := make(chan string, 16)
	s.On("to-room", func(e *client.Event) {
		v, _ := e.String(0)
		got <- v
	})
	connects := make(chan struct{}, 4)
	s.OnConnect(func() { connects <- struct{}{} })
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := s.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	<-connects
	id := s.ID()
	expect := func(want string) {
		t.Helper()
		select {
		case v := <-got:
			if v != want {
				t.Fatalf("got %q, want %q", v, want)
			}
		case <-time.After(waitTimeout):
			t.Fatalf("no %q", want)
		}
	}
	_ = b.srv.To("r").Emit("to-room", "before")
	expect("before")

	proxy.Down.Store(true)
	proxy.Cut()
	testutil.Eventually(t, waitTimeout, func() bool { return a.srv.Of("/").Len() == 0 }, "a saw the disconnect")
	for i := range 3 {
		_ = b.srv.To("r").Emit("to-room", fmt.Sprint("missed ", i))
	}
	proxy.Down.Store(false)
	select {
	case <-connects:
	case <-time.After(waitTimeout):
		t.Fatal("no reconnection")
	}
	if !s.Recovered() || s.ID() != id {
		t.Fatalf("recovered %v, id %q (was %q)", s.Recovered(), s.ID(), id)
	}
	for i := range 3 {
		expect(fmt.Sprint("missed ", i))
	}
	_ = b.srv.To("r").Emit("to-room", "after")
	expect("after")
}

// TestNamespaceNames: broadcasts of a namespace whose name holds glob
// characters reach the other node, and only that namespace.
func TestNamespaceNames(t *testing.T) {
	key := uniqueKey()
	a, b := newNode(t, key, redisadapter.Config{}), newNode(t, key, redisadapter.Config{})
	const odd = "/[x]*"
	for _, n := range []*node{a, b} {
		n.srv.Of(odd)
		n.srv.Of("/x")
	}
	for _, n := range []*node{a, b} {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		if err := n.cluster.Ready(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
	}
	m, err := client.NewManager(b.url, client.Config{Transports: []string{"websocket"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	got := make(chan string, 4)
	for _, nsp := range []string{odd, "/x"} {
		s := m.Socket(nsp, client.SocketOptions{})
		s.On("hello", func(e *client.Event) { got <- nsp })
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		if err := s.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
	}
	_ = a.srv.Of(odd).Emit("hello")
	_ = a.srv.Of("/x").Emit("hello")
	for _, want := range []string{odd, "/x"} {
		select {
		case nsp := <-got:
			if nsp != want {
				t.Fatalf("got hello on %q, want %q", nsp, want)
			}
		case <-time.After(waitTimeout):
			t.Fatalf("no hello on %q", want)
		}
	}
}

// TestResubscribe: a node whose subscriber connection is killed subscribes
// again and gets broadcasts again.
func TestResubscribe(t *testing.T) {
	key := uniqueKey()
	a, b := newNode(t, key, redisadapter.Config{}), newNode(t, key, redisadapter.Config{RetryDelay: 20 * time.Millisecond})
	waitServers(t, 2, a, b)
	pb := connect(t, b.url, "pb")
	rc := redisClient(t, "")
	ctx := context.Background()
	list, err := rc.Do(ctx, rc.B().ClientList().TypePubsub().Build()).ToString()
	if err != nil {
		t.Fatal(err)
	}
	killed := 0
	for line := range strings.SplitSeq(list, "\n") {
		if !strings.Contains(line, " name="+b.name+" ") {
			continue
		}
		// RESP3 returns a verbatim string: "txt:id=12 addr=…".
		idText, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(line, "txt:"), "id="), " ")
		id, err := strconv.ParseInt(idText, 10, 64)
		if err != nil {
			t.Fatalf("CLIENT LIST line %q: %v", line, err)
		}
		if err := rc.Do(ctx, rc.B().ClientKill().Id(id).Build()).Error(); err != nil {
			t.Fatal(err)
		}
		killed++
	}
	if killed != 1 {
		t.Fatalf("found %d pub/sub connections of node b, want 1:\n%s", killed, list)
	}
	testutil.Eventually(t, waitTimeout, func() bool { return strings.Contains(b.log.String(), "reconnecting") }, "connection loss noticed")
	ready, cancel := context.WithTimeout(ctx, waitTimeout)
	defer cancel()
	if err := b.cluster.Ready(ready); err != nil {
		t.Fatal(err)
	}
	waitServers(t, 2, a)
	_ = a.srv.Emit("hello", "after")
	if args := pb.expect(t, "hello"); args[0] != "after" {
		t.Fatalf("got %v", args)
	}
}

// TestClose: Close ends the cluster's goroutines and fails what waits.
func TestClose(t *testing.T) {
	testutil.CheckGoroutineLeaks(t)
	rc := redisClient(t, "")
	c := redisadapter.New(rc, redisadapter.Config{Key: uniqueKey(), Logger: slog.New(slog.DiscardHandler)})
	srv := socketio.NewServer(socketio.Config{Adapter: c.Adapter, DisableClientBundle: true})
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := c.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := c.Ready(ctx); !errors.Is(err, redisadapter.ErrClosed) {
		t.Fatalf("Ready after Close: %v", err)
	}
	if err := srv.Of("/").ServerSideEmit("x"); !errors.Is(err, redisadapter.ErrClosed) {
		t.Fatalf("ServerSideEmit after Close: %v", err)
	}
	_ = srv.Shutdown(ctx)
}
