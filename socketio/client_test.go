package socketio_test

// A minimal Socket.IO client over WebSocket for Go-level tests: it speaks
// Engine.IO v4 or v3 framing, answers (v4) or sends (v3) heartbeats, and
// decodes Socket.IO packets with socketio/parser (golden-tested on its own).
// Protocol behaviour is also checked with the official JS clients in
// test/interop; these tests check the Go API.

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/banter-chat/banter/internal/testutil"
	"github.com/banter-chat/banter/socketio"
	"github.com/banter-chat/banter/socketio/parser"
	"github.com/coder/websocket"
)

const waitTimeout = 10 * time.Second

// testServer runs a socketio.Server on a loopback port.
type testServer struct {
	io   *socketio.Server
	base string // http://127.0.0.1:port/socket.io/
}

func startServer(t testing.TB, cfg socketio.Config) *testServer {
	t.Helper()
	io := socketio.NewServer(cfg)
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", io)
	base := testutil.StartHTTP(t, mux) + "/socket.io/"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		_ = io.Shutdown(ctx)
	})
	return &testServer{io: io, base: base}
}

// client is one Engine.IO connection carrying Socket.IO packets.
type client struct {
	t       testing.TB
	c       *websocket.Conn
	eio     int
	packets chan *parser.Packet
	closed  chan struct{} // closed when the connection ends
	sid     string        // engine.io session id
	noPong  atomic.Bool   // stop answering pings (to provoke a ping timeout)

	wmu sync.Mutex
}

// dial opens a WebSocket connection with protocol eio (4 or 3). It does not
// join any namespace (v3 clients are joined to "/" by the server).
func (ts *testServer) dial(t testing.TB, eio int, query string) *client {
	t.Helper()
	u := "ws" + strings.TrimPrefix(ts.base, "http") + "?EIO=" + map[int]string{3: "3", 4: "4"}[eio] + "&transport=websocket"
	if query != "" {
		u += "&" + query
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	c, _, err := websocket.Dial(ctx, u, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", u, err)
	}
	c.SetReadLimit(16 << 20)
	cl := &client{t: t, c: c, eio: eio, packets: make(chan *parser.Packet, 1024), closed: make(chan struct{})}
	_, open, err := c.Read(ctx)
	if err != nil || len(open) == 0 || open[0] != '0' {
		t.Fatalf("OPEN: %q %v", open, err)
	}
	var op struct {
		SID          string `json:"sid"`
		PingInterval int    `json:"pingInterval"`
	}
	_ = json.Unmarshal(open[1:], &op)
	cl.sid = op.SID
	done := make(chan struct{})
	go cl.readLoop(done)
	if eio == 3 {
		go cl.pingLoop(time.Duration(op.PingInterval) * time.Millisecond)
	}
	t.Cleanup(func() {
		_ = c.CloseNow()
		<-done
	})
	return cl
}

func (cl *client) readLoop(done chan struct{}) {
	defer close(done)
	defer close(cl.closed)
	var dec parser.Decoder
	for {
		typ, b, err := cl.c.Read(context.Background())
		if err != nil {
			return
		}
		var p *parser.Packet
		var ok bool
		if typ == websocket.MessageBinary {
			if cl.eio == 3 {
				b = b[1:] // v3 binary frames carry the packet type first
			}
			p, ok, err = dec.AddBinary(b)
		} else {
			switch b[0] {
			case '2': // v4 server ping
				if !cl.noPong.Load() {
					cl.write(websocket.MessageText, "3")
				}
				continue
			case '4':
				p, ok, err = dec.AddText(b[1:])
			default: // pong, noop, close
				continue
			}
		}
		if err != nil {
			cl.t.Errorf("client: bad packet: %v", err)
			return
		}
		if ok {
			cl.packets <- p
		}
	}
}

func (cl *client) pingLoop(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-cl.closed:
			return
		case <-t.C:
			cl.write(websocket.MessageText, "2")
		}
	}
}

func (cl *client) write(typ websocket.MessageType, s string) {
	cl.wmu.Lock()
	defer cl.wmu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	_ = cl.c.Write(ctx, typ, []byte(s))
}

func (cl *client) stopPongs() { cl.noPong.Store(true) }

// send encodes and sends a Socket.IO packet (text frame, then attachments).
func (cl *client) send(p *parser.Packet) {
	cl.write(websocket.MessageText, "4"+string(parser.Encode(p)))
	for _, a := range p.Attachments {
		if cl.eio == 3 {
			cl.write(websocket.MessageBinary, "\x04"+string(a))
		} else {
			cl.write(websocket.MessageBinary, string(a))
		}
	}
}

// connect joins nsp with auth (nil: none) and returns the CONNECT or
// CONNECT_ERROR reply.
func (cl *client) connect(nsp string, auth any) *parser.Packet {
	cl.t.Helper()
	p := &parser.Packet{Type: parser.Connect, Namespace: nsp}
	if auth != nil {
		p.Data, _ = json.Marshal(auth)
	}
	cl.send(p)
	return cl.nextIn(nsp, parser.Connect, parser.ConnectError)
}

// mustConnect joins nsp and returns the socket id.
func (cl *client) mustConnect(nsp string, auth any) string {
	cl.t.Helper()
	p := cl.connect(nsp, auth)
	if p.Type != parser.Connect {
		cl.t.Fatalf("connect %s: %s %s", nsp, p.Type, p.Data)
	}
	var r struct {
		SID string `json:"sid"`
	}
	_ = json.Unmarshal(p.Data, &r)
	return r.SID
}

func (cl *client) emit(nsp, event string, args ...any) {
	cl.t.Helper()
	data, att, err := parser.EncodeEvent(event, args...)
	if err != nil {
		cl.t.Fatal(err)
	}
	cl.send(&parser.Packet{Type: parser.Event, Namespace: nsp, Data: data, Attachments: att})
}

func (cl *client) emitWithAck(nsp string, id uint64, event string, args ...any) {
	cl.t.Helper()
	data, att, err := parser.EncodeEvent(event, args...)
	if err != nil {
		cl.t.Fatal(err)
	}
	cl.send(&parser.Packet{Type: parser.Event, Namespace: nsp, ID: id, HasID: true, Data: data, Attachments: att})
}

func (cl *client) ack(nsp string, id uint64, args ...any) {
	cl.t.Helper()
	data, att, err := parser.EncodeArgs(args...)
	if err != nil {
		cl.t.Fatal(err)
	}
	cl.send(&parser.Packet{Type: parser.Ack, Namespace: nsp, ID: id, HasID: true, Data: data, Attachments: att})
}

// next returns the next packet.
func (cl *client) next() *parser.Packet {
	cl.t.Helper()
	select {
	case p := <-cl.packets:
		return p
	case <-time.After(waitTimeout):
		cl.t.Fatal("client: no packet in time")
		return nil
	}
}

// nextIn returns the next packet, failing unless it is for nsp and one of types.
func (cl *client) nextIn(nsp string, types ...parser.Type) *parser.Packet {
	cl.t.Helper()
	p := cl.next()
	if p.Namespace != nsp {
		cl.t.Fatalf("packet %s for %q, want namespace %q (%s)", p.Type, p.Namespace, nsp, p.Data)
	}
	for _, ty := range types {
		if p.Type == ty || (ty == parser.Event && p.Type == parser.BinaryEvent) || (ty == parser.Ack && p.Type == parser.BinaryAck) {
			return p
		}
	}
	cl.t.Fatalf("packet %s %s, want one of %v", p.Type, p.Data, types)
	return nil
}

// nextEvent returns the name and decoded args of the next event on nsp.
func (cl *client) nextEvent(nsp string) (string, []any, *parser.Packet) {
	cl.t.Helper()
	p := cl.nextIn(nsp, parser.Event)
	all, err := parser.DecodeArgs(p.Data, p.Attachments)
	if err != nil || len(all) == 0 {
		cl.t.Fatalf("event %s: %v", p.Data, err)
	}
	name, _ := all[0].(string)
	return name, all[1:], p
}

// expectEvent fails unless the next packet on nsp is event with args
// (compared as JSON).
func (cl *client) expectEvent(nsp, event string, args ...any) {
	cl.t.Helper()
	name, got, _ := cl.nextEvent(nsp)
	if name != event || !sameJSON(got, args) {
		cl.t.Fatalf("event %q %s, want %q %s", name, js(got), event, js(args))
	}
}

// expectNothing checks no packet is queued now. It cannot prove a packet
// will never come; callers use it after a later packet has arrived (a
// barrier), so anything sent before that packet would be seen.
func (cl *client) expectNothing() {
	cl.t.Helper()
	select {
	case p := <-cl.packets:
		cl.t.Fatalf("unexpected packet %s %q %s", p.Type, p.Namespace, p.Data)
	default:
	}
}

// waitClosed waits until the server closes the connection.
func (cl *client) waitClosed() {
	cl.t.Helper()
	select {
	case <-cl.closed:
	case <-time.After(waitTimeout):
		cl.t.Fatal("connection not closed in time")
	}
}

func js(v any) string { b, _ := json.Marshal(v); return string(b) }

func sameJSON(a, b any) bool { return js(a) == js(b) }

func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitTimeout):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}
