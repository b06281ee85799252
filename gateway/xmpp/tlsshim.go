package xmppgw

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// tlsShim runs Go's crypto/tls on a connection of the event loop, so that
// an idle TLS connection costs no goroutine either.
//
// crypto/tls reads from its underlying net.Conn; the shim is that conn:
// Read hands over the ciphertext the event loop received (push), and
// Write passes records to the event loop's non-blocking write. The
// server handshake is one sequential function in crypto/tls, so it runs
// on a goroutine of its own, whose Read waits for ciphertext; once the
// handshake is done the goroutine ends, and Read answers "no data yet"
// with a timeout error when it has nothing. crypto/tls documents reads
// that time out as harmless (Conn.Read: "Read can be made to time out and
// return a net.Error with Timeout() == true"; the state stays usable,
// unlike after a write timeout), so the event loop calls tls.Conn.Read
// until it times out each time ciphertext arrives, and the records
// decrypt as they complete. Writes never time out: the event loop
// buffers what the kernel does not take (bounded, see Config).
type tlsShim struct {
	tc     *tls.Conn
	write  func([]byte) error // the event loop's non-blocking write
	remote addr

	mu        sync.Mutex
	cond      sync.Cond
	in        []byte // ciphertext not yet read by crypto/tls
	handshake bool   // the handshake goroutine may wait in Read
	timedOut  bool
	closed    bool
	started   bool // a first non-white-space byte arrived
}

var errHandshakeTimeout = errors.New("TLS handshake timed out")

func newTLSShim(cfg *tls.Config, write func([]byte) error, remote string) *tlsShim {
	s := &tlsShim{write: write, remote: addr(remote)}
	s.cond.L = &s.mu
	s.tc = tls.Server(s, cfg)
	return s
}

// push adds ciphertext from the network; during the handshake it wakes
// the handshake goroutine.
func (s *tlsShim) push(p []byte) {
	s.mu.Lock()
	if !s.started {
		// White space after <starttls/> (some clients end the element
		// with a newline) is XML, not TLS: a record never starts with it.
		for len(p) > 0 && (p[0] == ' ' || p[0] == '\t' || p[0] == '\r' || p[0] == '\n') {
			p = p[1:]
		}
		s.started = len(p) > 0
	}
	s.in = append(s.in, p...)
	if s.handshake {
		s.cond.Broadcast()
	}
	s.mu.Unlock()
}

// runHandshake runs the server handshake on the calling goroutine,
// waiting for ciphertext; it fails after timeout.
func (s *tlsShim) runHandshake(timeout time.Duration) error {
	s.mu.Lock()
	s.handshake = true
	s.mu.Unlock()
	t := time.AfterFunc(timeout, func() {
		s.mu.Lock()
		s.timedOut = true
		s.cond.Broadcast()
		s.mu.Unlock()
	})
	err := s.tc.Handshake()
	t.Stop()
	s.mu.Lock()
	s.handshake = false
	s.mu.Unlock()
	return err
}

// decrypt reads every complete record pushed so far and calls on with
// the plaintext (buf is scratch space). It returns io.EOF when the client
// closed TLS, or another error that ends the connection.
func (s *tlsShim) decrypt(buf []byte, on func([]byte) error) error {
	for {
		n, err := s.tc.Read(buf)
		if n > 0 {
			if err := on(buf[:n]); err != nil {
				return err
			}
		}
		if err != nil {
			if isWouldBlock(err) {
				return nil
			}
			return err
		}
	}
}

func isWouldBlock(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() && errors.Is(err, os.ErrDeadlineExceeded)
}

// Read implements net.Conn for crypto/tls.
func (s *tlsShim) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.in) == 0 {
		switch {
		case s.closed:
			return 0, io.EOF
		case s.timedOut:
			return 0, errHandshakeTimeout
		case !s.handshake:
			return 0, os.ErrDeadlineExceeded // "no data yet": crypto/tls keeps its state
		}
		s.cond.Wait()
	}
	n := copy(p, s.in)
	s.in = s.in[n:]
	if len(s.in) == 0 {
		s.in = nil // nothing kept while idle
	}
	return n, nil
}

// Write implements net.Conn: records go to the event loop.
func (s *tlsShim) Write(p []byte) (int, error) {
	if err := s.write(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close implements net.Conn (crypto/tls calls it only from Close, which
// the gateway does not call: the connection closes on the event loop).
func (s *tlsShim) Close() error {
	s.shutdown()
	return nil
}

// shutdown wakes a waiting handshake when the connection is gone.
func (s *tlsShim) shutdown() {
	s.mu.Lock()
	s.closed = true
	s.cond.Broadcast()
	s.mu.Unlock()
}

// addr is the client's address as the shim's net.Conn tells it.
type addr string

func (a addr) Network() string { return "tcp" }
func (a addr) String() string  { return string(a) }

func (s *tlsShim) LocalAddr() net.Addr                { return addr("") }
func (s *tlsShim) RemoteAddr() net.Addr               { return s.remote }
func (s *tlsShim) SetDeadline(t time.Time) error      { return nil }
func (s *tlsShim) SetReadDeadline(t time.Time) error  { return nil }
func (s *tlsShim) SetWriteDeadline(t time.Time) error { return nil }
