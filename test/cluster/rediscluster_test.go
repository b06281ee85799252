package cluster_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/banter-chat/banter/internal/testutil"
)

// The cluster on a Redis Cluster: three banter nodes whose bus is sharded
// pub/sub over three redis-server processes in cluster mode (started by the
// test, ports of their own), the roster in one slot. The scenarios of the
// single Redis run unchanged, plus the death of a shard.

// TestRedisClusterCrossNodeChat: crossnode.js on a Redis Cluster.
func TestRedisClusterCrossNodeChat(t *testing.T) {
	rc := testutil.StartRedisCluster(t, 3)
	c := newClusterOn(t, rc.URL(), 3)
	for _, n := range c.nodes {
		if !strings.Contains(n.Stderr.String(), "bus=\"redis cluster (sharded pub/sub)\"") {
			t.Fatalf("the node does not say it runs on a Redis Cluster:\n%s", n.Stderr.String())
		}
		resp, err := http.Get(n.url + "/status.json")
		if err != nil {
			t.Fatal(err)
		}
		var st struct{ Bus string }
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if err != nil || st.Bus != "redis-cluster" {
			t.Fatalf("status.json bus = %q, %v; want redis-cluster", st.Bus, err)
		}
	}
	p := startProxy(t, c.hostPorts()...)
	runScenario(t, "crossnode.js", p.URL(), c.nodes[0].url, c.nodes[1].url, c.nodes[2].url)
}

// TestRedisClusterPresence: presence.js on a Redis Cluster (member and user
// lists, nickname uniqueness, a SIGKILLed node's user leaving).
func TestRedisClusterPresence(t *testing.T) {
	rc := testutil.StartRedisCluster(t, 3)
	c := newClusterOn(t, rc.URL(), 3)
	victim := c.nodes[2]
	budget := clusterTTL + clusterHeartbeat + 3*time.Second
	runScenario(t, "presence.js", c.nodes[0].url, c.nodes[1].url, victim.url,
		strconv.Itoa(victim.Cmd.Process.Pid), strconv.FormatInt(budget.Milliseconds(), 10))
}

// TestRedisClusterNodeDeath: death.js on a Redis Cluster (a banter node
// SIGKILLed mid-traffic: nothing acknowledged lost or duplicated).
func TestRedisClusterNodeDeath(t *testing.T) {
	rc := testutil.StartRedisCluster(t, 3)
	c := newClusterOn(t, rc.URL(), 3)
	p := startProxy(t, c.hostPorts()...)
	victim := c.nodes[2]
	budget := clusterTTL + clusterHeartbeat + 3*time.Second
	runScenario(t, "death.js", p.URL(), c.nodes[0].url, c.nodes[1].url, victim.url,
		strconv.Itoa(victim.Cmd.Process.Pid), "40", strconv.FormatInt(budget.Milliseconds(), 10))
}

// TestRedisClusterShardDeath: a shard of the Redis Cluster is SIGKILLed
// under traffic in rooms spread over every shard, then restarted empty
// (shardkill.js): every acknowledged message reaches every reader on every
// node once and in order, and presence recovers. The victim is the shard
// that holds the roster's keys and some of the rooms.
func TestRedisClusterShardDeath(t *testing.T) {
	rc := testutil.StartRedisCluster(t, 3)
	c := newClusterOn(t, rc.URL(), 3)
	victim, err := rc.NodeOf(c.prefix + "{roster}nodes")
	if err != nil {
		t.Fatal(err)
	}
	// Two rooms per shard.
	per := map[int]int{}
	var rooms []string
	for i := 0; len(rooms) < 2*rc.Len(); i++ {
		if i > 1000 {
			t.Fatalf("no room names for every shard: %v", per)
		}
		room := fmt.Sprintf("room-%d", i)
		sh, err := rc.NodeOf(c.prefix + "ev:" + room)
		if err != nil {
			t.Fatal(err)
		}
		if per[sh] < 2 {
			per[sh]++
			rooms = append(rooms, room)
		}
	}
	var (
		mu     sync.Mutex
		events []string
	)
	ctl := testutil.StartHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		switch r.URL.Path {
		case "/kill":
			rc.Kill(victim)
		case "/restart":
			if err := rc.Restart(victim); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		default:
			http.NotFound(w, r)
			return
		}
		events = append(events, r.URL.Path)
	}))
	runScenario(t, "shardkill.js", ctl, c.nodes[0].url, c.nodes[1].url, c.nodes[2].url, strings.Join(rooms, ","), "60")
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(events, " ") != "/kill /restart" {
		t.Fatalf("control requests %v, want a kill then a restart", events)
	}
}
