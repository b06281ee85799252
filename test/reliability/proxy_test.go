package reliability_test

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
)

// proxy is a loopback TCP proxy that can freeze traffic: while frozen it
// forwards nothing in either direction and closes nothing, so both ends
// see a peer that vanished without a FIN or RST (a phone that lost its
// network). The server cannot tell it from a dead client: only its
// heartbeat can.
type proxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	frozen chan struct{} // non-nil while frozen; closed to thaw
	conns  []net.Conn
	closed bool
	wg     sync.WaitGroup
}

// startProxy forwards connections on a new loopback port to target; it is
// closed on cleanup.
func startProxy(t testing.TB, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// url is the proxy's http base URL.
func (p *proxy) url() string { return "http://" + p.ln.Addr().String() }

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			in.Close()
			continue
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			in.Close()
			out.Close()
			return
		}
		p.conns = append(p.conns, in, out)
		p.wg.Add(2)
		p.mu.Unlock()
		go p.pipe(out, in)
		go p.pipe(in, out)
	}
}

// pipe copies src to dst, holding every chunk read while frozen. Closing
// one side closes the other (as a real proxy does), except while frozen.
func (p *proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.waitThawed() {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				src.Close()
				return
			}
		}
		if err != nil {
			if !p.waitThawed() {
				return
			}
			if tc, ok := dst.(*net.TCPConn); ok && errors.Is(err, io.EOF) {
				_ = tc.CloseWrite()
			} else {
				dst.Close()
			}
			return
		}
	}
}

// waitThawed blocks while frozen; false means the proxy was closed.
func (p *proxy) waitThawed() bool {
	p.mu.Lock()
	f, closed := p.frozen, p.closed
	p.mu.Unlock()
	if closed {
		return false
	}
	if f != nil {
		<-f
		p.mu.Lock()
		closed = p.closed
		p.mu.Unlock()
		return !closed
	}
	return true
}

// freeze stops all traffic through the proxy.
func (p *proxy) freeze() {
	p.mu.Lock()
	if p.frozen == nil {
		p.frozen = make(chan struct{})
	}
	p.mu.Unlock()
}

// close closes the listener and every connection, and waits.
func (p *proxy) close() {
	p.mu.Lock()
	p.closed = true
	if p.frozen != nil {
		close(p.frozen)
		p.frozen = nil
	}
	conns := p.conns
	p.conns = nil
	p.mu.Unlock()
	p.ln.Close()
	for _, c := range conns {
		c.Close()
	}
	p.wg.Wait()
}
