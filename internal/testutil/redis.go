package testutil

import (
	"context"
	"testing"
	"time"

	"github.com/redis/rueidis"
)

// DeleteRedisKeysAtCleanup deletes, when the test ends, every key of the
// Redis at url whose name starts with prefix: what a test's nodes left
// behind (a SIGKILLed node does not clean up; in production the survivors
// do). Call it before starting the nodes, so that it runs after they
// stopped.
func DeleteRedisKeysAtCleanup(t testing.TB, url, prefix string) {
	t.Helper()
	t.Cleanup(func() {
		opt, err := rueidis.ParseURL(url)
		if err != nil {
			t.Errorf("delete test keys %s*: %v", prefix, err)
			return
		}
		opt.DisableCache = true
		c, err := rueidis.NewClient(opt)
		if err != nil {
			t.Errorf("delete test keys %s*: %v", prefix, err)
			return
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var cursor uint64
		for {
			e, err := c.Do(ctx, c.B().Scan().Cursor(cursor).Match(prefix+"*").Count(1000).Build()).AsScanEntry()
			if err != nil {
				t.Errorf("delete test keys %s*: scan: %v", prefix, err)
				return
			}
			if len(e.Elements) > 0 {
				if err := c.Do(ctx, c.B().Del().Key(e.Elements...).Build()).Error(); err != nil {
					t.Errorf("delete test keys %s*: %v", prefix, err)
					return
				}
			}
			if cursor = e.Cursor; cursor == 0 {
				return
			}
		}
	})
}
