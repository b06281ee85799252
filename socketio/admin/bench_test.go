package admin

import (
	"context"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/banter-chat/banter/internal/testutil"
	"github.com/banter-chat/banter/socketio"
)

// dialSockets opens n WebSocket clients on nsp of base that read and
// discard (answering pings), and returns when all are connected.
func dialSockets(tb testing.TB, base, nsp string, n int, auth string) {
	tb.Helper()
	ctx := context.Background()
	for range n {
		c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/socket.io/?EIO=4&transport=websocket", nil)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { c.CloseNow() })
		c.SetReadLimit(1 << 24)
		if _, _, err := c.Read(ctx); err != nil { // OPEN
			tb.Fatal(err)
		}
		prefix := "40"
		if nsp != "/" {
			prefix += nsp + ","
		}
		if err := c.Write(ctx, websocket.MessageText, []byte(prefix+auth)); err != nil {
			tb.Fatal(err)
		}
		for { // until CONNECT
			_, data, err := c.Read(ctx)
			if err != nil {
				tb.Fatal(err)
			}
			if strings.HasPrefix(string(data), prefix) {
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
}

// BenchmarkBroadcast measures what the instrumentation adds to a broadcast
// to n WebSocket sockets: off (no Admin), production mode (statistics
// only: no Observer), development mode with no dashboard connected, and
// with one dashboard that receives an event_sent per recipient (as Node's
// does). The development figures include the admin goroutine's work: each
// iteration waits until the recorder is drained. ns/recipient is per
// socket and broadcast.
func BenchmarkBroadcast(b *testing.B) {
	const n = 200
	for _, mode := range []string{"off", "production", "development", "development+dashboard"} {
		b.Run(mode, func(b *testing.B) {
			srv := socketio.NewServer(socketio.Config{DisableClientBundle: true})
			var adm *Admin
			if mode != "off" {
				var err error
				adm, err = Instrument(srv, Config{NoAuth: true, Production: mode == "production", MaxPending: 1 << 30})
				if err != nil {
					b.Fatal(err)
				}
			}
			mux := http.NewServeMux()
			mux.Handle("/socket.io/", srv)
			base := testutil.StartHTTP(b, mux)
			b.Cleanup(func() {
				if adm != nil {
					adm.Close()
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_ = srv.Shutdown(ctx)
			})
			dialSockets(b, base, "/", n, "")
			if mode == "development+dashboard" {
				dialSockets(b, base, "/admin", 1, "")
			}
			drain := func() {
				if adm == nil || adm.cfg.Production {
					return
				}
				for {
					adm.rec.mu.Lock()
					idle := len(adm.rec.buf) == 0
					adm.rec.mu.Unlock()
					if idle {
						return
					}
					runtime.Gosched()
				}
			}
			drain()
			root := srv.Of("/")
			payload := map[string]any{"text": "a message of a typical size, say sixty bytes", "n": 1}
			b.ReportAllocs()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for b.Loop() {
				if err := root.Emit("news", payload); err != nil {
					b.Fatal(err)
				}
				drain()
			}
			runtime.ReadMemStats(&after)
			per := float64(b.N * n)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/per, "ns/recipient")
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/per, "allocs/recipient")
			if adm != nil && adm.Dropped() > 0 {
				b.Fatalf("%d events dropped", adm.Dropped())
			}
		})
	}
}
