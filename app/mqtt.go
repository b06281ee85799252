package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"

	mqttgw "github.com/banter-chat/banter/gateway/mqtt"
	"github.com/banter-chat/banter/guard"
)

// mqttState is the MQTT gateway: MQTT over WebSocket at /mqtt always, MQTT
// over TCP when Config.MQTTAddr is set.
type mqttState struct {
	gw   *mqttgw.Gateway
	ln   net.Listener
	done chan error
	// seen is gw for the memory reclaimer, which starts before initMQTT.
	seen atomic.Pointer[mqttgw.Gateway]
}

// ErrMQTTListen is wrapped by New's error when Config.MQTTAddr cannot be
// listened on.
var ErrMQTTListen = errors.New("cannot listen for MQTT clients")

// initMQTT builds the gateway and mounts /mqtt. The listener is opened
// first, so a busy port fails New before anything runs.
func (a *App) initMQTT() error {
	m := &a.mqtt
	if a.cfg.MQTTAddr != "" {
		ln, err := net.Listen("tcp", a.cfg.MQTTAddr)
		if err != nil {
			return fmt.Errorf("%w on %s: %w", ErrMQTTListen, a.cfg.MQTTAddr, err)
		}
		m.ln = ln
	}
	// Every connection takes a place in the guard for its whole life: the
	// gateway releases it when the connection ends (the WebSocket handler
	// returns long before: the connection lives on the event loop).
	gw, err := mqttgw.New(a.svc, mqttgw.Config{Logger: a.log, Admit: a.guard.Admit})
	if err != nil {
		if m.ln != nil {
			m.ln.Close()
		}
		return fmt.Errorf("app: %w", err)
	}
	m.gw = gw
	m.seen.Store(gw)
	a.mux.Handle("/mqtt", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := a.guard.CheckOrigin(r); err != nil {
			http.Error(w, err.Error(), guard.Status(err))
			return
		}
		release, err := a.guard.Admit(r.RemoteAddr)
		if err != nil {
			if errors.Is(err, guard.ErrTooFast) {
				w.Header().Set("Retry-After", "1")
			}
			http.Error(w, err.Error(), guard.Status(err))
			return
		}
		gw.Upgrade(w, r, release)
	}))
	if m.ln != nil {
		m.done = make(chan error, 1)
		// MQTT has no word for "refused" before CONNECT: refused
		// connections are just closed.
		ln := a.tlsListener(m.ln, "mqtt")
		go func() { m.done <- gw.Serve(ln) }()
		a.log.Info("Banter MQTT on " + m.ln.Addr().String())
	}
	return nil
}

// MQTTAddr returns the address of the MQTT listener, nil when it is off.
func (a *App) MQTTAddr() net.Addr {
	if a.mqtt.ln == nil {
		return nil
	}
	return a.mqtt.ln.Addr()
}

// mqttActivity counts MQTT connections opened and closed (a counter that
// only grows), for the memory reclaimer.
func (a *App) mqttActivity() uint64 {
	gw := a.mqtt.seen.Load()
	if gw == nil {
		return 0
	}
	st := gw.Stats()
	return st.AcceptedTCP + st.AcceptedWebSocket + st.Ended
}

// closeMQTT runs after chat.Service.Close (MQTT 5 clients were told the
// server shuts down): it closes the rest and waits for the gateway.
func (a *App) closeMQTT(ctx context.Context) []error {
	m := &a.mqtt
	if m.gw == nil {
		return nil
	}
	var errs []error
	if err := m.gw.Close(ctx); err != nil {
		errs = append(errs, fmt.Errorf("mqtt: %w", err))
	}
	if m.done != nil {
		if err := <-m.done; err != nil && !errors.Is(err, mqttgw.ErrClosed) {
			errs = append(errs, fmt.Errorf("mqtt: %w", err))
		}
	}
	return errs
}
