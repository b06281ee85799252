package redis_test

import (
	"fmt"
	"net/url"
	"os"
	"testing"

	"github.com/banter-chat/banter/internal/testutil"
)

// The tests of the bus and the roster run twice: on the machine's single
// Redis (scripts/deps.sh starts it; BANTER_TEST_REDIS points elsewhere) and
// on a Redis Cluster of three local redis-server processes started for the
// package (sharded pub/sub, the roster's keys in one slot).
type backend struct {
	name    string
	url     string
	cluster *testutil.RedisCluster // nil: a single Redis
}

var (
	sharedCluster    *testutil.RedisCluster
	sharedClusterErr error
)

func TestMain(m *testing.M) {
	// Started before any test, so that its goroutines are not taken for a
	// test's leaks.
	dir, err := os.MkdirTemp("", "banter-redis-cluster-")
	if err == nil {
		sharedCluster, sharedClusterErr = testutil.NewRedisCluster(dir, 3)
	} else {
		sharedClusterErr = err
	}
	code := m.Run()
	if sharedCluster != nil {
		sharedCluster.RemoveAll()
	} else if dir != "" {
		_ = os.RemoveAll(dir)
	}
	os.Exit(code)
}

// eachRedis runs f on the single Redis, then on the Redis Cluster.
func eachRedis(t *testing.T, f func(t *testing.T, be backend)) {
	t.Run("redis", func(t *testing.T) { f(t, backend{name: "redis", url: testutil.RedisURL()}) })
	t.Run("cluster", func(t *testing.T) {
		if sharedClusterErr != nil {
			t.Fatalf("Redis Cluster (scripts/deps.sh installs redis-server): %v", sharedClusterErr)
		}
		f(t, backend{name: "cluster", url: sharedCluster.URL(), cluster: sharedCluster})
	})
}

// withParam adds a query parameter to a Redis URL.
func withParam(raw, k, v string) string {
	u, err := url.Parse(raw)
	if err != nil {
		panic(fmt.Sprintf("test URL %q: %v", raw, err))
	}
	q := u.Query()
	q.Add(k, v)
	u.RawQuery = q.Encode()
	return u.String()
}
