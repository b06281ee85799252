package xmpp_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/banter-chat/banter/internal/testutil"
)

var mqttLine = regexp.MustCompile(`Banter MQTT on (\S+?)"?(\s|$)`)

// TestCrossGateway: an XMPP client, a Socket.IO client and an MQTT client
// in one room, with one history (js/crossgw.js).
func TestCrossGateway(t *testing.T) {
	// TLS everywhere (the self-signed certificate accepted by the
	// scripts): @xmpp/client, like most clients, offers PLAIN only over
	// TLS.
	banter := startBanter(t, "--mqtt", "127.0.0.1:0")
	m := mqttLine.FindStringSubmatch(banter.banter.Stderr.String())
	if m == nil {
		t.Fatal("no MQTT address in the log")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	t.Setenv("NODE_TLS_REJECT_UNAUTHORIZED", "0")
	t.Setenv("NODE_NO_WARNINGS", "1")
	out, err := testutil.RunNode(t, ctx, "js/crossgw.js", banter.httpURL,
		"xmpp://"+banter.host+":"+itoa(banter.port), "mqtts://"+m[1])
	if err != nil {
		t.Fatalf("crossgw.js: %v\n%s", err, out)
	}
	if !strings.Contains(out, `"ok":true`) {
		t.Fatalf("crossgw.js: %s", out)
	}
	t.Log(out)
}
