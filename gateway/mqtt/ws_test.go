package mqttgw_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/banter-chat/banter/chat"
	mqttgw "github.com/banter-chat/banter/gateway/mqtt"
	"github.com/coder/websocket"
	"github.com/mochi-mqtt/server/v2/packets"
)

// wsStream reads MQTT packets from the binary messages of a WebSocket,
// whatever their framing (a message may hold several packets, or part of
// one).
type wsStream struct {
	t  testing.TB
	ws *websocket.Conn
	r  *bufio.Reader
}

func dialWS(t testing.TB, base string) *wsStream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/mqtt", &websocket.DialOptions{Subprotocols: []string{"mqtt"}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Header.Get("Sec-WebSocket-Protocol") != "mqtt" {
		t.Fatalf("subprotocol %q", resp.Header.Get("Sec-WebSocket-Protocol"))
	}
	t.Cleanup(func() { ws.CloseNow() })
	pr, pw := io.Pipe()
	go func() {
		for {
			typ, b, err := ws.Read(context.Background())
			if err != nil {
				pw.CloseWithError(err)
				return
			}
			if typ != websocket.MessageBinary {
				pw.CloseWithError(io.ErrUnexpectedEOF)
				return
			}
			if _, err := pw.Write(b); err != nil {
				return
			}
		}
	}()
	return &wsStream{t: t, ws: ws, r: bufio.NewReader(pr)}
}

func (s *wsStream) send(b []byte) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := s.ws.Write(ctx, websocket.MessageBinary, b); err != nil {
		s.t.Fatal(err)
	}
}

// next reads the next packet (version v).
func (s *wsStream) next(v byte) packets.Packet {
	s.t.Helper()
	h, err := s.r.ReadByte()
	if err != nil {
		s.t.Fatalf("read: %v", err)
	}
	var pk packets.Packet
	pk.ProtocolVersion = v
	if err := pk.FixedHeader.Decode(h); err != nil {
		s.t.Fatal(err)
	}
	n, _, err := packets.DecodeLength(s.r)
	if err != nil {
		s.t.Fatal(err)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(s.r, body); err != nil {
		s.t.Fatal(err)
	}
	pk.FixedHeader.Remaining = n
	switch pk.FixedHeader.Type {
	case packets.Connack:
		err = pk.ConnackDecode(body)
	case packets.Suback:
		err = pk.SubackDecode(body)
	case packets.Puback:
		err = pk.PubackDecode(body)
	case packets.Publish:
		err = pk.PublishDecode(body)
	}
	if err != nil {
		s.t.Fatal(err)
	}
	return pk
}

// TestWebSocketFraming: over /mqtt a packet may span WebSocket messages and
// a message may carry several packets (MQTT 6.0); the server's replies to
// one read leave in one message.
func TestWebSocketFraming(t *testing.T) {
	e := start(t, mqttgw.Config{})
	bob := e.chatUser("bob", "general")
	s := dialWS(t, e.http)
	connect := encodePacket(t, 5, connectPacket("wsalice", 5))
	s.send(connect[:3]) // a CONNECT in three messages
	s.send(connect[3:10])
	s.send(connect[10:])
	if ack := s.next(5); ack.FixedHeader.Type != packets.Connack || ack.ReasonCode != 0 {
		t.Fatalf("CONNACK %+v", ack.FixedHeader)
	}
	// SUBSCRIBE and a PUBLISH in one message, then a PUBLISH split in two
	// whose second half comes with a third PUBLISH.
	p2 := encodePacket(t, 5, publishPacket(3, 1, "banter/rooms/general", `{"text":"two","clientId":"w2"}`))
	s.send(append(encodePacket(t, 5, subscribePacket(1, 1, "banter/rooms/general")),
		encodePacket(t, 5, publishPacket(2, 1, "banter/rooms/general", `{"text":"one","clientId":"w1"}`))...))
	s.send(p2[:7])
	s.send(append(append([]byte{}, p2[7:]...), encodePacket(t, 5, publishPacket(4, 1, "banter/rooms/general", "three"))...))
	var acks []uint16
	var texts []string
	for len(acks) < 3 || len(texts) < 3 {
		pk := s.next(5)
		switch pk.FixedHeader.Type {
		case packets.Suback:
			if pk.ReasonCodes[0] != 1 {
				t.Fatalf("SUBACK %v", pk.ReasonCodes)
			}
		case packets.Puback:
			acks = append(acks, pk.PacketID)
		case packets.Publish:
			var m chat.Message
			_ = json.Unmarshal(pk.Payload, &m)
			texts = append(texts, m.Text)
			ack := []byte{packets.Puback << 4, 2, byte(pk.PacketID >> 8), byte(pk.PacketID)}
			s.send(ack)
		}
	}
	if !equal(acks, []uint16{2, 3, 4}) || strings.Join(texts, ",") != "one,two,three" {
		t.Fatalf("acks %v, messages %v", acks, texts)
	}
	for _, want := range []string{"one", "two", "three"} {
		bob.next(want, isMessage(want))
	}
	// A text frame is not MQTT [MQTT-6.0.0-1]: DISCONNECT 0x81, closed.
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := s.ws.Write(ctx, websocket.MessageText, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if pk := s.next(5); pk.FixedHeader.Type != packets.Disconnect {
		t.Fatalf("after a text frame: packet type %d", pk.FixedHeader.Type)
	}
	bob.next("wsalice left", func(ev *chat.Event) bool {
		return ev.Kind == chat.EventPresence && ev.Presence.Nickname == "wsalice" && ev.Presence.Action == chat.PresenceLeft
	})
}

// TestWebSocketHandshakeRefusals: what is not an MQTT WebSocket handshake
// gets a clear HTTP error.
func TestWebSocketHandshakeRefusals(t *testing.T) {
	e := start(t, mqttgw.Config{})
	for _, tc := range []struct {
		name   string
		method string
		header map[string]string
		status int
	}{
		{"plain GET", http.MethodGet, nil, http.StatusBadRequest},
		{"POST", http.MethodPost, map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}, http.StatusMethodNotAllowed},
		{"bad key", http.MethodGet, map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "short"}, http.StatusBadRequest},
		{"version 8", http.MethodGet, map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "8", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}, http.StatusBadRequest},
	} {
		req, _ := http.NewRequest(tc.method, e.http+"/mqtt", nil)
		for k, v := range tc.header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || !bytes.Contains(body, []byte("MQTT over WebSocket")) {
			t.Errorf("%s: %d %q", tc.name, resp.StatusCode, body)
		}
	}
}

func equal(a, b []uint16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
