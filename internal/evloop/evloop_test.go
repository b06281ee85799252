package evloop_test

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/banter-chat/banter/internal/evloop"
)

const waitTimeout = 10 * time.Second

// echo is a handler that writes back what it reads, line by line; "close\n"
// makes the server close the connection from another goroutine.
type echo struct {
	closes chan error
	buf    bytes.Buffer
}

func (e *echo) OnData(c *evloop.Conn, b []byte) {
	e.buf.Write(b)
	for {
		line, err := e.buf.ReadBytes('\n')
		if err != nil {
			e.buf.Write(line) // incomplete: keep it
			return
		}
		if string(line) == "close\n" {
			go c.Close()
			continue
		}
		if err := c.Write(line); err != nil {
			return
		}
	}
}

func (e *echo) OnClose(_ *evloop.Conn, err error) { e.closes <- err }

// serve accepts connections on a loopback listener and adds each to l with
// a handler from newHandler.
func serve(t *testing.T, l *evloop.Loop, newHandler func() evloop.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			if _, err := l.Add(nc, newHandler()); err != nil {
				t.Errorf("Add: %v", err)
			}
		}
	}()
	return ln.Addr().String()
}

func newLoop(t *testing.T, cfg evloop.Config) *evloop.Loop {
	t.Helper()
	l, err := evloop.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l
}

func recvErr(t *testing.T, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(waitTimeout):
		t.Fatal("no OnClose")
		return nil
	}
}

func TestEchoAndCloses(t *testing.T) {
	l := newLoop(t, evloop.Config{})
	closes := make(chan error, 16)
	addr := serve(t, l, func() evloop.Handler { return &echo{closes: closes} })

	// Echo, including a line split over several writes and a large one.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(waitTimeout))
	r := bufio.NewReader(c)
	big := string(bytes.Repeat([]byte("x"), 300_000))
	for _, parts := range [][]string{{"hello\n"}, {"spl", "it\n"}, {big, "\n"}} {
		want := ""
		for _, p := range parts {
			want += p
			if _, err := io.WriteString(c, p); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := r.ReadString('\n'); err != nil || got != want {
			t.Fatalf("echo: %d bytes (want %d), %v", len(got), len(want), err)
		}
	}
	// The peer closes: OnClose with io.EOF.
	c.Close()
	if err := recvErr(t, closes); !errors.Is(err, io.EOF) {
		t.Errorf("peer close: OnClose(%v), want EOF", err)
	}

	// The server closes from another goroutine: OnClose(nil), the peer
	// reads EOF.
	c, err = net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(waitTimeout))
	io.WriteString(c, "close\n")
	if err := recvErr(t, closes); err != nil {
		t.Errorf("Close: OnClose(%v), want nil", err)
	}
	if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Errorf("peer read %d, %v after the server closed", n, err)
	}
}

// A peer that stops reading: bytes the kernel does not take wait in the
// Conn up to MaxWriteBuffer; past it Write fails and the connection closes
// with ErrOverflow. Unsent counts them.
func TestWriteOverflow(t *testing.T) {
	l := newLoop(t, evloop.Config{MaxWriteBuffer: 64 << 10})
	conns := make(chan *evloop.Conn, 1)
	closes := make(chan error, 1)
	addr := serve(t, l, func() evloop.Handler { return &grab{conns: conns, closes: closes} })
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.(*net.TCPConn).SetReadBuffer(4096)
	io.WriteString(c, "x")
	sc := <-conns
	chunk := bytes.Repeat([]byte("y"), 16<<10)
	var werr error
	unsent := 0
	for i := 0; i < 10_000 && werr == nil; i++ {
		werr = sc.Write(chunk)
		unsent = max(unsent, sc.Unsent())
	}
	if !errors.Is(werr, evloop.ErrOverflow) {
		t.Fatalf("Write to a peer that does not read: %v, want ErrOverflow", werr)
	}
	if unsent < 64<<10 {
		t.Errorf("Unsent peaked at %d", unsent)
	}
	if err := recvErr(t, closes); !errors.Is(err, evloop.ErrOverflow) {
		t.Errorf("OnClose(%v), want ErrOverflow", err)
	}
	if err := sc.Write([]byte("z")); err == nil {
		t.Error("Write after the close succeeded")
	}
}

func TestWriteTimeout(t *testing.T) {
	l := newLoop(t, evloop.Config{WriteTimeout: 200 * time.Millisecond, MaxWriteBuffer: 64 << 20})
	conns := make(chan *evloop.Conn, 1)
	closes := make(chan error, 1)
	addr := serve(t, l, func() evloop.Handler { return &grab{conns: conns, closes: closes} })
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "x")
	sc := <-conns
	// More than the kernel buffers on both sides hold: the rest waits in
	// the Conn, and the timeout runs.
	chunk := bytes.Repeat([]byte("y"), 64<<10)
	for range 256 {
		if err := sc.Write(chunk); err != nil {
			if !errors.Is(err, evloop.ErrWriteTimeout) {
				t.Fatal(err)
			}
			break // timed out already
		}
	}
	if err := recvErr(t, closes); !errors.Is(err, evloop.ErrWriteTimeout) {
		t.Errorf("OnClose(%v), want ErrWriteTimeout", err)
	}
}

// grab hands its connection over on the first byte and reports the close.
type grab struct {
	conns  chan *evloop.Conn
	closes chan error
	once   sync.Once
}

func (g *grab) OnData(c *evloop.Conn, _ []byte) { g.once.Do(func() { g.conns <- c }) }
func (g *grab) OnClose(_ *evloop.Conn, err error) {
	g.closes <- err
}

// Loop.Close closes every connection with ErrLoopClosed and refuses new
// ones.
func TestLoopClose(t *testing.T) {
	l, err := evloop.New(evloop.Config{})
	if err != nil {
		t.Fatal(err)
	}
	closes := make(chan error, 8)
	addr := serve(t, l, func() evloop.Handler { return &echo{closes: closes} })
	var peers []net.Conn
	for range 4 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(waitTimeout))
		io.WriteString(c, "hi\n")
		if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
			t.Fatal(err)
		}
		peers = append(peers, c)
	}
	l.Close()
	for range peers {
		if err := recvErr(t, closes); !errors.Is(err, evloop.ErrLoopClosed) {
			t.Errorf("OnClose(%v), want ErrLoopClosed", err)
		}
	}
	for _, c := range peers {
		if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil {
			t.Errorf("peer read %d, %v after Loop.Close", n, err)
		}
	}
	a, b := net.Pipe()
	defer b.Close()
	if _, err := l.Add(a, &echo{closes: closes}); !errors.Is(err, evloop.ErrLoopClosed) {
		t.Errorf("Add after Close: %v", err)
	}
}

// Thousands of connections opened and closed at once, closed by either
// side: a connection's events never reach another one, even when it gets
// the descriptor number of one just closed (the server would close a
// new connection on a stale hang-up event). Every connection that neither
// side meant to close stays open.
func TestChurnNeverClosesTheWrongConnection(t *testing.T) {
	l := newLoop(t, evloop.Config{Pollers: 2})
	var unexpected atomic.Int64
	closes := make(chan error, 1<<14)
	addr := serve(t, l, func() evloop.Handler { return &echo{closes: closes} })
	const workers, rounds = 32, 60
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Errorf("dial: %v", err)
					return
				}
				_ = c.SetDeadline(time.Now().Add(waitTimeout))
				r := bufio.NewReader(c)
				// Three round trips: the connection must stay up.
				for k := range 3 {
					msg := fmt.Sprintf("%d-%d-%d\n", w, i, k)
					io.WriteString(c, msg)
					if got, err := r.ReadString('\n'); err != nil || got != msg {
						unexpected.Add(1)
						break
					}
				}
				switch i % 3 {
				case 0: // the server closes it, from another goroutine
					io.WriteString(c, "close\n")
					if _, err := r.ReadByte(); err == nil {
						unexpected.Add(1)
					}
					c.Close()
				case 1: // the client closes it
					c.Close()
				default: // the client resets it
					c.(*net.TCPConn).SetLinger(0)
					c.Close()
				}
			}
		}()
	}
	wg.Wait()
	if n := unexpected.Load(); n > 0 {
		t.Fatalf("%d connections broke while open", n)
	}
	for range workers * rounds {
		recvErr(t, closes)
	}
}

// A TLS connection is served in blocking mode, with the same handler.
func TestBlockingModeTLS(t *testing.T) {
	l := newLoop(t, evloop.Config{})
	cert := selfSigned(t)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	closes := make(chan error, 2)
	added := make(chan *evloop.Conn, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		c, err := l.Add(nc, &echo{closes: closes})
		if err != nil {
			t.Errorf("Add: %v", err)
		}
		added <- c
	}()
	c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // test certificate
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(waitTimeout))
	io.WriteString(c, "over tls\n")
	if got, err := bufio.NewReader(c).ReadString('\n'); err != nil || got != "over tls\n" {
		t.Fatalf("echo over TLS: %q, %v", got, err)
	}
	if sc := <-added; !sc.Blocking() {
		t.Error("a TLS connection is not in blocking mode")
	}
	c.Close()
	if err := recvErr(t, closes); !errors.Is(err, io.EOF) {
		t.Errorf("OnClose(%v), want EOF", err)
	}
}

func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// A Listener accepts on the poller; its connections are served like added
// ones; Close stops accepting; Detach hands a connection to Go's poller
// with nothing lost.
func TestListenerAndDetach(t *testing.T) {
	l := newLoop(t, evloop.Config{})
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	closes := make(chan error, 16)
	detached := make(chan net.Conn, 1)
	remotes := make(chan net.Addr, 4)
	ls, err := l.Listen(ln, func(remote net.Addr) (*evloop.Conn, evloop.Handler) {
		remotes <- remote
		return new(evloop.Conn), &detacher{echo: echo{closes: closes}, detached: detached}
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := ls.SetSendBuffer(128 << 10); err != nil {
		t.Fatal(err)
	}
	addr := ls.Addr().String()

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(waitTimeout))
	if got := <-remotes; got.String() != c.LocalAddr().String() {
		t.Errorf("remote %v, want %v", got, c.LocalAddr())
	}
	r := bufio.NewReader(c)
	io.WriteString(c, "on the loop\n")
	if got, err := r.ReadString('\n'); err != nil || got != "on the loop\n" {
		t.Fatalf("echo: %q %v", got, err)
	}
	// "detach" hands the connection over: the echo goes on in Go.
	io.WriteString(c, "detach\n")
	nc := <-detached
	defer nc.Close()
	go func() { _, _ = io.Copy(nc, nc) }()
	io.WriteString(c, "in go\n")
	if got, err := r.ReadString('\n'); err != nil || got != "in go\n" {
		t.Fatalf("echo after Detach: %q %v", got, err)
	}
	select {
	case err := <-closes:
		t.Fatalf("OnClose(%v) after Detach", err)
	default:
	}

	// Close stops accepting; the connections stay.
	if err := ls.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(waitTimeout)
	for {
		d, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break
		}
		d.Close()
		if time.Now().After(deadline) {
			t.Fatal("the listener still accepts after Close")
		}
		time.Sleep(10 * time.Millisecond)
	}
	io.WriteString(c, "still here\n")
	if got, err := r.ReadString('\n'); err != nil || got != "still here\n" {
		t.Fatalf("echo after the listener closed: %q %v", got, err)
	}
}

// detacher echoes lines until "detach", then detaches the connection.
type detacher struct {
	echo
	detached chan net.Conn
}

func (d *detacher) OnData(c *evloop.Conn, b []byte) {
	if string(b) == "detach\n" {
		nc, err := c.Detach()
		if err != nil {
			panic(err)
		}
		d.detached <- nc
		return
	}
	d.echo.OnData(c, b)
}

// CloseWhenSent closes once what the Conn holds is written: a peer that
// reads late still gets everything, then EOF.
func TestCloseWhenSent(t *testing.T) {
	l := newLoop(t, evloop.Config{MaxWriteBuffer: 64 << 20})
	conns := make(chan *evloop.Conn, 1)
	closes := make(chan error, 1)
	addr := serve(t, l, func() evloop.Handler { return &grab{conns: conns, closes: closes} })
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "x")
	sc := <-conns
	chunk := bytes.Repeat([]byte("y"), 64<<10)
	const n = 64 // 4 MiB: more than the kernel buffers hold
	for range n {
		if err := sc.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if sc.Unsent() == 0 {
		t.Fatal("nothing held: the test needs a backlog")
	}
	sc.CloseWhenSent()
	_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
	got, err := io.Copy(io.Discard, c)
	if err != nil || got != n*64<<10 {
		t.Fatalf("peer read %d bytes (want %d), %v", got, n*64<<10, err)
	}
	if err := recvErr(t, closes); err != nil {
		t.Errorf("OnClose(%v), want nil", err)
	}
}
