package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// The MQTT scenarios (mqtt-idle, mqtt-fanout, mqtt-churn) drive any MQTT
// broker: Banter with --mqtt, or Mosquitto. They use only what both serve:
// topics under banter/rooms/, a username per client (Banter's nickname;
// Mosquitto with allow_anonymous ignores it), clean or persistent sessions,
// QoS 0 and 1. Messages carry "~sender~seq~sentµs~" in their text: Banter
// delivers it inside its message JSON, Mosquitto as published, and the
// receivers find it in either.

// mqttFlags are the flags every MQTT scenario takes besides common's.
type mqttFlags struct {
	version int
	prefix  string
}

func (m *mqttFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&m.version, "mqtt-version", 4, "MQTT protocol level: 4 (3.1.1) or 5")
	fs.StringVar(&m.prefix, "prefix", "b", "client id and username prefix (runs against one broker should differ for persistent sessions)")
}

func (m *mqttFlags) check() error {
	if m.version != 4 && m.version != 5 {
		return fmt.Errorf("%w: --mqtt-version %d: want 4 or 5", ErrUsage, m.version)
	}
	if m.prefix == "" {
		return fmt.Errorf("%w: --prefix must not be empty", ErrUsage)
	}
	return nil
}

// reportEverySecond prints what *n counts once a second while workers run (progress
// is not safe for concurrent use); stop ends it.
func reportEverySecond(prog *progress, what string, n *atomic.Int64) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tk := time.NewTicker(time.Second)
		defer tk.Stop()
		for {
			select {
			case <-done:
				return
			case <-tk.C:
				prog.printf("%s: %d", what, n.Load())
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// mqttConn is one benchmark client: a TCP connection that has sent CONNECT
// and read its CONNACK.
type mqttConn struct {
	nc net.Conn
	r  *bufio.Reader // nil for an idle client after its handshake
	v  byte
	id uint16 // last packet identifier used
}

// mqttDial connects client i (id = prefix + i) from c's i-th source address
// and waits for a successful CONNACK.
func mqttDial(ctx context.Context, c *common, m *mqttFlags, i int, clean bool, keepalive uint16) (*mqttConn, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	d := net.Dialer{}
	if src := c.source(i); src != nil {
		d.LocalAddr = &net.TCPAddr{IP: src}
	}
	nc, err := d.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	mc := &mqttConn{nc: nc, r: bufio.NewReaderSize(nc, 4096), v: byte(m.version)}
	id := m.prefix + strconv.Itoa(i)
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: mc.v,
		Connect: packets.ConnectParams{ProtocolName: []byte("MQTT"), ClientIdentifier: id, Clean: clean,
			Keepalive: keepalive, Username: []byte(id), UsernameFlag: true}}
	if mc.v == 5 && !clean {
		pk.Properties.SessionExpiryInterval, pk.Properties.SessionExpiryIntervalFlag = 3600, true
	}
	var buf bytes.Buffer
	if err := pk.ConnectEncode(&buf); err != nil {
		nc.Close()
		return nil, err
	}
	if _, err := nc.Write(buf.Bytes()); err != nil {
		nc.Close()
		return nil, err
	}
	hdr, body, err := mc.read(nil)
	switch {
	case err != nil:
	case hdr>>4 != packets.Connack || len(body) < 2:
		err = fmt.Errorf("mqtt: expected CONNACK, got packet type %d", hdr>>4)
	case body[1] != 0:
		err = fmt.Errorf("mqtt: CONNACK refused with code %#x", body[1])
	}
	if err != nil {
		nc.Close()
		return nil, err
	}
	_ = nc.SetDeadline(time.Time{})
	return mc, nil
}

// read reads one packet into buf (grown as needed): its first byte and
// body.
func (m *mqttConn) read(buf []byte) (byte, []byte, error) {
	hdr, err := m.r.ReadByte()
	if err != nil {
		return 0, buf, err
	}
	n := 0
	for shift := 0; ; shift += 7 {
		b, err := m.r.ReadByte()
		if err != nil {
			return 0, buf, err
		}
		n |= int(b&0x7f) << shift
		if b&0x80 == 0 {
			break
		}
		if shift >= 21 {
			return 0, buf, errors.New("mqtt: malformed remaining length")
		}
	}
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(m.r, buf); err != nil {
		return 0, buf, err
	}
	return hdr, buf, nil
}

// subscribe subscribes to topic at qos and waits for the SUBACK (which must
// grant it).
func (m *mqttConn) subscribe(topic string, qos byte, timeout time.Duration) error {
	m.id++
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, ProtocolVersion: m.v,
		PacketID: m.id, Filters: packets.Subscriptions{{Filter: topic, Qos: qos}}}
	var buf bytes.Buffer
	if err := pk.SubscribeEncode(&buf); err != nil {
		return err
	}
	_ = m.nc.SetDeadline(time.Now().Add(timeout))
	defer func() { _ = m.nc.SetDeadline(time.Time{}) }()
	if _, err := m.nc.Write(buf.Bytes()); err != nil {
		return err
	}
	var body []byte
	for {
		hdr, b, err := m.read(body)
		if err != nil {
			return err
		}
		body = b
		if hdr>>4 != packets.Suback {
			continue // a PUBLISH may come first
		}
		if len(body) < 3 || body[len(body)-1] > 2 {
			return fmt.Errorf("mqtt: SUBACK refused %q", topic)
		}
		return nil
	}
}

// appendPublish appends a PUBLISH of payload on topic (qos 0 or 1; id for
// QoS 1).
func appendPublish(b []byte, v byte, topic string, qos byte, id uint16, payload []byte) []byte {
	n := 2 + len(topic) + len(payload)
	if qos > 0 {
		n += 2
	}
	if v == 5 {
		n++ // no properties
	}
	b = append(b, packets.Publish<<4|qos<<1)
	for {
		d := byte(n % 128)
		n /= 128
		if n > 0 {
			d |= 0x80
		}
		b = append(b, d)
		if n == 0 {
			break
		}
	}
	b = append(b, byte(len(topic)>>8), byte(len(topic)))
	b = append(b, topic...)
	if qos > 0 {
		b = append(b, byte(id>>8), byte(id))
	}
	if v == 5 {
		b = append(b, 0)
	}
	return append(b, payload...)
}

// publishPayload returns the payload of a PUBLISH body (version v), its QoS
// and packet identifier.
func publishPayload(hdr byte, body []byte, v byte) (payload []byte, qos byte, id uint16, ok bool) {
	qos = hdr >> 1 & 3
	if len(body) < 2 {
		return nil, 0, 0, false
	}
	off := 2 + (int(body[0])<<8 | int(body[1]))
	if qos > 0 {
		if len(body) < off+2 {
			return nil, 0, 0, false
		}
		id = uint16(body[off])<<8 | uint16(body[off+1])
		off += 2
	}
	if v == 5 {
		n, shift := 0, 0
		for {
			if off >= len(body) {
				return nil, 0, 0, false
			}
			b := body[off]
			off++
			n |= int(b&0x7f) << shift
			shift += 7
			if b&0x80 == 0 || shift > 21 {
				break
			}
		}
		off += n
	}
	if off > len(body) {
		return nil, 0, 0, false
	}
	return body[off:], qos, id, true
}

// appendMarkSized appends the benchmark's message text (appendMark,
// traffic.go) padded with 'x' to size bytes.
func appendMarkSized(b []byte, s, n int, t int64, size int) []byte {
	start := len(b)
	b = appendMark(b, s, n, t, "")
	for len(b)-start < size {
		b = append(b, 'x')
	}
	return b
}
