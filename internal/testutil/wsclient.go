package testutil

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// WSClient is a WebSocket client (RFC 6455) that frames by hand and keeps
// no goroutine: a test can hold many idle connections and count the
// server's goroutines, and can send what a library would refuse (binary
// or unmasked frames).
type WSClient struct {
	Conn net.Conn
	r    *bufio.Reader
}

// DialWebSocket connects to addr and upgrades path with header added
// (Sec-WebSocket-Protocol, Origin); it returns the client and the
// server's answer. A refused upgrade is not an error: Conn is then nil
// and the response says why.
func DialWebSocket(t testing.TB, addr, path string, header http.Header) (*WSClient, *http.Response) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	var key [16]byte
	_, _ = rand.Read(key[:])
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n",
		path, addr, base64.StdEncoding.EncodeToString(key[:]))
	for k, vs := range header {
		for _, v := range vs {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	b.WriteString("\r\n")
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(nc, b.String()); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReaderSize(nc, 4096)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = nc.SetDeadline(time.Time{})
	if resp.StatusCode != http.StatusSwitchingProtocols {
		nc.Close()
		return &WSClient{}, resp
	}
	t.Cleanup(func() { nc.Close() })
	return &WSClient{Conn: nc, r: r}, resp
}

// Send writes one frame: opcode op (1 text, 2 binary, 8 close, 9 ping),
// masked unless unmasked is set (which a server must refuse).
func (c *WSClient) Send(op byte, payload []byte, unmasked bool) error {
	b := []byte{0x80 | op}
	mask := byte(0x80)
	if unmasked {
		mask = 0
	}
	switch n := len(payload); {
	case n < 126:
		b = append(b, mask|byte(n))
	case n <= 0xffff:
		b = append(b, mask|126, byte(n>>8), byte(n))
	default:
		b = append(b, mask|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	if unmasked {
		b = append(b, payload...)
	} else {
		var k [4]byte
		_, _ = rand.Read(k[:])
		b = append(b, k[:]...)
		for i, x := range payload {
			b = append(b, x^k[i&3])
		}
	}
	_ = c.Conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := c.Conn.Write(b)
	return err
}

// SendText writes one masked text frame.
func (c *WSClient) SendText(s string) error { return c.Send(1, []byte(s), false) }

// Read reads the next frame (servers send them unfragmented), waiting up
// to 10 seconds.
func (c *WSClient) Read() (op byte, payload []byte, err error) {
	_ = c.Conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var h [2]byte
	if _, err := io.ReadFull(c.r, h[:]); err != nil {
		return 0, nil, err
	}
	n := int(h[1] & 0x7f)
	switch n {
	case 126:
		var l [2]byte
		if _, err := io.ReadFull(c.r, l[:]); err != nil {
			return 0, nil, err
		}
		n = int(binary.BigEndian.Uint16(l[:]))
	case 127:
		var l [8]byte
		if _, err := io.ReadFull(c.r, l[:]); err != nil {
			return 0, nil, err
		}
		n = int(binary.BigEndian.Uint64(l[:]))
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(c.r, payload); err != nil {
		return 0, nil, err
	}
	return h[0] & 0x0f, payload, nil
}

// ReadText reads frames until a text frame containing every one of subs
// and returns it; any other frame than text, ping or pong fails.
func (c *WSClient) ReadText(t testing.TB, subs ...string) string {
	t.Helper()
	for {
		op, p, err := c.Read()
		if err != nil {
			t.Fatalf("waiting for %q: %v", subs, err)
		}
		switch op {
		case 1:
		case 9, 10:
			continue
		default:
			t.Fatalf("waiting for %q: frame with opcode %d (% x)", subs, op, p)
		}
		all := true
		for _, s := range subs {
			all = all && strings.Contains(string(p), s)
		}
		if all {
			return string(p)
		}
	}
}
