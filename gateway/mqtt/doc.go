// Package mqttgw is the MQTT gateway of Banter: an embedded MQTT broker
// (github.com/mochi-mqtt/server/v2, MQTT 3.1, 3.1.1 and 5) whose topics are
// chat rooms, so that MQTT apps chat in the same rooms, with the same
// history, as Socket.IO and browser users. docs/protocol.md (MQTT) is the
// topic scheme and the payloads.
//
// # Entry points
//
// New(svc, cfg) returns a running Gateway; Serve(ln) accepts MQTT over TCP
// on a listener; the Gateway is an http.Handler for MQTT over WebSocket
// (mounted at /mqtt by the app). Close disconnects every client and waits;
// call it after chat.Service.Close.
//
// # How it maps
//
// A CONNECT is a chat session (username = nickname). A SUBSCRIBE to a
// room's topics is a Join; the last UNSUBSCRIBE of them a Leave. A PUBLISH
// is a chat call made before mochi sends the PUBACK, so a QoS 1 message is
// acknowledged once it is durable. Chat events reach the client through
// the session's Sink: the gateway writes to each client itself and never
// uses mochi's topic fan-out or retained store (every publish is marked
// "ignore"). The topic index only holds the subscriptions, which mochi
// keeps for persistent sessions; the gateway keeps, per client id, the last
// Seq written per room and sends a reconnecting persistent session what it
// missed from the store, while mochi resends its unacknowledged QoS 1
// packets.
//
// # Concurrency
//
// mochi runs the hooks of one connection on that connection's goroutine,
// in order. The Sink (conn.Deliver) is called by chat with its locks held:
// it encodes the event once (chat.Event.Encoded) and enqueues on a queue
// bounded in bytes; a writer goroutine exists only while that queue is not
// empty. A client past the bound is disconnected as a slow consumer
// (ErrSlowConsumer) and catches up when it reconnects; typing updates are
// dropped instead when a client has a backlog. Every goroutine the gateway
// starts is counted and Close waits for it.
package mqttgw
