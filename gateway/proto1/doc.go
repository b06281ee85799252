// Package proto1 is chat protocol 1 (docs/protocol.md) once, for every
// gateway that speaks it: the Socket.IO gateway, plain WebSocket (/ws),
// TCP (JSON lines and the commands of the text mode) and REST. A gateway
// only maps its framing onto this package: it decodes a Command from its
// input, runs it on the connection's Conn and writes the result or the
// error in its own shape. Commands, argument validation, results, error
// codes and the wire encoding of chat events therefore cannot drift apart
// between gateways.
//
// # Entry points
//
//   - DecodeArg (a Socket.IO event's argument), DecodeObject (an object of
//     fields) and DecodeBody (an HTTP body) turn client input into a
//     Command; Unmarshal is the one JSON decoding step under them all, and
//     refuses text that is not valid UTF-8 (raw bytes or an escaped lone
//     surrogate) instead of letting encoding/json replace it with U+FFFD.
//   - NewServer holds what a gateway's connections share; Conn (Init) is
//     one connection's protocol state: Exec runs a command (hello creates
//     the chat session), Allow is the per-connection request bucket,
//     Attach/Detach/MarkEnded/End manage the session.
//   - Ack, Failure and ErrorFor are the answers; the Result types their
//     fields. EventPayload is the name and JSON payload of a chat event,
//     which each framing wraps once per event.
//   - The JSON framing shared by /ws and TCP: DecodeFrame, EncodeReply,
//     EncodeEvent, EncodeChatEvent, EncodeBye, EncodeError, and JSONConn,
//     a Conn that handles frames and is its session's chat.Sink.
//
// The package is transport-neutral: it does no I/O of its own and starts no
// goroutine. Decoding and encoding are pure and fuzzed.
//
// # Concurrency
//
// A connection's commands run one at a time (its transport's reader, or
// Socket.IO's per-connection handler order). A session's Sink (JSONConn's
// Deliver, or the gateway's own) is called by chat with its locks held:
// it encodes once per event and format and only enqueues.
package proto1
