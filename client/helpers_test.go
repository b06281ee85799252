package client_test

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/banter-chat/banter/internal/conformance"
	"github.com/banter-chat/banter/internal/testutil"
	"github.com/banter-chat/banter/socketio"
)

const waitTimeout = 10 * time.Second

// target is a server the interop tests run against.
type target struct {
	name  string
	start func(t *testing.T) string // base URL, stopped by t.Cleanup
}

// The heartbeat of both targets: frequent pings (the heartbeat and
// dead-server cases watch them) and a pong deadline long enough that a
// loaded CI machine does not time healthy clients out.
const (
	targetPingInterval = 500 * time.Millisecond
	targetPingTimeout  = 2 * time.Second
)

var targets = []target{
	{"banter", func(t *testing.T) string {
		return startBanter(t, conformance.Options{PingInterval: targetPingInterval, PingTimeout: targetPingTimeout})
	}},
	{"node", func(t *testing.T) string {
		testutil.RequireNode(t)
		return "http://127.0.0.1:" + testutil.StartNode(t, "../test/interop/refserver.js", "0",
			fmt.Sprint(targetPingInterval.Milliseconds()), fmt.Sprint(targetPingTimeout.Milliseconds()))
	}},
}

// startBanter serves Banter's conformance server (the behaviour of
// test/interop/refserver.js) in-process: pingInterval 300 ms, pingTimeout
// 200 ms unless o says otherwise.
func startBanter(t *testing.T, o conformance.Options) string {
	srv := conformance.New(o)
	url := testutil.StartHTTP(t, srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("conformance Shutdown: %v", err)
		}
	})
	return url
}

// withRecovery is a conformance server with connection state recovery.
func withRecovery(t *testing.T) string {
	return startBanter(t, conformance.Options{Recovery: &socketio.RecoveryConfig{}})
}

// proxy is a loopback TCP proxy the tests use to break connections the way
// networks do: Cut resets every connection, SetDown refuses new ones, and
// Freeze swallows all bytes (a dead server that keeps its sockets open).
type proxy struct {
	ln      net.Listener
	target  string
	down    atomic.Bool
	frozen  atomic.Bool
	mu      sync.Mutex
	conns   map[net.Conn]bool
	wg      sync.WaitGroup
	accepts atomic.Int64
}

func startProxy(t *testing.T, targetURL string) (*proxy, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := targetURL[len("http://"):]
	p := &proxy{ln: ln, target: host, conns: map[net.Conn]bool{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.Cut()
		p.wg.Wait()
	})
	return p, "http://" + ln.Addr().String()
}

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.accepts.Add(1)
		if p.down.Load() {
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[up] = true, true
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(c, up)
		go p.pipe(up, c)
	}
}

func (p *proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.frozen.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				err = werr
			}
		}
		if err != nil {
			// A frozen network does not carry closes either: the peer
			// waits until the test cuts it.
			p.mu.Lock()
			if !p.frozen.Load() {
				dst.Close()
				delete(p.conns, dst)
			}
			src.Close()
			delete(p.conns, src)
			p.mu.Unlock()
			return
		}
	}
}

// Cut closes every proxied connection.
func (p *proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

// recorder collects what handlers saw, for assertions from the test goroutine.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	r.events = append(r.events, s)
	r.mu.Unlock()
}

func (r *recorder) has(s string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.events {
		if e == s {
			return true
		}
	}
	return false
}

func (r *recorder) count(s string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if e == s {
			n++
		}
	}
	return n
}

func (r *recorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}
