package cluster_test

import (
	"strconv"
	"testing"
	"time"
)

// TestNodeDeath: SIGKILL one of three nodes during traffic; its clients
// reconnect through the proxy to the others and catch up; no acked message
// is lost or duplicated; presence converges within the liveness TTL.
func TestNodeDeath(t *testing.T) {
	c := newCluster(t, 3)
	p := startProxy(t, c.hostPorts()...)
	victim := c.nodes[2]
	// Presence converges within TTL + heartbeat; the rest is slack.
	budget := clusterTTL + clusterHeartbeat + 3*time.Second
	runScenario(t, "death.js", p.URL(), c.nodes[0].url, c.nodes[1].url, victim.url,
		strconv.Itoa(victim.Cmd.Process.Pid), "40", strconv.FormatInt(budget.Milliseconds(), 10))
	select {
	case <-victim.Done():
	default:
		t.Fatal("node 3 still runs: the scenario did not kill it")
	}
}
