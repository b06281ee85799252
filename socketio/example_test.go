package socketio_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/banter-chat/banter/socketio"
	"github.com/coder/websocket"
)

// The examples run a real server on a loopback port and talk to it with a
// bare WebSocket client (demoClient below) printing the Socket.IO frames it
// receives, without the Engine.IO "4" prefix: `2["event",args...]` is an
// event, `3<id>[args...]` an ack, `0/nsp,{...}` a CONNECT reply.

func ExampleNewServer() {
	io := socketio.NewServer(socketio.Config{})
	io.Of("/").OnConnection(func(s *socketio.Socket) {
		_ = s.Emit("welcome", "hello, "+s.Handshake().Auth["name"].(string))
	})
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", io) // also serves the client bundle when configured
	hs := httptest.NewServer(mux)
	defer hs.Close()
	defer io.Shutdown(context.Background())

	c := demoDial(hs.URL)
	defer c.close()
	c.send(`0{"name":"ada"}`)
	c.recvConnect()
	fmt.Println(c.recv())
	// Output: 2["welcome","hello, ada"]
}

func ExampleServer_Of() {
	io := socketio.NewServer(socketio.Config{})
	admin := io.Of("/admin")
	admin.Use(func(s *socketio.Socket) error {
		if s.Handshake().Auth["token"] != "s3cret" {
			return &socketio.ConnectError{Message: "unauthorized", Data: map[string]any{"code": 401}}
		}
		return nil
	})
	hs := httptest.NewServer(io)
	defer hs.Close()
	defer io.Shutdown(context.Background())

	c := demoDial(hs.URL)
	defer c.close()
	c.send(`0/admin,{"token":"guess"}`)
	fmt.Println(c.recv())
	c.send(`0/chat,`)
	fmt.Println(c.recv())
	// Output:
	// 4/admin,{"message":"unauthorized","data":{"code":401}}
	// 4/chat,{"message":"Invalid namespace"}
}

func ExampleSocket_On() {
	io := socketio.NewServer(socketio.Config{})
	io.Of("/").OnConnection(func(s *socketio.Socket) {
		s.On("add", func(ev *socketio.Event) {
			var a, b int
			if err := ev.Bind(0, &a); err != nil {
				ev.Ack(err.Error())
				return
			}
			_ = ev.Bind(1, &b)
			ev.Ack(a + b) // the client asked for an ack with id 1
		})
	})
	hs := httptest.NewServer(io)
	defer hs.Close()
	defer io.Shutdown(context.Background())

	c := demoDial(hs.URL)
	defer c.close()
	c.send(`0`)
	c.recvConnect()
	c.send(`21["add",2,3]`)
	fmt.Println(c.recv())
	// Output: 31[5]
}

func ExampleNamespace_To() {
	io := socketio.NewServer(socketio.Config{})
	chat := io.Of("/")
	chat.OnConnection(func(s *socketio.Socket) {
		s.On("join", func(ev *socketio.Event) {
			room, _ := ev.String(0)
			s.Join(room)
			ev.Ack(true)
		})
	})
	hs := httptest.NewServer(io)
	defer hs.Close()
	defer io.Shutdown(context.Background())

	c := demoDial(hs.URL)
	defer c.close()
	c.send(`0`)
	c.recvConnect()
	c.send(`21["join","general"]`)
	c.recv() // the ack: joined
	_ = chat.To("general").Emit("message", map[string]any{"from": "bot", "text": "hi all"})
	_ = chat.To("random").Emit("message", "not for us")
	_ = chat.Except("general").Emit("message", "not for us either")
	fmt.Println(c.recv())
	// Output: 2["message",{"from":"bot","text":"hi all"}]
}

func ExampleSocket_EmitWithAck() {
	io := socketio.NewServer(socketio.Config{})
	answers := make(chan string, 1)
	io.Of("/").OnConnection(func(s *socketio.Socket) {
		go func() { // EmitWithAck blocks: not on the connection's goroutine
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			reply, err := s.EmitWithAck(ctx, "ready?")
			answers <- fmt.Sprint(reply, err)
		}()
	})
	hs := httptest.NewServer(io)
	defer hs.Close()
	defer io.Shutdown(context.Background())

	c := demoDial(hs.URL)
	defer c.close()
	c.send(`0`)
	c.recvConnect()
	fmt.Println(c.recv())
	c.send(`30["yes"]`)
	fmt.Println(<-answers)
	// Output:
	// 20["ready?"]
	// [yes] <nil>
}

// demoClient is just enough of a Socket.IO v5 client for the examples.
type demoClient struct{ c *websocket.Conn }

func demoDial(httpURL string) *demoClient {
	u := "ws" + strings.TrimPrefix(httpURL, "http") + "/socket.io/?EIO=4&transport=websocket"
	c, _, err := websocket.Dial(context.Background(), u, nil)
	if err != nil {
		panic(err)
	}
	d := &demoClient{c}
	d.recvEngine() // the Engine.IO OPEN packet
	return d
}

func (d *demoClient) send(frame string) {
	_ = d.c.Write(context.Background(), websocket.MessageText, []byte("4"+frame))
}

// recvEngine returns the next Engine.IO packet, answering pings.
func (d *demoClient) recvEngine() string {
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, b, err := d.c.Read(ctx)
		cancel()
		if err != nil {
			return "error: " + err.Error()
		}
		if string(b) == "2" {
			_ = d.c.Write(context.Background(), websocket.MessageText, []byte("3"))
			continue
		}
		return string(b)
	}
}

// recv returns the next Socket.IO frame.
func (d *demoClient) recv() string { return strings.TrimPrefix(d.recvEngine(), "4") }

// recvConnect reads the CONNECT reply (its sid is random, so not printed).
func (d *demoClient) recvConnect() {
	if f := d.recv(); !strings.HasPrefix(f, `0{"sid":`) {
		panic("not a CONNECT reply: " + f)
	}
}

func (d *demoClient) close() { _ = d.c.CloseNow() }
