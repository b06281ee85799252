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
