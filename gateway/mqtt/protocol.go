package mqttgw

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/mochi-mqtt/server/v2/packets"
)

// The MQTT protocol machine of one connection: every packet a client sends
// is handled here, in order, by the connection's handler. Spec clauses are
// cited as [MQTT-x.y.z-n] (3.1.1 and 5 share most numbers).

// handle handles the packets cut from one read, then writes the replies
// they produced in one write. ferr, if not nil, is the framer's verdict on
// the bytes after them: the connection ends.
func (c *conn) handle(pkts []rawPacket, ferr error) {
	for _, raw := range pkts {
		if c.stage == stageClosing || c.isStopped() {
			return
		}
		c.handleOne(raw)
	}
	if ferr != nil && c.stage != stageClosing {
		code := packets.ErrMalformedPacket
		if errors.Is(ferr, ErrPacketTooLarge) {
			code = packets.ErrPacketTooLarge // [MQTT-3.2.2-15] (MQTT 5: 0x95 first)
		}
		c.g.logDebug("mqttgw: bad packet stream", c, "err", ferr)
		c.fail(ferr, code)
		c.stage = stageClosing
	}
	c.flushInline()
}

func (c *conn) handleOne(raw rawPacket) {
	typ := raw.header >> 4
	if c.stage == stageNew {
		if typ != packets.Connect {
			// [MQTT-3.1.0-1]: the first packet must be CONNECT.
			c.g.logDebug("mqttgw: first packet is not CONNECT", c, "type", typ)
			c.stage = stageClosing
			c.stop(packets.ErrProtocolViolationRequireFirstConnect, nil)
			return
		}
		c.onConnect(raw)
		return
	}
	if typ == packets.Connect {
		c.protocolError(packets.ErrProtocolViolationSecondConnect) // [MQTT-3.1.0-2]
		return
	}
	var pk packets.Packet
	if err := decodePacket(raw, c.v, &pk); err != nil {
		code := packets.ErrMalformedPacket
		var em *errMalformed
		if errors.As(err, &em) {
			code = em.code
		}
		c.g.logDebug("mqttgw: malformed packet", c, "type", typ, "err", err)
		c.protocolError(code)
		return
	}
	switch pk.FixedHeader.Type {
	case packets.Publish:
		c.onPublish(&pk)
	case packets.Puback:
		c.onPuback(&pk)
	case packets.Pubrec:
		// We never send QoS 2: an unknown identifier [MQTT-4.3.3].
		c.reply(encode(&packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pubrel, Qos: 1},
			ProtocolVersion: c.v, PacketID: pk.PacketID, ReasonCode: packets.ErrPacketIdentifierNotFound.Code}))
	case packets.Pubrel:
		code := packets.CodeSuccess
		if !c.cl.release(pk.PacketID) {
			code = packets.ErrPacketIdentifierNotFound
		}
		c.reply(encode(&packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pubcomp},
			ProtocolVersion: c.v, PacketID: pk.PacketID, ReasonCode: code.Code}))
	case packets.Pubcomp:
		// Nothing of ours is QoS 2.
	case packets.Subscribe:
		c.onSubscribe(&pk)
	case packets.Unsubscribe:
		c.onUnsubscribe(&pk)
	case packets.Pingreq:
		c.reply(pingresp)
	case packets.Disconnect:
		c.onDisconnect(&pk)
	case packets.Auth:
		// No authentication method was agreed at CONNECT: AUTH is a
		// protocol error [MQTT-4.12.0-1].
		c.protocolError(packets.ErrProtocolViolation)
	default:
		c.protocolError(packets.ErrProtocolViolation)
	}
}

// protocolError ends the connection for a packet that breaks the protocol:
// MQTT 5 clients get a DISCONNECT with the reason code first (MQTT 4.13).
func (c *conn) protocolError(code packets.Code) {
	c.fail(code, code)
	c.stage = stageClosing
}

// --- CONNECT -------------------------------------------------------------------

// protocolOf reads the protocol name and level at the start of a CONNECT
// body, before anything else is decoded: an unknown protocol gets the
// 3.1.1 refusal, which every version of the protocol can read.
func protocolOf(body []byte) (name []byte, level byte, ok bool) {
	if len(body) < 2 {
		return nil, 0, false
	}
	n := int(body[0])<<8 | int(body[1])
	if len(body) < 2+n+1 {
		return nil, 0, false
	}
	return body[2 : 2+n], body[2+n], true
}

func (c *conn) onConnect(raw rawPacket) {
	name, level, ok := protocolOf(raw.body)
	switch {
	case !ok:
		c.g.logDebug("mqttgw: malformed CONNECT", c)
		c.stage = stageClosing
		c.stop(packets.ErrMalformedProtocolName, nil)
		return
	case bytes.Equal(name, []byte("MQTT")) && (level == 4 || level == 5),
		bytes.Equal(name, []byte("MQIsdp")) && level == 3:
	default:
		// [MQTT-3.1.2-2]: CONNACK 0x01 "unacceptable protocol version",
		// in the 3.1.1 form (an MQTT 5 reason code would be unreadable
		// for a client of another version), then close.
		c.g.logDebug("mqttgw: unsupported protocol", c, "level", level)
		c.stage = stageClosing
		c.refuse(packets.ErrUnsupportedProtocolVersion, packets.Err3UnsupportedProtocolVersion, "")
		return
	}
	c.v = level
	var pk packets.Packet
	if err := decodePacket(raw, level, &pk); err != nil {
		c.g.logDebug("mqttgw: malformed CONNECT", c, "err", err)
		code := packets.ErrMalformedPacket
		var em *errMalformed
		if errors.As(err, &em) {
			code = em.code
		}
		c.stage = stageClosing
		if c.v == 5 {
			c.refuse(code, code, "")
		} else {
			c.stop(err, nil) // 3.1.1 has no code for it: close [MQTT-4.8.0-1]
		}
		return
	}
	c.connect(&pk)
}

// refuse answers a CONNECT with a refusal (MQTT 5 code v5 with reason,
// 3.1.1 code v3) and closes the connection once it is written.
func (c *conn) refuse(v5, v3 packets.Code, reason string) {
	c.stage = stageClosing
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connack}, ProtocolVersion: c.v}
	if c.v == 5 {
		pk.ReasonCode = v5.Code
		pk.Properties.ReasonString = reason
	} else {
		pk.ProtocolVersion = 4
		pk.ReasonCode = v3.Code
	}
	if c.v == 5 && v5.Code < 0x80 || c.v != 5 && v3.Code == 0 {
		panic(fmt.Sprintf("mqttgw: refusal with a success code (v5 %#x, v3 %#x)", v5.Code, v3.Code))
	}
	c.stop(v5, encode(&pk)) // written, then the connection is shut [MQTT-3.2.2-5]
}
