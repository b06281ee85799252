package socketio_test

import (
	"testing"

	"github.com/banter-chat/banter/socketio"
)

// TestNamespaceOn: a namespace-wide handler sees every socket's events,
// after the socket's own handlers, with ev.Socket the sender.
func TestNamespaceOn(t *testing.T) {
	ts := startServer(t, socketio.Config{})
	nsp := ts.io.Of("/")
	order := make(chan string, 8)
	nsp.OnConnection(func(s *socketio.Socket) {
		s.On("ping", func(ev *socketio.Event) { order <- "socket" })
	})
	nsp.On("ping", func(ev *socketio.Event) {
		order <- "namespace"
		n, _ := ev.String(0)
		_ = ev.Socket.Emit("pong", n)
	})
	cl := ts.dial(t, 4, "")
	cl.mustConnect("/", nil)
	cl.emit("/", "ping", "one")
	cl.expectEvent("/", "pong", "one")
	if a, b := recv(t, order, "handler"), recv(t, order, "handler"); a != "socket" || b != "namespace" {
		t.Fatalf("handler order %q, %q", a, b)
	}
	cl2 := ts.dial(t, 3, "")
	cl2.next() // implicit CONNECT of protocol v4
	cl2.emit("/", "ping", "two")
	cl2.expectEvent("/", "pong", "two")
}

// TestNamespaceOnAnyAndOnDisconnect: namespace-wide catch-all and
// disconnect handlers see every socket, without a handler per socket.
func TestNamespaceOnAnyAndOnDisconnect(t *testing.T) {
	ts := startServer(t, socketio.Config{})
	nsp := ts.io.Of("/")
	seen := make(chan string, 8)
	gone := make(chan socketio.Reason, 2)
	nsp.OnAny(func(ev *socketio.Event) { seen <- ev.Socket.ID() + ":" + ev.Name })
	nsp.OnDisconnect(func(s *socketio.Socket, r socketio.Reason) { gone <- r })
	var id string
	nsp.OnConnection(func(s *socketio.Socket) { id = s.ID() })
	cl := ts.dial(t, 4, "")
	cl.mustConnect("/", nil)
	cl.emit("/", "anything", 1)
	if got := recv(t, seen, "catch-all"); got != id+":anything" {
		t.Fatalf("OnAny saw %q", got)
	}
	cl.emit("/", "other")
	if got := recv(t, seen, "catch-all"); got != id+":other" {
		t.Fatalf("OnAny saw %q", got)
	}
	ts.io.Of("/").Socket(id).Disconnect(false)
	if r := recv(t, gone, "disconnect"); r != socketio.ReasonServerNamespaceDisconnect {
		t.Fatalf("OnDisconnect reason %q", r)
	}
}
