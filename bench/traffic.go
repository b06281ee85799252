package bench

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"
)

// The shape of the senders' traffic. Real chat traffic arrives from users
// who type independently; a benchmark whose senders all send at the same
// instants hands every receiver its messages in bursts, so one write carries
// several of them and the server looks cheaper than it is under real load.

// shape is how the senders' sends are spread in time.
type shape int

const (
	// shapePoisson: each sender sends at independent random instants
	// (exponential gaps, mean senders/rate): chat users typing on their own.
	shapePoisson shape = iota
	// shapeSpread: each sender sends at a fixed rate, the senders' phases
	// spread evenly, so the sends of all of them are interleaved one every
	// 1/rate.
	shapeSpread
	// shapeBurst: every sender sends at the same instants (synchronized
	// bursts): the best case for write coalescing.
	shapeBurst
)

var shapeNames = []string{"poisson", "spread", "burst"}

func (s shape) String() string { return shapeNames[s] }

func parseShape(v string) (shape, error) {
	for i, n := range shapeNames {
		if v == n {
			return shape(i), nil
		}
	}
	return 0, fmt.Errorf("%w: --shape %q: want poisson, spread or burst", ErrUsage, v)
}

// schedule returns the send instants of sender s of senders, together
// sending rate messages per second from start: call next for each message.
func (sh shape) schedule(s, senders int, rate float64, start time.Time) *schedule {
	per := rate / float64(senders) // this sender's rate
	sc := &schedule{shape: sh, start: start, gap: float64(time.Second) / per}
	switch sh {
	case shapeSpread:
		sc.offset = sc.gap * float64(s) / float64(senders)
	case shapePoisson:
		sc.rng = rand.New(rand.NewPCG(uint64(s)+1, uint64(start.UnixNano())))
		sc.offset = sc.rng.ExpFloat64() * sc.gap
	}
	return sc
}

// schedule is one sender's sequence of send instants.
type schedule struct {
	shape  shape
	start  time.Time
	gap    float64 // mean nanoseconds between two sends
	offset float64 // nanoseconds from start to the next send
	rng    *rand.Rand
}

// next returns the instant of the next send.
func (sc *schedule) next() time.Time {
	at := sc.start.Add(time.Duration(sc.offset))
	if sc.shape == shapePoisson {
		sc.offset += sc.rng.ExpFloat64() * sc.gap
	} else {
		sc.offset += sc.gap
	}
	return at
}

// What a benchmark message carries: its sender, its number and its send
// time, in the text itself ("@@s.n.t.pad"), so every dialect (an object
// argument, a plain string, a protocol-1 message's text) carries it the
// same way and receivers find it without decoding JSON.

var markText = []byte("@@")

// appendMark appends the message text of message n of sender s sent at t
// (µs since the epoch), padded with pad.
func appendMark(b []byte, s, n int, t int64, pad string) []byte {
	b = append(b, markText...)
	b = strconv.AppendInt(b, int64(s), 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, t, 10)
	b = append(b, '.')
	return append(b, pad...)
}

// parseMark finds the mark in a received packet.
func parseMark(p []byte) (s, n int, t int64, ok bool) {
	i := bytes.Index(p, markText)
	if i < 0 {
		return 0, 0, 0, false
	}
	p = p[i+len(markText):]
	var v [3]int64
	for k := range v {
		j := 0
		for j < len(p) && p[j] >= '0' && p[j] <= '9' {
			j++
		}
		if j == 0 || j > 18 || j == len(p) || p[j] != '.' {
			return 0, 0, 0, false
		}
		x, err := strconv.ParseInt(string(p[:j]), 10, 64)
		if err != nil {
			return 0, 0, 0, false
		}
		v[k] = x
		p = p[j+1:]
	}
	if v[0] > math.MaxInt32 || v[1] > math.MaxInt32 {
		return 0, 0, 0, false
	}
	return int(v[0]), int(v[1]), v[2], true
}
