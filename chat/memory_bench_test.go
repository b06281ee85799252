package chat_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/banter-chat/banter/chat"
)

// BenchmarkSessionMemory reports the heap an idle chat session holds (its
// user, session, room membership and presence state), the share of every
// gateway's per-client cost that is chat's: one room per session, and
// everyone in one large room.
func BenchmarkSessionMemory(b *testing.B) {
	for _, shape := range []string{"own-room", "one-room"} {
		b.Run(shape, func(b *testing.B) {
			const n = 5000
			for range b.N {
				svc, err := chat.New(chat.Config{})
				if err != nil {
					b.Fatal(err)
				}
				sink := chat.SinkFunc(func(*chat.Event) {})
				ctx := context.Background()
				before := heapInUse()
				sessions := make([]*chat.Session, n)
				for i := range n {
					s, err := svc.Connect(ctx, chat.ConnectParams{Nickname: fmt.Sprintf("user%05d", i), Sink: sink})
					if err != nil {
						b.Fatal(err)
					}
					room := "lobby"
					if shape == "own-room" {
						room = fmt.Sprintf("room%05d", i)
					}
					if _, err := s.Join(ctx, room, chat.JoinOptions{}); err != nil {
						b.Fatal(err)
					}
					sessions[i] = s
				}
				after := heapInUse()
				b.ReportMetric(float64(after-before)/n, "B/session")
				runtime.KeepAlive(sessions)
				svc.Close()
			}
		})
	}
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}
