package app

import (
	"context"
	"errors"
	"fmt"
	"net"

	xmppgw "github.com/banter-chat/banter/gateway/xmpp"
)

// xmppState is the XMPP gateway: XMPP over WebSocket at /xmpp always,
// XMPP over TCP (STARTTLS with the server's certificate) when
// Config.XMPPAddr is set, direct TLS when Config.XMPPTLSAddr is.
type xmppState struct {
	gw          *xmppgw.Gateway
	ln, tlsLn   net.Listener
	done, done2 chan error
}

// ErrXMPPListen is wrapped by New's error when an XMPP address cannot be
// listened on.
var ErrXMPPListen = errors.New("cannot listen for XMPP clients")

// initXMPP builds the gateway and mounts /xmpp. The listeners are opened
// first, so a busy port fails New before anything runs.
func (a *App) initXMPP() error {
	x := &a.xmpp
	if a.cfg.XMPPTLSAddr != "" && !a.tlsEnabled() {
		return fmt.Errorf("%w: direct TLS for XMPP needs --tls-cert and --tls-key", ErrConfig)
	}
	listen := func(addr string) (net.Listener, error) {
		if addr == "" {
			return nil, nil
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("%w on %s: %w", ErrXMPPListen, addr, err)
		}
		return ln, nil
	}
	var err error
	if x.ln, err = listen(a.cfg.XMPPAddr); err != nil {
		return err
	}
	if x.tlsLn, err = listen(a.cfg.XMPPTLSAddr); err != nil {
		if x.ln != nil {
			x.ln.Close()
		}
		return err
	}
	cfg := xmppgw.Config{
		Logger: a.log, Domain: a.cfg.XMPPDomain,
		Admit:        a.guard.Admit,
		CheckOrigin:  a.guard.CheckOrigin,
		RequestBurst: a.cfg.RequestBurst, RequestsPerSecond: a.cfg.RequestsPerSecond,
		MaxQueuedBytes: a.cfg.MaxBufferedBytes,
	}
	if a.tlsEnabled() {
		cfg.TLS = a.tlsConfig("xmpp-client")
	}
	gw, err := xmppgw.New(a.svc, cfg)
	if err != nil {
		for _, ln := range []net.Listener{x.ln, x.tlsLn} {
			if ln != nil {
				ln.Close()
			}
		}
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	a.xmppReady.Lock()
	x.gw = gw
	a.xmppReady.Unlock()
	a.mux.Handle("/xmpp", gw)
	if x.ln != nil {
		x.done = make(chan error, 1)
		go func() { x.done <- gw.Serve(x.ln) }()
		a.log.Info("Banter XMPP on "+x.ln.Addr().String(), "domain", gw.Domain())
	}
	if x.tlsLn != nil {
		x.done2 = make(chan error, 1)
		go func() { x.done2 <- gw.ServeTLS(x.tlsLn) }()
		a.log.Info("Banter XMPP (direct TLS) on "+x.tlsLn.Addr().String(), "domain", gw.Domain())
	}
	return nil
}

// XMPPAddr returns the address of the XMPP listener, nil when it is off.
func (a *App) XMPPAddr() net.Addr {
	if a.xmpp.ln == nil {
		return nil
	}
	return a.xmpp.ln.Addr()
}

// XMPPTLSAddr returns the address of the direct-TLS XMPP listener.
func (a *App) XMPPTLSAddr() net.Addr {
	if a.xmpp.tlsLn == nil {
		return nil
	}
	return a.xmpp.tlsLn.Addr()
}

// XMPPDomain returns the XMPP domain.
func (a *App) XMPPDomain() string { return a.xmpp.gw.Domain() }

// closeXMPP runs after chat.Service.Close (clients were told the server
// shuts down): it closes the rest and waits for the gateway.
func (a *App) closeXMPP(ctx context.Context) []error {
	x := &a.xmpp
	if x.gw == nil {
		return nil
	}
	var errs []error
	if err := x.gw.Close(ctx); err != nil {
		errs = append(errs, fmt.Errorf("xmpp: %w", err))
	}
	for _, d := range []chan error{x.done, x.done2} {
		if d == nil {
			continue
		}
		if err := <-d; err != nil && !errors.Is(err, xmppgw.ErrClosed) {
			errs = append(errs, fmt.Errorf("xmpp: %w", err))
		}
	}
	return errs
}

// xmppActivity counts XMPP connections opened and closed, for the memory
// reclaimer (0 before the gateway exists).
func (a *App) xmppActivity() uint64 {
	a.xmppReady.Lock()
	gw := a.xmpp.gw
	a.xmppReady.Unlock()
	if gw == nil {
		return 0
	}
	return gw.Activity()
}
