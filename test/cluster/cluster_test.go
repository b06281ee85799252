// Package cluster_test runs Banter as a cluster: three banter processes,
// each on its own port, sharing the machine's PostgreSQL (a fresh schema per
// test) and Redis (a fresh channel prefix per test), behind a round-robin
// TCP proxy started by the test. Clients are the official socket.io-client
// driven by the scenario scripts in this directory.
//
// PostgreSQL (127.0.0.1:5432, trust auth, database test) and Redis
// (127.0.0.1:6379) are started by scripts/deps.sh; BANTER_TEST_POSTGRES and
// BANTER_TEST_REDIS point elsewhere.
package cluster_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/banter-chat/banter/internal/testutil"
	"github.com/jackc/pgx/v5"
)

const scenarioTimeout = 90 * time.Second

// The nodes' liveness: a node that dies is declared gone within
// clusterTTL + clusterHeartbeat (short, to keep the tests quick).
const (
	clusterHeartbeat = 500 * time.Millisecond
	clusterTTL       = 1500 * time.Millisecond
)

func postgresURL() string { return testutil.PostgresURL() }

func redisURL() string { return testutil.RedisURL() }

func randomID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// cluster is one test's deployment: where its nodes store and publish.
type cluster struct {
	storeURL, redisURL string
	prefix             string // of the Redis channels and keys
	nodes              []*node
	args               []string // extra flags for every node (newCluster's)
}

// newCluster prepares a fresh schema and channel prefix (dropped at the end)
// and starts n nodes.
//
// args are extra flags for every node (e.g. "--mqtt", "127.0.0.1:0").
func newCluster(t *testing.T, n int, args ...string) *cluster {
	t.Helper()
	return newClusterOn(t, redisURL(), n, args...)
}

// newClusterOn is newCluster with the nodes' bus on the Redis at redisBase
// (a Redis Cluster's URL names its seed nodes: redis://h:p?addr=h2:p2).
func newClusterOn(t *testing.T, redisBase string, n int, args ...string) *cluster {
	t.Helper()
	id := randomID()
	schema := "banter_cluster_" + id
	t.Cleanup(func() {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, postgresURL())
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+schema+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	sep := "?"
	if strings.Contains(postgresURL(), "?") {
		sep = "&"
	}
	rsep := "?"
	if strings.Contains(redisBase, "?") {
		rsep = "&"
	}
	c := &cluster{
		storeURL: postgresURL() + sep + "search_path=" + schema,
		redisURL: redisBase + rsep + "prefix=" + url.QueryEscape("banter-test-"+id+":"),
		prefix:   "banter-test-" + id + ":",
		args:     args,
	}
	// Registered before the nodes start, so it runs after they are killed.
	testutil.DeleteRedisKeysAtCleanup(t, redisBase, c.prefix)
	for range n {
		c.nodes = append(c.nodes, startNode(t, c))
	}
	return c
}

// hostPorts returns the nodes' addresses for the proxy.
func (c *cluster) hostPorts() []string {
	var out []string
	for _, n := range c.nodes {
		out = append(out, strings.TrimPrefix(n.url, "http://"))
	}
	return out
}

// TestMain removes the banter binary the tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	testutil.RemoveBanterBinary()
	os.Exit(code)
}

// node is a running banter process of the cluster.
type node struct {
	*testutil.Banter
	url  string // http://127.0.0.1:PORT
	id   string // cluster node id: the prefix of its Engine.IO session ids
	mqtt string // host:port of MQTT over TCP, with --mqtt
}

var (
	advertiseLine = regexp.MustCompile(`cluster node ([0-9a-f]+) advertises (http://\S+?)"`)
	mqttLine      = regexp.MustCompile(`(?m)Banter MQTT on (\S+?)"?$`)
)

// owners maps node ids to node URLs.
func (c *cluster) owners() map[string]string {
	m := map[string]string{}
	for _, n := range c.nodes {
		m[n.id] = n.url
	}
	return m
}

func startNode(t *testing.T, c *cluster) *node {
	t.Helper()
	// --db is unused with --store; it points into the test's directory so
	// that a mistake cannot litter the repository.
	args := append([]string{"serve", "--addr", "127.0.0.1:0",
		"--db", filepath.Join(t.TempDir(), "unused.db"),
		"--store", c.storeURL, "--redis", c.redisURL,
		"--ping-interval", "1s", "--ping-timeout", "1s",
		"--cluster-heartbeat", clusterHeartbeat.String(), "--cluster-ttl", clusterTTL.String(),
		// The writers of the scenarios send as fast as acks come back.
		"--rate-burst", "100000", "--rate-per-second", "100000"}, c.args...)
	p := testutil.StartBanter(t, args...)
	n := &node{Banter: p, url: p.URL}
	// Both are logged before the URL, so they are in the log by now.
	log := p.Stderr.String()
	m := advertiseLine.FindStringSubmatch(log)
	if m == nil {
		t.Fatalf("banter logged no cluster node id\n%s", log)
	}
	n.id = m[1]
	if m[2] != n.url {
		t.Fatalf("node advertises %s, listens on %s", m[2], n.url)
	}
	if m := mqttLine.FindStringSubmatch(log); m != nil {
		n.mqtt = m[1]
	}
	return n
}

// kill SIGKILLs the node and waits until it is gone.
func (n *node) kill(t *testing.T) {
	t.Helper()
	if err := n.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-n.Done()
}

// report is the last stdout line of a scenario script.
type report struct {
	OK     bool            `json:"ok"`
	Error  string          `json:"error"`
	Checks []string        `json:"checks"`
	Result json.RawMessage `json:"result"`
}

// runScenario runs a scenario script and fails the test unless it reports
// success.
func runScenario(t *testing.T, script string, args ...string) report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
	defer cancel()
	out, runErr := testutil.RunNode(t, ctx, script, args...)
	var rep report
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &rep); err != nil {
		t.Fatalf("%s printed no report (%v); stdout %q; %v", script, err, out, runErr)
	}
	if runErr != nil || !rep.OK {
		t.Fatalf("%s failed: %s\nchecks passed: %s\n%v", script, rep.Error, strings.Join(rep.Checks, "; "), runErr)
	}
	for _, c := range rep.Checks {
		t.Log("✓ " + c)
	}
	return rep
}
