package app

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
)

// TLS: with Config.TLSCertFile and TLSKeyFile the HTTP port serves HTTPS
// and WSS, and the MQTT listener (Config.MQTTAddr) serves MQTTS, with one
// certificate that ReloadTLS (SIGHUP in cmd/banter) replaces without a
// restart. Go's crypto/tls terminates it; a TLS WebSocket is then served
// by its own goroutine (the epoll loop takes plain connections only), so
// a deployment with very many idle connections saves memory by
// terminating TLS in a proxy in front of Banter instead
// (docs/operations.md). HTTP/1.1 only: WebSocket upgrades need it.

// ErrTLS is wrapped by New's and ReloadTLS's errors when the certificate
// or key cannot be loaded.
var ErrTLS = errors.New("cannot load the TLS certificate")

type tlsState struct {
	cert atomic.Pointer[tls.Certificate]
}

func (a *App) tlsEnabled() bool { return a.cfg.TLSCertFile != "" }

func (a *App) initTLS() error {
	if (a.cfg.TLSCertFile == "") != (a.cfg.TLSKeyFile == "") {
		return fmt.Errorf("%w: TLS needs both a certificate file and a key file", ErrConfig)
	}
	if !a.tlsEnabled() {
		return nil
	}
	return a.ReloadTLS()
}

// ReloadTLS reads the certificate and key files again; new connections
// use them, open ones keep theirs. On error the previous certificate stays
// in use. It is a no-op without TLS.
func (a *App) ReloadTLS() error {
	if !a.tlsEnabled() {
		return nil
	}
	cert, err := tls.LoadX509KeyPair(a.cfg.TLSCertFile, a.cfg.TLSKeyFile)
	if err != nil {
		return fmt.Errorf("%w from %s and %s: %w", ErrTLS, a.cfg.TLSCertFile, a.cfg.TLSKeyFile, err)
	}
	a.tls.cert.Store(&cert)
	return nil
}

// tlsConfig is the server configuration of every TLS listener.
func (a *App) tlsConfig(protos ...string) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: protos,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return a.tls.cert.Load(), nil
		},
	}
}

// tlsListener wraps ln in TLS when it is configured.
func (a *App) tlsListener(ln net.Listener, protos ...string) net.Listener {
	if !a.tlsEnabled() {
		return ln
	}
	return tls.NewListener(ln, a.tlsConfig(protos...))
}
