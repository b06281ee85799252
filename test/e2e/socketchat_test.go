package e2e_test

import (
	"testing"

	"github.com/banter-chat/banter/app"
	"github.com/banter-chat/banter/internal/testutil"
)

// The SocketChat sequence with the client generation of the original iOS
// app (socket.io-client 2, Engine.IO 3) and with the current one.
func TestSocketChat(t *testing.T) {
	testutil.RequireNode(t)
	for _, v := range []string{"v2", "v4"} {
		t.Run(v, func(t *testing.T) {
			url, _ := startApp(t, app.Config{})
			runScenario(t, "socketchat.js", url, v)
		})
	}
}
