// Package siogw is the Socket.IO gateway of Banter: it maps the events of
// docs/protocol.md (protocol 1, the SocketChat dialect and the classic
// "chat message" dialect) on the default namespace onto the command layer
// (package proto1) and chat, and the chat events of each session back to
// Socket.IO emits. It talks to package socketio only, never to engineio.
//
// # Entry points
//
// New(svc, nsp, cfg) registers the gateway on a namespace (normally
// io.Of("/")) and returns a *Gateway; every socket that connects afterwards
// is served. Close stops the gateway's timers and the classic dialect's
// room watcher and waits for its background work; call it after
// chat.Service.Close (which ends the sessions and makes the gateway say
// "bye" to every client) and before closing the Store.
//
// # Concurrency
//
// Socket.IO runs the handlers of one connection one at a time, in order, so
// a connection's requests are serialized; different connections run in
// parallel. The chat Sink of a connection (conn.Deliver) is called by the
// chat package with its locks held: it only queues prepared packets on the
// socket (socketio.Socket.Enqueue never blocks: a client whose queue
// overflows is disconnected as a slow consumer) and never calls back into
// chat. Anything that must call chat because of a transport event (a socket
// that disconnects, possibly while a Deliver is closing it) runs on a
// goroutine of its own that Close waits for.
//
// Each chat event is encoded once per wire format: the first recipient
// prepares the Socket.IO packet (socketio.PreparedPacket, cached on the
// event with chat.Event.Cached) and every recipient is handed the same one,
// which is the same text for protocol v5 and v4 clients and builds its
// WebSocket frame once per Engine.IO version. The classic dialect's
// listeners are served by one watcher of the default room per node
// (chat.Service.WatchRoom) and one Socket.IO room broadcast per message.
package siogw
