package cluster_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// httpProxy is a load balancer that balances HTTP requests, not
// connections: every request goes to the next backend in turn, so no
// client stays with a node through a kept-alive connection. With
// avoidOwner it is hostile on purpose: a request that names an Engine.IO
// session (sid=<node id>.…) never goes to the node that owns it, so every
// such request, long-poll or WebSocket upgrade, must be forwarded by the
// node it reaches.
type httpProxy struct {
	ln         net.Listener
	srv        *http.Server
	rp         *httputil.ReverseProxy
	backends   []string
	owners     map[string]string // node id → URL
	avoidOwner bool

	mu     sync.Mutex
	closed bool
	next   int
	log    []routed

	cancel context.CancelFunc
	wg     sync.WaitGroup // requests in flight, tunnels included
}

// routed is one request the proxy passed on.
type routed struct {
	SID, Transport, Backend, Owner string
	Upgrade                        bool
}

type backendKey struct{}

func startHTTPProxy(t *testing.T, c *cluster, avoidOwner bool) *httpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &httpProxy{ln: ln, owners: c.owners(), avoidOwner: avoidOwner}
	for _, n := range c.nodes {
		p.backends = append(p.backends, n.url)
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			u, _ := url.Parse(pr.In.Context().Value(backendKey{}).(string))
			pr.SetURL(u)
			pr.Out.Host = pr.In.Host
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	// Requests get a context that ends at close: the reverse proxy then
	// closes the WebSocket tunnels it holds.
	p.srv = &http.Server{Handler: p, BaseContext: func(net.Listener) context.Context { return ctx }}
	go func() { _ = p.srv.Serve(ln) }()
	t.Cleanup(p.close)
	return p
}

func (p *httpProxy) URL() string { return "http://" + p.ln.Addr().String() }

func (p *httpProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		http.Error(w, "proxy closed", http.StatusServiceUnavailable)
		return
	}
	p.wg.Add(1)
	p.mu.Unlock()
	defer p.wg.Done()
	q := r.URL.Query()
	rt := routed{SID: q.Get("sid"), Transport: q.Get("transport"), Upgrade: r.Header.Get("Upgrade") != ""}
	if node, _, ok := strings.Cut(rt.SID, "."); ok {
		rt.Owner = p.owners[node]
	}
	p.mu.Lock()
	for range len(p.backends) {
		rt.Backend = p.backends[p.next%len(p.backends)]
		p.next++
		if !p.avoidOwner || rt.Owner == "" || rt.Backend != rt.Owner {
			break
		}
	}
	p.log = append(p.log, rt)
	p.mu.Unlock()
	p.rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), backendKey{}, rt.Backend)))
}

// routes returns what the proxy passed on so far.
func (p *httpProxy) routes() []routed {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]routed(nil), p.log...)
}

func (p *httpProxy) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	_ = p.srv.Close()
	p.cancel()
	p.wg.Wait()
}
