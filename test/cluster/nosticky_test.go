package cluster_test

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"
)

// TestNoStickySessions: the balancer spreads requests (not connections)
// over three nodes and sends every request of a session to a node that
// does not own it; the nodes forward them to the owner. Polling-only
// clients chat, and a client upgrades to WebSocket through it.
func TestNoStickySessions(t *testing.T) {
	c := newCluster(t, 3)
	p := startHTTPProxy(t, c, true)
	rep := runScenario(t, "nosticky.js", p.URL())
	var sids struct {
		Polling  []string `json:"polling"`
		Upgraded string   `json:"upgraded"`
	}
	if err := json.Unmarshal(rep.Result, &sids); err != nil || len(sids.Polling) != 3 || sids.Upgraded == "" {
		t.Fatalf("scenario result %s: %v", rep.Result, err)
	}
	polls := map[string]int{}
	upgrades := 0
	for _, r := range p.routes() {
		if r.SID == "" {
			continue
		}
		if r.Owner == "" {
			t.Fatalf("session id %q names no node of the cluster", r.SID)
		}
		if r.Backend == r.Owner {
			t.Fatalf("request for %s reached its owner: the proxy is not hostile", r.SID)
		}
		switch {
		case r.Transport == "polling":
			polls[r.SID]++
		case r.Transport == "websocket" && r.Upgrade && r.SID == sids.Upgraded:
			upgrades++
		}
	}
	for _, sid := range sids.Polling {
		if polls[sid] < 4 {
			t.Errorf("session %s: %d forwarded polling requests, want several", sid, polls[sid])
		}
	}
	if upgrades == 0 {
		t.Error("the upgrading client's WebSocket upgrade never went through the proxy")
	}
	t.Logf("forwarded polling requests per session: %v; upgrades forwarded: %d", polls, upgrades)
}

// TestClusterPresence: member and user lists and nickname uniqueness span
// the nodes; a SIGKILLed node's user leaves everyone's presence within the
// liveness TTL.
func TestClusterPresence(t *testing.T) {
	c := newCluster(t, 3)
	victim := c.nodes[2]
	// Declared gone within TTL + heartbeat; the rest is slack for a loaded
	// machine (a Redis round trip, the Bus, the client).
	budget := clusterTTL + clusterHeartbeat + 3*time.Second
	runScenario(t, "presence.js", c.nodes[0].url, c.nodes[1].url, victim.url,
		strconv.Itoa(victim.Cmd.Process.Pid), strconv.FormatInt(budget.Milliseconds(), 10))
	select {
	case <-victim.Done():
	default:
		t.Fatal("node 3 still runs: the scenario did not kill it")
	}
}
