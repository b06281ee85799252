package e2e_test

import (
	"testing"

	"github.com/banter-chat/banter/app"
	"github.com/banter-chat/banter/internal/testutil"
)

func TestClassicChat(t *testing.T) {
	testutil.RequireNode(t)
	url, _ := startApp(t, app.Config{})
	runScenario(t, "classic.js", url)
}

// TestClassicHearsEveryGateway: tutorial clients that only listen get the
// messages of the default room sent through every other gateway (Trust
// item 8: they used to get only those sent through the Socket.IO gateway).
func TestClassicHearsEveryGateway(t *testing.T) {
	testutil.RequireNode(t)
	url, a := startApp(t, app.Config{TCPAddr: "127.0.0.1:0"})
	runScenario(t, "classic_gateways.js", url, a.TCPAddr().String())
}

// TestRateLimitsInEveryDialect: with a message bucket of 3, every dialect
// hears a refusal in its own terms (protocol 1 in the ack; SocketChat and
// classic clients as a chat line from the server, to the sender only).
func TestRateLimitsInEveryDialect(t *testing.T) {
	testutil.RequireNode(t)
	url, _ := startApp(t, app.Config{RateBurst: 3, RatePerSecond: 0.01})
	runScenario(t, "limits.js", url)
}

// TestLargeRoom: above LargeRoom users, members get counts instead of
// per-user presence and page the member list with the members command.
func TestLargeRoom(t *testing.T) {
	testutil.RequireNode(t)
	url, _ := startApp(t, app.Config{LargeRoom: 3})
	runScenario(t, "largeroom.js", url)
}
