package testutil

import (
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

// StartHTTP serves h on 127.0.0.1 at a random port and returns the base URL
// ("http://127.0.0.1:PORT", no trailing slash). The server is closed by
// t.Cleanup, which waits for in-flight requests: long-lived handlers (SSE,
// long-polling, WebSocket) must end when their request context is done.
func StartHTTP(t testing.TB, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testutil.StartHTTP: listen on loopback: %v", err)
	}
	// A handler that takes its listener over (the conformance server reads
	// WebSocket handshakes on its event loop, engineio.Accept) gets it.
	if lh, ok := h.(interface {
		Listener(net.Listener) (net.Listener, error)
	}); ok {
		if ln, err = lh.Listener(ln); err != nil {
			t.Fatalf("testutil.StartHTTP: %v", err)
		}
	}
	srv := httptest.NewUnstartedServer(h)
	// Replace the listener httptest made, so the address is always IPv4
	// loopback whatever the machine's resolver prefers.
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}
