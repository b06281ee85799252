package mqttgw

import (
	"crypto/sha1" //nolint:gosec // the WebSocket accept key (RFC 6455)
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/nbhttp/websocket"
)

// ServeHTTP serves MQTT over WebSocket (subprotocol "mqtt", binary frames,
// MQTT 6.0), as MQTT.js and browsers use it, admitting connections with
// Config.AllowRequest and Config.Admit. See Upgrade.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if g.cfg.AllowRequest != nil {
		if err := g.cfg.AllowRequest(r); err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
	}
	release := func() {}
	if g.cfg.Admit != nil {
		rel, err := g.cfg.Admit(r.RemoteAddr)
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		release = rel
	}
	g.Upgrade(w, r, release)
}

// Upgrade serves one MQTT-over-WebSocket request that the caller admitted:
// release is called once when the connection ends (or at once if the
// upgrade fails). The handshake is answered here; then a plain TCP
// connection moves onto the event loop (nbio parses its frames; we write
// ours, one frame per write) and the handler returns, while a TLS
// connection gets a reading goroutine.
func (g *Gateway) Upgrade(w http.ResponseWriter, r *http.Request, release func()) {
	status := 0
	switch {
	case r.Method != http.MethodGet:
		status = http.StatusMethodNotAllowed
	case !headerHasToken(r.Header, "Connection", "upgrade") || !headerHasToken(r.Header, "Upgrade", "websocket"),
		!headerHasToken(r.Header, "Sec-WebSocket-Version", "13"):
		status = http.StatusBadRequest
	}
	key := r.Header.Get("Sec-WebSocket-Key")
	if k, err := base64.StdEncoding.DecodeString(key); err != nil || len(k) != 16 {
		status = http.StatusBadRequest
	}
	if status != 0 {
		release()
		w.Header().Set("Sec-WebSocket-Version", "13")
		http.Error(w, "MQTT over WebSocket: "+http.StatusText(status), status)
		return
	}
	if !g.track() {
		release()
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	nc, err := g.hijack(w, r, key)
	if err != nil {
		g.logDebug("mqttgw: WebSocket handshake failed", nil, "remote", r.RemoteAddr, "err", err)
		release()
		g.live.Done()
		return
	}
	sub := subprotocol(r)
	if _, ok := nc.(*net.TCPConn); !ok {
		// TLS, or a connection the HTTP server wrapped: a reading
		// goroutine.
		c := newConn(g, wsBlock, nc, release)
		wsc := websocket.NewServerConn(g.loop.upgrader, nc, sub, false, false)
		wsc.Engine = g.loop.engine
		wsc.Execute = func(f func()) bool { f(); return true } // in order, on the reading goroutine
		wsc.SetSession(c)
		c.wsc = wsc
		g.ka.add(c, connectTimeout)
		c.ready()
		go wsc.HandleRead(4096)
		return
	}
	nbc, err := takeConn(nc.(*net.TCPConn))
	if err != nil {
		g.logDebug("mqttgw: cannot take the WebSocket connection", nil, "remote", r.RemoteAddr, "err", err)
		release()
		g.live.Done()
		return
	}
	c := newConn(g, wsLoop, nbc, release)
	wsc := websocket.NewServerConn(g.loop.upgrader, nbc, sub, false, false)
	wsc.Engine = g.loop.engine
	wsc.Execute = nbc.Execute
	wsc.SetSession(c)
	c.wsc = wsc
	nbc.SetSession(wsc)
	nbc.OnData(func(nbc *nbio.Conn, data []byte) {
		if err := wsc.Parse(data); err != nil {
			_ = nbc.CloseWithError(err) // on the poller
		}
	})
	g.ka.add(c, connectTimeout)
	c.ready()
	if err := g.loop.add(nbc); err != nil {
		g.logDebug("mqttgw: event loop refused a connection", c, "err", err)
		_ = nbc.Close()
		c.transportClosed(err)
	}
}

// hijack takes the connection over and writes the 101 response.
func (g *Gateway) hijack(w http.ResponseWriter, r *http.Request, key string) (net.Conn, error) {
	h, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "WebSocket needs HTTP/1.1", http.StatusInternalServerError)
		return nil, errors.New("no hijacker")
	}
	nc, rw, err := h.Hijack()
	if err != nil {
		return nil, err
	}
	if rw.Reader.Buffered() > 0 {
		// Bytes after the upgrade request, before our 101: no client does
		// that, and the event loop would never see them.
		nc.Close()
		return nil, errors.New("data before the handshake's end")
	}
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")) //nolint:gosec // RFC 6455
	resp := make([]byte, 0, 192)
	resp = append(resp, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	resp = base64.StdEncoding.AppendEncode(resp, sum[:])
	if sub := subprotocol(r); sub != "" {
		resp = append(resp, "\r\nSec-WebSocket-Protocol: "...)
		resp = append(resp, sub...)
	}
	resp = append(resp, "\r\n\r\n"...)
	_ = nc.SetDeadline(time.Now().Add(g.cfg.WriteTimeout))
	if _, err := nc.Write(resp); err != nil {
		nc.Close()
		return nil, err
	}
	_ = nc.SetDeadline(time.Time{})
	return nc, nil
}

// subprotocol picks the MQTT subprotocol the client offers: "mqtt" (3.1.1
// and 5), or "mqttv3.1" (MQTT 3.1 clients). None is fine too.
func subprotocol(r *http.Request) string {
	offered := ""
	for _, v := range r.Header.Values("Sec-WebSocket-Protocol") {
		for p := range strings.SplitSeq(v, ",") {
			switch p = strings.TrimSpace(p); p {
			case "mqtt":
				return p
			case "mqttv3.1":
				offered = p
			}
		}
	}
	return offered
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for part := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}
