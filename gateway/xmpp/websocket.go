package xmppgw

import (
	"crypto/sha1" //nolint:gosec // the WebSocket accept key (RFC 6455)
	"encoding/base64"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/lesismal/nbio"
)

// ServeHTTP serves XMPP over WebSocket (RFC 7395): the upgrade is
// answered here, and a plain TCP connection then moves onto the event
// loop like a TCP client (no goroutine while idle). A connection that is
// not plain TCP (the HTTPS port's TLS) keeps a reading goroutine.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if g.cfg.CheckOrigin != nil {
		if err := g.cfg.CheckOrigin(r); err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
	}
	key := r.Header.Get("Sec-WebSocket-Key")
	k, err := base64.StdEncoding.DecodeString(key)
	switch {
	case r.Method != http.MethodGet:
		http.Error(w, "XMPP over WebSocket: GET with an upgrade", http.StatusMethodNotAllowed)
		return
	case !headerToken(r.Header, "Connection", "upgrade") || !headerToken(r.Header, "Upgrade", "websocket"),
		r.Header.Get("Sec-WebSocket-Version") != "13", err != nil || len(k) != 16:
		w.Header().Set("Sec-WebSocket-Version", "13")
		http.Error(w, "XMPP over WebSocket (RFC 7395): a WebSocket upgrade is required", http.StatusBadRequest)
		return
	}
	g.mu.Lock()
	closed := g.closed
	g.mu.Unlock()
	if closed {
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
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")) //nolint:gosec // RFC 6455
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		base64.StdEncoding.EncodeToString(sum[:]) + "\r\n"
	if headerToken(r.Header, "Sec-WebSocket-Protocol", "xmpp") {
		resp += "Sec-WebSocket-Protocol: xmpp\r\n"
	}
	resp += "\r\n"
	_ = nc.SetWriteDeadline(time.Now().Add(g.cfg.WriteTimeout))
	if _, err := nc.Write([]byte(resp)); err != nil {
		release()
		nc.Close()
		return
	}
	_ = nc.SetWriteDeadline(time.Time{})
	c := g.newConn(transportWebSocket, release, r.RemoteAddr)
	if !g.register(c) {
		release()
		nc.Close()
		return
	}
	tc, onLoop := nc.(*net.TCPConn)
	if !onLoop {
		c.secure.Store(true) // TLS from the HTTPS listener
		c.bc = nc
		c.armAuthTimer()
		go c.readBlocking()
		return
	}
	if ka := g.cfg.KeepAlive; ka > 0 {
		_ = tc.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true, Idle: ka, Interval: 30 * time.Second, Count: 4})
	}
	if err := g.startLoop(); err != nil {
		nc.Close()
		c.closed(err)
		return
	}
	nbc, err := nbio.NBConn(tc)
	if err != nil {
		c.closed(err)
		return
	}
	c.nc = nbc
	nbc.SetSession(c)
	c.armAuthTimer()
	c.publish()
	if _, err := g.loop.AddConn(nbc); err != nil {
		nbc.Close()
		c.closed(err)
	}
}

// readBlocking reads a connection that cannot be on the event loop.
func (c *conn) readBlocking() {
	buf := make([]byte, 4096)
	for {
		n, err := c.bc.Read(buf)
		if n > 0 {
			c.onData(buf[:n])
		}
		if err != nil {
			c.closeNetwork()
			c.closed(err)
			return
		}
	}
}

// headerToken reports whether a comma-separated header has token (any
// case).
func headerToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}
