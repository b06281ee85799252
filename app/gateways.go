package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"

	"github.com/banter-chat/banter/gateway/rest"
	"github.com/banter-chat/banter/gateway/tcp"
	"github.com/banter-chat/banter/gateway/ws"
	"github.com/banter-chat/banter/guard"
)

// gateways are the non-Socket.IO ways in: REST + SSE under /api/v1/, plain
// WebSocket JSON at /ws, and raw TCP lines when Config.TCPAddr is set.
type gateways struct {
	rest    *rest.Gateway
	ws      *ws.Gateway
	tcp     *tcp.Gateway
	tcpLn   net.Listener
	tcpDone chan error
}

// ErrTCPListen is wrapped by New's error when Config.TCPAddr cannot be
// listened on.
var ErrTCPListen = errors.New("cannot listen for TCP clients")

// initGateways builds the gateways and mounts their routes. The TCP
// listener is opened first, so a busy port fails New before anything runs.
func (a *App) initGateways() error {
	g := &a.gws
	if a.cfg.TCPAddr != "" {
		ln, err := net.Listen("tcp", a.cfg.TCPAddr)
		if err != nil {
			return fmt.Errorf("%w on %s: %w", ErrTCPListen, a.cfg.TCPAddr, err)
		}
		g.tcpLn = ln
	}
	g.rest = rest.New(a.svc, rest.Config{Logger: a.log, APIKey: a.cfg.APIKey})
	g.ws = ws.New(a.svc, ws.Config{Logger: a.log, OriginPatterns: originHosts(a.cfg.CORSOrigins),
		Admit: a.guard.Admit, Refused: guard.Refuse})
	a.mux.Handle(rest.Prefix, guardREST(a.guard, g.rest))
	// /ws admits a connection for its whole life (ws.Config.Admit): its
	// handler returns as soon as the connection is on the event loop.
	a.mux.Handle("/ws", a.guard.OriginMiddleware(g.ws))
	if g.tcpLn != nil {
		g.tcp = tcp.New(a.svc, tcp.Config{Logger: a.log, Admit: a.guard.Admit, Refusal: tcpRefusal})
		g.tcpDone = make(chan error, 1)
		ln := g.tcpLn
		go func() { g.tcpDone <- g.tcp.Serve(ln) }()
		a.log.Info("Banter TCP line protocol on " + g.tcpLn.Addr().String())
	}
	return nil
}

// TCPAddr returns the address of the TCP gateway, nil when it is off.
func (a *App) TCPAddr() net.Addr {
	if a.gws.tcpLn == nil {
		return nil
	}
	return a.gws.tcpLn.Addr()
}

// closeGateways runs after chat.Service.Close (which told every session
// why it ends): it closes what is left and waits for the gateways'
// goroutines.
func (a *App) closeGateways(ctx context.Context) []error {
	g := &a.gws
	var errs []error
	if g.tcp != nil {
		if err := g.tcp.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("tcp: %w", err))
		}
		if err := <-g.tcpDone; err != nil && !errors.Is(err, tcp.ErrClosed) {
			errs = append(errs, fmt.Errorf("tcp: %w", err))
		}
	} else if g.tcpLn != nil {
		g.tcpLn.Close()
	}
	if g.ws != nil {
		if err := g.ws.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("ws: %w", err))
		}
	}
	if g.rest != nil {
		if err := g.rest.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("rest: %w", err))
		}
	}
	return errs
}

// originHosts turns CORS origins ("https://example.com", "*") into the host
// patterns the WebSocket library checks Origin against.
func originHosts(origins []string) []string {
	var out []string
	for _, o := range origins {
		if u, err := url.Parse(o); err == nil && u.Host != "" {
			out = append(out, u.Host)
		} else {
			out = append(out, o)
		}
	}
	return out
}
