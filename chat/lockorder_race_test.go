//go:build race

package chat

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// mustPanic runs f and returns what it panicked with.
func mustPanic(t *testing.T, what string, f func()) string {
	t.Helper()
	var v any
	func() {
		defer func() { v = recover() }()
		f()
	}()
	if v == nil {
		t.Fatalf("%s: no panic, want the lock order check to stop it", what)
	}
	if hs := heldBy(goid()); len(hs) != 0 {
		t.Fatalf("%s: the goroutine still counts %v as held after unwinding", what, hs)
	}
	return fmt.Sprint(v)
}

func joinedRoom(t *testing.T, sink Sink) (*Service, *Session, *room) {
	t.Helper()
	svc, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close() })
	sess, err := svc.Connect(context.Background(), ConnectParams{Nickname: "ann", Sink: sink})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sess.Join(context.Background(), "lobby", JoinOptions{}); err != nil {
		t.Fatal(err)
	}
	svc.mu.Lock()
	r := svc.rooms["lobby"]
	svc.mu.Unlock()
	return svc, sess, r
}

// Taking Service.mu while holding room.mu would deadlock against join
// (Service.mu, then room.mu): race builds panic at once, before blocking.
func TestLockOrderViolationPanics(t *testing.T) {
	svc, _, r := joinedRoom(t, SinkFunc(func(*Event) {}))
	msg := mustPanic(t, "Service.mu under room.mu", func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		svc.mu.Lock()
		svc.mu.Unlock()
	})
	if !strings.Contains(msg, "taking Service.mu while holding [room.mu]") {
		t.Fatalf("panic %q does not name the locks", msg)
	}
	mustPanic(t, "Service.mu twice", func() {
		svc.mu.Lock()
		defer svc.mu.Unlock()
		svc.mu.Lock()
	})
	// After the panics the locks are free again and the order is intact.
	svc.mu.Lock()
	r.mu.Lock()
	r.mu.Unlock()
	svc.mu.Unlock()
}

// A Sink that calls back into the Service from Deliver (which runs under
// room.mu; the Sink contract forbids it) is caught the first time it does,
// not when another goroutine happens to hold Service.mu.
func TestSinkCallingBackPanics(t *testing.T) {
	var sess *Session
	sink := SinkFunc(func(ev *Event) {
		if ev.Kind == EventMessage {
			_ = sess.Nickname() // takes Service.mu
		}
	})
	_, s, _ := joinedRoom(t, sink)
	sess = s
	msg := mustPanic(t, "Deliver calling Session.Nickname", func() {
		_, _ = sess.Send(context.Background(), "lobby", "hello", "")
	})
	if !strings.Contains(msg, "lock order violated") {
		t.Fatalf("panic %q, want a lock order violation", msg)
	}
}

// The Store, the Roster and Bus.Publish may do I/O or call back into the
// Service: calling them under one of its locks panics.
func TestCallsWithoutLocks(t *testing.T) {
	svc, _, _ := joinedRoom(t, SinkFunc(func(*Event) {}))
	for name, call := range map[string]func(){
		"Store.LastSeq": func() { _, _ = svc.store.LastSeq(context.Background(), "lobby") },
		"Bus.Publish": func() {
			svc.publish(context.Background(), "lobby", &Event{Kind: EventDeleted, Room: "lobby", Deleted: &Deleted{Room: "lobby", Seq: 1}})
		},
	} {
		msg := mustPanic(t, name+" under Service.mu", func() {
			svc.mu.Lock()
			defer svc.mu.Unlock()
			call()
		})
		if !strings.Contains(msg, name+" called while holding [Service.mu]") {
			t.Fatalf("panic %q does not name the call and the lock", msg)
		}
	}
}
