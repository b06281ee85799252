package conns

import "testing"

func TestOutbox(t *testing.T) {
	var counters Counters
	o := NewOutbox(10, &counters)
	if !o.Push([]byte("123456"), false) || !o.Push([]byte("x"), true) {
		t.Fatal("push refused")
	}
	frames, closed, overflow := o.Take()
	if len(frames) != 1 || closed || overflow { // the lossy frame was dropped behind a backlog
		t.Fatalf("take: %q %v %v", frames, closed, overflow)
	}
	o.Push([]byte("123456"), false)
	if o.Push([]byte("789012"), false) {
		t.Fatal("a frame past the bound was queued")
	}
	if _, _, overflow := o.Take(); !overflow {
		t.Fatal("no overflow reported")
	}
	if o.Push([]byte("a"), false) {
		t.Fatal("push after overflow accepted")
	}
	if n := counters.Snapshot().SlowConsumers; n != 1 {
		t.Fatalf("%d slow consumers counted, want 1", n)
	}
	o2 := NewOutbox(10, nil)
	o2.Push([]byte("bye"), false)
	o2.Close()
	if frames, closed, _ := o2.Take(); len(frames) != 1 || !closed {
		t.Fatalf("close: %q %v", frames, closed)
	}
}
