package xmppgw

import (
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/banter-chat/banter/internal/evloop"
	"github.com/banter-chat/banter/internal/wsframe"
)

// ServeHTTP serves XMPP over WebSocket (RFC 7395): the upgrade is
// answered here, and the connection then moves onto the event loop like a
// TCP client (no goroutine while idle; frames parsed by internal/wsframe).
// A connection that is not plain TCP (the HTTPS port's TLS) is served in
// blocking mode: a reading goroutine each.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if g.cfg.CheckOrigin != nil {
		if err := g.cfg.CheckOrigin(r); err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
	}
	key := r.Header.Get("Sec-WebSocket-Key")
	switch {
	case r.Method != http.MethodGet:
		http.Error(w, "XMPP over WebSocket: GET with an upgrade", http.StatusMethodNotAllowed)
		return
	case !headerToken(r.Header, "Connection", "upgrade") || !headerToken(r.Header, "Upgrade", "websocket"),
		r.Header.Get("Sec-WebSocket-Version") != "13", !wsframe.ValidKey(key):
		w.Header().Set("Sec-WebSocket-Version", "13")
		http.Error(w, "XMPP over WebSocket (RFC 7395): a WebSocket upgrade is required", http.StatusBadRequest)
		return
	}
	loop, err := g.hub.Loop()
	if err != nil {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	release := func() {}
	if g.cfg.Admit != nil {
		rel, err := g.cfg.Admit(r.RemoteAddr)
		if err != nil {
			g.stats.refused.Add(1)
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		release = rel
	}
	h, ok := w.(http.Hijacker)
	if !ok {
		release()
		http.Error(w, "WebSocket needs HTTP/1.1", http.StatusInternalServerError)
		return
	}
	nc, rw, err := h.Hijack()
	if err != nil {
		release()
		return
	}
	if rw.Reader.Buffered() > 0 { // frames before our 101: no client does that
		release()
		nc.Close()
		return
	}
	c := g.newConn(transportWebSocket, release, r.RemoteAddr)
	if !g.register(c) {
		release()
		_ = writeHTTP(nc, "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", g.cfg.WriteTimeout)
		nc.Close()
		return
	}
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		wsframe.AcceptKey(key) + "\r\n"
	if headerToken(r.Header, "Sec-WebSocket-Protocol", "xmpp") {
		resp += "Sec-WebSocket-Protocol: xmpp\r\n"
	}
	if err := writeHTTP(nc, resp+"\r\n", g.cfg.WriteTimeout); err != nil {
		nc.Close()
		c.OnClose(&c.Conn, err)
		return
	}
	c.secure.Store(r.TLS != nil) // the HTTPS port
	if tc := tcpOf(nc); tc != nil {
		_ = tc.SetKeepAliveConfig(g.keepAlive())
	}
	if err := loop.AddConn(nc, &c.Conn); err != nil {
		c.OnClose(&c.Conn, err) // not served: the loop calls no handler
	}
}

// tcpOf returns the TCP connection under nc (hijacked from net/http, or
// handed to it by engineio.Accept), or nil.
func tcpOf(nc net.Conn) *net.TCPConn {
	if ho, ok := nc.(evloop.Handover); ok {
		tc, _ := ho.Handover()
		return tc
	}
	tc, _ := nc.(*net.TCPConn)
	return tc
}

// writeHTTP writes the upgrade's answer with a deadline.
func writeHTTP(nc net.Conn, s string, timeout time.Duration) error {
	_ = nc.SetWriteDeadline(time.Now().Add(timeout))
	_, err := io.WriteString(nc, s)
	_ = nc.SetWriteDeadline(time.Time{})
	return err
}

// headerToken reports whether a comma-separated header has token (any
// case).
func headerToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}
