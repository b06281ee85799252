package e2e_test

import (
	"testing"
	"time"

	"github.com/banter-chat/banter/app"
	"github.com/banter-chat/banter/internal/testutil"
)

// Message state over Socket.IO (socket.io-client 4) and /ws: replies,
// mentions, reactions, edits, deletions, read markers, unread counts,
// seen-by, refusals, and an offline client's catch-up to the final state.
func TestMessageState(t *testing.T) {
	testutil.RequireNode(t)
	url, _ := startApp(t, app.Config{EditWindow: 2 * time.Second})
	runScenario(t, "msgstate.js", url)
}
