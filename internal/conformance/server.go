// Package conformance is the server the official Engine.IO and Socket.IO
// protocol test suites and Banter's interop tests run against: a raw
// Engine.IO echo endpoint at /engine.io/ and, at /socket.io/, the namespaces
// and events those suites and test/interop's scenarios expect (see
// setupSocketIO). examples/conformance serves it as a program; tests serve
// it in-process.
//
// Entry point: New returns a Server (an http.Handler); Shutdown closes every
// session and waits. Safe for concurrent use.
package conformance

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/banter-chat/banter/engineio"
	"github.com/banter-chat/banter/socketio"
)

// Options configures the conformance server.
type Options struct {
	DisableEIO3 bool
	// PingInterval and PingTimeout override the suites' 300 ms / 200 ms
	// heartbeat (zero: keep it), for load scenarios where many clients share
	// one busy process.
	PingInterval, PingTimeout time.Duration
	Recovery                  *socketio.RecoveryConfig
	Logger                    *slog.Logger
}

// Server is the conformance server: an http.Handler.
type Server struct {
	mux *http.ServeMux
	eio *engineio.Server
	io  *socketio.Server
	bg  *background
}

// New returns the conformance server with the settings the official suites
// expect: pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1,000,000, CORS *.
func New(o Options) *Server {
	if o.PingInterval <= 0 {
		o.PingInterval = 300 * time.Millisecond
	}
	if o.PingTimeout <= 0 {
		o.PingTimeout = 200 * time.Millisecond
	}
	s := &Server{mux: http.NewServeMux(), bg: newBackground()}
	s.eio = engineio.NewServer(engineio.Config{
		PingInterval: o.PingInterval,
		PingTimeout:  o.PingTimeout,
		MaxPayload:   1_000_000,
		DisableEIO3:  o.DisableEIO3,
		CORS:         &engineio.CORS{Origins: []string{"*"}},
		Logger:       o.Logger,
		OnConnection: func(sock *engineio.Socket) { sock.SetHandler(echo{}) },
	})
	s.mux.Handle("/engine.io/", s.eio)
	s.io = socketio.NewServer(socketio.Config{
		Engine: engineio.Config{
			PingInterval: o.PingInterval,
			PingTimeout:  o.PingTimeout,
			MaxPayload:   1_000_000,
			DisableEIO3:  o.DisableEIO3,
			CORS:         &engineio.CORS{Origins: []string{"*"}},
		},
		ConnectTimeout: time.Second,
		Recovery:       o.Recovery,
		Logger:         o.Logger,
	})
	setupSocketIO(s.io, s.bg)
	s.mux.Handle("/socket.io/", s.io)
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Listener takes ln over as the banter server does (engineio.Accept): new
// WebSocket sessions of both endpoints are read and answered on the event
// loop, the rest goes to the http.Server that serves the returned listener.
func (s *Server) Listener(ln net.Listener) (net.Listener, error) {
	return s.io.Engine().Accept(ln, 10*time.Second,
		engineio.Route{Prefix: "/engine.io/", Handler: s.eio}, engineio.Route{Prefix: "/socket.io/", Handler: s.io})
}

// Shutdown closes every session and waits, for handlers still waiting on
// acknowledgements too. The Socket.IO engine goes last: its event loop
// serves the raw endpoint's WebSockets too (Listener).
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.eio.Shutdown(ctx)
	if err2 := s.bg.stop(ctx); err == nil {
		err = err2
	}
	if err2 := s.io.Shutdown(ctx); err == nil {
		err = err2
	}
	return err
}

// background runs the goroutines of handlers that wait (multi-ack), so
// Shutdown can cancel them and wait for them.
type background struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newBackground() *background {
	ctx, cancel := context.WithCancel(context.Background())
	return &background{ctx: ctx, cancel: cancel}
}

// Go runs f on a new goroutine with a context that Shutdown cancels.
func (b *background) Go(f func(ctx context.Context)) {
	b.wg.Go(func() { f(b.ctx) })
}

func (b *background) stop(ctx context.Context) error {
	b.cancel()
	done := make(chan struct{})
	go func() { b.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("conformance: handlers still running: %w", ctx.Err())
	}
}

// echo sends every message back, text as text and binary as binary.
type echo struct{}

func (echo) OnMessage(s *engineio.Socket, data []byte, binary bool) {
	_ = s.Send(engineio.NewMessage(append([]byte(nil), data...), binary))
}

func (echo) OnClose(*engineio.Socket, engineio.Reason) {}
