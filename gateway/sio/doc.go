// Package siogw is the Socket.IO gateway of Banter: it maps the events of
// docs/protocol.md (protocol 1, the SocketChat dialect and the classic
// "chat message" dialect) on the default namespace to chat.Service and
// chat.Session calls, and the chat events of each session back to Socket.IO
// emits.
//
// # Entry points
//
// New(svc, nsp, cfg) registers the gateway on a namespace (normally
// io.Of("/")) and returns a *Gateway; every socket that connects afterwards
// is served. Close stops the gateway's timers and waits for its background
// work; call it after chat.Service.Close (which ends the sessions and makes
// the gateway say "bye" to every client) and before closing the Store.
//
// # Concurrency
//
// Socket.IO runs the handlers of one connection one at a time, in order, so
// a connection's requests are serialized; different connections run in
// parallel. The chat Sink of a connection (conn.Deliver) is called by the
// chat package with its locks held: it only enqueues bytes on the Engine.IO
// session (which never blocks: a client whose queue overflows is
// disconnected by engineio with "slow consumer") and never calls back into
// chat. Anything that must call chat because of a transport event (a socket
// that disconnects, possibly while a Deliver is closing it) runs on a
// goroutine of its own that Close waits for.
//
// Each chat event is encoded once per wire format (chat.Event.Encoded): the
// Socket.IO packet text of an event on "/" is the same for protocol v5 and
// v4 clients, and every recipient is handed the same bytes.
package siogw
