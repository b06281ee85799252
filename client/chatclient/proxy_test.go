package chatclient_test

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// proxy is a loopback TCP proxy the tests use to break connections the way
// networks do: Cut resets every connection, SetDown refuses new ones, and
// Freeze swallows all bytes (a dead server that keeps its sockets open).
type proxy struct {
	ln      net.Listener
	target  string
	down    atomic.Bool
	frozen  atomic.Bool
	mu      sync.Mutex
	conns   map[net.Conn]bool
	wg      sync.WaitGroup
	accepts atomic.Int64
}

func startProxy(t *testing.T, targetURL string) (*proxy, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := targetURL[len("http://"):]
	p := &proxy{ln: ln, target: host, conns: map[net.Conn]bool{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.Cut()
		p.wg.Wait()
	})
	return p, "http://" + ln.Addr().String()
}

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.accepts.Add(1)
		if p.down.Load() {
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[up] = true, true
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(c, up)
		go p.pipe(up, c)
	}
}

func (p *proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.frozen.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				err = werr
			}
		}
		if err != nil {
			// A frozen network does not carry closes either: the peer
			// waits until the test cuts it.
			p.mu.Lock()
			if !p.frozen.Load() {
				dst.Close()
				delete(p.conns, dst)
			}
			src.Close()
			delete(p.conns, src)
			p.mu.Unlock()
			return
		}
	}
}

// Cut closes every proxied connection.
func (p *proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}
