package bench

import (
	"bytes"
	"fmt"
	"strconv"
	"time"
)

// dialect is what the generator speaks over Socket.IO.
type dialect int

const (
	// dialectChatMessage: "chat message" with one string, emitted by the
	// server to everyone (the workload of bench serve and Node, and the
	// classic dialect of banter: socket.io's tutorial chat).
	dialectChatMessage dialect = iota
	// dialectV1: banter's chat protocol 1 (docs/protocol.md): every
	// connection says hello and joins benchRoom; senders send with acks.
	dialectV1
)

// benchRoom is the room of the protocol-1 scenarios.
const benchRoom = "bench"

var dialectNames = []string{"chat-message", "v1"}

func (d dialect) String() string { return dialectNames[d] }

func parseDialect(v string) (dialect, error) {
	for i, n := range dialectNames {
		if v == n {
			return dialect(i), nil
		}
	}
	return 0, fmt.Errorf("%w: --dialect %q: want chat-message or v1", ErrUsage, v)
}

// setup makes connection number i a participant: for protocol 1 a hello
// with a nickname of its own into rv.room, waiting up to timeout for the
// ack (which rv's reading loop hands over); timeout 0 sends without waiting
// (connections nobody reads).
func (d dialect) setup(rv *receiver, i int, timeout time.Duration) error {
	if d != dialectV1 {
		return nil
	}
	if err := rv.c.writeText(appendHello(nil, i, []string{rv.room})); err != nil {
		return err
	}
	if timeout == 0 {
		return nil
	}
	return awaitAck(rv.acks, timeout, "hello")
}

// appendHello appends a protocol-1 hello (ack id 0) of user i joining rooms.
func appendHello(b []byte, i int, rooms []string) []byte {
	b = append(b, `420["hello",{"nickname":"bench-`...)
	b = strconv.AppendInt(b, int64(i), 10)
	b = append(b, `","rooms":[`...)
	for k, r := range rooms {
		if k > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, r)
	}
	return append(b, "]}]"...)
}

// awaitAck waits for the ack of a setup request and checks it succeeded.
func awaitAck(acks <-chan []byte, timeout time.Duration, what string) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case a := <-acks:
		if !bytes.Contains(a, []byte(`"ok":true`)) {
			return fmt.Errorf("%w: %s refused: %.200s", ErrProtocol, what, a)
		}
		return nil
	case <-t.C:
		return fmt.Errorf("%w: no %s ack within %v", ErrProtocol, what, timeout)
	}
}

// appendSend appends message n of sender s, sent at t (µs since the epoch)
// (protocol 1: to room).
func (d dialect) appendSend(b []byte, room string, s, n int, t int64, pad string) []byte {
	if d == dialectV1 {
		b = append(b, "42"...)
		b = strconv.AppendInt(b, int64(n)+1, 10) // ack id; 0 is setup's
		b = append(b, `["send",{"room":`...)
		b = strconv.AppendQuote(b, room)
		b = append(b, `,"text":"`...)
		b = appendMark(b, s, n, t, pad)
		b = append(b, `","clientId":"b`...)
		b = strconv.AppendInt(b, int64(s), 10)
		b = append(b, '-')
		b = strconv.AppendInt(b, int64(n), 10)
		return append(b, `"}]`...)
	}
	b = append(b, `42["chat message","`...)
	b = appendMark(b, s, n, t, pad)
	return append(b, `"]`...)
}

// pktKind sorts what a connection receives.
type pktKind int

const (
	pktOther    pktKind = iota
	pktDelivery         // a benchmark message
	pktAck0             // the ack of a setup request
	pktRefusal          // a send the server refused
)

var (
	prefixChatMessage = []byte(`42["chat message",`)
	prefixMessage     = []byte(`42["message",`)
	prefixError       = []byte(`42["error",`)
	prefixAck0        = []byte(`430[`)
	prefixAck         = []byte(`43`)
	ackRefused        = []byte(`[{"ok":false`)
)

func kindOf(p []byte) pktKind {
	switch {
	case bytes.HasPrefix(p, prefixChatMessage), bytes.HasPrefix(p, prefixMessage):
		return pktDelivery
	case bytes.HasPrefix(p, prefixAck0):
		return pktAck0
	case bytes.HasPrefix(p, prefixError):
		return pktRefusal
	case bytes.HasPrefix(p, prefixAck):
		if i := bytes.IndexByte(p, '['); i > 0 && bytes.HasPrefix(p[i:], ackRefused) {
			return pktRefusal
		}
	}
	return pktOther
}
