package engineio

import (
	"context"
	"net"
)

// Listen listens on a TCP address for an HTTP server that serves this
// package, with TCP keepalive off on the accepted connections: the
// Engine.IO heartbeat already detects a dead peer, on every transport, and
// Go's default keepalive costs four setsockopt calls per connection and a
// probe every 15 seconds per idle connection (Node's http server does not
// enable it either). Use it in place of net.Listen("tcp", addr).
func Listen(addr string) (net.Listener, error) {
	lc := net.ListenConfig{KeepAlive: -1}
	return lc.Listen(context.Background(), "tcp", addr)
}
