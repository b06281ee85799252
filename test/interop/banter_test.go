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

func init() { targets = append(targets, banterTarget) }

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
