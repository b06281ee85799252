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
// Connections live on an nbio event loop of the gateway's own: the loop
// reads, a Scanner (package stanza) splits the bytes into elements and
// keeps only an incomplete one, and a per-connection processor goroutine
// exists only while there are elements to handle (in order). TLS, STARTTLS
// included, runs Go's crypto/tls over the event loop (tlsshim.go): the
// handshake has a goroutine while it lasts, an idle TLS connection has
// none. Sinks only render (once per event, shared by all recipients, the
// 'to' attribute apart) and queue; a small pool of flush workers writes
// each connection's queue in one write. Lock order: chat's locks →
// session.mu → ev.Cached's lock → Gateway.typMu; Gateway.mu is never held
// while taking a session's.
package xmppgw
