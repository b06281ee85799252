package e2e_test

import (
	"testing"

	"github.com/banter-chat/banter/app"
	"github.com/banter-chat/banter/internal/testutil"
)

func TestProtocolV1(t *testing.T) {
	testutil.RequireNode(t)
	// The flood checks count on a burst of 20 (the default became 60).
	url, _ := startApp(t, app.Config{RateBurst: 20, RatePerSecond: 5})
	runScenario(t, "protocol.js", url)
}
