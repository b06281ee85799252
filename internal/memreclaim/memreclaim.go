// Package memreclaim gives memory back to the operating system once a
// burst of connection activity is over.
//
// Go's runtime keeps the heap it grew to during a burst (thousands of
// handshakes and disconnects, a flood of messages): the heap goal stays
// at twice what was live at the last collection, which ran mid-burst, and
// with no allocation afterwards no collection runs to lower it; the
// forced collection every two minutes and the background scavenger
// eventually return it, minutes later. A server whose connections come
// and go in waves would then look like it leaks. Run watches an activity
// counter and, when a busy period is followed by a quiet one, collects
// and returns the free memory at once (debug.FreeOSMemory: one full
// collection, milliseconds on a chat server's heap, at most once per
// period).
package memreclaim

import (
	"context"
	"log/slog"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/banter-chat/banter/engineio"
)

// Config tunes Run. Zero values mean the defaults.
type Config struct {
	// Every is the period of the check (default 2s).
	Every time.Duration
	// Burst is the activity in one period that counts as busy (default
	// 1000 events: handshakes plus disconnects, say).
	Burst uint64
	// Logger gets a Debug line per reclaim (default: none).
	Logger *slog.Logger
}

// Run checks activity() (a counter that only grows) every period until
// ctx ends. After a period with at least Burst events, the first period
// with less than a tenth of that reclaims memory.
func Run(ctx context.Context, cfg Config, activity func() uint64) {
	if cfg.Every <= 0 {
		cfg.Every = 2 * time.Second
	}
	if cfg.Burst == 0 {
		cfg.Burst = 1000
	}
	t := time.NewTicker(cfg.Every)
	defer t.Stop()
	last := activity()
	var busy uint64 // the busiest period since the last reclaim
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := activity()
		n := now - last
		last = now
		busy = max(busy, n)
		if busy >= cfg.Burst && n*10 < busy {
			reclaim(cfg.Logger)
			busy = 0
		}
	}
}

func reclaim(log *slog.Logger) {
	var before, after runtime.MemStats
	if log != nil {
		runtime.ReadMemStats(&before)
	}
	debug.FreeOSMemory()
	if log != nil {
		runtime.ReadMemStats(&after)
		log.Debug("memory returned to the OS after a burst",
			"heap_in_use_before", before.HeapInuse, "heap_in_use_after", after.HeapInuse,
			"released", after.HeapReleased-min(after.HeapReleased, before.HeapReleased))
	}
}

// EngineActivity is the activity of an Engine.IO server: sessions opened
// plus sessions closed.
func EngineActivity(e *engineio.Server) func() uint64 {
	return func() uint64 {
		st := e.Stats()
		n := st.Polling.Handshakes + st.WebSocket.Handshakes
		for _, c := range st.Closes {
			n += c
		}
		return n
	}
}
