package client_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/banter-chat/banter/client"
	"github.com/banter-chat/banter/internal/conformance"
)

// A server to run the examples against: Banter's conformance server, which
// answers "message-with-ack" with the same arguments and "message" with
// "message-back".
func exampleServer() (url string, stop func()) {
	srv := conformance.New(conformance.Options{PingInterval: 25 * time.Second, PingTimeout: 20 * time.Second})
	ts := httptest.NewServer(srv)
	return ts.URL, func() {
		_ = srv.Shutdown(context.Background())
		ts.Close()
	}
}

func ExampleDial() {
	url, stop := exampleServer()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	s, err := client.Dial(ctx, url, client.Config{}, client.SocketOptions{Auth: map[string]any{"token": "t0"}})
	if err != nil {
		fmt.Println("dial:", err)
		return
	}
	defer s.Manager().Close()

	ack, err := s.EmitWithAck(ctx, "message-with-ack", "hello", []byte{1, 2, 3})
	if err != nil {
		fmt.Println("emit:", err)
		return
	}
	var text string
	var blob []byte
	_ = ack.Bind(0, &text)
	_ = ack.Bind(1, &blob)
	fmt.Println(text, blob)
	// Output: hello [1 2 3]
}

func ExampleSocket_On() {
	url, stop := exampleServer()
	defer stop()
	m, err := client.NewManager(url, client.Config{Transports: []string{"websocket"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	s := m.Socket("/custom", client.SocketOptions{})
	done := make(chan struct{})
	s.On("message-back", func(ev *client.Event) {
		vs, _ := ev.Values()
		fmt.Println("server said:", vs)
		close(done)
	})
	s.OnDisconnect(func(r client.Reason) { fmt.Println("disconnected:", r) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Connect(ctx); err != nil {
		fmt.Println(err)
		return
	}
	_ = s.Emit("message", "hi", 2)
	<-done
	s.Disconnect()
	// Output:
	// server said: [hi 2]
	// disconnected: io client disconnect
}

func ExampleConnectError() {
	url, stop := exampleServer()
	defer stop()
	m, _ := client.NewManager(url, client.Config{})
	defer m.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The server's /private namespace wants auth {token: "s3cret"}.
	err := m.Socket("/private", client.SocketOptions{Auth: map[string]any{"token": "guess"}}).Connect(ctx)
	fmt.Println(err)
	// Output: socket.io client: connection refused: unauthorized (map[code:401])
}
