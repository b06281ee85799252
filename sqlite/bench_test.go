package sqlite_test

import (
	"context"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/sqlite"
)

// BenchmarkAppend measures durable appends from 1 and 64 concurrent
// appenders spread over 8 rooms; msgs/batch shows group commit at work.
//
//	go test -run '^$' -bench Append -benchtime 20000x ./sqlite/
func BenchmarkAppend(b *testing.B) {
	for _, bc := range []struct {
		name      string
		appenders int
		fullSync  bool
	}{
		{"appenders=1", 1, false},
		{"appenders=64", 64, false},
		{"appenders=1/fullsync", 1, true},
		{"appenders=64/fullsync", 64, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			db, err := sqlite.Open(filepath.Join(b.TempDir(), "bench.db"), sqlite.Config{FullSync: bc.fullSync})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			var n atomic.Int64
			appendOne := func() error {
				i := n.Add(1)
				_, err := db.Append(context.Background(), chat.Draft{
					Room: "room-" + strconv.FormatInt(i%8, 10), Sender: "bench", ClientID: strconv.FormatInt(i, 10),
					Text: "a typical chat message of about sixty bytes, give or take",
				})
				return err
			}
			start := time.Now()
			b.ResetTimer()
			if bc.appenders == 1 {
				for b.Loop() {
					if err := appendOne(); err != nil {
						b.Fatal(err)
					}
				}
			} else {
				// RunParallel starts parallelism × GOMAXPROCS goroutines.
				b.SetParallelism(max(1, bc.appenders/runtime.GOMAXPROCS(0)))
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
			st := db.Stats()
			b.ReportMetric(float64(st.Appends)/time.Since(start).Seconds(), "msgs/s")
			b.ReportMetric(float64(st.Appends)/float64(max(1, st.Batches)), "msgs/batch")
		})
	}
}
