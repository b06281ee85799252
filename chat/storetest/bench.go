package storetest

import (
	"context"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/banter-chat/banter/chat"
)

// BenchAppend measures durable appends to s from appenders concurrent
// callers spread over 8 rooms, each message with a client id (the common
// case: every gateway's clients send one). It reports msgs/s; the caller
// adds what its store knows (e.g. messages per group commit).
//
//	func BenchmarkAppend(b *testing.B) {
//		b.Run("appenders=64", func(b *testing.B) { storetest.BenchAppend(b, open(b), 64) })
//	}
func BenchAppend(b *testing.B, s chat.Store, appenders int) {
	var n atomic.Int64
	appendOne := func() error {
		i := n.Add(1)
		_, err := s.Append(context.Background(), chat.Draft{
			Room: "room-" + strconv.FormatInt(i%8, 10), Sender: "bench", ClientID: strconv.FormatInt(i, 10),
			Text: "a typical chat message of about sixty bytes, give or take",
		})
		return err
	}
	start := time.Now()
	b.ResetTimer()
	if appenders <= 1 {
		for b.Loop() {
			if err := appendOne(); err != nil {
				b.Fatal(err)
			}
		}
	} else {
		// RunParallel starts parallelism × GOMAXPROCS goroutines.
		b.SetParallelism(max(1, appenders/runtime.GOMAXPROCS(0)))
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := appendOne(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	b.StopTimer()
	b.ReportMetric(float64(n.Load())/time.Since(start).Seconds(), "msgs/s")
}
