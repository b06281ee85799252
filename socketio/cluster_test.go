package socketio_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/banter-chat/banter/socketio"
	"github.com/banter-chat/banter/socketio/parser"
)

// TestSingleNodeClusterOperations: with the in-memory adapter the cluster
// operations cover this node only, and behave as Node's in-memory adapter.
func TestSingleNodeClusterOperations(t *testing.T) {
	ts := startServer(t, socketio.Config{})
	nsp := ts.io.Of("/")
	conns := sockets(nsp)
	var cls []*client
	var ss []*socketio.Socket
	for range 2 {
		cl := ts.dial(t, 4, "")
		cl.mustConnect("/", map[string]any{"who": len(cls)})
		cls = append(cls, cl)
		ss = append(ss, recv(t, conns, "socket"))
	}
	ss[0].Join("red")
	ss[1].SetData("d1")
	ctx := context.Background()

	if n, err := nsp.ServerCount(ctx); err != nil || n != 1 {
		t.Fatalf("ServerCount = %d, %v", n, err)
	}
	rooms, err := nsp.AllRooms(ctx)
	slices.Sort(rooms)
	want := []string{ss[0].ID(), ss[1].ID(), "red"}
	slices.Sort(want)
	if err != nil || !slices.Equal(rooms, want) {
		t.Fatalf("AllRooms = %v, %v; want %v", rooms, err, want)
	}

	// FetchSockets describes local sockets and leads back to them.
	got, err := nsp.Except("red").FetchSockets(ctx)
	if err != nil || len(got) != 1 {
		t.Fatalf("FetchSockets = %v, %v", got, err)
	}
	r := got[0]
	if r.ID != ss[1].ID() || r.Local() != ss[1] || r.Data != "d1" || r.Handshake.Auth["who"] != 1.0 ||
		r.Handshake.Query.Get("EIO") != "4" || time.Since(r.Handshake.Time) > time.Minute {
		t.Fatalf("remote socket %+v", r)
	}
	if err := r.Join("blue"); err != nil || !slices.Contains(ss[1].Rooms(), "blue") {
		t.Fatalf("RemoteSocket.Join: %v, rooms %v", err, ss[1].Rooms())
	}
	if err := r.Emit("hi", "there"); err != nil {
		t.Fatal(err)
	}
	cls[1].expectEvent("/", "hi", "there")
	if err := r.Leave("blue"); err != nil || slices.Contains(ss[1].Rooms(), "blue") {
		t.Fatalf("RemoteSocket.Leave: %v, rooms %v", err, ss[1].Rooms())
	}

	// No other node: nothing to send, no answer to wait for.
	if err := nsp.ServerSideEmit("ping", 1); err != nil {
		t.Fatal(err)
	}
	if answers, err := nsp.ServerSideEmitWithAck(ctx, "ping"); err != nil || len(answers) != 0 {
		t.Fatalf("ServerSideEmitWithAck = %v, %v", answers, err)
	}
	if err := nsp.ServerSideEmit("disconnect"); !errors.Is(err, socketio.ErrReservedEvent) {
		t.Fatalf("reserved: %v", err)
	}
	handled := make(chan *socketio.ServerSideEvent, 1)
	nsp.OnServerSideEmit("ping", func(ev *socketio.ServerSideEvent) { handled <- ev })
	var answer any
	if !nsp.HandleServerSideEmit("ping", []any{"x"}, func(v any) { answer = v }) {
		t.Fatal("handler not found")
	}
	ev := <-handled
	if !ev.HasAck() || !ev.Ack("pong") || ev.Ack("again") || answer != "pong" || ev.Args[0] != "x" {
		t.Fatalf("server-side event %+v, answer %v", ev, answer)
	}
	if nsp.HandleServerSideEmit("unknown", nil, nil) {
		t.Fatal("an event without handler reported as handled")
	}

	// Broadcast with acknowledgements: every recipient answers once.
	res := make(chan [][]any, 1)
	go func() {
		answers, err := nsp.Timeout(5*time.Second).EmitWithAck(ctx, "question", "q")
		if err != nil {
			t.Error(err)
		}
		res <- answers
	}()
	for i, cl := range cls {
		p := cl.nextIn("/", parser.Event)
		cl.ack("/", p.ID, "answer", i)
	}
	if answers := <-res; len(answers) != 2 || answers[0][0] != "answer" || answers[1][0] != "answer" {
		t.Fatalf("EmitWithAck answers %v", answers)
	}
	// Nobody in the room: no wait.
	if answers, err := nsp.To("nobody").Timeout(5*time.Second).EmitWithAck(ctx, "question"); err != nil || len(answers) != 0 {
		t.Fatalf("EmitWithAck to nobody: %v %v", answers, err)
	}
	// One does not answer: the timeout returns what came.
	go func() {
		p := cls[0].nextIn("/", parser.Event)
		cls[0].ack("/", p.ID, "only me")
	}()
	answers, err := nsp.Timeout(300*time.Millisecond).EmitWithAck(ctx, "question")
	if !errors.Is(err, socketio.ErrAckTimeout) || len(answers) != 1 || answers[0][0] != "only me" {
		t.Fatalf("partial EmitWithAck: %v %v", answers, err)
	}
	cls[1].nextIn("/", parser.Event) // the unanswered question

	if err := nsp.In("red").DisconnectSockets(false); err != nil {
		t.Fatal(err)
	}
	cls[0].nextIn("/", parser.Disconnect)
}
