package cluster_test

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/banter-chat/banter/internal/testutil"
)

var xmppLine = regexp.MustCompile(`(?m)Banter XMPP on (\S+?)"?(\s|$)`)

// TestXMPPAcrossNodes: an XMPP user on node 1 and a Socket.IO user and an
// MQTT user on node 2 chat in one room, with one history
// (test/xmpp/js/crossgw.js).
func TestXMPPAcrossNodes(t *testing.T) {
	c := newCluster(t, 2, "--xmpp", "127.0.0.1:0", "--xmpp-domain", "localhost", "--mqtt", "127.0.0.1:0")
	m := xmppLine.FindStringSubmatch(c.nodes[0].Stderr.String())
	if m == nil || c.nodes[1].mqtt == "" {
		t.Fatalf("no XMPP address on node 1 or MQTT address on node 2:\n%s", c.nodes[0].Stderr.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
	defer cancel()
	script := filepath.Join(testutil.RepoRoot(t), "test", "xmpp", "js", "crossgw.js")
	out, err := testutil.RunNode(t, ctx, script, c.nodes[0].url, "xmpp://"+m[1], "mqtt://"+c.nodes[1].mqtt, c.nodes[1].url)
	if err != nil || !strings.Contains(out, `"ok":true`) {
		t.Fatalf("crossgw.js: %v\n%s", err, out)
	}
	t.Log(out)
}
