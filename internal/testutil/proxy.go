package testutil

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// Proxy is a loopback TCP proxy the tests use to break connections the way
// networks do: Cut resets every connection, Down refuses new ones, and
// Frozen swallows all bytes (a dead server that keeps its sockets open).
type Proxy struct {
	ln      net.Listener
	target  string
	Down    atomic.Bool
	Frozen  atomic.Bool
	mu      sync.Mutex
	conns   map[net.Conn]bool
	wg      sync.WaitGroup
	accepts atomic.Int64 // connections accepted, refused ones included
}

// StartProxy starts a Proxy in front of targetURL ("http://host:port") and
// returns it with its own URL. Set Down to refuse new connections, Frozen to
// swallow all bytes (a peer that vanished without closing); Cut resets every
// connection. It stops on cleanup.
func StartProxy(t testing.TB, targetURL string) (*Proxy, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := targetURL[len("http://"):]
	p := &Proxy{ln: ln, target: host, conns: map[net.Conn]bool{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.Cut()
		p.wg.Wait()
	})
	return p, "http://" + ln.Addr().String()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.accepts.Add(1)
		if p.Down.Load() {
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

func (p *Proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.Frozen.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				err = werr
			}
		}
		if err != nil {
			// A frozen network does not carry closes either: the peer
			// waits until the test cuts it.
			p.mu.Lock()
			if !p.Frozen.Load() {
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

// Accepts returns how many connections the proxy accepted (refused ones too).
func (p *Proxy) Accepts() int64 { return p.accepts.Load() }

// Cut closes every proxied connection.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}
