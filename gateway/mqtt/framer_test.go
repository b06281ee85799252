package mqttgw

import (
	"bytes"
	"errors"
	"testing"

	"github.com/mochi-mqtt/server/v2/packets"
)

// Raw bytes of real packets, as MQTT.js and mosquitto send them.
var (
	// CONNECT, MQTT 3.1.1, client id "a", username "alice", keepalive 60.
	rawConnect = []byte{0x10, 0x14, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x82, 0, 60, 0, 1, 'a', 0, 5, 'a', 'l', 'i', 'c', 'e'}
	// SUBSCRIBE id 1, banter/dm at QoS 1.
	rawSubscribe = []byte{0x82, 0x0e, 0, 1, 0, 9, 'b', 'a', 'n', 't', 'e', 'r', '/', 'd', 'm', 1}
	// PINGREQ.
	rawPing = []byte{0xc0, 0}
)

// rawPublish is a QoS 0 PUBLISH of payload on topic.
func rawPublish(topic string, payload []byte) []byte {
	b := []byte{0x30}
	b = appendLength(b, 2+len(topic)+len(payload))
	b = append(b, byte(len(topic)>>8), byte(len(topic)))
	b = append(b, topic...)
	return append(b, payload...)
}

func TestFramerGolden(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 300) // a two-byte Remaining Length
	stream := bytes.Join([][]byte{rawConnect, rawSubscribe, rawPing, rawPublish("banter/rooms/a", big)}, nil)
	want := []rawPacket{
		{0x10, rawConnect[2:]},
		{0x82, rawSubscribe[2:]},
		{0xc0, []byte{}},
		{0x30, rawPublish("banter/rooms/a", big)[3:]},
	}
	check := func(name string, got []rawPacket, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d packets, want %d", name, len(got), len(want))
		}
		for i := range want {
			if got[i].header != want[i].header || !bytes.Equal(got[i].body, want[i].body) {
				t.Fatalf("%s: packet %d = %#x %q, want %#x %q", name, i, got[i].header, got[i].body, want[i].header, want[i].body)
			}
		}
	}
	// Many packets in one read.
	var f framer
	got, err := f.feed(stream, 1<<16, nil)
	check("one read", got, err)
	if f.buffered() != 0 {
		t.Fatalf("%d bytes kept after whole packets", f.buffered())
	}
	// Split in two at every position, and one byte per read.
	for cut := 1; cut < len(stream); cut++ {
		var f framer
		got, err := f.feed(stream[:cut], 1<<16, nil)
		if err == nil {
			got, err = f.feed(stream[cut:], 1<<16, got)
		}
		check("split", got, err)
	}
	f = framer{}
	got = nil
	for i := range stream {
		if got, err = f.feed(stream[i:i+1], 1<<16, got); err != nil {
			t.Fatal(err)
		}
	}
	check("byte by byte", got, nil)
	if f.buffered() != 0 {
		t.Fatalf("%d bytes kept after whole packets", f.buffered())
	}
}

// TestFramerRefusals: an oversize packet is refused from its fixed header
// alone (nothing of it is buffered), a five-byte Remaining Length is
// malformed, and the packets before either are still handed over.
func TestFramerRefusals(t *testing.T) {
	var f framer
	pkts, err := f.feed(append(append([]byte{}, rawPing...), 0x30, 0x81, 0x80, 0x04), 1<<16, nil) // 65537 bytes announced
	if !errors.Is(err, ErrPacketTooLarge) || len(pkts) != 1 || pkts[0].header != 0xc0 {
		t.Fatalf("oversize: %v, %d packets", err, len(pkts))
	}
	f = framer{}
	if _, err := f.feed([]byte{0x30, 0xff}, 100, nil); !errors.Is(err, ErrPacketTooLarge) {
		t.Fatalf("oversize seen at the first length byte: %v", err)
	}
	f = framer{}
	if _, err := f.feed([]byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x01}, 1<<30, nil); !errors.Is(err, ErrMalformedLength) {
		t.Fatalf("five length bytes: %v", err)
	}
	// The same split across reads.
	f = framer{}
	if _, err := f.feed([]byte{0x30, 0xff, 0xff}, 1<<30, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := f.feed([]byte{0xff, 0xff, 0x01}, 1<<30, nil); !errors.Is(err, ErrMalformedLength) {
		t.Fatalf("five length bytes over two reads: %v", err)
	}
	f = framer{}
	if _, err := f.feed([]byte{0x30, 0x80}, 127, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := f.feed([]byte{0x01}, 127, nil); !errors.Is(err, ErrPacketTooLarge) { // 128
		t.Fatalf("oversize over two reads: %v", err)
	}
}

// FuzzFramer: whatever the bytes and however they are split into reads,
// the framer yields the same packets and verdict as for one read, never
// keeps more than one incomplete packet, and decoding what it yields never
// panics (mochi's decoders index without bounds checks in places: those
// panics are turned into malformed-packet errors).
func FuzzFramer(f *testing.F) {
	f.Add(bytes.Join([][]byte{rawConnect, rawSubscribe, rawPing}, nil), uint8(3))
	f.Add(rawPublish("banter/rooms/general", []byte(`{"text":"hi"}`)), uint8(1))
	f.Add([]byte{0x82, 0x08, 0, 1, 0, 3, 'a', '/', 'b'}, uint8(2))                     // SUBSCRIBE without options
	f.Add([]byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x01}, uint8(0))                        // malformed length
	f.Add([]byte{0x10, 0x05, 0, 4, 'M', 'Q', 'T', 'T', 5, 0, 0, 0, 5, 0xff}, uint8(7)) // truncated v5 CONNECT
	f.Fuzz(func(t *testing.T, data []byte, step uint8) {
		const limit = 1 << 12
		var whole framer
		want, wantErr := whole.feed(data, limit, nil)
		var f framer
		var got []rawPacket
		var err error
		n := int(step%16) + 1
		for i := 0; i < len(data) && err == nil; i += n {
			got, err = f.feed(data[i:min(i+n, len(data))], limit, got)
			if f.buffered() > limit+maxHeader {
				t.Fatalf("%d bytes buffered, limit %d", f.buffered(), limit)
			}
		}
		if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
			t.Fatalf("split: %v, whole: %v", err, wantErr)
		}
		if len(got) != len(want) {
			t.Fatalf("split: %d packets, whole: %d", len(got), len(want))
		}
		for i := range want {
			if got[i].header != want[i].header || !bytes.Equal(got[i].body, want[i].body) {
				t.Fatalf("packet %d differs", i)
			}
			for _, v := range []byte{4, 5} {
				var pk packets.Packet
				_ = decodePacket(got[i], v, &pk) // must not panic
			}
		}
	})
}
