package chat

import (
	"sync"
	"time"
)

// bucket is a token bucket: burst tokens at most, refilled at rate per
// second. Taking from an empty bucket fails; nothing queues.
type bucket struct {
	mu     sync.Mutex
	now    func() time.Time
	burst  float64
	rate   float64
	tokens float64
	last   time.Time
}

func newBucket(burst int, rate float64, now func() time.Time) *bucket {
	return &bucket{now: now, burst: float64(burst), rate: rate, tokens: float64(burst), last: now()}
}

func (b *bucket) take() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.now()
	if el := t.Sub(b.last).Seconds(); el > 0 {
		b.tokens = min(b.burst, b.tokens+el*b.rate)
	}
	b.last = t
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
