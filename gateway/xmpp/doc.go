// Package xmppgw is Banter's XMPP gateway: Jabber clients join the same
// rooms, DMs and history as every other gateway's users. docs/xmpp.md
// lists what is supported against the XEP-0479 compliance suites.
//
// # Entry points
//
//   - New(svc, Config) builds a Gateway over a chat.Service.
//   - Serve(ln) accepts XMPP over TCP (RFC 6120; STARTTLS when Config.TLS
//     is set, then required), ServeTLS(ln) direct TLS (XEP-0368), and
//     ServeHTTP is XMPP over WebSocket (RFC 7395).
//   - Close(ctx) ends every stream and waits; Stats for metrics.
//
// # Mapping
//
// The user alice@<domain> is the chat user "alice" (the node part is the
// nickname, XEP-0106-escaped and lowercased); a bound resource is one
// chat session (several per verified user: multi-device). SASL PLAIN
// takes a JWT as the password (or, in anonymous mode, only the
// nickname), OAUTHBEARER a JWT, ANONYMOUS a nickname from its trace or a
// made-up one. <message type='chat'> is a DM, XEP-0085 states are typing,
// rooms are XEP-0045 rooms on rooms.<domain>, MAM (XEP-0313) pages over
// the durable history with the seqs as archive ids, carbons (XEP-0280)
// copy DMs a user sent from another device, and stream management
// (XEP-0198) acks and resumes streams on this node.
//
// # Connections and concurrency
//
// Connections live on the gateway's own event loop (internal/evloop,
// through gateway/internal/conns' Hub): Serve hands a TCP listener to the
// loop, which accepts on its poller (accept4; a pause when out of
// descriptors) with the listener's TCP keep-alive inherited; ServeHTTP
// moves an upgraded WebSocket connection onto it, frames parsed by
// internal/wsframe. The loop reads; a Scanner (package stanza) splits the
// bytes into elements and keeps only an incomplete one; a per-connection
// processor goroutine exists only while there are elements to handle (in
// order). TLS, STARTTLS and direct TLS, runs Go's crypto/tls over the
// loop (tlsshim.go): the handshake has a goroutine while it lasts, an
// idle TLS connection has none. A WebSocket of the HTTPS port is TLS
// that net/http terminated: it is served in blocking mode (a reading
// goroutine each). Writes never block: what the kernel does not take
// waits in the connection's evloop.Conn, bounded by MaxQueuedBytes and
// WriteTimeout (past them the client is a slow consumer and is cut). Sinks
// only render (once per event, shared by all recipients, the 'to'
// attribute apart) and queue; the hub's flush workers write each
// session's queue in one write, and a connection's processor writes its
// own answers when its batch ends. The hub's sweeper closes connections
// that have not bound a resource within AuthTimeout (no timer per
// connection).
//
// Lock order: chat's locks → session.mu → conn.jobMu → the evloop.Conn's
// lock; ev.Cached's lock → Gateway.typMu; Gateway.mu → session.mu (Stats
// only): no session lock is held while Gateway.mu is taken.
package xmppgw
