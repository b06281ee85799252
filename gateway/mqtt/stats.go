package mqttgw

import (
	"context"
	"log/slog"
	"sync/atomic"
	"unicode/utf8"
)

// Stats is a snapshot of the gateway's connections, for metrics.
type Stats struct {
	TCP               int    // clients connected over MQTT/TCP now (with a chat session)
	WebSocket         int    // clients connected over MQTT over WebSocket now
	AcceptedTCP       uint64 // MQTT/TCP connections that got a chat session since New
	AcceptedWebSocket uint64 // the same over WebSocket
	Ended             uint64 // connections with a chat session that ended since New
	SlowConsumers     uint64 // connections closed because their queue overflowed
}

type counters struct {
	acceptedTCP, acceptedWS, ended, slow atomic.Uint64
	connected                            atomic.Int64 // connections with a chat session
	connectedWS                          atomic.Int64 // of which over WebSocket
}

// Stats returns the gateway's counters (atomic loads only).
func (g *Gateway) Stats() Stats {
	ws := g.stats.connectedWS.Load()
	return Stats{
		TCP: int(g.stats.connected.Load() - ws), WebSocket: int(ws),
		AcceptedTCP: g.stats.acceptedTCP.Load(), AcceptedWebSocket: g.stats.acceptedWS.Load(),
		Ended: g.stats.ended.Load(), SlowConsumers: g.stats.slow.Load(),
	}
}

// Logging. No log line carries a message body, a password or a token, and
// every value a client chose (client id, username, topic, error texts that
// quote it) is cut to maxLogValue bytes: a log line stays short whatever a
// client sends (docs/operations.md, Logs).

const maxLogValue = 128

// boundString cuts s to at most n bytes (on a rune boundary) and says how
// long it was.
func boundString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…(" + itoa(len(s)) + " bytes)"
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

// logAttrs bounds every string value and error and adds the connection's
// remote address.
func logAttrs(c *conn, kv []any) []any {
	out := make([]any, 0, len(kv)+4)
	if c != nil {
		out = append(out, "remote", c.remoteString())
	}
	for i, v := range kv {
		if i%2 == 1 {
			switch x := v.(type) {
			case string:
				v = boundString(x, maxLogValue)
			case error:
				v = boundString(x.Error(), 2*maxLogValue)
			}
		}
		out = append(out, v)
	}
	return out
}

func (g *Gateway) logDebug(msg string, c *conn, kv ...any) {
	if g.log.Enabled(context.Background(), slog.LevelDebug) {
		g.log.Debug(msg, logAttrs(c, kv)...)
	}
}

func (g *Gateway) logInfo(msg string, c *conn, kv ...any) {
	if g.log.Enabled(context.Background(), slog.LevelInfo) {
		g.log.Info(msg, logAttrs(c, kv)...)
	}
}

func (g *Gateway) logError(msg string, kv ...any) {
	g.log.Error(msg, logAttrs(nil, kv)...)
}
