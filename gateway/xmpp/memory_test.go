package xmppgw_test

import (
	"crypto/tls"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"testing"
	"time"

	"github.com/banter-chat/banter/chat"
	xmppgw "github.com/banter-chat/banter/gateway/xmpp"
)

// BenchmarkIdleConnMemory measures the Go memory (heap in use + stacks)
// the server spends per idle authenticated XMPP connection (SASL
// ANONYMOUS, resource bound, initial presence sent, no TLS: the TLS
// figure comes from the banter binary, bench xmpp-idle). The clients are
// sockets of this process with no goroutine once logged in; as many plain
// TCP connection pairs are measured first and subtracted, so the figure
// is the gateway and the chat session, not the sockets. Run:
//
//	go test -run '^$' -bench IdleConnMemory -benchtime 1x ./gateway/xmpp/
//
// XMPP_BENCH_CLIENTS (default 2000) sets the number of connections.
func BenchmarkIdleConnMemory(b *testing.B) {
	n := 2000
	if v, err := strconv.Atoi(os.Getenv("XMPP_BENCH_CLIENTS")); err == nil && v > 0 {
		n = v
	}
	withTLS := os.Getenv("XMPP_BENCH_TLS") != ""
	for range b.N {
		base := plainPairsMemory(b, n)
		cfg := xmppgw.Config{}
		if withTLS {
			cfg.TLS = testTLSConfig(b)
		}
		srv := startServer(b, chat.Config{}, cfg)
		conns := make([]net.Conn, 0, n+1)
		conns = append(conns, idleLogin(b, srv.addr, withTLS)) // the event loop and pools warm up
		before := memInUse()
		for range n {
			conns = append(conns, idleLogin(b, srv.addr, withTLS))
		}
		after := memInUse()
		if f := os.Getenv("XMPP_BENCH_HEAPPROFILE"); f != "" {
			// What the idle connections hold (run with -memprofilerate 1).
			w, err := os.Create(f)
			if err != nil {
				b.Fatal(err)
			}
			_ = pprof.WriteHeapProfile(w)
			w.Close()
		}
		b.ReportMetric(float64(after-before-base)/float64(n), "B/conn")
		b.ReportMetric(float64(after-before)/float64(n), "B/conn+sockets")
		for _, c := range conns {
			c.Close()
		}
	}
}

// idleLogin logs a connection in anonymously and returns it idle: the
// client's reader goroutine has ended.
func idleLogin(b *testing.B, addr string, withTLS bool) net.Conn {
	b.Helper()
	return idleLoginT(b, addr, withTLS)
}

func idleLoginT(b testing.TB, addr string, withTLS bool) net.Conn {
	b.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	c := &rawClient{t: b, conn: nc, in: make(chan string, 8), stopOn: "<proceed"}
	done := make(chan struct{})
	go func() { c.read(nc); close(done) }()
	c.send(streamOpen)
	c.expect("<stream:features")
	if withTLS {
		// With XMPP_BENCH_TLS the client's TLS state is in this process
		// too: the figure then holds both ends of the TLS connections.
		c.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
		c.expect("<proceed")
		<-done
		tc := tls.Client(nc, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // the test's certificate
		nc = tc
		c = &rawClient{t: b, conn: tc, in: make(chan string, 8)}
		done = make(chan struct{})
		go func() { c.read(tc); close(done) }()
		c.send(streamOpen)
		c.expect("<stream:features")
	}
	c.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='ANONYMOUS'>=</auth>")
	c.expect("<success")
	c.send(streamOpen)
	c.expect("<bind")
	c.send("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>")
	c.expect("<jid>")
	c.send("<presence/>")
	c.expect("<presence")
	_ = nc.SetReadDeadline(time.Now()) // ends the reader
	<-done
	_ = nc.SetReadDeadline(time.Time{})
	return nc
}

// plainPairsMemory is the memory of n connected TCP pairs held by this
// process, neither side read.
func plainPairsMemory(b *testing.B, n int) int64 {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	before := memInUse()
	var conns []net.Conn
	for range n {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, c, s)
	}
	after := memInUse()
	for _, c := range conns {
		c.Close()
	}
	return after - before
}

func memInUse() int64 {
	runtime.GC()
	debug.FreeOSMemory()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse + m.StackInuse)
}

// BenchmarkLogin measures full logins (STARTTLS with XMPP_BENCH_TLS set,
// SASL ANONYMOUS, bind, presence, stream close) one after the other; the
// client runs in this process too. For a server profile:
//
//	XMPP_BENCH_TLS=1 go test -run '^$' -bench Login -cpuprofile cpu.out ./gateway/xmpp/
func BenchmarkLogin(b *testing.B) {
	withTLS := os.Getenv("XMPP_BENCH_TLS") != ""
	cfg := xmppgw.Config{}
	if withTLS {
		cfg.TLS = testTLSConfig(b)
	}
	srv := startServer(b, chat.Config{}, cfg)
	b.ResetTimer()
	for range b.N {
		c := idleLogin(b, srv.addr, withTLS)
		c.Close()
	}
}
