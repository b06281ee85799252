package mqttgw

import (
	"context"
	"time"
)

// The chat calls of one packet (CONNECT, SUBSCRIBE, PUBLISH: store reads
// and appends) are bounded by requestTimeout. A context.WithTimeout per
// packet would cost a context, a timer and its start and stop on every
// connect, subscribe and publish; instead the sweeper makes one context a
// second whose deadline is requestTimeout (and that second) away, and
// every packet uses the current one: a packet gets at least requestTimeout.
// They all end when the gateway closes.

// requestTimeout bounds the chat calls of one packet (store reads and
// appends).
const requestTimeout = 30 * time.Second

// requestContexts is how many request contexts are kept: each is
// cancelled (it has expired by then) when its slot comes round again.
const requestContexts = int(requestTimeout/time.Second) + 2

// renewRequestContext makes the current request context (New, then the
// sweeper once a second).
func (g *Gateway) renewRequestContext() {
	ctx, cancel := context.WithTimeout(g.base, requestTimeout+time.Second)
	if old := g.reqCancel[g.reqNext]; old != nil {
		old()
	}
	g.reqCancel[g.reqNext] = cancel
	g.reqNext = (g.reqNext + 1) % requestContexts
	g.reqCtx.Store(&ctx)
}

// requestContext returns the context for the chat calls of a packet.
func (g *Gateway) requestContext() context.Context { return *g.reqCtx.Load() }
