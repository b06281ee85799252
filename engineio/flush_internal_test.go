package engineio

import (
	"testing"
	"time"
)

func TestWriteDelay(t *testing.T) {
	const max = 40 * time.Millisecond
	for _, tc := range []struct {
		rate float64
		want time.Duration
	}{
		{0, 0},
		{20_000, 0},
		{35_000, max / 4},
		{50_000, max / 2},
		{80_000, max},
		{1e6, max},
	} {
		if got := writeDelay(tc.rate, 20_000, max); got != tc.want {
			t.Errorf("writeDelay(%v) = %v, want %v", tc.rate, got, tc.want)
		}
	}
	if got := writeDelay(1e6, 20_000, 0); got != 0 {
		t.Errorf("pacing off: %v", got)
	}
}

// A session is held for the next period only while pacing is on and it
// wrote in this period and the two before; anything else is written at
// once. Held sessions go to the flush workers when the period ends.
func TestPacingHoldsOnlyHotSessions(t *testing.T) {
	srv := NewServer(Config{})
	defer srv.Shutdown(t.Context())
	// The pacer's own periods must not interfere: one per hour.
	PinWriteDelay(srv, time.Hour)
	srv.pace.window.Store(int64(time.Hour))
	tick := srv.pace.tick.Load()
	newSess := func(recent uint8, last uint32) *Socket {
		return &Socket{srv: srv, transport: transportWebSocket, ws: &wsConn{}, recent: recent, lastTick: last, flushing: true}
	}
	for _, tc := range []struct {
		name   string
		sess   *Socket
		window time.Duration
		held   bool
	}{
		{"hot", newSess(0b111, tick), time.Hour, true},
		{"hot, pacing off", newSess(0b111, tick), 0, false},
		{"quiet two periods ago", newSess(0b101, tick), time.Hour, false},
		{"not written in this period", newSess(0b111, tick-1), time.Hour, false},
		{"new session", newSess(0, 0), time.Hour, false},
	} {
		srv.pace.window.Store(int64(tc.window))
		tc.sess.mu.Lock()
		srv.flushSoon(tc.sess)
		tc.sess.mu.Unlock()
		if held := len(srv.pace.held) == 1; held != tc.held {
			t.Errorf("%s: held = %v, want %v", tc.name, held, tc.held)
		}
		srv.releaseHeld()
		if len(srv.pace.held) != 0 {
			t.Fatalf("%s: releaseHeld left %d sessions", tc.name, len(srv.pace.held))
		}
	}
}

// recent records the periods of a session's writes: consecutive periods
// make it hot, a gap clears the history.
func TestPacingRecentPeriods(t *testing.T) {
	srv := NewServer(Config{})
	defer srv.Shutdown(t.Context())
	PinWriteDelay(srv, time.Hour)
	s := &Socket{srv: srv, transport: transportWebSocket, ws: &wsConn{}}
	write := func() {
		s.mu.Lock()
		s.queue = append(s.queue, TextMessage("x"))
		s.flushing = true
		s.mu.Unlock()
		s.flushWS(nil, nil) // no connection: records the period, writes nothing
	}
	base := srv.pace.tick.Load()
	for i, tc := range []struct {
		advance uint32
		want    uint8
	}{{0, 0b1}, {0, 0b1}, {1, 0b11}, {1, 0b111}, {1, 0b1111}, {3, 0b1111001}, {20, 0b1}} {
		srv.pace.tick.Add(tc.advance)
		write()
		if s.recent != tc.want || s.lastTick != srv.pace.tick.Load() {
			t.Fatalf("write %d: recent %b lastTick %d, want %b %d", i, s.recent, s.lastTick-base, tc.want, srv.pace.tick.Load()-base)
		}
	}
}
