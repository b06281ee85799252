package bench

import (
	"math"
	"math/bits"
	"time"
)

// hist is a log-linear latency histogram in microseconds: 64 sub-buckets per
// power of two (under 1.6% error), up to 2^31 µs. Not safe for concurrent
// use: each goroutine fills its own and they are merged.
type hist struct {
	counts [histBuckets]uint32
	n      uint64
	max    int64
}

const (
	histSub     = 64
	histBuckets = 32 * histSub
)

func histIndex(us int64) int {
	if us < histSub {
		if us < 0 {
			return 0
		}
		return int(us)
	}
	e := bits.Len64(uint64(us)) - 7 // us >> e is in [64,128)
	i := (e+1)*histSub + int(us>>e) - histSub
	if i >= histBuckets {
		return histBuckets - 1
	}
	return i
}

// histValue returns the upper bound (µs) of bucket i.
func histValue(i int) int64 {
	if i < histSub {
		return int64(i)
	}
	e := i/histSub - 1
	m := int64(i%histSub + histSub)
	return (m+1)<<e - 1
}

func (h *hist) add(d time.Duration) {
	us := d.Microseconds()
	h.counts[histIndex(us)]++
	h.n++
	if us > h.max {
		h.max = us
	}
}

func (h *hist) merge(o *hist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// quantile returns the q-quantile in milliseconds (NaN when empty).
func (h *hist) quantile(q float64) float64 {
	if h.n == 0 {
		return math.NaN()
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	if rank == 0 {
		rank = 1
	}
	var seen uint64
	for i, c := range h.counts {
		seen += uint64(c)
		if seen >= rank {
			return float64(min(histValue(i), h.max)) / 1000
		}
	}
	return float64(h.max) / 1000
}

// latencyMetrics adds p50/p90/p99/max (ms) under prefix to m.
func (h *hist) latencyMetrics(m map[string]float64, prefix string) {
	if h.n == 0 {
		return
	}
	m[prefix+"p50_ms"] = h.quantile(0.50)
	m[prefix+"p90_ms"] = h.quantile(0.90)
	m[prefix+"p99_ms"] = h.quantile(0.99)
	m[prefix+"max_ms"] = float64(h.max) / 1000
}
