package emitter_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/redis/rueidis"

	"github.com/banter-chat/banter/client"
	"github.com/banter-chat/banter/internal/testutil"
	"github.com/banter-chat/banter/socketio"
	"github.com/banter-chat/banter/socketio/emitter"
	"github.com/banter-chat/banter/socketio/redisadapter"
)

// A program that is no Socket.IO server (a job, a webhook handler)
// publishes to the clients of a cluster through Redis. Any server whose
// adapter listens on the key receives it: a Node server with
// @socket.io/redis-adapter, `banter --redis` (the chat product, whose chat
// rooms are Socket.IO rooms there), or, as here, a Go server using
// socketio/redisadapter; the example runs one with a client in the room
// "news", on the machine's Redis (scripts/deps.sh starts it).
func Example() {
	ctx := context.Background()
	opt, err := rueidis.ParseURL(testutil.RedisURL()) // e.g. redis://127.0.0.1:6379/0
	if err != nil {
		panic(err)
	}
	opt.DisableCache = true
	rc, err := rueidis.NewClient(opt)
	if err != nil {
		panic(err)
	}
	defer rc.Close()
	key := fmt.Sprintf("example-%d", time.Now().UnixNano()) // the cluster's key; "socket.io" by default

	url, stop := exampleServer(rc, key)
	defer stop()
	got := make(chan string, 1)
	c, err := client.Dial(ctx, url, client.Config{}, client.SocketOptions{Auth: map[string]any{"room": "news"}})
	if err != nil {
		panic(err)
	}
	defer c.Manager().Close()
	c.On("headline", func(ev *client.Event) {
		title, _ := ev.String(0)
		got <- title
	})

	// The emitter: every server of the cluster delivers to its sockets in
	// the room "news" of the namespace "/".
	em := emitter.New(rc, emitter.Config{Key: key})
	if err := em.To("news").Emit(ctx, "headline", "Go emitters reach every node"); err != nil {
		panic(err)
	}
	fmt.Println(<-got)
	// The others: em.Of("/admin"), em.Except("muted"), em.Volatile(),
	// em.In("news").SocketsJoin(ctx, "archive"), em.DisconnectSockets(ctx, true),
	// em.ServerSideEmit(ctx, "reload").

	// Output: Go emitters reach every node
}

// exampleServer runs a cluster node whose sockets join the room named in
// their auth.
func exampleServer(rc rueidis.Client, key string) (url string, stop func()) {
	cluster := redisadapter.New(rc, redisadapter.Config{Key: key})
	srv := socketio.NewServer(socketio.Config{Adapter: cluster.Adapter, DisableClientBundle: true})
	srv.Of("/").Use(func(s *socketio.Socket) error {
		if room, ok := s.Handshake().Auth["room"].(string); ok {
			s.Join(room)
		}
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cluster.Ready(ctx); err != nil {
		panic(err)
	}
	hs := httptest.NewServer(srv)
	return hs.URL, func() {
		_ = srv.Shutdown(context.Background())
		hs.Close()
		_ = cluster.Close()
	}
}
