// Package e2e_test runs Banter end to end: the app (in-process, under the
// race detector, or the real banter binary) against the official Socket.IO
// clients from npm (socket.io-client 4.8 and 2.5), driven by the JavaScript
// scenarios of this directory. Each scenario prints one JSON report line
// (see ../interop/lib.js).
package e2e_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/banter-chat/banter/app"
	"github.com/banter-chat/banter/internal/apptest"
	"github.com/banter-chat/banter/internal/testutil"
)

// A scenario bounds itself (lib.js, 30 s by default); this catches a hung node.
const scenarioTimeout = 90 * time.Second

// startApp runs the app in-process on a loopback port with a fresh
// database and returns its base URL. Shutdown runs on cleanup and must
// succeed.
func startApp(t *testing.T, cfg app.Config) (string, *app.App) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	return apptest.Serve(t, cfg)
}

// testLogger logs to the test at Warn and above (Info would log every
// start and stop).
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// report is the JSON line a scenario prints last.
type report struct {
	Scenario string          `json:"scenario"`
	OK       bool            `json:"ok"`
	Error    string          `json:"error"`
	Checks   []string        `json:"checks"`
	Result   json.RawMessage `json:"result"`
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
	t.Logf("%s: %d checks passed", script, len(rep.Checks))
	return rep
}

// TestMain removes the banter binary the tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	testutil.RemoveBanterBinary()
	os.Exit(code)
}

// proc is a running banter binary.
type proc = testutil.Banter

// startBanter runs the banter binary on a free loopback port with extra
// flags and waits until it listens.
func startBanter(t *testing.T, args ...string) *proc {
	t.Helper()
	return testutil.StartBanter(t, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
}
