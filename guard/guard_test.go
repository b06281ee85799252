package guard

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func mustNew(t *testing.T, cfg Config) *Guard {
	t.Helper()
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestMaxConns(t *testing.T) {
	g := mustNew(t, Config{MaxConns: 2})
	r1, err1 := g.Admit("10.0.0.1:1")
	_, err2 := g.Admit("10.0.0.2:1")
	_, err3 := g.Admit("10.0.0.3:1")
	if err1 != nil || err2 != nil || !errors.Is(err3, ErrServerFull) {
		t.Fatalf("admits: %v %v %v; want nil nil ErrServerFull", err1, err2, err3)
	}
	r1()
	r1() // idempotent: must not free a second place
	if _, err := g.Admit("10.0.0.3:1"); err != nil {
		t.Fatalf("after a release: %v", err)
	}
	if _, err := g.Admit("10.0.0.4:1"); !errors.Is(err, ErrServerFull) {
		t.Fatalf("double release freed two places: %v", err)
	}
	if g.Conns() != 2 {
		t.Fatalf("Conns = %d, want 2", g.Conns())
	}
}

func TestPerIP(t *testing.T) {
	g := mustNew(t, Config{MaxConnsPerIP: 2})
	var releases []func()
	for _, a := range []string{"192.0.2.1:1000", "192.0.2.1:1001", "[2001:db8::1]:1", "[2001:db8::2]:1"} {
		r, err := g.Admit(a)
		if err != nil {
			t.Fatalf("%s: %v", a, err)
		}
		releases = append(releases, r)
	}
	// Same IPv4, and another address of the same IPv6 /64: refused.
	for _, a := range []string{"192.0.2.1:1002", "[2001:db8::ffff:1]:9", "[::ffff:192.0.2.1]:5"} {
		if _, err := g.Admit(a); !errors.Is(err, ErrTooManyConns) {
			t.Errorf("%s: %v, want ErrTooManyConns", a, err)
		}
	}
	// Other clients are not affected; loopback is exempt by default.
	for _, a := range []string{"192.0.2.2:1", "[2001:db8:0:1::1]:1", "127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3", "[::1]:1"} {
		if _, err := g.Admit(a); err != nil {
			t.Errorf("%s: %v", a, err)
		}
	}
	releases[0]()
	if _, err := g.Admit("192.0.2.1:1003"); err != nil {
		t.Errorf("after a release: %v", err)
	}
	lg := mustNew(t, Config{MaxConnsPerIP: 1, LimitLoopback: true})
	if _, err := lg.Admit("127.0.0.1:1"); err != nil {
		t.Fatal(err)
	}
	if _, err := lg.Admit("127.0.0.1:2"); !errors.Is(err, ErrTooManyConns) {
		t.Errorf("LimitLoopback: %v", err)
	}
}

func TestHandshakeRate(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	g := mustNew(t, Config{HandshakesPerSecond: 2, HandshakeBurst: 3, Now: c.now})
	for i := range 3 {
		r, err := g.Admit("198.51.100.7:1")
		if err != nil {
			t.Fatalf("burst admit %d: %v", i, err)
		}
		r() // closing does not give the token back
	}
	if _, err := g.Admit("198.51.100.7:1"); !errors.Is(err, ErrTooFast) {
		t.Fatalf("past the burst: %v, want ErrTooFast", err)
	}
	if _, err := g.Admit("198.51.100.8:1"); err != nil {
		t.Fatalf("another client: %v", err)
	}
	c.add(500 * time.Millisecond) // one token back at 2/s
	if _, err := g.Admit("198.51.100.7:1"); err != nil {
		t.Fatalf("after refill: %v", err)
	}
	if _, err := g.Admit("198.51.100.7:1"); !errors.Is(err, ErrTooFast) {
		t.Fatalf("only one token came back: %v", err)
	}
	if g.Conns() != 2 {
		t.Fatalf("refusals leaked places: Conns = %d, want 2", g.Conns())
	}
}

// Forgotten clients do not accumulate: the map is swept.
func TestSweep(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	g := mustNew(t, Config{HandshakesPerSecond: 10, MaxConnsPerIP: 5, Now: c.now})
	for i := range 5000 {
		r, err := g.Admit(net.JoinHostPort(net.IPv4(10, byte(i>>16), byte(i>>8), byte(i)).String(), "1"))
		if err != nil {
			t.Fatal(err)
		}
		r()
		if i == 3000 {
			c.add(time.Minute)
		}
	}
	g.mu.Lock()
	n := len(g.ips)
	g.mu.Unlock()
	if n > 2000 {
		t.Fatalf("%d idle clients remembered after a sweep", n)
	}
}

func TestOrigins(t *testing.T) {
	if _, err := New(Config{Origins: []string{"chat.example.com"}}); err == nil {
		t.Fatal("an origin without a scheme was accepted")
	}
	g := mustNew(t, Config{Origins: []string{"https://Chat.Example.com", "http://localhost:8080"}})
	for _, c := range []struct {
		origin, host string
		ok           bool
	}{
		{"", "banter.example.com", true},                               // native client
		{"https://banter.example.com", "banter.example.com", true},     // same origin
		{"https://chat.example.com", "banter.example.com", true},       // listed (case-insensitive)
		{"http://localhost:8080", "banter.example.com", true},          // listed
		{"http://localhost:8081", "banter.example.com", false},         // other port
		{"https://evil.example", "banter.example.com", false},          // other site
		{"null", "banter.example.com", false},                          // sandboxed page
		{"https://chat.example.com.evil", "banter.example.com", false}, // suffix trick
	} {
		r := httptest.NewRequest("GET", "/socket.io/", nil)
		r.Host = c.host
		if c.origin != "" {
			r.Header.Set("Origin", c.origin)
		}
		if err := g.CheckOrigin(r); (err == nil) != c.ok {
			t.Errorf("Origin %q to %s: %v, want allowed=%v", c.origin, c.host, err, c.ok)
		}
	}
	any := mustNew(t, Config{Origins: []string{"*"}})
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Origin", "https://evil.example")
	if err := any.CheckOrigin(r); err != nil {
		t.Errorf("* refused an origin: %v", err)
	}
}

func TestMiddleware(t *testing.T) {
	g := mustNew(t, Config{MaxConns: 1})
	hold := make(chan struct{})
	entered := make(chan struct{})
	h := g.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-hold
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	done := make(chan struct{})
	go func() {
		resp, err := http.Get(srv.URL)
		if err == nil {
			resp.Body.Close()
		}
		close(done)
	}()
	<-entered
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("second connection: %d, want 503", resp.StatusCode)
	}
	close(hold)
	<-done
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("Origin", "https://evil.example")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin: %d, want 403", resp.StatusCode)
	}
}

func TestListener(t *testing.T) {
	g := mustNew(t, Config{MaxConns: 1})
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := g.Listener(raw, func(c net.Conn, err error) { c.Write([]byte("refused: " + err.Error() + "\n")) })
	defer ln.Close()
	accepted := make(chan net.Conn, 2)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	c1, err := net.Dial("tcp", raw.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	s1 := <-accepted
	c2, err := net.Dial("tcp", raw.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c2).ReadString('\n')
	if err != nil || line != "refused: "+ErrServerFull.Error()+"\n" {
		t.Fatalf("refused client read %q, %v", line, err)
	}
	s1.Close() // frees the place
	c3, err := net.Dial("tcp", raw.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	select {
	case s3 := <-accepted:
		s3.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("a connection after a release was not accepted")
	}
}
