package conns

import (
	"sync"
	"testing"
)

func TestQueue(t *testing.T) {
	var counters Counters
	q := Queue{Max: 10}
	if !q.Push([]byte("123456"), false, &counters) {
		t.Fatal("the first push did not ask for a flush")
	}
	if q.Push([]byte("x"), true, &counters) {
		t.Fatal("a second push asked for another flush while one is scheduled")
	}
	frames, closed, overflow, done := q.Take()
	if len(frames) != 1 || closed || overflow || done { // the lossy frame was dropped behind a backlog
		t.Fatalf("take: %q closed=%v overflow=%v done=%v", frames, closed, overflow, done)
	}
	if _, _, _, done := q.Take(); !done {
		t.Fatal("an empty queue did not end the flush")
	}

	q.Push([]byte("123456"), false, &counters)
	q.Push([]byte("789012"), false, &counters) // past the bound
	if frames, _, overflow, _ := q.Take(); !overflow || len(frames) != 0 {
		t.Fatalf("past the bound: %q overflow=%v; want no frames and an overflow", frames, overflow)
	}
	if q.Push([]byte("a"), false, &counters) {
		t.Fatal("a push after the overflow asked for a flush")
	}
	if n := counters.Snapshot().SlowConsumers; n != 1 {
		t.Fatalf("%d slow consumers counted, want 1", n)
	}

	var q2 Queue
	q2.Max = 10
	q2.Push([]byte("bye"), false, nil)
	q2.Close()
	if frames, closed, _, _ := q2.Take(); len(frames) != 1 || !closed {
		t.Fatalf("close: %q closed=%v; want the bye, then closed", frames, closed)
	}
	if q2.Push([]byte("late"), false, nil) {
		t.Fatal("a push after Close asked for a flush")
	}
}

type flushCounter struct {
	mu sync.Mutex
	n  int
	wg *sync.WaitGroup
}

func (f *flushCounter) Flush() {
	f.mu.Lock()
	f.n++
	f.mu.Unlock()
	f.wg.Done()
}

func TestFlusherRunsEverythingScheduledBeforeClose(t *testing.T) {
	fl := NewFlusher()
	var wg sync.WaitGroup
	c := &flushCounter{wg: &wg}
	const n = 1 << 15 // more than the workers' queue: some run on goroutines of their own
	wg.Add(n)
	for range n {
		fl.Schedule(c)
	}
	fl.Close()
	wg.Wait()
	if c.n != n {
		t.Fatalf("%d flushes, want %d", c.n, n)
	}
}
