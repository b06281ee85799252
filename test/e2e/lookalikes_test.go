package e2e_test

import (
	"net"
	"testing"

	"github.com/banter-chat/banter/app"
	"github.com/banter-chat/banter/internal/testutil"
)

// TestLookAlikeNicknames runs lookalikes.js: real clients of every gateway
// try nicknames that look like an online user's, or hide characters.
func TestLookAlikeNicknames(t *testing.T) {
	testutil.RequireNode(t)
	url, a := startApp(t, app.Config{TCPAddr: "127.0.0.1:0", MQTTAddr: "127.0.0.1:0"})
	_, tcpPort, _ := net.SplitHostPort(a.TCPAddr().String())
	_, mqttPort, _ := net.SplitHostPort(a.MQTTAddr().String())
	runScenario(t, "lookalikes.js", url, tcpPort, mqttPort)
}
