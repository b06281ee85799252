// Package wire is the wire format of Node's @socket.io/redis-adapter 8.x
// (lib/index.ts), pure: bytes in, values out, no I/O (package
// redisadapter does the Redis side). Banter nodes and Node servers that
// share a Redis exchange these messages, so every encoder writes what the
// Node adapter writes for the same value and every decoder reads what it
// may write.
//
// Broadcasts go to key#nsp# (key#nsp#room# when exactly one room is
// targeted) as MessagePack [uid, packet, opts] with packet {type, data,
// nsp} and opts {rooms, except, flags}: EncodeBroadcast, DecodeBroadcast,
// BroadcastUID. Requests go to key-request#nsp# as JSON (EncodeJSON of a
// Request), except BROADCAST (a broadcast with acknowledgements), which is
// MessagePack because its packet may hold binary
// (EncodeBroadcastRequest); DecodeRequest reads both. Responses go to
// key-response#nsp# (or key-response#nsp#uid# with
// publishOnSpecificResponseChannel) as JSON, except BROADCAST_ACK
// (EncodeBroadcastAck, MessagePack); DecodeResponse reads both. A reader
// tells them apart by the first byte: '{' is JSON.
//
// MessagePack is written and read as notepack.io 3.x does (msgpack.go,
// msgpack_read.go), transcoded from and to the JSON Banter keeps packets
// in (binary attachments as socket.io-parser placeholders). Malformed
// input is an error wrapping ErrMalformed, never a panic or an allocation
// larger than the input announces and holds. The golden bytes in testdata
// were written by notepack.io itself (testdata/golden.js).
package wire
