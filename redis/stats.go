package redis

import (
	"context"
	"fmt"
	"sync/atomic"
)

// Stats is a snapshot of a Bus's counters, for metrics.
type Stats struct {
	Published     uint64 // events PUBLISHed to Redis
	PublishErrors uint64 // PUBLISHes that failed (the event reached local subscribers only)
	Received      uint64 // events received from other nodes
	Dropped       uint64 // payloads received that could not be decoded
	Reconnects    uint64 // times the subscriber connection was lost and set up again
	Subscriptions int    // channels Redis confirmed this node is subscribed to
}

type counters struct {
	published, publishErrors atomic.Uint64
	received, dropped        atomic.Uint64
	reconnects               atomic.Uint64
}

// Stats returns the bus's counters.
func (b *Bus) Stats() Stats {
	b.mu.Lock()
	subs := len(b.subscribed)
	b.mu.Unlock()
	return Stats{
		Published: b.stats.published.Load(), PublishErrors: b.stats.publishErrors.Load(),
		Received: b.stats.received.Load(), Dropped: b.stats.dropped.Load(),
		Reconnects: b.stats.reconnects.Load(), Subscriptions: subs,
	}
}

// Ping checks that Redis answers on the bus's command connection (a PING
// round trip): the readiness check of a cluster node. It fails with
// ErrClosed after Close.
func (b *Bus) Ping(ctx context.Context) error {
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if err := b.client.Do(ctx, b.client.B().Ping().Build()).Error(); err != nil {
		return fmt.Errorf("redis: ping: %w", err)
	}
	return nil
}
