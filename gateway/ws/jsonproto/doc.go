// Package jsonproto is the JSON command protocol shared by the plain
// WebSocket gateway (/ws, package ws) and the raw TCP gateway (package
// tcp): docs/protocol.md, "Plain WebSocket". It has the same commands,
// shapes, error codes and limits as protocol 1 over Socket.IO, framed as
// {"type": ...} objects instead of Socket.IO events and acks.
//
// # Entry points
//
//   - DecodeCommand, EncodeReply, EncodeFailure, EncodeEvent,
//     EncodeChatEvent: the pure codec (no I/O).
//   - NewConn(svc, transport, cfg) is the protocol state of one connection:
//     HandleFrame runs a JSON command and answers it, Exec runs a decoded
//     command (the TCP text mode builds commands from "/join" lines),
//     Deliver is the session's chat.Sink, End ends the session.
//   - Outbox is a connection's outgoing queue, bounded in bytes, for the
//     transports' writer goroutines.
//
// # Concurrency
//
// A connection's commands run one at a time, from its reader goroutine.
// Deliver is called by chat with its locks held: it encodes (once per event
// and Format, via chat.Event.Encoded) and calls Transport.Send, which must
// only enqueue. Transport.Close must not block either. End runs on the
// reader goroutine after the connection is gone.
//
// This package lives under gateway/ws because the WebSocket gateway owns
// the protocol; the TCP gateway speaks the same one over lines.
package jsonproto
