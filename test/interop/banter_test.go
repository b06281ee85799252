package interop_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/banter-chat/banter/internal/conformance"
	"github.com/banter-chat/banter/internal/testutil"
)

// banterTarget serves Banter's conformance server (the same handlers as
// examples/conformance -mode interop) in-process, so the server side of every
// scenario runs under the test binary's race detector.
var banterTarget = target{name: "banter", start: func(t *testing.T) string {
	return startBanter(t, conformance.Options{PingInterval: interopPingInterval, PingTimeout: interopPingTimeout})
}}

// extraScenarios run against every target, like interop_test.go's list
// (kept apart so the two files can grow without conflicts).
var extraScenarios = []string{
	"sio_v4_disconnects.js",
	"sio_v4_multiack.js",
}

func init() {
	targets = append(targets, banterTarget)
	scenarios = append(scenarios, extraScenarios...)
}

func startBanter(t *testing.T, o conformance.Options) string {
	srv := conformance.New(o)
	url := testutil.StartHTTP(t, srv)
	// Registered after StartHTTP, so it runs first: pending long-polls end
	// before the HTTP server waits for them.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("conformance server Shutdown: %v", err)
		}
	})
	return url
}

// TestFanout: 100 socket.io-client 4.8 clients each receive 50 broadcasts
// exactly once and in order. It runs against Banter with a production
// heartbeat: with the suites' 300/200 ms, a busy machine stalls the one Node
// process holding the 100 clients past the pong deadline and either server
// rightly drops some. (The Node reference server has its heartbeat fixed at
// the suites' values, so it is not a target here.)
func TestFanout(t *testing.T) {
	testutil.RequireNode(t)
	testutil.NodeModules(t)
	url := startBanter(t, conformance.Options{PingInterval: 25 * time.Second, PingTimeout: 20 * time.Second})
	rep, err := runScenario(t, "sio_v4_fanout.js", url)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || len(rep.Checks) == 0 {
		t.Fatalf("report %+v", rep)
	}
	t.Logf("%d checks passed: %s", len(rep.Checks), strings.Join(rep.Checks, "; "))
}
