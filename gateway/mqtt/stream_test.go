package mqttgw_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/banter-chat/banter/chat"
	mqttgw "github.com/banter-chat/banter/gateway/mqtt"
	"github.com/banter-chat/banter/internal/testutil"
	"github.com/mochi-mqtt/server/v2/packets"
)

// What the event loop risks: packets split across reads, many in one read,
// oversize and malformed packets. The clients here write raw bytes.

func subscribePacket(id uint16, qos byte, filters ...string) packets.Packet {
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, PacketID: id}
	for _, f := range filters {
		pk.Filters = append(pk.Filters, packets.Subscription{Filter: f, Qos: qos})
	}
	return pk
}

func publishPacket(id uint16, qos byte, topic, payload string) packets.Packet {
	return packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: qos}, PacketID: id,
		TopicName: topic, Payload: []byte(payload)}
}

// TestPacketsSplitAcrossReads: a client whose every byte arrives in a
// write of its own (on loopback each write is a segment) is served like
// any other.
func TestPacketsSplitAcrossReads(t *testing.T) {
	e := start(t, mqttgw.Config{})
	for _, v := range []byte{4, 5} {
		c := dialRaw(t, e.addr, v)
		user := fmt.Sprintf("slow%d", v)
		stream := bytes.Join([][]byte{
			encodePacket(t, v, connectPacket(user, v)),
			encodePacket(t, v, subscribePacket(1, 1, "banter/rooms/general")),
			encodePacket(t, v, publishPacket(2, 1, "banter/rooms/general", `{"text":"byte by byte","clientId":"s1"}`)),
			encodePacket(t, v, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pingreq}}),
		}, nil)
		for i := range stream {
			if _, err := c.nc.Write(stream[i : i+1]); err != nil {
				t.Fatal(err)
			}
		}
		if ack := c.expect(packets.Connack); ack.ReasonCode != 0 {
			t.Fatalf("v%d CONNACK %#x", v, ack.ReasonCode)
		}
		if codes := c.expect(packets.Suback).ReasonCodes; len(codes) != 1 || codes[0] != 1 {
			t.Fatalf("v%d SUBACK %v", v, codes)
		}
		if ack := c.expect(packets.Puback); ack.PacketID != 2 || ack.ReasonCode != 0 {
			t.Fatalf("v%d PUBACK %d %#x", v, ack.PacketID, ack.ReasonCode)
		}
		if m := c.message("banter/rooms/general"); m.Text != "byte by byte" || m.Sender != user {
			t.Fatalf("v%d echo %+v", v, m)
		}
		c.quiet() // the PINGREQ of the stream was answered (expect skips PINGRESPs)
	}
}

// TestManyPacketsInOneRead: a CONNECT, a SUBSCRIBE, 100 QoS 1 publishes and
// a PINGREQ in one write are all handled, in order: PUBACKs in the order of
// the PUBLISHes [MQTT-4.6.0-2], messages stored in that order.
func TestManyPacketsInOneRead(t *testing.T) {
	e := start(t, mqttgw.Config{})
	c := dialRaw(t, e.addr, 4)
	var buf bytes.Buffer
	buf.Write(encodePacket(t, 4, connectPacket("burst", 4)))
	buf.Write(encodePacket(t, 4, subscribePacket(1, 1, "banter/rooms/general")))
	const n = 100
	for i := range n {
		buf.Write(encodePacket(t, 4, publishPacket(uint16(i+2), 1, "banter/rooms/general", fmt.Sprintf(`{"text":"m%d","clientId":"b%d"}`, i, i))))
	}
	buf.Write(encodePacket(t, 4, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pingreq}}))
	if _, err := c.nc.Write(buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	c.expect(packets.Connack)
	c.expect(packets.Suback)
	for i := range n {
		if ack := c.expect(packets.Puback); ack.PacketID != uint16(i+2) {
			t.Fatalf("PUBACK %d is for %d", i, ack.PacketID)
		}
	}
	msgs, err := e.store.Since(context.Background(), "general", 0, 1000)
	if err != nil || len(msgs) != n {
		t.Fatalf("%d stored, %v", len(msgs), err)
	}
	for i, m := range msgs {
		if m.Text != fmt.Sprintf("m%d", i) || m.Seq != int64(i+1) {
			t.Fatalf("stored %d: %+v", i, m)
		}
		if got := c.message("banter/rooms/general"); got.Seq != m.Seq {
			t.Fatalf("echo %d: seq %d, want %d", i, got.Seq, m.Seq)
		}
	}
	c.quiet()
}

// TestOversizePacket: a packet over MaxPacketBytes is refused from its
// fixed header (the server does not wait for, nor buffer, the rest): MQTT 5
// gets DISCONNECT 0x95 "packet too large", then the connection is closed
// [MQTT-3.2.2-15]; 3.1.1 is closed.
func TestOversizePacket(t *testing.T) {
	e := start(t, mqttgw.Config{MaxPacketBytes: 4096})
	for _, v := range []byte{4, 5} {
		c, ack := dial(t, e.addr, connectOpts{id: fmt.Sprintf("big%d", v), user: fmt.Sprintf("big%d", v), clean: true, v: v})
		if ack.ReasonCode != 0 {
			t.Fatalf("CONNACK %#x", ack.ReasonCode)
		}
		// At the limit: accepted.
		if v == 5 {
			payload := strings.Repeat("x", 4096-2-len("banter/rooms/general")-2-1)
			if ack := c.publish(1, "banter/rooms/general", payload); ack.ReasonCode != 0 {
				t.Fatalf("packet at the limit: PUBACK %#x", ack.ReasonCode)
			}
		}
		// One byte over, announced: only the fixed header is sent.
		hdr := []byte{0x32}
		hdr = append(hdr, 0x81, 0x20) // 4097
		if _, err := c.nc.Write(hdr); err != nil {
			t.Fatal(err)
		}
		if v == 5 {
			if pk := c.expect(packets.Disconnect); pk.ReasonCode != packets.ErrPacketTooLarge.Code {
				t.Fatalf("DISCONNECT %#x, want 0x95", pk.ReasonCode)
			}
		}
		c.ended()
	}
}

// TestMalformedPackets: each is refused clearly and ends the connection;
// MQTT 5 clients past CONNECT are told why in a DISCONNECT first (MQTT 4.13).
func TestMalformedPackets(t *testing.T) {
	e := start(t, mqttgw.Config{})
	for i, tc := range []struct {
		name string
		raw  []byte
		code byte // MQTT 5 DISCONNECT reason
	}{
		{"a second CONNECT", encodePacket(t, 5, connectPacket("again", 5)), 0x82},
		{"reserved packet type 0", []byte{0x00, 0x00}, 0x82},
		{"a server packet (CONNACK)", []byte{0x20, 0x02, 0, 0}, 0x82},
		{"PUBLISH at QoS 3", []byte{0x36, 0x05, 0, 1, 'a', 0, 1}, 0x82},
		{"SUBSCRIBE with wrong flags", []byte{0x80, 0x07, 0, 1, 0, 0, 1, 'a', 1}, 0x81},
		{"SUBSCRIBE without its options byte", []byte{0x82, 0x06, 0, 1, 0, 0, 1, 'a'}, 0x81},
		{"PUBLISH topic not UTF-8", []byte{0x30, 0x05, 0, 2, 0xff, 0xfe, 0}, 0x81},
		{"PUBLISH with a wildcard topic", []byte{0x30, 0x06, 0, 3, 'a', '/', '#', 0}, 0x82},
		{"PINGREQ with a body", []byte{0xc0, 0x01, 0}, 0x81},
		{"five bytes of Remaining Length", []byte{0x30, 0x80, 0x80, 0x80, 0x80, 0x01}, 0x81},
	} {
		for _, v := range []byte{4, 5} {
			user := fmt.Sprintf("bad%d-%d", i, v)
			c, ack := dial(t, e.addr, connectOpts{id: user, user: user, clean: true, v: v})
			if ack.ReasonCode != 0 {
				t.Fatalf("%s: CONNACK %#x", tc.name, ack.ReasonCode)
			}
			raw := tc.raw
			if tc.name == "a second CONNECT" {
				raw = encodePacket(t, v, connectPacket(user, v))
			}
			if _, err := c.nc.Write(raw); err != nil {
				t.Fatal(err)
			}
			if v == 5 {
				if pk := c.expect(packets.Disconnect); pk.ReasonCode != tc.code {
					t.Errorf("%s: DISCONNECT %#x, want %#x", tc.name, pk.ReasonCode, tc.code)
				}
			}
			c.ended()
			// The chat session ends with the connection.
			testutil.Eventually(t, wait, func() bool { _, on := e.svc.Lookup(user); return !on }, "%s: session ended", tc.name)
		}
	}
	// Before CONNECT anything else is closed without an answer [MQTT-3.1.0-1].
	c := dialRaw(t, e.addr, 4)
	if _, err := c.nc.Write([]byte{0xc0, 0}); err != nil {
		t.Fatal(err)
	}
	c.ended()
}

// TestUnknownProtocolVersion: a CONNECT of an unknown protocol name or level
// gets CONNACK return code 0x01 "unacceptable protocol version" in the 3.1.1
// form, which any client can read [MQTT-3.1.2-2], then the connection is
// closed. (It got 0x82, an MQTT 5 code.)
func TestUnknownProtocolVersion(t *testing.T) {
	e := start(t, mqttgw.Config{})
	for _, tc := range []struct {
		name  string
		proto string
		level byte
	}{{"level 6", "MQTT", 6}, {"level 3 named MQTT", "MQTT", 3}, {"unknown name", "MQTX", 4}} {
		c := dialRaw(t, e.addr, 4)
		pk := connectPacket("p", 4)
		raw := encodePacket(t, 4, pk)
		raw = bytes.Replace(raw, []byte{0, 4, 'M', 'Q', 'T', 'T', 4}, append(append([]byte{0, byte(len(tc.proto))}, tc.proto...), tc.level), 1)
		if _, err := c.nc.Write(raw); err != nil {
			t.Fatal(err)
		}
		ack := c.expect(packets.Connack)
		if ack.ReasonCode != 0x01 || ack.SessionPresent {
			t.Errorf("%s: CONNACK %#x", tc.name, ack.ReasonCode)
		}
		c.ended()
	}
}

// TestSysPublishIsAnswered: a QoS 1 publish to $SYS/x was neither
// acknowledged nor refused, and the client waited for ever. It is refused
// like any topic outside banter/: MQTT 5 gets PUBACK 0x87; MQTT 3.1.1, which
// has no negative acknowledgement, is closed [MQTT-3.3.5-2]. QoS 0 is
// dropped.
func TestSysPublishIsAnswered(t *testing.T) {
	e := start(t, mqttgw.Config{})
	c5, _ := dial(t, e.addr, connectOpts{id: "s5", user: "s5", clean: true, v: 5})
	if ack := c5.publish(1, "$SYS/x", "hello"); ack.ReasonCode != packets.ErrNotAuthorized.Code {
		t.Fatalf("MQTT 5 PUBACK %#x, want 0x87", ack.ReasonCode)
	}
	c3, _ := dial(t, e.addr, connectOpts{id: "s3", user: "s3", clean: true})
	c3.publish(0, "$SYS/x", "dropped")
	c3.quiet() // QoS 0: dropped, the connection lives
	c3.write(publishPacket(7, 1, "$SYS/x", "hello"))
	c3.ended()
}

// TestInvalidUTF8InJSONIsRefused: JSON payloads whose bytes are not UTF-8
// were decoded with U+FFFD in place of the bad bytes and stored; they are
// refused with invalid_message, as on the other gateways.
func TestInvalidUTF8InJSONIsRefused(t *testing.T) {
	e := start(t, mqttgw.Config{})
	bad := "{\"text\":\"caf\xe9\",\"clientId\":\"u1\"}"
	c5, _ := dial(t, e.addr, connectOpts{id: "u5", user: "u5", clean: true, v: 5})
	ack := c5.publish(1, "banter/rooms/general", bad)
	if ack.ReasonCode != packets.ErrPayloadFormatInvalid.Code || !strings.HasPrefix(ack.Properties.ReasonString, "invalid_message") {
		t.Fatalf("MQTT 5 PUBACK %#x %q", ack.ReasonCode, ack.Properties.ReasonString)
	}
	if ack := c5.publish(1, "banter/dm", "{\"to\":\"u3\",\"text\":\"\xff\"}"); ack.ReasonCode != packets.ErrPayloadFormatInvalid.Code {
		t.Fatalf("DM PUBACK %#x", ack.ReasonCode)
	}
	c3, _ := dial(t, e.addr, connectOpts{id: "u3", user: "u3", clean: true})
	c3.subscribe(1, "banter/errors")
	c3.publish(1, "banter/rooms/general", bad)
	var rep struct{ Code, ClientID string }
	_ = json.Unmarshal(c3.publishOn("banter/errors").Payload, &rep)
	if rep.Code != string(chat.CodeInvalidMessage) {
		t.Fatalf("banter/errors %+v", rep)
	}
	if n, _ := e.store.LastSeq(context.Background(), "general"); n != 0 {
		t.Fatalf("%d messages stored", n)
	}
}
