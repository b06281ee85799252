package mqttgw

import (
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/banter-chat/banter/internal/wsframe"
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
// upgrade fails). The handshake is answered here; then the connection
// moves onto the event loop (internal/wsframe parses the client's frames;
// ours are written one per flush) and the handler returns. A TLS
// connection is served in blocking mode: a reading goroutine.
func (g *Gateway) Upgrade(w http.ResponseWriter, r *http.Request, release func()) {
	status := 0
	switch {
	case r.Method != http.MethodGet:
		status = http.StatusMethodNotAllowed
	case !headerHasToken(r.Header, "Connection", "upgrade") || !headerHasToken(r.Header, "Upgrade", "websocket"),
		!headerHasToken(r.Header, "Sec-WebSocket-Version", "13"),
		!wsframe.ValidKey(r.Header.Get("Sec-WebSocket-Key")):
		status = http.StatusBadRequest
	}
	if status != 0 {
		release()
		w.Header().Set("Sec-WebSocket-Version", "13")
		http.Error(w, "MQTT over WebSocket: "+http.StatusText(status), status)
		return
	}
	loop, err := g.hub.Loop()
	if err != nil {
		release()
		http.Error(w, "MQTT over WebSocket: server shutting down", http.StatusServiceUnavailable)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		release()
		http.Error(w, "MQTT over WebSocket needs HTTP/1.1", http.StatusInternalServerError)
		return
	}
	nc, rw, err := hj.Hijack()
	if err != nil {
		release()
		g.logDebug("mqttgw: hijack failed", nil, "remote", r.RemoteAddr, "err", err)
		return
	}
	if rw.Reader.Buffered() > 0 {
		// Bytes after the upgrade request, before our 101: no client does
		// that, and the event loop would never see them.
		release()
		nc.Close()
		return
	}
	remote, _ := netip.ParseAddrPort(r.RemoteAddr)
	c := newConn(g, true, remote, release)
	if !g.hub.Open.Add(c, 1) { // Close waits for its end
		release()
		writeRaw(nc, "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", g.cfg.WriteTimeout)
		nc.Close()
		return
	}
	g.hub.Stats.Opened()
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		wsframe.AcceptKey(r.Header.Get("Sec-WebSocket-Key"))
	if sub := subprotocol(r); sub != "" {
		resp += "\r\nSec-WebSocket-Protocol: " + sub
	}
	if err := writeRaw(nc, resp+"\r\n\r\n", g.cfg.WriteTimeout); err != nil {
		g.logDebug("mqttgw: WebSocket handshake failed", c, "err", err)
		nc.Close()
		c.transportClosed(err)
		return
	}
	if err := loop.AddConn(nc, &c.Conn); err != nil {
		g.logDebug("mqttgw: event loop refused a connection", c, "err", err)
		c.transportClosed(err)
	}
}

func writeRaw(nc net.Conn, s string, timeout time.Duration) error {
	_ = nc.SetWriteDeadline(time.Now().Add(timeout))
	_, err := io.WriteString(nc, s)
	_ = nc.SetWriteDeadline(time.Time{})
	return err
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
