package chat

import (
	"context"
	"slices"
	"sync"
)

// Bus carries events between the Services of all nodes. The in-process
// LocalBus is the default; a cluster uses a networked one (Redis).
//
// Topics: a room's canonical name carries its events (messages, presence,
// typing signals); "" carries EventUser events; "@" + NickKey(nickname)
// carries a DM notification to a user who may not have joined the DM room.
//
// Delivery is at most once and, across topics, unordered. The Service does
// not rely on more: messages carry room and Seq, a gap is filled from the
// Store, and a duplicate (Seq already delivered) is dropped. A Bus whose
// subscriptions take effect asynchronously (or can break) should hand the
// topic's handlers an EventSubscribed when a subscription becomes live:
// a room then reads what it may have missed meanwhile from the Store.
type Bus interface {
	// Publish hands ev to every current subscriber of topic on every node,
	// this one included. It may return before remote delivery.
	Publish(ctx context.Context, topic string, ev *Event) error
	// Subscribe calls h for every event published on topic until the
	// returned function is called. The Service calls Subscribe and the
	// returned function while holding its lock: they must not block on
	// the network (register interest, subscribe asynchronously) and must
	// not call h synchronously. h must not block either.
	Subscribe(topic string, h func(*Event)) (unsubscribe func(), err error)
}

// LocalBus is the in-process Bus: Publish calls the handlers synchronously
// in the publisher's goroutine.
type LocalBus struct {
	mu     sync.RWMutex
	topics map[string][]*localSub
}

type localSub struct{ h func(*Event) }

var _ Bus = (*LocalBus)(nil)

// NewLocalBus returns an empty LocalBus.
func NewLocalBus() *LocalBus { return &LocalBus{topics: make(map[string][]*localSub)} }

// Publish implements Bus.
func (b *LocalBus) Publish(_ context.Context, topic string, ev *Event) error {
	b.mu.RLock()
	subs := b.topics[topic] // never mutated in place: copy-on-write below
	b.mu.RUnlock()
	// Handlers run without b.mu held, so a handler may (un)subscribe.
	for _, s := range subs {
		s.h(ev)
	}
	return nil
}

// Subscribe implements Bus.
func (b *LocalBus) Subscribe(topic string, h func(*Event)) (func(), error) {
	s := &localSub{h: h}
	b.mu.Lock()
	b.topics[topic] = append(slices.Clip(b.topics[topic]), s)
	b.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			b.mu.Lock()
			defer b.mu.Unlock()
			subs := slices.DeleteFunc(slices.Clone(b.topics[topic]), func(x *localSub) bool { return x == s })
			if len(subs) == 0 {
				delete(b.topics, topic)
			} else {
				b.topics[topic] = subs
			}
		})
	}, nil
}
