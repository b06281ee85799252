package socketio_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/banter-chat/banter/socketio"
	"github.com/banter-chat/banter/socketio/parser"
)

// A prepared packet reaches v5 and v4 clients alike, binary attachments
// included, whichever way it is sent; it is refused where it does not
// belong.
func TestPreparedPacket(t *testing.T) {
	ts := startServer(t, socketio.Config{})
	root := ts.io.Of("/")
	conns := sockets(root)
	v5 := ts.dial(t, 4, "")
	v5.mustConnect("/", nil)
	s5 := recv(t, conns, "v5 socket")
	v4 := ts.dial(t, 3, "")
	v4.nextIn("/", parser.Connect)
	s4 := recv(t, conns, "v4 socket")

	p, err := root.PrepareEvent("news", map[string]any{"n": 1}, []byte{0xde, 0xad})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*socketio.Socket{s5, s4} {
		if err := s.Enqueue(p); err != nil {
			t.Fatalf("Enqueue: %v", err)
		}
		if err := s.Send(p); err != nil {
			t.Fatalf("Send: %v", err)
		}
		if !s.SendVolatile(p) {
			t.Fatal("SendVolatile dropped a packet for an idle client")
		}
	}
	for _, cl := range []*client{v5, v4} {
		for range 3 {
			name, args, _ := cl.nextEvent("/")
			if name != "news" || len(args) != 2 || js(args[0]) != `{"n":1}` || string(args[1].([]byte)) != "\xde\xad" {
				t.Fatalf("got %q %v", name, args)
			}
		}
	}

	pj, err := root.PrepareEventJSON("raw", json.RawMessage(`{"a":[1,2]}`), json.RawMessage(`"s"`))
	if err != nil {
		t.Fatal(err)
	}
	if err := s5.Send(pj); err != nil {
		t.Fatal(err)
	}
	if p := v5.nextIn("/", parser.Event); string(p.Data) != `["raw",{"a":[1,2]},"s"]` {
		t.Fatalf("JSON-prepared packet %s", p.Data)
	}

	if _, err := root.PrepareEvent("connect"); !errors.Is(err, socketio.ErrReservedEvent) {
		t.Errorf("reserved event prepared: %v", err)
	}
	if _, err := root.PrepareEventJSON("disconnect"); !errors.Is(err, socketio.ErrReservedEvent) {
		t.Errorf("reserved event prepared: %v", err)
	}
	other, _ := ts.io.Of("/other").PrepareEvent("x")
	if err := s5.Enqueue(other); err == nil || s5.SendVolatile(other) {
		t.Error("a packet of another namespace was sent")
	}

	// Close: the connection ends with the reason (a transport close for
	// the client); later sends fail.
	rs := make(chan socketio.Reason, 1)
	s5.OnDisconnect(func(r socketio.Reason) { rs <- r })
	s5.Close(socketio.ReasonServerShutdown)
	v5.waitClosed()
	if r := recv(t, rs, "disconnect"); r != socketio.ReasonServerShutdown {
		t.Fatalf("reason %q", r)
	}
	if err := s5.Enqueue(p); !errors.Is(err, socketio.ErrDisconnected) {
		t.Fatalf("Enqueue after Close: %v", err)
	}
	if err := s5.Send(p); !errors.Is(err, socketio.ErrDisconnected) {
		t.Fatalf("Send after Close: %v", err)
	}
}

// BenchmarkFanOut measures the per-recipient cost of handing one event to
// many sockets: Emit (encoded per socket) against one PreparedPacket
// (encoded once). Receivers read everything; run with -benchmem.
func BenchmarkFanOut(b *testing.B) {
	const n = 200
	ts := startServer(b, socketio.Config{})
	root := ts.io.Of("/")
	conns := sockets(root)
	socks := make([]*socketio.Socket, 0, n)
	for range n {
		cl := ts.dial(b, 4, "")
		cl.mustConnect("/", nil)
		go func() { // drain
			for range cl.packets {
			}
		}()
		socks = append(socks, <-conns)
	}
	payload := json.RawMessage(`{"id":"1234","room":"general","seq":42,"from":"Alice","text":"hi!","ts":1764108000000}`)
	b.Run("Emit", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, s := range socks {
				_ = s.Emit("message", payload)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/recipient")
	})
	b.Run("Prepared", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p, _ := root.PrepareEventJSON("message", payload)
			for _, s := range socks {
				_ = s.Enqueue(p)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/recipient")
	})
}
