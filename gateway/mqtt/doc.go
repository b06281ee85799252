// Package mqttgw is the MQTT gateway of Banter: MQTT 3.1, 3.1.1 and 5
// connections whose topics are chat rooms, so that MQTT apps chat in the
// same rooms, with the same history, as Socket.IO and browser users.
// docs/protocol.md (MQTT) is the topic scheme and the payloads.
//
// # Entry points
//
// New(svc, cfg) returns a running Gateway; Serve(ln) accepts MQTT over TCP
// on a listener (a crypto/tls listener for MQTTS); the Gateway is an
// http.Handler for MQTT over WebSocket (mounted at /mqtt by the app, which
// calls Upgrade itself after its own admission checks). Close disconnects
// every client and waits; call it after chat.Service.Close.
//
// # How it maps
//
// A CONNECT is a chat session (username = nickname, or the password is a
// JWT). A SUBSCRIBE to a room's topics is a Join; the last UNSUBSCRIBE of
// them a Leave. A PUBLISH is a chat call made before the PUBACK is sent, so
// a QoS 1 message is acknowledged once it is durable. Chat events reach
// the client through its chat session's Sink (conn.Deliver). There is no
// topic tree and no retained store: rooms have history instead. A
// persistent session (client state) keeps its subscriptions, its
// unacknowledged QoS 1 packets and, per room, the last Seq written;
// reconnecting, it gets the former again (DUP) and what it missed from the
// store.
//
// # Connections and concurrency
//
// Connections live on the project's event loop (internal/evloop, through
// a conns.Hub: the loop, the flush workers, the open connections, a
// sweeper once a second for keepalives). Serve hands a *net.TCPListener to
// the loop, which accepts on its poller; /mqtt hands its hijacked
// connection over after the WebSocket handshake, and internal/wsframe
// parses the client's frames there. The bytes of a read are cut into
// packets at once (framer.go) and the packets handled in order on a
// goroutine of the gateway's executor that exists while there are packets
// to handle (conns.Serial): a handler may block on the store without
// stalling other connections. An idle connection has no goroutine and no
// buffer: the loop's read buffer is shared. TLS connections (MQTTS, WSS)
// are served by the loop in blocking mode: a reading goroutine each, which
// handles their packets inline.
//
// Writes: packets are queued on the connection (bounded in bytes: past
// Config.MaxQueuedBytes, in the queue or in what the kernel did not take,
// the client is a slow consumer and is disconnected; nothing is lost for a
// persistent session, which catches up when it reconnects) and written by
// flush passes, everything queued in one write (write.go; flush.go: the
// hub's flush workers, a delay under load so that more leaves in each
// write, and inline writes of the replies to a client's own packets).
// The Sink runs with chat's locks held: it only looks subscriptions up and
// enqueues. Typing updates are dropped when a client has a backlog.
//
// Locks: Gateway.mu is never held with another; client.mu is taken before
// conn.mu, conn.mu before the event loop's own lock of the connection; no
// chat call is made holding any of them (Deliver is called under chat's
// locks and takes conn.mu only). Every goroutine the gateway starts ends
// in Close.
package mqttgw
