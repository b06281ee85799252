package socketio_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/banter-chat/banter/internal/testutil"
	"github.com/banter-chat/banter/socketio"
	"github.com/banter-chat/banter/socketio/parser"
)

// sockets delivers every socket that connects to n.
func sockets(n *socketio.Namespace) <-chan *socketio.Socket {
	ch := make(chan *socketio.Socket, 256)
	n.OnConnection(func(s *socketio.Socket) { ch <- s })
	return ch
}

func TestNamespaces(t *testing.T) {
	ts := startServer(t, socketio.Config{})
	static := sockets(ts.io.Of("/static"))
	dyn := make(chan *socketio.Socket, 4)
	ts.io.OfRegexp(regexp.MustCompile(`^/room-\d+$`), func(n *socketio.Namespace) {
		n.OnConnection(func(s *socketio.Socket) { dyn <- s })
	})
	ts.io.OfFunc(func(name string, auth map[string]any) bool {
		return strings.HasPrefix(name, "/team-") && auth["team"] == name[len("/team-"):]
	}, func(n *socketio.Namespace) {
		n.OnConnection(func(s *socketio.Socket) { dyn <- s })
	})

	cl := ts.dial(t, 4, "")
	id := cl.mustConnect("/static", map[string]any{"token": "t"})
	s := recv(t, static, "static connection")
	if s.ID() != id || s.Namespace().Name() != "/static" || s.Handshake().Auth["token"] != "t" {
		t.Fatalf("socket %q nsp %q auth %v; CONNECT reply sid %q", s.ID(), s.Namespace().Name(), s.Handshake().Auth, id)
	}
	// Several namespaces over one connection.
	cl.mustConnect("/room-42", nil)
	if s := recv(t, dyn, "dynamic (regexp) connection"); s.Namespace().Name() != "/room-42" || s.Conn().ID() != cl.sid {
		t.Fatalf("dynamic socket on %q, engine %q", s.Namespace().Name(), s.Conn().ID())
	}
	cl.mustConnect("/team-blue", map[string]any{"team": "blue"})
	recv(t, dyn, "dynamic (func) connection")
	// The func sees the auth: a wrong team is an invalid namespace.
	for _, nsp := range []string{"/team-red", "/room-x", "/nope"} {
		p := cl.connect(nsp, map[string]any{"team": "blue"})
		if p.Type != parser.ConnectError || string(p.Data) != `{"message":"Invalid namespace"}` {
			t.Fatalf("connect %s: %s %s", nsp, p.Type, p.Data)
		}
	}
	if ts.io.Of("/static").Len() != 1 {
		t.Fatalf("Len() = %d", ts.io.Of("/static").Len())
	}

	// Protocol v4 (EIO=3) clients are joined to "/" without asking, and
	// get the invalid namespace error as a bare string.
	root := sockets(ts.io.Of("/"))
	old := ts.dial(t, 3, "")
	if p := old.next(); p.Type != parser.Connect || p.Namespace != "/" {
		t.Fatalf("v4 client: first packet %s %q", p.Type, p.Namespace)
	}
	recv(t, root, "v4 connection to /")
	if p := old.connect("/nope", nil); p.Type != parser.ConnectError || string(p.Data) != `"Invalid namespace"` {
		t.Fatalf("v4 invalid namespace: %s %s", p.Type, p.Data)
	}
}

func TestMiddleware(t *testing.T) {
	ts := startServer(t, socketio.Config{})
	priv := ts.io.Of("/private")
	var order []string
	priv.Use(func(s *socketio.Socket) error {
		order = append(order, "first")
		return nil
	})
	priv.Use(func(s *socketio.Socket) error {
		order = append(order, "second")
		if s.Handshake().Auth["token"] == "s3cret" {
			s.SetData("user-1")
			return nil
		}
		if s.Handshake().Query().Get("plain") != "" {
			return errors.New("go away")
		}
		return &socketio.ConnectError{Message: "unauthorized", Data: map[string]any{"code": 401}}
	})
	conns := sockets(priv)

	cl := ts.dial(t, 4, "")
	p := cl.connect("/private", map[string]any{"token": "wrong"})
	if p.Type != parser.ConnectError || string(p.Data) != `{"message":"unauthorized","data":{"code":401}}` {
		t.Fatalf("v5 refusal: %s %s", p.Type, p.Data)
	}
	cl.mustConnect("/private", map[string]any{"token": "s3cret"})
	if s := recv(t, conns, "accepted socket"); s.Data() != "user-1" {
		t.Fatalf("Data() = %v", s.Data())
	}
	if strings.Join(order, ",") != "first,second,first,second" {
		t.Fatalf("middlewares ran %v", order)
	}

	// Protocol v4: the data alone, or the message when there is no data.
	old := ts.dial(t, 3, "")
	old.next() // CONNECT "/"
	if p := old.connect("/private", nil); p.Type != parser.ConnectError || string(p.Data) != `{"code":401}` {
		t.Fatalf("v4 refusal with data: %s %s", p.Type, p.Data)
	}
	old2 := ts.dial(t, 3, "plain=1")
	old2.next()
	if p := old2.connect("/private", nil); p.Type != parser.ConnectError || string(p.Data) != `"go away"` {
		t.Fatalf("v4 refusal without data: %s %s", p.Type, p.Data)
	}
}

func TestAcks(t *testing.T) {
	ts := startServer(t, socketio.Config{})
	conns := sockets(ts.io.Of("/"))
	ts.io.Of("/").OnConnection(func(s *socketio.Socket) {
		s.On("sum", func(ev *socketio.Event) {
			var a, b float64
			if ev.Bind(0, &a) != nil || ev.Bind(1, &b) != nil {
				ev.Ack("bad args")
				return
			}
			if !ev.HasAck() {
				return
			}
			ev.Ack(a + b)
			if ev.Ack("twice") {
				t.Error("a second Ack was sent")
			}
		})
	})
	cl := ts.dial(t, 4, "")
	cl.mustConnect("/", nil)
	s := recv(t, conns, "socket")

	// Client → server ack.
	cl.emitWithAck("/", 7, "sum", 2, 3)
	p := cl.nextIn("/", parser.Ack)
	if p.ID != 7 || string(p.Data) != `[5]` {
		t.Fatalf("ack %d %s", p.ID, p.Data)
	}

	// Server → client ack, answered.
	type result struct {
		args []any
		err  error
	}
	res := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		a, err := s.EmitWithAck(ctx, "question", "life")
		res <- result{a, err}
	}()
	name, args, q := cl.nextEvent("/")
	if name != "question" || !q.HasID || !sameJSON(args, []any{"life"}) {
		t.Fatalf("event %q %v id %v", name, args, q.HasID)
	}
	cl.ack("/", q.ID, 42, "yes")
	if r := recv(t, res, "EmitWithAck"); r.err != nil || !sameJSON(r.args, []any{42, "yes"}) {
		t.Fatalf("EmitWithAck: %v %v", r.args, r.err)
	}

	// Server → client ack, never answered: the context's deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.EmitWithAck(ctx, "ignored"); !errors.Is(err, socketio.ErrAckTimeout) {
		t.Fatalf("unanswered EmitWithAck: %v", err)
	}
	cl.nextEvent("/") // the "ignored" event arrived

	// EmitCallback with a timeout, and a late answer that is dropped.
	cb := make(chan result, 2)
	if err := s.EmitCallback("slow", nil, 50*time.Millisecond, func(a []any, err error) { cb <- result{a, err} }); err != nil {
		t.Fatal(err)
	}
	_, _, slow := cl.nextEvent("/")
	if r := recv(t, cb, "EmitCallback timeout"); !errors.Is(r.err, socketio.ErrAckTimeout) {
		t.Fatalf("EmitCallback: %v %v", r.args, r.err)
	}
	cl.ack("/", slow.ID, "too late")
	// A pending ack fails with ErrDisconnected when the socket goes.
	if err := s.EmitCallback("pending", nil, 0, func(a []any, err error) { cb <- result{a, err} }); err != nil {
		t.Fatal(err)
	}
	cl.nextEvent("/")
	cl.send(&parser.Packet{Type: parser.Disconnect, Namespace: "/"})
	if r := recv(t, cb, "EmitCallback on disconnect"); !errors.Is(r.err, socketio.ErrDisconnected) {
		t.Fatalf("pending ack on disconnect: %v %v (the late ack must have been dropped)", r.args, r.err)
	}
	if _, err := s.EmitWithAck(context.Background(), "x"); !errors.Is(err, socketio.ErrDisconnected) {
		t.Fatalf("EmitWithAck on a disconnected socket: %v", err)
	}
	if err := s.Emit("disconnect"); !errors.Is(err, socketio.ErrReservedEvent) {
		t.Fatalf("Emit of a reserved name: %v", err)
	}
}

func TestBinary(t *testing.T) {
	for _, eio := range []int{4, 3} {
		t.Run(map[int]string{4: "v5", 3: "v4"}[eio], func(t *testing.T) {
			ts := startServer(t, socketio.Config{})
			got := make(chan []any, 1)
			ts.io.Of("/").OnConnection(func(s *socketio.Socket) {
				s.On("upload", func(ev *socketio.Event) {
					args, err := ev.Args()
					if err != nil {
						t.Error(err)
					}
					got <- args
					raw, att := ev.ArgsJSON()
					ev.AckRaw(raw, att) // echo, binary kept
					_ = s.Emit("download", map[string]any{"file": []byte{0xca, 0xfe}, "n": 1}, []byte{})
				})
			})
			cl := ts.dial(t, eio, "")
			if eio == 4 {
				cl.mustConnect("/", nil)
			} else {
				cl.next()
			}
			cl.emitWithAck("/", 1, "upload", "a.bin", []byte{0, 1, 0xff}, map[string]any{"thumb": []byte("png")})
			args := recv(t, got, "upload")
			if len(args) != 3 || string(args[1].([]byte)) != "\x00\x01\xff" || string(args[2].(map[string]any)["thumb"].([]byte)) != "png" {
				t.Fatalf("server got %#v", args)
			}
			ack := cl.nextIn("/", parser.Ack)
			if ack.Type != parser.BinaryAck || len(ack.Attachments) != 2 || string(ack.Attachments[0]) != "\x00\x01\xff" {
				t.Fatalf("ack %s %s %q", ack.Type, ack.Data, ack.Attachments)
			}
			_, dl, p := cl.nextEvent("/")
			if p.Type != parser.BinaryEvent || len(dl) != 2 || string(dl[0].(map[string]any)["file"].([]byte)) != "\xca\xfe" {
				t.Fatalf("download %s %s %#v", p.Type, p.Data, dl)
			}
		})
	}
}

func TestRoomsAndBroadcast(t *testing.T) {
	ts := startServer(t, socketio.Config{})
	nsp := ts.io.Of("/")
	conns := sockets(nsp)
	var cls []*client
	var ss []*socketio.Socket
	for range 4 {
		cl := ts.dial(t, 4, "")
		cl.mustConnect("/", nil)
		cls = append(cls, cl)
		ss = append(ss, recv(t, conns, "socket"))
	}
	a, b, c, d := ss[0], ss[1], ss[2], ss[3]
	a.Join("red", "blue")
	b.Join("red")
	c.Join("blue")
	if rooms := strings.Join(sortedRooms(a), ","); rooms != strings.Join(sortStrings([]string{a.ID(), "blue", "red"}), ",") {
		t.Fatalf("a.Rooms() = %v", rooms)
	}
	// barrier: a broadcast every client gets, proving earlier packets (or
	// their absence) have been seen.
	barrier := func(tag string) {
		t.Helper()
		_ = nsp.Emit("barrier", tag)
		for _, cl := range cls {
			cl.expectEvent("/", "barrier", tag)
		}
	}
	expect := func(event string, who ...int) {
		t.Helper()
		for _, i := range who {
			cls[i].expectEvent("/", event, event)
		}
		barrier(event)
		for _, cl := range cls {
			cl.expectNothing()
		}
	}
	_ = nsp.To("red").Emit("to-red", "to-red")
	expect("to-red", 0, 1)
	_ = nsp.To("red", "blue").Emit("to-red-blue", "to-red-blue") // a is in both: once
	expect("to-red-blue", 0, 1, 2)
	_ = nsp.Except("blue").Emit("except-blue", "except-blue")
	expect("except-blue", 1, 3)
	_ = nsp.To("red").Except("blue").Emit("red-not-blue", "red-not-blue")
	expect("red-not-blue", 1)
	_ = a.Broadcast().Emit("from-a", "from-a")
	expect("from-a", 1, 2, 3)
	_ = a.To("blue").Emit("a-to-blue", "a-to-blue") // sender excluded
	expect("a-to-blue", 2)
	_ = nsp.To(d.ID()).Emit("private", "private") // a socket's own room
	expect("private", 3)
	_ = nsp.In("red").Volatile().Emit("volatile", "volatile") // no backlog: delivered
	expect("volatile", 0, 1)
	_ = nsp.To("red").Local().Emit("local", "local")
	expect("local", 0, 1)

	a.Leave("red")
	_ = nsp.To("red").Emit("after-leave", "after-leave")
	expect("after-leave", 1)
	if got, err := nsp.To("blue").FetchSockets(context.Background()); err != nil || len(got) != 2 {
		t.Fatalf("FetchSockets(blue) = %d, %v", len(got), err)
	}
	nsp.To("blue").SocketsJoin("green")
	_ = nsp.To("green").Emit("green", "green")
	expect("green", 0, 2)
	nsp.To("green").SocketsLeave("green")
	_ = nsp.To("green").Emit("nobody", "nobody")
	expect("nobody")
	nsp.To("red").DisconnectSockets(false)
	cls[1].nextIn("/", parser.Disconnect)
	testutil.Eventually(t, waitTimeout, func() bool { return nsp.Len() == 3 }, "b disconnected")
	if b.Connected() {
		t.Fatal("b still connected")
	}
	if got, _ := nsp.To("red").FetchSockets(context.Background()); len(got) != 0 {
		t.Fatal("a disconnected socket is still in its rooms")
	}
}

func sortedRooms(s *socketio.Socket) []string { return sortStrings(s.Rooms()) }

func sortStrings(in []string) []string {
	out := append([]string(nil), in...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestBroadcastEmitWithAck(t *testing.T) {
	ts := startServer(t, socketio.Config{})
	nsp := ts.io.Of("/")
	conns := sockets(nsp)
	var cls []*client
	for range 3 {
		cl := ts.dial(t, 4, "")
		cl.mustConnect("/", nil)
		recv(t, conns, "socket")
		cls = append(cls, cl)
	}
	type result struct {
		replies [][]any
		err     error
	}
	// nsp.Except() with no room is every socket (Namespace has no Timeout
	// of its own, unlike Node's io.timeout()).
	// Everyone answers: no error, all replies.
	res := make(chan result, 1)
	go func() {
		r, err := nsp.Except().Timeout(waitTimeout).EmitWithAck(context.Background(), "poll", "q1")
		res <- result{r, err}
	}()
	for i, cl := range cls {
		_, _, p := cl.nextEvent("/")
		cl.ack("/", p.ID, i)
	}
	r := recv(t, res, "multi-ack")
	if r.err != nil || len(r.replies) != 3 {
		t.Fatalf("all answered: %v %v", r.replies, r.err)
	}
	// One client never answers: the answers so far and ErrAckTimeout.
	go func() {
		r, err := nsp.Except().Timeout(200*time.Millisecond).EmitWithAck(context.Background(), "poll", "q2")
		res <- result{r, err}
	}()
	for i, cl := range cls {
		_, _, p := cl.nextEvent("/")
		if i < 2 {
			cl.ack("/", p.ID, i)
		}
	}
	r = recv(t, res, "multi-ack with timeout")
	if !errors.Is(r.err, socketio.ErrAckTimeout) || len(r.replies) != 2 {
		t.Fatalf("one silent client: %v %v", r.replies, r.err)
	}
	// No recipient: returns at once with nothing.
	r2, err := nsp.To("empty-room").Timeout(time.Minute).EmitWithAck(context.Background(), "poll")
	if err != nil || len(r2) != 0 {
		t.Fatalf("no recipients: %v %v", r2, err)
	}
}
