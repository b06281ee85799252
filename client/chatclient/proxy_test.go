package chatclient_test

import (
	"testing"

	"github.com/banter-chat/banter/internal/testutil"
)

// proxy is testutil's TCP proxy that breaks connections the way networks do.
type proxy = testutil.Proxy

func startProxy(t *testing.T, targetURL string) (*proxy, string) {
	return testutil.StartProxy(t, targetURL)
}
