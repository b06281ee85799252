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
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
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
	nodes              []*node
	args               []string // extra flags for every node (newCluster's)
}

// newCluster prepares a fresh schema and channel prefix (dropped at the end)
// and starts n nodes.
//
// args are extra flags for every node (e.g. "--mqtt", "127.0.0.1:0").
func newCluster(t *testing.T, n int, args ...string) *cluster {
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
	c := &cluster{
		storeURL: postgresURL() + sep + "search_path=" + schema,
		redisURL: redisURL() + "?prefix=" + url.QueryEscape("banter-test-"+id+":"),
		args:     args,
	}
	// Registered before the nodes start, so it runs after they are killed.
	testutil.DeleteRedisKeysAtCleanup(t, redisURL(), "banter-test-"+id+":")
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

// banterBinary is the binary the nodes run, built once per test binary.
func banterBinary(t *testing.T) string { return testutil.BanterBinary(t) }

// TestMain removes the banter binary the tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	testutil.RemoveBanterBinary()
	os.Exit(code)
}

// node is a running banter process of the cluster.
type node struct {
	cmd    *exec.Cmd
	url    string
	id     string // cluster node id: the prefix of its Engine.IO session ids
	mqtt   string // host:port of MQTT over TCP, with --mqtt
	stderr *lockedBuf
	done   chan struct{}
}

var (
	listeningLine = testutil.ListeningLine
	advertiseLine = regexp.MustCompile(`cluster node ([0-9a-f]+) advertises (http://\S+?)"`)
	mqttLine      = regexp.MustCompile(`Banter MQTT on (\S+?)"?$`)
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
	cmd := exec.Command(banterBinary(t), args...)
	pr, pw := io.Pipe()
	n := &node{cmd: cmd, stderr: &lockedBuf{}, done: make(chan struct{})}
	cmd.Stderr = io.MultiWriter(n.stderr, pw)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start banter: %v", err)
	}
	go func() {
		_ = cmd.Wait()
		pw.Close()
		close(n.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-n.done
		if t.Failed() {
			t.Logf("banter %s stderr:\n%s", n.url, n.stderr.String())
		}
	})
	urlc := make(chan string, 1)
	idc := make(chan [2]string, 1)
	mqttc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := advertiseLine.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case idc <- [2]string{m[1], m[2]}:
				default:
				}
			}
			if m := mqttLine.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case mqttc <- m[1]:
				default:
				}
			}
			if m := listeningLine.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case urlc <- m[1]:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	select {
	case u := <-urlc:
		n.url = strings.Replace(u, "localhost", "127.0.0.1", 1)
	case <-n.done:
		t.Fatalf("banter exited before listening (PostgreSQL and Redis up? scripts/deps.sh starts them)\n%s", n.stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("banter did not log its URL within 30s\n%s", n.stderr.String())
	}
	// Logged before the URL.
	select {
	case m := <-idc:
		n.id = m[0]
		if m[1] != n.url {
			t.Fatalf("node advertises %s, listens on %s", m[1], n.url)
		}
	default:
		t.Fatalf("banter logged no cluster node id\n%s", n.stderr.String())
	}
	select { // logged before the URL too
	case n.mqtt = <-mqttc:
	default:
	}
	return n
}

// kill SIGKILLs the node and waits until it is gone.
func (n *node) kill(t *testing.T) {
	t.Helper()
	if err := n.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-n.done
}

type lockedBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *lockedBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
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
