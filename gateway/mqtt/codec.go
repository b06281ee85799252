package mqttgw

import (
	"bytes"
	"fmt"

	"github.com/mochi-mqtt/server/v2/packets"
)

// Packet bodies are decoded and control packets encoded by mochi-mqtt's
// packets codec; this file adapts it: panics of the decoder on hostile
// input become errors, and the PUBLISH packets of chat events are encoded
// once per event and wire form (wire), shared by every recipient.

// errMalformed wraps what the codec refused, or a panic it had.
type errMalformed struct {
	code packets.Code // MQTT 5 reason for the DISCONNECT
	err  error
}

func (e *errMalformed) Error() string { return "mqttgw: " + e.code.Reason + ": " + e.err.Error() }
func (e *errMalformed) Unwrap() error { return e.err }

// decodePacket decodes raw, a packet of a connection speaking protocol
// version v (4 for 3.1.1 and 3.1, 5), into pk. CONNECT sets the version
// itself.
func decodePacket(raw rawPacket, v byte, pk *packets.Packet) (err error) {
	defer func() {
		if r := recover(); r != nil { // mochi indexes without bounds checks in places
			err = &errMalformed{code: packets.ErrMalformedPacket, err: fmt.Errorf("undecodable packet: %v", r)}
		}
	}()
	pk.ProtocolVersion = v
	if err := pk.FixedHeader.Decode(raw.header); err != nil {
		return malformed(err)
	}
	pk.FixedHeader.Remaining = len(raw.body)
	b := raw.body
	switch pk.FixedHeader.Type {
	case packets.Connect:
		err = pk.ConnectDecode(b)
	case packets.Publish:
		err = pk.PublishDecode(b)
	case packets.Puback:
		err = pk.PubackDecode(b)
	case packets.Pubrec:
		err = pk.PubrecDecode(b)
	case packets.Pubrel:
		err = pk.PubrelDecode(b)
	case packets.Pubcomp:
		err = pk.PubcompDecode(b)
	case packets.Subscribe:
		err = pk.SubscribeDecode(b)
	case packets.Unsubscribe:
		err = pk.UnsubscribeDecode(b)
	case packets.Pingreq:
		if len(b) != 0 {
			err = packets.ErrMalformedPacket
		}
	case packets.Disconnect:
		err = pk.DisconnectDecode(b)
	case packets.Auth:
		err = pk.AuthDecode(b)
	default: // CONNACK, SUBACK… are server packets; 0 is reserved
		err = packets.ErrProtocolViolation
	}
	if err != nil {
		return malformed(err)
	}
	return nil
}

func malformed(err error) error {
	var code packets.Code
	switch c := err.(type) {
	case packets.Code:
		code = c
	default:
		code = packets.ErrMalformedPacket
		var pc packets.Code
		if asCode(err, &pc) {
			code = pc
		}
	}
	if code.Code < 0x80 {
		code = packets.ErrMalformedPacket
	}
	return &errMalformed{code: code, err: err}
}

// asCode finds a packets.Code in err's chain (mochi wraps its codes with
// fmt.Errorf("%s: %w")).
func asCode(err error, pc *packets.Code) bool {
	for err != nil {
		if c, ok := err.(packets.Code); ok {
			*pc = c
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

// encode returns the wire bytes of a control packet.
func encode(pk *packets.Packet) []byte {
	var buf bytes.Buffer
	var err error
	switch pk.FixedHeader.Type {
	case packets.Connack:
		err = pk.ConnackEncode(&buf)
	case packets.Publish:
		err = pk.PublishEncode(&buf)
	case packets.Puback:
		err = pk.PubackEncode(&buf)
	case packets.Pubrec:
		err = pk.PubrecEncode(&buf)
	case packets.Pubrel:
		err = pk.PubrelEncode(&buf)
	case packets.Pubcomp:
		err = pk.PubcompEncode(&buf)
	case packets.Suback:
		err = pk.SubackEncode(&buf)
	case packets.Unsuback:
		err = pk.UnsubackEncode(&buf)
	case packets.Pingresp:
		err = pk.PingrespEncode(&buf)
	case packets.Disconnect:
		err = pk.DisconnectEncode(&buf)
	default:
		err = fmt.Errorf("no encoder for packet type %d", pk.FixedHeader.Type)
	}
	if err != nil {
		panic("mqttgw: encode: " + err.Error()) // only packets we build: cannot fail
	}
	return buf.Bytes()
}

// wire is an encoded PUBLISH ready to be copied into a connection's write
// buffer. A QoS 1 wire carries a placeholder packet identifier at idAt,
// which the writer replaces with the recipient's. The bytes are shared
// between recipients and never modified.
type wire struct {
	b    []byte
	idAt int // 0: QoS 0, no identifier
}

// newWire encodes a PUBLISH of payload on topic at qos for protocol v,
// with the MQTT 5 correlation data corr (history responses).
func newWire(v byte, qos byte, topic string, payload, corr []byte) *wire {
	pk := packets.Packet{
		FixedHeader:     packets.FixedHeader{Type: packets.Publish, Qos: qos},
		ProtocolVersion: v,
		TopicName:       topic,
		Payload:         payload,
		Mods:            packets.Mods{AllowResponseInfo: true},
	}
	pk.Properties.CorrelationData = corr
	if qos > 0 {
		pk.PacketID = 0xffff // placeholder
	}
	w := &wire{b: encode(&pk)}
	if qos > 0 {
		_, n, _, _ := parseHeader(w.b, len(w.b))
		w.idAt = n + 2 + len(topic)
	}
	return w
}

// appendTo appends the packet with identifier id (QoS 1) and the DUP flag
// (a resend).
func (w *wire) appendTo(buf []byte, id uint16, dup bool) []byte {
	start := len(buf)
	buf = append(buf, w.b...)
	if w.idAt > 0 {
		buf[start+w.idAt] = byte(id >> 8)
		buf[start+w.idAt+1] = byte(id)
		if dup {
			buf[start] |= 0x08
		}
	}
	return buf
}

// The packets of the hot paths, written by hand: PUBACK and PINGRESP.
func appendPuback(b []byte, id uint16) []byte {
	return append(b, packets.Puback<<4, 2, byte(id>>8), byte(id))
}

var pingresp = []byte{packets.Pingresp << 4, 0}
