package app

import (
	"context"
	"errors"
	"fmt"
	"net"

	mqttgw "github.com/banter-chat/banter/gateway/mqtt"
)

// mqttState is the MQTT gateway: MQTT over WebSocket at /mqtt always, MQTT
// over TCP when Config.MQTTAddr is set.
type mqttState struct {
	gw   *mqttgw.Gateway
	ln   net.Listener
	done chan error
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
	gw, err := mqttgw.New(a.svc, mqttgw.Config{Logger: a.log})
	if err != nil {
		if m.ln != nil {
			m.ln.Close()
		}
		return fmt.Errorf("app: %w", err)
	}
	m.gw = gw
	a.mux.Handle("/mqtt", a.guard.Middleware(gw))
	if m.ln != nil {
		m.done = make(chan error, 1)
		// MQTT has no word for "refused" before CONNECT: refused
		// connections are just closed.
		ln := a.tlsListener(a.guard.Listener(m.ln, nil), "mqtt")
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
