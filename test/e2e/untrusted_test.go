package e2e_test

// Untrusted input from peers (issue 19): look-alike nicknames and control
// characters, through real clients of every gateway.

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

// TestControlCharactersRefused runs controls.js: message text with control
// characters is refused on Socket.IO, TCP and REST.
func TestControlCharactersRefused(t *testing.T) {
	testutil.RequireNode(t)
	url, a := startApp(t, app.Config{TCPAddr: "127.0.0.1:0"})
	_, tcpPort, _ := net.SplitHostPort(a.TCPAddr().String())
	runScenario(t, "controls.js", url, tcpPort)
}
