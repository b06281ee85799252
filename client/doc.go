// Package client is a Socket.IO client for Go: Engine.IO protocol 4 over
// HTTP long-polling and WebSocket (with the polling → WebSocket upgrade) and
// Socket.IO protocol 5 (servers socket.io 3.x/4.x and Banter), modelled on
// the official JavaScript client.
//
// Entry points:
//   - [NewManager] holds one Engine.IO connection to a server and reconnects
//     it with exponential back-off and jitter when it drops.
//   - [Manager.Socket] returns the [Socket] of a namespace; several sockets
//     share the manager's connection. [Socket.Connect] connects it (with an
//     auth payload), [Socket.On] registers event handlers, [Socket.Emit] and
//     [Socket.EmitWithAck] send events, binary included ([]byte values
//     travel as attachments).
//   - [Dial] is the short form: a manager and its default-namespace socket,
//     connected.
//
// Behaviour follows socket.io-client 4.x: heartbeats are answered and a
// server silent for pingInterval+pingTimeout is declared dead (reason
// "ping timeout"); a namespace the server refuses reports a [*ConnectError]
// and is not retried; emits made while disconnected are buffered (bounded by
// Config.MaxBufferedEmits) and flushed on connect; connection state recovery
// sends the previous pid and offset on reconnect (see [Socket.Recovered]).
// Disconnect reasons are the [Reason] values of the JavaScript client.
//
// Concurrency: every method is safe for concurrent use. Handlers (On,
// OnConnect, OnDisconnect, OnConnectError) run one at a time, in the order
// things happened, on one goroutine per Manager; they may call any method,
// including EmitWithAck (acknowledgements do not go through that goroutine),
// but a handler that blocks delays the handlers after it. Close stops every
// goroutine the manager started and waits for them.
package client
