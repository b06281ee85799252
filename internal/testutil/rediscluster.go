package testutil

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/rueidis"
)

// RedisCluster is a Redis Cluster of local redis-server processes, one
// master per process and no replicas, on ports of its own: what the tests
// of sharded pub/sub and of a shard's death run against. scripts/deps.sh
// installs redis-server (Redis 7 or later: sharded pub/sub).
//
// The nodes run with cluster-require-full-coverage no, so that the other
// shards keep serving while one is down, and a 1 s node timeout; nothing
// is persisted except each node's cluster configuration, so a restarted
// node comes back with its slots and without its data.
type RedisCluster struct {
	dir   string
	mu    sync.Mutex
	nodes []*redisNode
}

type redisNode struct {
	port, busPort int
	cmd           *exec.Cmd
	done          chan struct{}
	log           *LockedBuffer
}

// StartRedisCluster starts a Redis Cluster of n masters for the test, and
// stops it when the test ends.
func StartRedisCluster(t testing.TB, n int) *RedisCluster {
	t.Helper()
	c, err := NewRedisCluster(t.TempDir(), n)
	if err != nil {
		t.Fatalf("Redis Cluster (scripts/deps.sh installs redis-server): %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// NewRedisCluster starts a Redis Cluster of n masters with its files in
// dir, and waits until every node serves every slot. Close stops it.
func NewRedisCluster(dir string, n int) (*RedisCluster, error) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return nil, err
	}
	c := &RedisCluster{dir: dir}
	for i := range n {
		port, err := freePort()
		if err != nil {
			c.Close()
			return nil, err
		}
		busPort, err := freePort()
		if err != nil {
			c.Close()
			return nil, err
		}
		nd := &redisNode{port: port, busPort: busPort}
		c.nodes = append(c.nodes, nd)
		if err := c.start(i); err != nil {
			c.Close()
			return nil, err
		}
	}
	args := []string{"--cluster", "create"}
	for _, nd := range c.nodes {
		args = append(args, "127.0.0.1:"+strconv.Itoa(nd.port))
	}
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput(); err != nil {
		c.Close()
		return nil, fmt.Errorf("redis-cli --cluster create: %v\n%s", err, out)
	}
	if err := c.waitHealthy(30 * time.Second); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// freePort returns a TCP port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// start runs node i's redis-server and waits until it answers.
func (c *RedisCluster) start(i int) error {
	nd := c.nodes[i]
	cmd := exec.Command("redis-server",
		"--port", strconv.Itoa(nd.port), "--cluster-port", strconv.Itoa(nd.busPort),
		"--bind", "127.0.0.1", "--dir", c.dir,
		"--cluster-enabled", "yes", "--cluster-config-file", fmt.Sprintf("nodes-%d.conf", nd.port),
		"--cluster-node-timeout", "1000", "--cluster-require-full-coverage", "no",
		"--save", "", "--appendonly", "no", "--daemonize", "no")
	nd.log = &LockedBuffer{}
	cmd.Stdout, cmd.Stderr = nd.log, nd.log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	nd.cmd, nd.done = cmd, make(chan struct{})
	go func(done chan struct{}) { _ = cmd.Wait(); close(done) }(nd.done)
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(nd.port), time.Second)
		if err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-nd.done:
			return fmt.Errorf("redis-server on port %d exited:\n%s", nd.port, nd.log.String())
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server on port %d does not answer:\n%s", nd.port, nd.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitHealthy waits until every running node reports the cluster ok with
// every slot served.
func (c *RedisCluster) waitHealthy(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		ok := true
		for i, nd := range c.nodes {
			if !c.Running(i) {
				continue
			}
			info, err := c.nodeInfo(nd.port)
			if err != nil || !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_slots_ok:16384") {
				ok, last = false, fmt.Sprintf("node %d: %v %s", nd.port, err, info)
				break
			}
		}
		if ok {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("redis cluster not healthy after %v: %s", timeout, last)
}

// nodeInfo returns CLUSTER INFO of the node on port.
func (c *RedisCluster) nodeInfo(port int) (string, error) {
	client, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{"127.0.0.1:" + strconv.Itoa(port)},
		ForceSingleClient: true, DisableCache: true, Dialer: net.Dialer{Timeout: time.Second}})
	if err != nil {
		return "", err
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return client.Do(ctx, client.B().ClusterInfo().Build()).ToString()
}

// URL is a redis:// URL naming every node as a seed (rueidis's addr
// parameters).
func (c *RedisCluster) URL() string {
	u := "redis://127.0.0.1:" + strconv.Itoa(c.nodes[0].port)
	for i, nd := range c.nodes[1:] {
		sep := "&"
		if i == 0 {
			sep = "?"
		}
		u += sep + "addr=127.0.0.1:" + strconv.Itoa(nd.port)
	}
	return u
}

// Addr returns node i's host:port.
func (c *RedisCluster) Addr(i int) string { return "127.0.0.1:" + strconv.Itoa(c.nodes[i].port) }

// Len is the number of nodes.
func (c *RedisCluster) Len() int { return len(c.nodes) }

// Running reports whether node i's process is alive.
func (c *RedisCluster) Running(i int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	nd := c.nodes[i]
	if nd.done == nil {
		return false
	}
	select {
	case <-nd.done:
		return false
	default:
		return true
	}
}

// NodeOf returns the index of the node serving the slot of key (Redis
// Cluster's hashing, hash tags included), as the cluster says.
func (c *RedisCluster) NodeOf(key string) (int, error) {
	opt, err := rueidis.ParseURL(c.URL())
	if err != nil {
		return 0, err
	}
	opt.DisableCache = true
	client, err := rueidis.NewClient(opt)
	if err != nil {
		return 0, err
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	slot, err := client.Do(ctx, client.B().ClusterKeyslot().Key(key).Build()).AsInt64()
	if err != nil {
		return 0, err
	}
	shards, err := client.Do(ctx, client.B().ClusterShards().Build()).ToArray()
	if err != nil {
		return 0, err
	}
	for _, sh := range shards {
		m, err := sh.AsMap()
		if err != nil {
			return 0, err
		}
		slots, nodes := m["slots"], m["nodes"]
		ranges, err := slots.AsIntSlice()
		if err != nil {
			return 0, err
		}
		owns := false
		for k := 0; k+1 < len(ranges); k += 2 {
			owns = owns || slot >= ranges[k] && slot <= ranges[k+1]
		}
		if !owns {
			continue
		}
		members, err := nodes.ToArray()
		if err != nil {
			return 0, err
		}
		for _, mem := range members {
			mm, err := mem.AsMap()
			if err != nil {
				return 0, err
			}
			roleMsg, portMsg := mm["role"], mm["port"]
			role, _ := roleMsg.ToString()
			port, _ := portMsg.AsInt64()
			for j, nd := range c.nodes {
				if role == "master" && int64(nd.port) == port {
					return j, nil
				}
			}
		}
	}
	return 0, fmt.Errorf("no node serves slot %d of %q", slot, key)
}

// Kill SIGKILLs node i and waits until its process is gone.
func (c *RedisCluster) Kill(i int) {
	c.mu.Lock()
	nd := c.nodes[i]
	c.mu.Unlock()
	if nd.cmd == nil {
		return
	}
	_ = nd.cmd.Process.Signal(syscall.SIGKILL)
	<-nd.done
}

// Restart starts node i again (after Kill) with its cluster configuration,
// so it serves its slots again (empty), and waits until the cluster is
// healthy.
func (c *RedisCluster) Restart(i int) error {
	if c.Running(i) {
		return errors.New("testutil: restart of a running redis node")
	}
	if err := c.start(i); err != nil {
		return err
	}
	return c.waitHealthy(30 * time.Second)
}

// Close stops every node and removes nothing (the directory is the
// caller's).
func (c *RedisCluster) Close() {
	for i, nd := range c.nodes {
		if nd.cmd != nil && c.Running(i) {
			_ = nd.cmd.Process.Signal(syscall.SIGKILL)
			<-nd.done
		}
	}
}

// Logs returns the nodes' output, for a failing test.
func (c *RedisCluster) Logs() string {
	var b strings.Builder
	for _, nd := range c.nodes {
		if nd.log != nil {
			fmt.Fprintf(&b, "--- redis-server :%d\n%s\n", nd.port, nd.log.String())
		}
	}
	return b.String()
}

// RemoveAll is for clusters made with NewRedisCluster in a directory of
// the caller's (a TestMain's): it stops the nodes and removes dir.
func (c *RedisCluster) RemoveAll() {
	c.Close()
	_ = os.RemoveAll(c.dir)
}

// StartRedisServer starts a private single redis-server (no persistence)
// on a port of its own for the test, and returns its URL: for figures that
// must not include other tests' traffic on the machine's Redis.
func StartRedisServer(t testing.TB) string {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	log := &LockedBuffer{}
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", t.TempDir())
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server (scripts/deps.sh installs it): %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
		if err == nil {
			conn.Close()
			return "redis://127.0.0.1:" + strconv.Itoa(port)
		}
		select {
		case <-done:
			t.Fatalf("redis-server exited:\n%s", log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server does not answer:\n%s", log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
