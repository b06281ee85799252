package engineio

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/banter-chat/banter/internal/evloop"
)

// Handshakes on the event loop.
//
// A WebSocket client's first request is its Engine.IO handshake. Served by
// net/http, it costs a goroutine, buffered reader and writer, the request
// machinery, a registration in Go's poller, then the move of the
// descriptor onto the event loop (a duplicate, a close, Go's poller letting
// go). Accept takes the listening socket itself onto the loop: a
// connection is read there from its first byte; a complete request head
// that asks for a new Engine.IO WebSocket session is answered by the
// handler on an executor and the connection stays on the loop as that
// session; anything else (pages, REST, long-polling, upgrades of polling
// sessions, a head too large, bytes after the head) is handed, with what
// was read of it, to net/http through the listener Accept returns.

// maxLoopHead is the largest request head answered on the loop; larger
// ones go to net/http.
const maxLoopHead = 8 << 10

// Route is a path prefix whose new WebSocket sessions Accept answers on
// the event loop, and the handler that serves the prefix (an Engine.IO
// Server, or a Socket.IO server around one).
type Route struct {
	Prefix  string
	Handler http.Handler
}

// Accept serves the connections of ln for an http.Server: requests that
// open a new WebSocket session under a route's prefix are read and handed
// to its handler on the event loop; every other connection reaches the
// returned listener, which an http.Server serves. A listener that is not
// TCP (TLS), or a Server without WebSocket, is returned as it is. ln is
// owned by the returned listener: Close it (http.Server.Shutdown does).
//
// The connections accepted live on this Server's event loop, also those
// of a route served by another Engine.IO server (shut this Server down
// after it). headTimeout bounds the time a connection may take to send its
// request head (http.Server's ReadHeaderTimeout; 0: 10s).
func (s *Server) Accept(ln net.Listener, headTimeout time.Duration, routes ...Route) (net.Listener, error) {
	tl, ok := ln.(*net.TCPListener)
	if !ok || s.ws == nil || len(routes) == 0 {
		return ln, nil
	}
	loop, err := s.ws.start()
	if err != nil {
		return nil, err
	}
	if headTimeout <= 0 {
		headTimeout = 10 * time.Second
	}
	hl := &handoffListener{srv: s, routes: routes, addr: ln.Addr(), conns: make(chan net.Conn, 1024), done: make(chan struct{}),
		timeout: headTimeout, reading: make(map[*wsConn]time.Time)}
	els, err := loop.Listen(tl, func(remote net.Addr) (*evloop.Conn, evloop.Handler) {
		wc := &wsConn{}
		wc.hs.Store(&httpHead{l: hl, remote: remote})
		hl.track(wc)
		return &wc.Conn, wc
	})
	if errors.Is(err, errors.ErrUnsupported) {
		return ln, nil
	}
	if err != nil {
		return nil, err
	}
	if n := s.cfg.SocketSendBuffer; n > 0 {
		_ = els.SetSendBuffer(n) // inherited by every accepted connection
	}
	hl.ls = els
	go hl.sweep()
	return hl, nil
}

// httpHead is a loop connection still in HTTP: its request head as read.
type httpHead struct {
	l      *handoffListener
	remote net.Addr

	buf         []byte
	handshaking bool // the head is being answered: nothing may arrive meanwhile
}

// onHTTP reads a loop connection's request head, on the loop's goroutine.
func (wc *wsConn) onHTTP(h *httpHead, b []byte) {
	if h.handshaking {
		// A WebSocket client sends nothing before the 101.
		wc.CloseWithError(nil)
		return
	}
	h.buf = append(h.buf, b...)
	i := bytes.Index(h.buf, []byte("\r\n\r\n"))
	if i < 0 {
		if len(h.buf) > maxLoopHead {
			wc.handOff(h)
		}
		return
	}
	if i+4 != len(h.buf) { // a body, or pipelined requests
		wc.handOff(h)
		return
	}
	h.l.untrack(wc)
	req, err := http.ReadRequest(bufio.NewReaderSize(bytes.NewReader(h.buf), len(h.buf)))
	var handler http.Handler
	if err == nil {
		handler = h.l.route(req)
	}
	if handler == nil {
		wc.handOff(h) // net/http answers it (a bad request too)
		return
	}
	req.RemoteAddr = h.remote.String()
	h.handshaking = true
	h.l.srv.ws.exec.Go(func() { wc.serveHandshake(handler, req) })
}

// route returns the handler of the route under which req opens a new
// WebSocket session, or nil: everything else goes to net/http.
func (l *handoffListener) route(req *http.Request) http.Handler {
	if req.Method != http.MethodGet || !isWebSocketUpgrade(req) {
		return nil
	}
	for _, rt := range l.routes {
		if strings.HasPrefix(req.URL.Path, rt.Prefix) {
			q := req.URL.Query()
			if q.Get("transport") == "websocket" && q.Get("sid") == "" {
				return rt.Handler
			}
			return nil
		}
	}
	return nil
}

// handOff gives the connection, with what was read of it, to net/http.
func (wc *wsConn) handOff(h *httpHead) {
	h.l.untrack(wc)
	nc, err := wc.Detach()
	if err != nil {
		wc.CloseWithError(nil)
		return
	}
	h.l.push(&prefixConn{Conn: nc, prefix: h.buf})
}

// serveHandshake answers a handshake read on the loop, on the executor.
func (wc *wsConn) serveHandshake(h http.Handler, req *http.Request) {
	lw := &loopWriter{wc: wc, header: http.Header{}}
	h.ServeHTTP(lw, req)
	if !lw.hijacked {
		lw.finish()
	}
}

// loopWriter is the http.ResponseWriter of a request read on the loop. The
// WebSocket handshake takes the connection over (wsEngine.hijack); any
// other answer (an error) is written when the handler returns, and the
// connection closed.
type loopWriter struct {
	wc       *wsConn
	header   http.Header
	status   int
	body     bytes.Buffer
	hijacked bool
}

func (w *loopWriter) Header() http.Header { return w.header }

func (w *loopWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *loopWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}

func (w *loopWriter) finish() {
	w.WriteHeader(http.StatusOK)
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", w.status, http.StatusText(w.status))
	w.header.Del("Content-Length")
	w.header.Set("Connection", "close")
	if w.header.Get("Content-Type") == "" && w.body.Len() > 0 {
		w.header.Set("Content-Type", http.DetectContentType(w.body.Bytes()))
	}
	_ = w.header.Write(&b)
	b.WriteString("Content-Length: " + strconv.Itoa(w.body.Len()) + "\r\n\r\n")
	b.Write(w.body.Bytes())
	_ = w.wc.Write(b.Bytes())
	w.wc.CloseWithError(nil)
}

// prefixConn is a connection handed to net/http with the bytes the loop
// read of it first.
type prefixConn struct {
	net.Conn
	prefix []byte
}

// Handover gives the TCP connection back to an event loop once net/http
// has read the prefix (evloop.Handover): a hijacked connection (a /ws or
// /xmpp WebSocket) then lives on a loop, not in blocking mode.
func (c *prefixConn) Handover() (*net.TCPConn, bool) {
	tc, ok := c.Conn.(*net.TCPConn)
	return tc, ok && len(c.prefix) == 0
}

func (c *prefixConn) Read(b []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(b, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}

// handoffListener is the net.Listener of the connections the loop hands to
// net/http.
type handoffListener struct {
	srv    *Server
	routes []Route
	addr   net.Addr
	ls     *evloop.Listener
	conns  chan net.Conn
	done   chan struct{}
	closed atomic.Bool
	once   sync.Once

	// The connections still sending their request head, since when.
	timeout time.Duration
	mu      sync.Mutex
	reading map[*wsConn]time.Time
}

func (l *handoffListener) track(wc *wsConn) {
	l.mu.Lock()
	l.reading[wc] = time.Now()
	l.mu.Unlock()
}

func (l *handoffListener) untrack(wc *wsConn) {
	l.mu.Lock()
	delete(l.reading, wc)
	l.mu.Unlock()
}

// sweep closes the connections that did not send a request head in time,
// once a second, until the listener closes.
func (l *handoffListener) sweep() {
	tk := time.NewTicker(time.Second)
	defer tk.Stop()
	for {
		select {
		case <-l.done:
			return
		case now := <-tk.C:
			var late []*wsConn
			l.mu.Lock()
			for wc, at := range l.reading {
				if now.Sub(at) > l.timeout {
					late = append(late, wc)
					delete(l.reading, wc)
				}
			}
			l.mu.Unlock()
			for _, wc := range late {
				wc.CloseWithError(nil)
			}
		}
	}
}

func (l *handoffListener) push(c net.Conn) {
	if l.closed.Load() {
		c.Close()
		return
	}
	select {
	case l.conns <- c:
	default: // net/http does not keep up: refuse rather than block the loop
		c.Close()
	}
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) Close() error {
	l.once.Do(func() {
		l.closed.Store(true)
		close(l.done)
		_ = l.ls.Close()
		for {
			select {
			case c := <-l.conns:
				c.Close()
			default:
				return
			}
		}
	})
	return nil
}

func (l *handoffListener) Addr() net.Addr { return l.addr }
