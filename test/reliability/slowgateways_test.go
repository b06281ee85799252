package reliability_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/banter-chat/banter/app"
	"github.com/banter-chat/banter/internal/testutil"
)

// rawStalled is a client of another gateway on a raw socket with a tiny
// receive buffer: it subscribes to a room, then stops reading.
type rawStalled struct {
	name string
	c    net.Conn
	br   *bufio.Reader
	// endsWith checks what the server sent last before it closed the
	// connection.
	endsWith func(tail []byte) bool
	n        int // bytes read after the flood
}

func dialRaw(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := dialer(4096).Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// stalledTCP says hello in JSON lines mode and joins room.
func stalledTCP(t *testing.T, addr, nick, room string) *rawStalled {
	c := dialRaw(t, addr)
	fmt.Fprintf(c, `{"type":"hello","ref":1,"nickname":%q,"rooms":[%q]}`+"\n", nick, room)
	br := bufio.NewReader(c)
	for {
		line, err := br.ReadBytes('\n')
		if err != nil {
			t.Fatalf("tcp hello: %v", err)
		}
		if bytes.Contains(line, []byte(`"type":"reply"`)) {
			if !bytes.Contains(line, []byte(`"ok":true`)) {
				t.Fatalf("tcp hello: %s", line)
			}
			break
		}
	}
	return &rawStalled{name: "tcp", c: c, br: br, endsWith: func(tail []byte) bool {
		return bytes.HasSuffix(tail, []byte(`"bye","data":{"reason":"slow_consumer"}}`+"\n"))
	}}
}

// stalledWS says hello over /ws and joins room.
func stalledWS(t *testing.T, base, nick, room string) *rawStalled {
	addr := strings.TrimPrefix(base, "http://")
	c := dialRaw(t, addr)
	key := make([]byte, 16)
	_, _ = rand.Read(key)
	fmt.Fprintf(c, "GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
		addr, base64.StdEncoding.EncodeToString(key))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("/ws upgrade: %v %v", resp, err)
	}
	writeClientFrame(t, c, []byte(fmt.Sprintf(`{"type":"hello","ref":1,"nickname":%q,"rooms":[%q]}`, nick, room)))
	for {
		payload := readFrame(t, br)
		if bytes.Contains(payload, []byte(`"type":"reply"`)) {
			if !bytes.Contains(payload, []byte(`"ok":true`)) {
				t.Fatalf("/ws hello: %s", payload)
			}
			break
		}
	}
	// The server closes with 1013 "slow consumer": the close frame is
	// 0x88, its length, then the status code 0x03F5.
	return &rawStalled{name: "/ws", c: c, br: br, endsWith: func(tail []byte) bool {
		return bytes.Contains(tail, []byte{0x03, 0xF5}) && bytes.Contains(tail, []byte("slow consumer"))
	}}
}

// stalledSSE opens a REST session and the room's event stream.
func stalledSSE(t *testing.T, base, nick, room string) *rawStalled {
	resp, err := http.Post(base+"/api/v1/sessions", "application/json", strings.NewReader(fmt.Sprintf(`{"nickname":%q}`, nick)))
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		OK    bool   `json:"ok"`
		Token string `json:"token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&s)
	resp.Body.Close()
	if !s.OK {
		t.Fatalf("REST session: %d", resp.StatusCode)
	}
	addr := strings.TrimPrefix(base, "http://")
	c := dialRaw(t, addr)
	fmt.Fprintf(c, "GET /api/v1/rooms/%s/events?token=%s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n", room, s.Token, addr)
	br := bufio.NewReader(c)
	sresp, err := http.ReadResponse(br, nil)
	if err != nil || sresp.StatusCode != http.StatusOK {
		t.Fatalf("SSE: %v %v", sresp, err)
	}
	return &rawStalled{name: "SSE", c: c, br: br, endsWith: func(tail []byte) bool {
		return bytes.Contains(tail, []byte("event: bye")) && bytes.Contains(tail, []byte("slow_consumer"))
	}}
}

func writeClientFrame(t *testing.T, c net.Conn, payload []byte) {
	t.Helper()
	var h []byte
	h = append(h, 0x81) // FIN, text
	switch n := len(payload); {
	case n < 126:
		h = append(h, 0x80|byte(n))
	default:
		h = append(h, 0x80|126)
		h = binary.BigEndian.AppendUint16(h, uint16(n))
	}
	mask := []byte{1, 2, 3, 4}
	h = append(h, mask...)
	masked := make([]byte, len(payload))
	for i, b := range payload {
		masked[i] = b ^ mask[i%4]
	}
	if _, err := c.Write(append(h, masked...)); err != nil {
		t.Fatal(err)
	}
}

func readFrame(t *testing.T, br *bufio.Reader) []byte {
	t.Helper()
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		t.Fatalf("read frame: %v", err)
	}
	n := int(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		_, _ = io.ReadFull(br, b[:])
		n = int(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		_, _ = io.ReadFull(br, b[:])
		n = int(binary.BigEndian.Uint64(b[:]))
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(br, p); err != nil {
		t.Fatalf("read frame: %v", err)
	}
	return p
}

// Clients of /ws, TCP and SSE that stop reading are cut off as slow
// consumers (each gateway's own bounded queue), and a Socket.IO reader in
// the same room still gets every message in order.
func TestSlowConsumerOtherGateways(t *testing.T) {
	const (
		senders = 2
		perSend = 60
		text    = 60_000
		room    = "flood"
	)
	base, a, _ := startApp(t, app.Config{MaxMessageBytes: text, RateBurst: 1_000_000, RatePerSecond: 1_000_000, TCPAddr: "127.0.0.1:0"})
	stalled := []*rawStalled{
		stalledTCP(t, a.TCPAddr().String(), "tcp-stalled", room),
		stalledWS(t, base, "ws-stalled", room),
		stalledSSE(t, base, "sse-stalled", room),
	}
	reader := mustDial(t, base, dialOptions{})
	mustHello(t, reader, "reader", room)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, senders)
	for s := range senders {
		c := mustDial(t, base, dialOptions{})
		mustHello(t, c, fmt.Sprintf("sender%d", s), room)
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := strings.Repeat(string(rune('a'+s)), text)
			for i := range perSend {
				if err := c.ok(ctx, "send", map[string]any{"room": room, "text": body, "clientId": fmt.Sprintf("s%d-%d", s, i)}, nil); err != nil {
					errs <- fmt.Errorf("sender%d message %d: %w", s, i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	total := senders * perSend
	seq := int64(0)
	if _, err := reader.waitEvent(ctx, 0, func(e event) bool {
		var m message
		if e.Name != "message" || json.Unmarshal(e.Arg, &m) != nil {
			return false
		}
		if m.Seq != seq+1 {
			t.Errorf("reader: seq %d after %d", m.Seq, seq)
		}
		seq = m.Seq
		return seq == int64(total)
	}); err != nil {
		t.Fatalf("reader got %d of %d messages: %v", seq, total, err)
	}
	// Each stalled client, reading again, finds the server closed it after
	// far less than the 7.2 MB flood, with its gateway's goodbye.
	for _, s := range stalled {
		_ = s.c.SetReadDeadline(time.Now().Add(30 * time.Second))
		// Read until the connection ends or the goodbye arrives (an SSE
		// response ends with its last chunk; the HTTP connection may stay
		// open for another request).
		var tail []byte
		buf := make([]byte, 64<<10)
		var err error
		for {
			var n int
			n, err = s.br.Read(buf)
			tail = append(tail, buf[:n]...)
			if len(tail) > 4096 {
				tail = tail[len(tail)-4096:]
			}
			s.n += n
			if err != nil || s.endsWith(tail) {
				break
			}
		}
		if err != nil && err != io.EOF && !isReset(err) {
			t.Errorf("%s: reading after the flood: %v (after %d bytes)", s.name, err, s.n)
			continue
		}
		if s.n >= senders*perSend*text {
			t.Errorf("%s: received the whole flood (%d bytes): not cut off", s.name, s.n)
		}
		if !s.endsWith(tail) {
			t.Errorf("%s: closed after %d bytes without the slow-consumer goodbye; last bytes %q", s.name, s.n, tail[max(0, len(tail)-200):])
		}
	}
	// Their chat sessions end (the REST session outlives its stream: it
	// may open another and resume).
	testutil.Eventually(t, 15*time.Second, func() bool {
		for _, u := range a.Service().Users() {
			if u.Nickname == "tcp-stalled" || u.Nickname == "ws-stalled" {
				return false
			}
		}
		return true
	}, "the stalled TCP and /ws users went offline")
	if err := reader.ok(ctx, "rooms", nil, nil); err != nil {
		t.Errorf("reader after the flood: %v", err)
	}
}

func isReset(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "broken pipe"))
}
