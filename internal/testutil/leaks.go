package testutil

import (
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// LeakTimeout bounds how long CheckGoroutineLeaks waits for goroutines to end
// after a test: long enough for connections to notice a close on a loaded
// two-core machine, short enough to fail fast.
const LeakTimeout = 5 * time.Second

// ignoredFrames mark goroutines that the runtime or the testing package start
// on demand; they are not the code under test's to stop.
var ignoredFrames = []string{
	"testing.tRunner(",
	"testing.(*T).Run(",
	"testing.runTests(",
	"testing.(*M).",
	"os/signal.signal_recv(",
	"os/signal.loop(",
	"runtime.ensureSigM(",
	"runtime/trace.",
	// rueidis's cluster client closes the connections a topology refresh
	// replaced 5 s later, on a goroutine of its own (cluster.go, _refresh):
	// it ends by itself, after the client's Close too.
	"github.com/redis/rueidis.(*clusterClient)._refresh.func",
}

// CheckGoroutineLeaks records the goroutines alive now and registers a cleanup
// that waits (up to LeakTimeout) until every goroutine started since has ended,
// failing the test with the stacks of those that remain.
//
// Call it first in the test, so its cleanup runs last (after servers and
// clients registered later are closed). It cannot tell goroutines of other
// tests apart, so do not use it in tests that run in parallel with others.
func CheckGoroutineLeaks(t testing.TB) {
	t.Helper()
	checkGoroutineLeaks(t, LeakTimeout)
}

func checkGoroutineLeaks(t testing.TB, timeout time.Duration) {
	before := make(map[int64]bool)
	for _, g := range goroutines() {
		before[g.id] = true
	}
	t.Cleanup(func() {
		var leaked []goroutine
		ok := poll(timeout, func() bool {
			leaked = newGoroutines(before)
			return len(leaked) == 0
		})
		if ok {
			return
		}
		var b strings.Builder
		for _, g := range leaked {
			b.WriteString("\n\n")
			b.WriteString(g.stack)
		}
		t.Errorf("%d goroutine(s) leaked (still running %v after the test):%s", len(leaked), timeout, b.String())
	})
}

type goroutine struct {
	id    int64
	stack string
}

// newGoroutines lists goroutines not in before, minus the caller and those
// matching ignoredFrames.
func newGoroutines(before map[int64]bool) []goroutine {
	self := currentGoroutineID()
	var out []goroutine
	for _, g := range goroutines() {
		if before[g.id] || g.id == self || ignored(g.stack) {
			continue
		}
		out = append(out, g)
	}
	return out
}

func ignored(stack string) bool {
	for _, f := range ignoredFrames {
		if strings.Contains(stack, f) {
			return true
		}
	}
	return false
}

// goroutines returns every goroutine's stack, parsed from runtime.Stack. The
// text format ("goroutine N [state]:" then frames, blocks separated by a blank
// line) has been stable since Go 1.0.
func goroutines() []goroutine {
	var out []goroutine
	for block := range strings.SplitSeq(allStacks(), "\n\n") {
		if id, ok := parseGoroutineID(block); ok {
			out = append(out, goroutine{id: id, stack: block})
		}
	}
	return out
}

func allStacks() string {
	buf := make([]byte, 64<<10)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return string(buf[:n])
		}
		buf = make([]byte, 2*len(buf))
	}
}

func currentGoroutineID() int64 {
	buf := make([]byte, 64)
	n := runtime.Stack(buf, false)
	id, _ := parseGoroutineID(string(buf[:n]))
	return id
}

// parseGoroutineID reads N from a block starting "goroutine N [".
func parseGoroutineID(block string) (int64, bool) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(block), "goroutine ")
	if !ok {
		return 0, false
	}
	num, _, ok := strings.Cut(rest, " ")
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseInt(num, 10, 64)
	return id, err == nil
}
