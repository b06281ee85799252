package client_test

import (
	"context"
	"fmt"
	"sync"
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

// proxy is testutil's TCP proxy that breaks connections the way networks do.
type proxy = testutil.Proxy

func startProxy(t *testing.T, targetURL string) (*proxy, string) {
	return testutil.StartProxy(t, targetURL)
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
