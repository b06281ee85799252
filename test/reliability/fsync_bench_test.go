package reliability_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/banter-chat/banter/app"
)

// BenchmarkAckedSend measures a send until its ack (the message durable)
// with the default policy (WAL, synchronous=NORMAL: survives SIGKILL) and
// with FullSync (fsync per commit: survives power loss), for 1 and 8
// clients sending at once (the store group-commits concurrent appends).
// docs/reliability.md quotes the figures.
//
//	go test -run '^$' -bench AckedSend -benchtime 2000x ./test/reliability
func BenchmarkAckedSend(b *testing.B) {
	for _, full := range []bool{false, true} {
		for _, clients := range []int{1, 8} {
			name := fmt.Sprintf("fullsync=%v/clients=%d", full, clients)
			b.Run(name, func(b *testing.B) { benchAckedSend(b, full, clients) })
		}
	}
}

func benchAckedSend(b *testing.B, full bool, clients int) {
	a, err := app.New(app.Config{DBPath: filepath.Join(b.TempDir(), "banter.db"), FullSync: full,
		RateBurst: 1_000_000, RatePerSecond: 1_000_000, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = a.Serve(ln) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = a.Shutdown(ctx)
	}()
	base := "http://" + ln.Addr().String()
	// The gateway's request bucket lets one connection send 100 at once,
	// then 50/s: each sender moves to a fresh connection every 90 sends.
	const perConn = 90
	per := (b.N + clients - 1) / clients
	conns := make([][]*client, clients)
	for i := range conns {
		for k := 0; k*perConn < per; k++ {
			c := mustDial(b, base, dialOptions{})
			// A room each: the figure is the append, not a fan-out.
			mustHello(b, c, fmt.Sprintf("bench%d-%d", i, k), fmt.Sprintf("r%d-%d", i, k))
			conns[i] = append(conns[i], c)
		}
	}
	ctx := context.Background()
	b.ResetTimer()
	var wg sync.WaitGroup
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range per {
				c := conns[i][j/perConn]
				room := fmt.Sprintf("r%d-%d", i, j/perConn)
				if err := c.ok(ctx, "send", map[string]any{"room": room, "text": "x", "clientId": fmt.Sprintf("b%d-%d", i, j)}, nil); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
}
