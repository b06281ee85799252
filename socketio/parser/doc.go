// Package parser is the Socket.IO packet codec for protocol v5 (socket.io 3.x/4.x,
// npm socket.io-parser 4.x) and v4 (socket.io 2.x, socket.io-parser 3.x), including
// binary attachments.
//
// A packet travels as one Engine.IO text message,
//
//	<type>[<#attachments>-][<namespace>,][<ack id>][<JSON payload>]
//
// followed, for BINARY_EVENT and BINARY_ACK, by one Engine.IO binary message per
// attachment. In the JSON payload every binary value is replaced by the placeholder
// {"_placeholder":true,"num":N}, N being the attachment's index.
//
// Entry points:
//   - [Encode] and [AppendEncode] write the text frame of a [Packet]; the caller sends
//     p.Attachments after it, in order.
//   - [Decoder] reassembles packets from the Engine.IO messages of one connection
//     ([Decoder.AddText], [Decoder.AddBinary]) and validates them as strictly as
//     socket.io-parser 4.x does.
//   - [EncodeArgs] and [EncodeEvent] build a payload from Go values, extracting []byte
//     into attachments; [DecodeArgs] and [RawArgs] take a payload apart again;
//     [EventName] reads the event name of an EVENT payload.
//
// The package is pure: no I/O, no goroutines. Encode and the Args helpers are safe for
// concurrent use; a Decoder belongs to one connection and is not.
//
// The codec does not need to know the protocol version: the two versions share the
// frame format, and where they differ (the query carried in a v4 CONNECT namespace, a
// string CONNECT_ERROR payload in v4) the decoder accepts both forms and reports what
// it saw, leaving the meaning to the socketio package.
package parser
