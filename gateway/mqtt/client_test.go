package mqttgw_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/banter-chat/banter/chat"
	mqttgw "github.com/banter-chat/banter/gateway/mqtt"
	"github.com/banter-chat/banter/internal/testutil"
	"github.com/mochi-mqtt/server/v2/packets"
)

// A raw MQTT client for the black-box tests, built on mochi's packet codec:
// it sends exactly what a test says and exposes every packet received.

const wait = 20 * time.Second // generous: a loaded 2-core machine

type client struct {
	t       testing.TB
	nc      net.Conn
	v       byte
	autoAck bool

	stash []packets.Packet // PUBLISHes read while waiting for an ack

	mu     sync.Mutex
	nextID uint16
	in     chan packets.Packet
	done   chan struct{} // closed when the connection ends
	err    error
}

type connectOpts struct {
	id, user  string
	v         byte // 4 (3.1.1, default) or 5
	clean     bool
	keepalive uint16
	willTopic string
	will      []byte
	noAutoAck bool
	password  *string // nil: "any"
}

// dial connects and returns the client and the CONNACK.
func dial(t testing.TB, addr string, o connectOpts) (*client, packets.Packet) {
	t.Helper()
	return dialWithProps(t, addr, o)
}

// dialRaw connects without sending anything: the test writes raw bytes
// (c.nc.Write) and reads what the server answers as packets of version v.
func dialRaw(t testing.TB, addr string, v byte) *client {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := &client{t: t, nc: nc, v: v, autoAck: true, in: make(chan packets.Packet, 1024), done: make(chan struct{})}
	t.Cleanup(func() { nc.Close(); <-c.done })
	go c.readLoop()
	return c
}

// encodePacket returns the bytes of pk as version v.
func encodePacket(t testing.TB, v byte, pk packets.Packet) []byte {
	t.Helper()
	pk.ProtocolVersion = v
	pk.Mods.AllowResponseInfo = true
	var buf bytes.Buffer
	var err error
	switch pk.FixedHeader.Type {
	case packets.Connect:
		err = pk.ConnectEncode(&buf)
	case packets.Publish:
		err = pk.PublishEncode(&buf)
	case packets.Subscribe:
		err = pk.SubscribeEncode(&buf)
	case packets.Pingreq:
		err = pk.PingreqEncode(&buf)
	case packets.Disconnect:
		err = pk.DisconnectEncode(&buf)
	default:
		t.Fatalf("encodePacket: type %d", pk.FixedHeader.Type)
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// connectPacket is a CONNECT of user (also the client id), clean.
func connectPacket(user string, v byte) packets.Packet {
	return packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: v,
		Connect: packets.ConnectParams{ProtocolName: []byte("MQTT"), ClientIdentifier: user, Clean: true, Keepalive: 60,
			Username: []byte(user), UsernameFlag: true}}
}

// dialWithProps is dial with MQTT 5 CONNECT properties.
func dialWithProps(t testing.TB, addr string, o connectOpts, props ...func(*packets.Properties)) (*client, packets.Packet) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if o.v == 0 {
		o.v = 4
	}
	if o.keepalive == 0 {
		o.keepalive = 60
	}
	c := &client{t: t, nc: nc, v: o.v, autoAck: !o.noAutoAck, in: make(chan packets.Packet, 1024), done: make(chan struct{})}
	t.Cleanup(func() { nc.Close(); <-c.done })
	go c.readLoop()
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: o.v}
	pk.Connect = packets.ConnectParams{
		ProtocolName: []byte("MQTT"), ClientIdentifier: o.id, Clean: o.clean, Keepalive: o.keepalive,
		Username: []byte(o.user), UsernameFlag: o.user != "", Password: []byte("any"), PasswordFlag: true,
	}
	if o.password != nil {
		pk.Connect.Password, pk.Connect.PasswordFlag = []byte(*o.password), *o.password != ""
	}
	for _, f := range props {
		f(&pk.Properties)
	}
	if o.willTopic != "" {
		pk.Connect.WillFlag, pk.Connect.WillTopic, pk.Connect.WillPayload = true, o.willTopic, o.will
	}
	c.write(pk)
	return c, c.expect(packets.Connack)
}

func (c *client) write(pk packets.Packet) {
	c.t.Helper()
	pk.ProtocolVersion = c.v
	pk.Mods.AllowResponseInfo = true // else mochi's codec leaves the response topic out
	var buf bytes.Buffer
	var err error
	switch pk.FixedHeader.Type {
	case packets.Connect:
		err = pk.ConnectEncode(&buf)
	case packets.Publish:
		err = pk.PublishEncode(&buf)
	case packets.Puback:
		err = pk.PubackEncode(&buf)
	case packets.Subscribe:
		err = pk.SubscribeEncode(&buf)
	case packets.Unsubscribe:
		err = pk.UnsubscribeEncode(&buf)
	case packets.Disconnect:
		err = pk.DisconnectEncode(&buf)
	case packets.Pingreq:
		err = pk.PingreqEncode(&buf)
	}
	if err != nil {
		c.t.Fatalf("encode %v: %v", pk.FixedHeader.Type, err)
	}
	if _, err := c.nc.Write(buf.Bytes()); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *client) readLoop() {
	defer close(c.done)
	r := bufio.NewReader(c.nc)
	for {
		b, err := r.ReadByte()
		if err != nil {
			c.setErr(err)
			return
		}
		var pk packets.Packet
		pk.ProtocolVersion = c.v
		if err := pk.FixedHeader.Decode(b); err != nil {
			c.setErr(err)
			return
		}
		n, _, err := packets.DecodeLength(r)
		if err != nil {
			c.setErr(err)
			return
		}
		pk.FixedHeader.Remaining = n
		body := make([]byte, n)
		if _, err := io.ReadFull(r, body); err != nil {
			c.setErr(err)
			return
		}
		switch pk.FixedHeader.Type {
		case packets.Connack:
			err = pk.ConnackDecode(body)
		case packets.Publish:
			err = pk.PublishDecode(body)
		case packets.Puback:
			err = pk.PubackDecode(body)
		case packets.Suback:
			err = pk.SubackDecode(body)
		case packets.Unsuback:
			err = pk.UnsubackDecode(body)
		case packets.Disconnect:
			err = pk.DisconnectDecode(body)
		}
		if err != nil {
			c.setErr(err)
			return
		}
		if pk.FixedHeader.Type == packets.Publish && pk.FixedHeader.Qos == 1 && c.autoAck {
			ack := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback}, PacketID: pk.PacketID, ProtocolVersion: c.v}
			var buf bytes.Buffer
			_ = ack.PubackEncode(&buf)
			_, _ = c.nc.Write(buf.Bytes())
		}
		c.in <- pk
	}
}

func (c *client) setErr(err error) {
	c.mu.Lock()
	c.err = err
	c.mu.Unlock()
}

// expect returns the next packet, which must be of type typ (PINGRESPs
// are skipped). While waiting for an acknowledgement, PUBLISHes are set
// aside for later: the server may send a response or an error before the
// PUBACK of the request.
func (c *client) expect(typ byte) packets.Packet {
	c.t.Helper()
	if typ == packets.Publish && len(c.stash) > 0 {
		pk := c.stash[0]
		c.stash = c.stash[1:]
		return pk
	}
	for {
		select {
		case pk := <-c.in:
			if pk.FixedHeader.Type == packets.Pingresp {
				continue
			}
			if pk.FixedHeader.Type == packets.Publish && typ != packets.Publish && typ != packets.Disconnect {
				c.stash = append(c.stash, pk)
				continue
			}
			if pk.FixedHeader.Type != typ {
				c.t.Fatalf("got packet type %d (topic %q, reason %#x), want %d", pk.FixedHeader.Type, pk.TopicName, pk.ReasonCode, typ)
			}
			return pk
		case <-c.done:
			select {
			case pk := <-c.in: // read before the end
				if pk.FixedHeader.Type == typ {
					return pk
				}
			default:
			}
			c.t.Fatalf("connection ended waiting for packet type %d: %v", typ, c.err)
		case <-time.After(wait):
			c.t.Fatalf("no packet of type %d within %v", typ, wait)
		}
	}
}

// publishOn waits for the next PUBLISH and checks its topic.
func (c *client) publishOn(topic string) packets.Packet {
	c.t.Helper()
	pk := c.expect(packets.Publish)
	if pk.TopicName != topic {
		c.t.Fatalf("PUBLISH on %q (%s), want topic %q", pk.TopicName, pk.Payload, topic)
	}
	return pk
}

// message waits for a chat message on topic.
func (c *client) message(topic string) chat.Message {
	c.t.Helper()
	pk := c.publishOn(topic)
	var m chat.Message
	if err := json.Unmarshal(pk.Payload, &m); err != nil {
		c.t.Fatalf("payload %s: %v", pk.Payload, err)
	}
	return m
}

func (c *client) id() uint16 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nextID++
	return c.nextID
}

func (c *client) subscribe(qos byte, filters ...string) []byte {
	c.t.Helper()
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, PacketID: c.id()}
	for _, f := range filters {
		pk.Filters = append(pk.Filters, packets.Subscription{Filter: f, Qos: qos})
	}
	c.write(pk)
	return c.expect(packets.Suback).ReasonCodes
}

func (c *client) unsubscribe(filters ...string) {
	c.t.Helper()
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Unsubscribe, Qos: 1}, PacketID: c.id()}
	for _, f := range filters {
		pk.Filters = append(pk.Filters, packets.Subscription{Filter: f})
	}
	c.write(pk)
	c.expect(packets.Unsuback)
}

// publish sends a PUBLISH; for QoS 1 it returns the PUBACK.
func (c *client) publish(qos byte, topic, payload string, props ...func(*packets.Properties)) packets.Packet {
	c.t.Helper()
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: qos}, TopicName: topic, Payload: []byte(payload)}
	if qos > 0 {
		pk.PacketID = c.id()
	}
	for _, f := range props {
		f(&pk.Properties)
	}
	c.write(pk)
	if qos == 1 {
		return c.expect(packets.Puback)
	}
	return packets.Packet{}
}

// ended waits until the server closed the connection.
func (c *client) ended() {
	c.t.Helper()
	select {
	case <-c.done:
	case <-time.After(wait):
		c.t.Fatal("the server did not close the connection")
	}
}

// quiet checks that nothing but pings arrived so far, after a round trip
// (a PINGREQ answered means everything sent before it was read).
func (c *client) quiet() {
	c.t.Helper()
	if len(c.stash) > 0 {
		c.t.Fatalf("unexpected PUBLISH on %q: %s", c.stash[0].TopicName, c.stash[0].Payload)
	}
	c.write(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pingreq}})
	for {
		select {
		case pk := <-c.in:
			if pk.FixedHeader.Type == packets.Pingresp {
				return
			}
			c.t.Fatalf("unexpected packet type %d on %q: %s", pk.FixedHeader.Type, pk.TopicName, pk.Payload)
		case <-time.After(wait):
			c.t.Fatal("no PINGRESP")
		}
	}
}

// --- server and chat-side helpers ----------------------------------------------

type env struct {
	t     testing.TB
	svc   *chat.Service
	store chat.Store
	gw    *mqttgw.Gateway
	addr  string
	http  string // base URL of the HTTP server (MQTT over WebSocket at /mqtt)
}

func start(t testing.TB, cfg mqttgw.Config) *env {
	t.Helper()
	return startWith(t, chat.Config{}, cfg)
}

// startWith is start with chat settings (an Authenticator, say).
func startWith(t testing.TB, ccfg chat.Config, cfg mqttgw.Config) *env {
	t.Helper()
	testutil.CheckGoroutineLeaks(t)
	store := chat.NewMemStore()
	if ccfg.Store == nil {
		ccfg.Store = store
	}
	ccfg.RateBurst, ccfg.RatePerSecond = 1000, 1000
	svc, err := chat.New(ccfg)
	if err != nil {
		t.Fatal(err)
	}
	gw, err := mqttgw.New(svc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- gw.Serve(ln) }()
	e := &env{t: t, svc: svc, store: store, gw: gw, addr: ln.Addr().String()}
	e.http = testutil.StartHTTP(t, gw)
	t.Cleanup(func() {
		_ = svc.Close()
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		if err := gw.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := <-served; !errors.Is(err, mqttgw.ErrClosed) {
			t.Errorf("Serve returned %v", err)
		}
		_ = store.Close()
	})
	return e
}

// chatUser is a user of another gateway: a chat session whose events are
// collected.
type chatUser struct {
	t    testing.TB
	sess *chat.Session
	evs  chan *chat.Event
}

func (e *env) chatUser(nick string, rooms ...string) *chatUser {
	e.t.Helper()
	u := &chatUser{t: e.t, evs: make(chan *chat.Event, 1024)}
	sess, err := e.svc.Connect(context.Background(), chat.ConnectParams{Nickname: nick, Sink: chat.SinkFunc(func(ev *chat.Event) {
		select {
		case u.evs <- ev:
		default:
		}
	})})
	if err != nil {
		e.t.Fatal(err)
	}
	u.sess = sess
	for _, r := range rooms {
		if _, err := sess.Join(context.Background(), r, chat.JoinOptions{}); err != nil {
			e.t.Fatal(err)
		}
	}
	return u
}

// next returns the next event matching f, skipping others.
func (u *chatUser) next(what string, f func(*chat.Event) bool) *chat.Event {
	u.t.Helper()
	deadline := time.After(wait)
	for {
		select {
		case ev := <-u.evs:
			if f(ev) {
				return ev
			}
		case <-deadline:
			u.t.Fatalf("no %s within %v", what, wait)
		}
	}
}

func (u *chatUser) send(room, text string) chat.Message {
	u.t.Helper()
	m, err := u.sess.Send(context.Background(), room, text, "")
	if err != nil {
		u.t.Fatal(err)
	}
	return m
}
