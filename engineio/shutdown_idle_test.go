package engineio_test

import (
	"context"
	"testing"

	"github.com/banter-chat/banter/engineio"
	"github.com/banter-chat/banter/internal/testutil"
)

// A server that never saw a WebSocket leaves no goroutine after Shutdown
// (nbio's client executor pool used to be started by NewServer and only
// stopped with the event loop, which had never started).
func TestShutdownWithoutWebSocketLeavesNoGoroutine(t *testing.T) {
	testutil.CheckGoroutineLeaks(t)
	srv := engineio.NewServer(engineio.Config{})
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}
