package testutil

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/rueidis"
)

// DeleteRedisKeysAtCleanup deletes, when the test ends, every key of the
// Redis at url whose name starts with prefix: what a test's nodes left
// behind (a SIGKILLed node does not clean up; in production the survivors
// do). On a Redis Cluster every node is scanned. Call it before starting
// the nodes, so that it runs after they stopped.
func DeleteRedisKeysAtCleanup(t testing.TB, url, prefix string) {
	t.Helper()
	t.Cleanup(func() {
		if err := deleteRedisKeys(url, prefix); err != nil {
			t.Errorf("delete test keys %s*: %v", prefix, err)
		}
	})
}

func deleteRedisKeys(url, prefix string) error {
	opt, err := rueidis.ParseURL(url)
	if err != nil {
		return err
	}
	opt.DisableCache = true
	c, err := rueidis.NewClient(opt)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nodes := map[string]rueidis.Client{"": c}
	if c.Mode() == rueidis.ClientModeCluster {
		nodes = c.Nodes()
	}
	for addr, n := range nodes {
		var cursor uint64
		for {
			e, err := n.Do(ctx, n.B().Scan().Cursor(cursor).Match(prefix+"*").Count(1000).Build()).AsScanEntry()
			if err != nil {
				if c.Mode() == rueidis.ClientModeCluster && !rueidis.IsRedisNil(err) {
					if _, ok := rueidis.IsRedisErr(err); !ok {
						break // a node that is down (a test killed it): nothing to delete there
					}
				}
				return fmt.Errorf("scan %s: %w", addr, err)
			}
			// One DEL per key: on a Redis Cluster the keys of one
			// command must share a slot (the client routes each).
			cmds := make(rueidis.Commands, 0, len(e.Elements))
			for _, k := range e.Elements {
				cmds = append(cmds, c.B().Del().Key(k).Build())
			}
			for _, r := range c.DoMulti(ctx, cmds...) {
				if err := r.Error(); err != nil {
					return err
				}
			}
			if cursor = e.Cursor; cursor == 0 {
				break
			}
		}
	}
	return nil
}
