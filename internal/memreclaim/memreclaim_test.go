package memreclaim

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

var sink [][]byte

// After a busy period and a quiet one, the heap the burst left behind is
// returned to the OS; a steady load does not trigger it.
func TestReclaimAfterBurst(t *testing.T) {
	var events atomic.Uint64
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); Run(ctx, Config{Every: 50 * time.Millisecond, Burst: 100}, events.Load) }()

	released := func() uint64 {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapReleased
	}
	// The burst: events and 64 MiB of short-lived garbage.
	for i := range 64 {
		sink = append(sink, make([]byte, 1<<20))
		events.Add(10)
		if i%8 == 7 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	sink = nil
	r0 := released()
	deadline := time.Now().Add(5 * time.Second)
	for released() < r0+32<<20 {
		if time.Now().After(deadline) {
			t.Fatalf("heap released %d MiB after the burst, want ≥ 32 MiB more", (released()-r0)>>20)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
}
