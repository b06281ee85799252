package interop_test

import (
	"context"
	"testing"
	"time"

	"github.com/banter-chat/banter/internal/conformance"
	"github.com/banter-chat/banter/internal/testutil"
)

// banterTarget serves Banter's conformance server (the same handlers as
// examples/conformance -mode interop) in-process, so the server side of every
// scenario runs under the test binary's race detector.
var banterTarget = target{name: "banter", start: startBanter}

// extraScenarios are the scenarios of this file's author (kept apart from
// interop_test.go's list so the two can grow without conflicts).
var extraScenarios = []string{
	"sio_v4_fanout.js",
}

func init() {
	targets = append(targets, banterTarget)
	scenarios = append(scenarios, extraScenarios...)
}

func startBanter(t *testing.T) string {
	srv := conformance.New(conformance.Options{})
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
