// Package interop_test runs the JavaScript interop scenarios of this directory
// (official npm clients: engine.io-client 6, socket.io-client 4.8 and 2.5)
// against every server target: the Node reference server (refserver.js), and
// later Banter's own conformance server. A scenario passes against Banter only
// if it passes against Node, which keeps the scenarios honest.
package interop_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/banter-chat/banter/internal/testutil"
)

// A scenario script bounds itself at 30 s; this only catches a hung Node.
const scenarioTimeout = 90 * time.Second

// scenarios are the scripts run against every target.
var scenarios = []string{
	"eio_basic.js",
	"sio_v4_basic.js",
	"sio_v4_namespaces.js",
	"sio_v2_basic.js",
}

// target is a server the scenarios run against; start returns its base URL
// ("http://127.0.0.1:PORT") and stops it on t.Cleanup.
type target struct {
	name  string
	start func(t *testing.T) string
}

var nodeTarget = target{name: "node", start: startNodeRefServer}

// targets are the servers every scenario must pass against: the Node
// reference here, and Banter's conformance server, which banter_test.go
// appends (in-process, under the race detector).
var targets = []target{nodeTarget}

// The heartbeat of both targets: pings often enough for the scenarios that
// watch a few of them, and a pingTimeout long enough that a loaded CI machine
// does not time clients out (the official suites' 200 ms is run separately).
const (
	interopPingInterval = 700 * time.Millisecond
	interopPingTimeout  = 5 * time.Second
)

func startNodeRefServer(t *testing.T) string {
	port := testutil.StartNode(t, "refserver.js", "0",
		fmt.Sprint(interopPingInterval.Milliseconds()), fmt.Sprint(interopPingTimeout.Milliseconds()))
	return "http://127.0.0.1:" + port
}

// report is the JSON line a scenario prints last.
type report struct {
	Scenario string   `json:"scenario"`
	OK       bool     `json:"ok"`
	Error    string   `json:"error"`
	Checks   []string `json:"checks"`
}

// runScenario runs one script against url and returns its report; err is set
// when the script failed or printed no report.
func runScenario(t *testing.T, script, url string) (report, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
	defer cancel()
	out, runErr := testutil.RunNode(t, ctx, script, url)
	var rep report
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if jsonErr := json.Unmarshal([]byte(lines[len(lines)-1]), &rep); jsonErr != nil {
		return rep, fmt.Errorf("%s printed no report (%v); stdout %q; %v", script, jsonErr, out, runErr)
	}
	return rep, runErr
}

func TestScenarios(t *testing.T) {
	testutil.RequireNode(t)
	testutil.NodeModules(t)
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			for _, script := range scenarios {
				name := strings.TrimSuffix(script, ".js")
				t.Run(name, func(t *testing.T) {
					// A fresh server per scenario: the connections a finished
					// scenario's process leaves behind close while the next
					// one connects, and nbio (Banter's WebSocket event loop)
					// may apply a stale hang-up event to a new connection that
					// reused a closed descriptor (see docs/architecture.md,
					// known issues). Scenarios stay independent either way.
					url := tg.start(t)
					rep, err := runScenario(t, script, url)
					if err != nil {
						t.Fatalf("against %s: %v\npassed before: %s", tg.name, err, strings.Join(rep.Checks, "; "))
					}
					if !rep.OK || rep.Scenario != name {
						t.Fatalf("against %s: report %+v", tg.name, rep)
					}
					// A scenario that checked nothing proves nothing.
					if len(rep.Checks) == 0 {
						t.Fatalf("against %s: scenario passed without a single check", tg.name)
					}
					t.Logf("%d checks passed: %s", len(rep.Checks), strings.Join(rep.Checks, "; "))
				})
			}
		})
	}
}

// TestScenariosFailAgainstWrongServer makes sure each scenario reports a
// failure, promptly and with a reason, when the server is not a Socket.IO
// server at all: a rig that cannot fail proves nothing.
func TestScenariosFailAgainstWrongServer(t *testing.T) {
	testutil.RequireNode(t)
	url := testutil.StartHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "not a socket.io server", http.StatusBadRequest)
	}))
	for _, script := range append(append([]string(nil), scenarios...), recoveryScenarios...) {
		t.Run(strings.TrimSuffix(script, ".js"), func(t *testing.T) {
			rep, err := runScenario(t, script, url)
			if err == nil || rep.OK {
				t.Fatalf("scenario passed against a plain HTTP 400 server: %+v", rep)
			}
			if rep.Error == "" {
				t.Fatalf("failure without a reason: %+v (%v)", rep, err)
			}
			if !strings.Contains(err.Error(), "exit status 1") {
				t.Fatalf("want exit status 1, got %v", err)
			}
		})
	}
}

// TestScenarioUsage checks that a scenario refuses to run without a URL.
func TestScenarioUsage(t *testing.T) {
	testutil.RequireNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
	defer cancel()
	_, err := testutil.RunNode(t, ctx, filepath.Join(".", "eio_basic.js"))
	if err == nil || !strings.Contains(err.Error(), "usage:") || !strings.Contains(err.Error(), "exit status 2") {
		t.Fatalf("want a usage error with exit status 2, got %v", err)
	}
}
