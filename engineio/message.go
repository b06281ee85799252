package engineio

import (
	"sync"

	"github.com/banter-chat/banter/engineio/parser"
	"github.com/banter-chat/banter/internal/wsframe"
)

// Message is one outgoing Engine.IO packet. It is immutable once created and
// may be sent to any number of sessions: it encodes itself at most once per
// wire form (WebSocket frame per protocol version), so a broadcast costs one
// encoding however many sessions receive it.
type Message struct {
	pkt parser.Packet

	once [2]sync.Once // WebSocket frame for protocol 3 and 4
	ws   [2][]byte
}

// NewMessage returns a message packet carrying data. data must not be
// modified afterwards.
func NewMessage(data []byte, binary bool) *Message {
	return &Message{pkt: parser.Packet{Type: parser.Message, Data: data, Binary: binary}}
}

// TextMessage is NewMessage for text data.
func TextMessage(data string) *Message { return NewMessage([]byte(data), false) }

func controlMessage(t parser.Type, data string) *Message {
	return &Message{pkt: parser.Packet{Type: t, Data: []byte(data)}}
}

// Shared control packets.
var (
	msgPing   = controlMessage(parser.Ping, "")
	msgPong   = controlMessage(parser.Pong, "")
	msgNoop   = controlMessage(parser.Noop, "")
	msgClose  = controlMessage(parser.Close, "")
	msgPong3P = controlMessage(parser.Pong, "probe")
)

// Data returns the message's payload (do not modify it).
func (m *Message) Data() []byte { return m.pkt.Data }

// Binary reports whether the message is binary.
func (m *Message) Binary() bool { return m.pkt.Binary }

// size approximates the bytes the message occupies in a queue.
func (m *Message) size() int { return len(m.pkt.Data) + 16 }

// wsFrame returns the complete WebSocket frame (header included) carrying m
// for the given protocol version. Server frames are never masked (RFC 6455 5.1).
func (m *Message) wsFrame(protocol int) []byte {
	i := 0
	if protocol == 4 {
		i = 1
	}
	m.once[i].Do(func() {
		var payload []byte
		op := wsframe.OpText
		if m.pkt.Binary {
			op = wsframe.OpBinary
			payload = parser.AppendBinaryFrame(nil, m.pkt, protocol)
		} else {
			payload = parser.AppendText(nil, m.pkt, protocol)
		}
		m.ws[i] = wsframe.AppendFrame(make([]byte, 0, len(payload)+10), op, payload)
	})
	return m.ws[i]
}
