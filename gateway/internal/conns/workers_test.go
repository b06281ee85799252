package conns

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// A worker that finished runs the next work: no new goroutine; idle
// workers exit after Idle; Close ends them at once.
func TestWorkers(t *testing.T) {
	base := runtime.NumGoroutine()
	w := &Workers{Idle: time.Hour}
	done := make(chan struct{})
	for range 100 { // one after the other: one worker does it all
		w.Go(func() { done <- struct{}{} })
		<-done
		waitFor(t, "the worker to park", func() bool { return w.IdleCount() == 1 })
		if n := runtime.NumGoroutine() - base; n != 1 {
			t.Fatalf("%d goroutines for work done one at a time, want 1", n)
		}
	}
	// Concurrent work gets more workers.
	var wg sync.WaitGroup
	release := make(chan struct{})
	wg.Add(4)
	for range 4 {
		w.Go(func() { wg.Done(); <-release })
	}
	wg.Wait()
	close(release)
	waitFor(t, "4 parked workers", func() bool { return w.IdleCount() == 4 })
	w.Close()
	waitFor(t, "the workers to exit after Close", func() bool { return runtime.NumGoroutine() == base })
	// After Close, Go still runs work, on goroutines that do not stay.
	w.Go(func() { done <- struct{}{} })
	<-done
	waitFor(t, "no worker after Close", func() bool { return runtime.NumGoroutine() == base && w.IdleCount() == 0 })

	short := &Workers{Idle: 5 * time.Millisecond}
	short.Go(func() {})
	waitFor(t, "an idle worker to expire", func() bool { return runtime.NumGoroutine() == base && short.IdleCount() == 0 })
}
