package cluster_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/banter-chat/banter/auth"
)

// TestReadStateAcrossNodes: a user's read marker set on one device reaches
// its other device on another node at once, with unread counts; the
// room's members on a third node hear it; edits and reactions cross nodes;
// a device back on another node catches up with the final state.
func TestReadStateAcrossNodes(t *testing.T) {
	secret := []byte("cluster-reads-test-secret-0123456789")
	file := filepath.Join(t.TempDir(), "jwt.secret")
	if err := os.WriteFile(file, secret, 0o600); err != nil {
		t.Fatal(err)
	}
	jwt, err := auth.Sign("HS256", secret, auth.Claims{Subject: "u-alice", Nickname: "Alice"})
	if err != nil {
		t.Fatal(err)
	}
	c := newCluster(t, 3, "--jwt-secret-file", file)
	runScenario(t, "reads.js", c.nodes[0].url, c.nodes[1].url, c.nodes[2].url, jwt)
}
