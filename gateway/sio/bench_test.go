package siogw_test

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/banter-chat/banter/chat"
	siogw "github.com/banter-chat/banter/gateway/sio"
	"github.com/banter-chat/banter/internal/testutil"
	"github.com/banter-chat/banter/socketio"
)

// BenchmarkRoomDelivery measures what one chat message costs the gateway
// on the fan-out path: a message stored in a room of n protocol 1 members
// on WebSocket, each handed the event (encoded once, queued for the
// flush workers). Receivers read and discard. ns/recipient and
// allocs/recipient are per member and message (the Store append and the
// flush workers' writes included: compare runs, not absolute figures).
func BenchmarkRoomDelivery(b *testing.B) {
	const n = 200
	svc, err := chat.New(chat.Config{RateBurst: 1 << 30, RatePerSecond: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	io := socketio.NewServer(socketio.Config{})
	g := siogw.New(svc, io.Of("/"), siogw.Config{})
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", io)
	base := testutil.StartHTTP(b, mux)
	b.Cleanup(func() {
		svc.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = io.Shutdown(ctx)
		g.Close()
	})
	ctx := b.Context()
	for i := range n {
		c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/socket.io/?EIO=4&transport=websocket", nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.CloseNow() })
		c.SetReadLimit(1 << 20)
		if _, _, err := c.Read(ctx); err != nil { // OPEN
			b.Fatal(err)
		}
		write := func(s string) {
			if err := c.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
				b.Fatal(err)
			}
		}
		write("40")
		write(fmt.Sprintf(`421["hello",{"nickname":"u%d","rooms":["general"]}]`, i))
		for { // until the hello ack
			_, data, err := c.Read(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if strings.HasPrefix(string(data), "431[") {
				break
			}
		}
		go func() {
			for {
				_, data, err := c.Read(context.Background())
				if err != nil {
					return
				}
				if string(data) == "2" {
					_ = c.Write(context.Background(), websocket.MessageText, []byte("3"))
				}
			}
		}()
	}
	sender, err := svc.Connect(ctx, chat.ConnectParams{Nickname: "sender", Sink: chat.SinkFunc(func(*chat.Event) {})})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := sender.Join(ctx, "general", chat.JoinOptions{Limit: 1}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for b.Loop() {
		if _, err := sender.Send(ctx, "general", "a message of a typical size, say sixty bytes", ""); err != nil {
			b.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	per := float64(b.N * n)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/per, "ns/recipient")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/per, "allocs/recipient")
}
