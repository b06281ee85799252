package redis_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/banter-chat/banter/internal/testutil"
	"github.com/banter-chat/banter/redis"
	"github.com/redis/rueidis"
)

// The Redis Cluster's own tests: what only exists with shards.

func clusterBackend(t *testing.T) backend {
	t.Helper()
	if sharedClusterErr != nil {
		t.Fatalf("Redis Cluster (scripts/deps.sh installs redis-server): %v", sharedClusterErr)
	}
	return backend{name: "cluster", url: sharedCluster.URL(), cluster: sharedCluster}
}

// shardOf names the node of be's cluster that serves a channel or key.
func shardOf(t *testing.T, c *testutil.RedisCluster, key string) int {
	t.Helper()
	i, err := c.NodeOf(key)
	if err != nil {
		t.Fatal(err)
	}
	return i
}

// roomsOnEveryShard returns n room names per shard (channel prefix p).
func roomsOnEveryShard(t *testing.T, c *testutil.RedisCluster, p string, n int) map[int][]string {
	t.Helper()
	out := map[int][]string{}
	for i := 0; len(out) < c.Len() || !allHave(out, c.Len(), n); i++ {
		if i > 1000 {
			t.Fatalf("no room names found for every shard: %v", out)
		}
		room := fmt.Sprintf("room-%d", i)
		sh := shardOf(t, c, p+"ev:"+room)
		if len(out[sh]) < n {
			out[sh] = append(out[sh], room)
		}
	}
	return out
}

func allHave(m map[int][]string, shards, n int) bool {
	for i := range shards {
		if len(m[i]) < n {
			return false
		}
	}
	return true
}

// TestShardedRoomsSpread: each room's channel lives on the shard of its
// slot; a node subscribes on every shard that has one of its rooms (SPUBLISH
// to one shard reaches it) and the roster's keys all share one slot.
func TestShardedRoomsSpread(t *testing.T) {
	be := clusterBackend(t)
	p := uniquePrefix(t, be)
	a, b := open(t, be, p), open(t, be, p)
	rooms := roomsOnEveryShard(t, be.cluster, p, 2)
	var got recorder
	var all []string
	for _, rs := range rooms {
		for _, room := range rs {
			all = append(all, room)
			subscribe(t, b, room, got.handle)
		}
	}
	// B holds a subscription on every shard, to its rooms only.
	for i := range be.cluster.Len() {
		n := nodeClient(t, a, be.cluster.Addr(i))
		chs, err := n.Do(context.Background(), n.B().PubsubShardchannels().Pattern(p+"ev:*").Build()).AsStrSlice()
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(chs)
		want := []string{p + "ev:" + rooms[i][0], p + "ev:" + rooms[i][1]}
		slices.Sort(want)
		if !slices.Equal(chs, want) {
			t.Fatalf("shard %d has channels %v, want %v", i, chs, want)
		}
	}
	for k, room := range all {
		publish(t, a, room, msg(room, int64(k+1), room))
	}
	testutil.Eventually(t, 5*time.Second, func() bool { return len(got.texts()) == len(all) }, "B got %v of %v", got.texts(), all)

	// The roster: every key on one shard, with the hash tag.
	ro, err := redis.NewRoster(context.Background(), a, redis.RosterConfig{Heartbeat: time.Hour, Address: "http://a"})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if _, err := ro.Join(context.Background(), all[0], "s1", "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := ro.Join(context.Background(), all[len(all)-1], "s1", "alice"); err != nil {
		t.Fatal(err)
	}
	holders := map[int][]string{}
	for i := range be.cluster.Len() {
		n := nodeClient(t, a, be.cluster.Addr(i))
		keys, err := n.Do(context.Background(), n.B().Keys().Pattern(p+"*").Build()).AsStrSlice()
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) > 0 {
			holders[i] = keys
		}
	}
	if len(holders) != 1 {
		t.Fatalf("the roster's keys are on %d shards: %v", len(holders), holders)
	}
	for _, keys := range holders {
		for _, k := range keys {
			if !strings.HasPrefix(k, p+"{roster}") {
				t.Fatalf("roster key %q lacks the hash tag", k)
			}
		}
		if len(keys) < 4 { // node:, nodes, room: ×2, rooms:
			t.Fatalf("roster keys: %v", keys)
		}
	}
}

// nodeClient is a client of one node of the cluster, through bus's client.
func nodeClient(t *testing.T, bus *redis.Bus, addr string) rueidis.Client {
	t.Helper()
	n := bus.Client().Nodes()[addr]
	if n == nil {
		t.Fatalf("node %s unknown to the client: %v", addr, bus.Client().Nodes())
	}
	return n
}

// A hash tag in the prefix would put every channel on one shard: refused.
func TestShardedRefusesBracedPrefix(t *testing.T) {
	be := clusterBackend(t)
	_, err := redis.Open(context.Background(), be.url, redis.Config{Prefix: "x{tag}:"})
	if err == nil || !strings.Contains(err.Error(), "braces") {
		t.Fatalf("Open with a braced prefix on a cluster: %v", err)
	}
}

// TestShardDown: a shard dies. Rooms on the other shards go on; publishing
// to a room of the dead shard fails (the caller logs it; chat's receivers
// catch up from the store); when the shard is back, every node subscribes
// there again by itself and its rooms hear EventSubscribed (the cue to read
// the store), and events flow again.
func TestShardDown(t *testing.T) {
	c := testutil.StartRedisCluster(t, 3)
	be := backend{name: "cluster", url: c.URL(), cluster: c}
	p := "banter-test-down:"
	a := open(t, be, p)
	b, err := redis.Open(context.Background(), be.url, redis.Config{Prefix: p, RetryDelay: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	rooms := roomsOnEveryShard(t, c, p, 1)
	got := map[int]*recorder{}
	for sh, rs := range rooms {
		got[sh] = &recorder{}
		subscribe(t, b, rs[0], got[sh].handle)
	}
	const victim = 1
	alive := []int{0, 2}
	c.Kill(victim)
	testutil.Eventually(t, 10*time.Second, func() bool { return !b.Subscribed(rooms[victim][0]) }, "B never noticed its shard died")
	for _, sh := range alive {
		if !b.Subscribed(rooms[sh][0]) {
			t.Fatalf("B lost its subscription on live shard %d", sh)
		}
		publish(t, a, rooms[sh][0], msg(rooms[sh][0], 1, "during"))
	}
	for _, sh := range alive {
		testutil.Eventually(t, 5*time.Second, func() bool { return slices.Equal(got[sh].texts(), []string{"during"}) },
			"shard %d's room got %v while another shard was down", sh, got[sh].texts())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	if err := a.Publish(ctx, rooms[victim][0], msg(rooms[victim][0], 1, "lost")); err == nil {
		t.Fatal("publishing to a room of the dead shard succeeded")
	}
	cancel()
	signals := got[victim].subscribedSignals()
	if err := c.Restart(victim); err != nil {
		t.Fatalf("%v\n%s", err, c.Logs())
	}
	testutil.Eventually(t, 15*time.Second, func() bool { return b.Subscribed(rooms[victim][0]) }, "B did not subscribe again on the restarted shard")
	testutil.Eventually(t, 5*time.Second, func() bool { return got[victim].subscribedSignals() == signals+1 },
		"the room of the restarted shard got %d EventSubscribed, want %d", got[victim].subscribedSignals(), signals+1)
	testutil.Eventually(t, 10*time.Second, func() bool {
		return a.Publish(context.Background(), rooms[victim][0], msg(rooms[victim][0], 2, "after")) == nil
	}, "publishing on the restarted shard still fails")
	testutil.Eventually(t, 5*time.Second, func() bool { return slices.Contains(got[victim].texts(), "after") },
		"the room of the restarted shard got %v", got[victim].texts())
}
