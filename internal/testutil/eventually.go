package testutil

import (
	"fmt"
	"testing"
	"time"
)

// Ticks between polls grow from minTick to maxTick: a condition that becomes
// true quickly is seen quickly, and a slow one does not burn the (shared, two
// core) CPU.
const (
	minTick = time.Millisecond
	maxTick = 20 * time.Millisecond
)

// Eventually polls cond until it returns true or timeout elapses; on timeout it
// fails the test with msgAndArgs (a format string and its arguments) or a
// generic message. Call it from the test goroutine.
func Eventually(t testing.TB, timeout time.Duration, cond func() bool, msgAndArgs ...any) {
	t.Helper()
	if poll(timeout, cond) {
		return
	}
	t.Fatalf("condition not met within %v: %s", timeout, formatMsg(msgAndArgs))
}

// poll reports whether cond became true within timeout. cond is always called
// at least once, and once more at the deadline, so a zero timeout still checks.
func poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	tick := minTick
	for {
		if cond() {
			return true
		}
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		time.Sleep(min(tick, left))
		tick = min(2*tick, maxTick)
	}
}

func formatMsg(msgAndArgs []any) string {
	if len(msgAndArgs) == 0 {
		return "(no message)"
	}
	if format, ok := msgAndArgs[0].(string); ok {
		return fmt.Sprintf(format, msgAndArgs[1:]...)
	}
	return fmt.Sprint(msgAndArgs...)
}
