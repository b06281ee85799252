package chat

import (
	"sync"
	"time"
)

// Bucket is a token bucket: burst tokens at most, refilled at rate per
// second. Taking from an empty bucket fails; nothing queues. The Service
// uses one per user for messages; gateways use it for their own request
// limits. Safe for concurrent use.
type Bucket struct {
	mu     sync.Mutex
	now    func() time.Time
	burst  float64
	rate   float64
	tokens float64
	last   time.Time
}

// NewBucket returns a full bucket. now is the clock (nil: time.Now).
func NewBucket(burst int, rate float64, now func() time.Time) *Bucket {
	if now == nil {
		now = time.Now
	}
	return &Bucket{now: now, burst: float64(burst), rate: rate, tokens: float64(burst), last: now()}
}

// Take takes one token and reports whether there was one.
func (b *Bucket) Take() bool {
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

// Full reports whether the bucket has refilled to its burst: it then
// behaves exactly like a new one.
func (b *Bucket) Full() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	el := b.now().Sub(b.last).Seconds()
	return b.tokens+max(el, 0)*b.rate >= b.burst
}
