package cluster_test

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// rrProxy is the load balancer of the tests: every TCP connection it
// accepts goes to the next backend in turn (no stickiness of any kind); a
// backend that refuses the connection is skipped, as a health-checking
// balancer would.
type rrProxy struct {
	ln       net.Listener
	mu       sync.Mutex
	backends []string
	next     int
	conns    map[net.Conn]struct{}
	wg       sync.WaitGroup
}

func startProxy(t *testing.T, backends ...string) *rrProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &rrProxy{ln: ln, backends: backends, conns: map[net.Conn]struct{}{}}
	p.wg.Go(p.accept)
	t.Cleanup(p.close)
	return p
}

func (p *rrProxy) URL() string { return "http://" + p.ln.Addr().String() }

func (p *rrProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Go(func() { p.serve(c) })
	}
}

func (p *rrProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns == nil {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *rrProxy) serve(c net.Conn) {
	if !p.track(c) {
		c.Close()
		return
	}
	var up net.Conn
	for range len(p.backends) {
		p.mu.Lock()
		addr := p.backends[p.next%len(p.backends)]
		p.next++
		p.mu.Unlock()
		var err error
		if up, err = net.DialTimeout("tcp", addr, 2*time.Second); err == nil {
			break
		}
	}
	if up == nil || !p.track(up) {
		c.Close()
		return
	}
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		// Half-close would be kinder, but a peer that vanished (SIGKILL)
		// must end both sides.
		dst.Close()
		src.Close()
		done <- struct{}{}
	}
	go pipe(up, c)
	go pipe(c, up)
	<-done
	<-done
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}

func (p *rrProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
	p.wg.Wait()
}
