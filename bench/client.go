package bench

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The load generator's client: Engine.IO v4 / Socket.IO v5 over WebSocket on
// a plain net.Conn, one goroutine per connection at most. It is written here,
// not taken from nbio (already in go.mod), because nbio's client cannot bind a
// source address (needed past ~28k connections per address) and a blocking
// reader gives latencies without an event-loop hop. It speaks only what the
// benchmark needs: unfragmented text frames, pings, close.

// Errors of the client.
var (
	ErrHandshake = errors.New("bench: handshake failed")
	ErrProtocol  = errors.New("bench: protocol error")
	ErrClosed    = errors.New("bench: connection closed by server")
)

// conn is one Socket.IO client connection on the "/" namespace.
type conn struct {
	c   net.Conn
	buf []byte // read buffer; buf[r:w] is unread
	r   int
	w   int

	wmu  sync.Mutex
	wbuf []byte
}

const maxFrame = 1 << 20

// dial connects to addr (host:port) from the source IP local (nil: any),
// performs the WebSocket upgrade, the Engine.IO open and the Socket.IO
// CONNECT, and returns once the server's CONNECT reply arrived.
func dial(ctx context.Context, addr string, local net.IP) (*conn, error) {
	d := net.Dialer{}
	if local != nil {
		d.LocalAddr = &net.TCPAddr{IP: local}
		d.Control = bindNoPort
	}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &conn{c: nc, buf: make([]byte, 1024)}
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	if err := c.handshake(addr); err != nil {
		nc.Close()
		return nil, err
	}
	_ = nc.SetDeadline(time.Time{})
	return c, nil
}

// ipBindAddressNoPort is IP_BIND_ADDRESS_NO_PORT (linux/in.h): bind the
// source address but pick the port at connect time. Without it every bind
// searches the port space for a free port, which costs milliseconds of kernel
// time per connection once thousands are bound.
const ipBindAddressNoPort = 24

func bindNoPort(_, _ string, rc syscall.RawConn) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, ipBindAddressNoPort, 1)
	})
	return errors.Join(err, serr)
}

func (c *conn) handshake(host string) error {
	var key [16]byte
	_, _ = crand.Read(key[:])
	k := base64.StdEncoding.EncodeToString(key[:])
	req := "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: " + host +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + k +
		"\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(c.c, req); err != nil {
		return err
	}
	// Read the response head; bytes after it (the Engine.IO open packet may
	// share the segment) stay buffered.
	for {
		if i := bytes.Index(c.buf[c.r:c.w], []byte("\r\n\r\n")); i >= 0 {
			head := string(c.buf[c.r : c.r+i])
			c.r += i + 4
			if !strings.HasPrefix(head, "HTTP/1.1 101") {
				line, _, _ := strings.Cut(head, "\r\n")
				return fmt.Errorf("%w: %q", ErrHandshake, line)
			}
			h := sha1.Sum([]byte(k + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
			if !strings.Contains(strings.ToLower(head), strings.ToLower("sec-websocket-accept: "+base64.StdEncoding.EncodeToString(h[:]))) {
				return fmt.Errorf("%w: bad Sec-WebSocket-Accept", ErrHandshake)
			}
			break
		}
		if err := c.fill(); err != nil {
			return fmt.Errorf("%w: %w", ErrHandshake, err)
		}
	}
	p, err := c.readText()
	if err != nil {
		return err
	}
	if len(p) == 0 || p[0] != '0' {
		return fmt.Errorf("%w: expected Engine.IO open, got %.40q", ErrProtocol, p)
	}
	if err := c.writeText([]byte("40")); err != nil {
		return err
	}
	for {
		p, err := c.readText()
		if err != nil {
			return err
		}
		if bytes.HasPrefix(p, []byte("40")) {
			return nil
		}
		if bytes.HasPrefix(p, []byte("44")) {
			return fmt.Errorf("%w: connect refused: %.80s", ErrHandshake, p)
		}
	}
}

// fill reads more bytes into buf, compacting or growing it first.
func (c *conn) fill() error {
	if c.r > 0 && c.r == c.w {
		c.r, c.w = 0, 0
	}
	if c.w == len(c.buf) {
		if c.r > 0 {
			n := copy(c.buf, c.buf[c.r:c.w])
			c.r, c.w = 0, n
		} else {
			if len(c.buf) >= maxFrame+14 {
				return fmt.Errorf("%w: frame over %d bytes", ErrProtocol, maxFrame)
			}
			nb := make([]byte, 2*len(c.buf))
			copy(nb, c.buf[:c.w])
			c.buf = nb
		}
	}
	n, err := c.c.Read(c.buf[c.w:])
	c.w += n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// readFrame returns the next WebSocket frame; the payload is valid until the
// next call.
func (c *conn) readFrame() (op byte, payload []byte, err error) {
	for {
		b := c.buf[c.r:c.w]
		if len(b) >= 2 {
			fin := b[0]&0x80 != 0
			op = b[0] & 0x0f
			if b[1]&0x80 != 0 {
				return 0, nil, fmt.Errorf("%w: masked frame from server", ErrProtocol)
			}
			n := int(b[1] & 0x7f)
			hl := 2
			ok := true
			switch n {
			case 126:
				hl = 4
				if ok = len(b) >= hl; ok {
					n = int(binary.BigEndian.Uint16(b[2:]))
				}
			case 127:
				hl = 10
				if ok = len(b) >= hl; ok {
					l := binary.BigEndian.Uint64(b[2:])
					if l > maxFrame {
						return 0, nil, fmt.Errorf("%w: frame of %d bytes", ErrProtocol, l)
					}
					n = int(l)
				}
			}
			if ok && len(b) >= hl+n {
				if !fin || op == 0 {
					return 0, nil, fmt.Errorf("%w: fragmented frame", ErrProtocol)
				}
				c.r += hl + n
				return op, b[hl : hl+n], nil
			}
		}
		if err := c.fill(); err != nil {
			return 0, nil, err
		}
	}
}

// readText returns the next Engine.IO text message, answering WebSocket and
// Engine.IO pings on the way.
func (c *conn) readText() ([]byte, error) {
	for {
		op, p, err := c.readFrame()
		if err != nil {
			return nil, err
		}
		switch op {
		case 1:
			if len(p) == 1 && p[0] == '2' { // Engine.IO ping
				if err := c.writeText([]byte("3")); err != nil {
					return nil, err
				}
				continue
			}
			return p, nil
		case 8:
			return nil, ErrClosed
		case 9:
			if err := c.writeFrame(0xA, p); err != nil {
				return nil, err
			}
		case 2, 10:
			// Binary messages and pongs are not part of the workload.
		default:
			return nil, fmt.Errorf("%w: opcode %d", ErrProtocol, op)
		}
	}
}

func (c *conn) writeText(p []byte) error { return c.writeFrame(1, p) }

// writeFrame writes one masked frame (clients must mask, RFC 6455 5.3).
func (c *conn) writeFrame(op byte, p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	b := c.wbuf[:0]
	b = append(b, 0x80|op)
	switch n := len(p); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n < 1<<16:
		b = append(b, 0x80|126, byte(n>>8), byte(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	var mask [4]byte
	binary.LittleEndian.PutUint32(mask[:], rand.Uint32())
	b = append(b, mask[:]...)
	start := len(b)
	b = append(b, p...)
	for i := range p {
		b[start+i] ^= mask[i&3]
	}
	c.wbuf = b
	_, err := c.c.Write(b)
	return err
}

func (c *conn) close() error { return c.c.Close() }
