//go:build race

package chat

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
)

// held maps a goroutine id to the ranks of the chat locks it holds, in
// the order taken. Only tests build this file (with -race); every Lock
// asks the runtime for its goroutine's id, which costs a microsecond or
// so.
var held sync.Map // uint64 → *[]lockRank

func (r lockRank) String() string {
	switch r {
	case rankService:
		return "Service.mu"
	case rankRoom:
		return "room.mu"
	}
	return "unknown lock"
}

func goid() uint64 {
	var buf [64]byte
	s := string(buf[:runtime.Stack(buf[:], false)])
	s = strings.TrimPrefix(s, "goroutine ")
	id, err := strconv.ParseUint(s[:strings.IndexByte(s, ' ')], 10, 64)
	if err != nil {
		panic("chat: lock order check: cannot read the goroutine id: " + err.Error())
	}
	return id
}

func heldBy(id uint64) []lockRank {
	if v, ok := held.Load(id); ok {
		return *v.(*[]lockRank)
	}
	return nil
}

// acquire checks that r may be taken now and records it; call it before
// blocking on the mutex, so that a violation panics instead of deadlocking.
func acquire(r lockRank) {
	id := goid()
	hs := heldBy(id)
	for _, h := range hs {
		if h >= r {
			panic(fmt.Sprintf("chat: lock order violated: taking %v while holding %v (see the package doc, \"Lock order\")", r, hs))
		}
	}
	hs = append(hs, r)
	held.Store(id, &hs)
}

func release(r lockRank) {
	id := goid()
	hs := heldBy(id)
	for i := len(hs) - 1; i >= 0; i-- {
		if hs[i] == r {
			hs = append(hs[:i:i], hs[i+1:]...)
			if len(hs) == 0 {
				held.Delete(id)
			} else {
				held.Store(id, &hs)
			}
			return
		}
	}
	panic(fmt.Sprintf("chat: unlock of %v, which this goroutine does not hold (held: %v)", r, hs))
}

func (m *serviceMutex) Lock()   { acquire(rankService); m.Mutex.Lock() }
func (m *serviceMutex) Unlock() { release(rankService); m.Mutex.Unlock() }
func (m *roomMutex) Lock()      { acquire(rankRoom); m.Mutex.Lock() }
func (m *roomMutex) Unlock()    { release(rankRoom); m.Mutex.Unlock() }

// assertNoLocks panics if the goroutine holds a chat lock: call may do I/O
// or call back into the Service.
func assertNoLocks(call string) {
	if hs := heldBy(goid()); len(hs) > 0 {
		panic(fmt.Sprintf("chat: %s called while holding %v: it must run without the Service's locks", call, hs))
	}
}

// assertHeld panics unless the goroutine holds r: f documents that it is
// called with r held.
func assertHeld(r lockRank, f string) {
	for _, h := range heldBy(goid()) {
		if h == r {
			return
		}
	}
	panic(fmt.Sprintf("chat: %s called without %v held", f, r))
}

// checkedStore checks that the Service calls its Store without locks.
func checkedStore(st Store) Store { return lockCheckedStore{st} }

type lockCheckedStore struct{ Store }

func (c lockCheckedStore) Append(ctx context.Context, d Draft) (Message, error) {
	assertNoLocks("Store.Append")
	return c.Store.Append(ctx, d)
}

func (c lockCheckedStore) History(ctx context.Context, room string, before int64, limit int) ([]Message, error) {
	assertNoLocks("Store.History")
	return c.Store.History(ctx, room, before, limit)
}

func (c lockCheckedStore) Since(ctx context.Context, room string, after int64, limit int) ([]Message, error) {
	assertNoLocks("Store.Since")
	return c.Store.Since(ctx, room, after, limit)
}

func (c lockCheckedStore) LastSeq(ctx context.Context, room string) (int64, error) {
	assertNoLocks("Store.LastSeq")
	return c.Store.LastSeq(ctx, room)
}

func (c lockCheckedStore) Rooms(ctx context.Context) ([]RoomInfo, error) {
	assertNoLocks("Store.Rooms")
	return c.Store.Rooms(ctx)
}

func (c lockCheckedStore) Delete(ctx context.Context, room string, seq int64) (Message, error) {
	assertNoLocks("Store.Delete")
	return c.Store.Delete(ctx, room, seq)
}

// checkedRoster checks that the Service calls its Roster without locks.
func checkedRoster(r Roster) Roster { return lockCheckedRoster{r} }

type lockCheckedRoster struct{ Roster }

func (c lockCheckedRoster) Claim(ctx context.Context, cl Claim) (*User, error) {
	assertNoLocks("Roster.Claim")
	return c.Roster.Claim(ctx, cl)
}

func (c lockCheckedRoster) Release(ctx context.Context, nickKey, sessionID string) error {
	assertNoLocks("Roster.Release")
	return c.Roster.Release(ctx, nickKey, sessionID)
}

func (c lockCheckedRoster) Join(ctx context.Context, room, sessionID, nickname string) ([]string, error) {
	assertNoLocks("Roster.Join")
	return c.Roster.Join(ctx, room, sessionID, nickname)
}

func (c lockCheckedRoster) Leave(ctx context.Context, sessionID, nickname string, rooms []string) error {
	assertNoLocks("Roster.Leave")
	return c.Roster.Leave(ctx, sessionID, nickname, rooms)
}

func (c lockCheckedRoster) Users(ctx context.Context) ([]User, error) {
	assertNoLocks("Roster.Users")
	return c.Roster.Users(ctx)
}

func (c lockCheckedRoster) Members(ctx context.Context, room string) ([]string, error) {
	assertNoLocks("Roster.Members")
	return c.Roster.Members(ctx, room)
}

// checkedBus checks that the Service publishes without locks. (Subscribe
// and its unsubscribe may run under Service.mu: the Bus contract allows
// it.)
func checkedBus(b Bus) Bus { return lockCheckedBus{b} }

type lockCheckedBus struct{ Bus }

func (c lockCheckedBus) Publish(ctx context.Context, topic string, ev *Event) error {
	assertNoLocks("Bus.Publish")
	return c.Bus.Publish(ctx, topic, ev)
}
