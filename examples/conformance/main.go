// Command conformance is the server the official Engine.IO and Socket.IO
// protocol test suites (github.com/socketio/engine.io-protocol and
// socket.io-protocol, folder test-suite) and our own interop tests run
// against: a raw Engine.IO echo endpoint at /engine.io/ and the Socket.IO
// behaviour those suites expect at /socket.io/. The handlers live in
// internal/conformance so that tests can serve them in-process.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/banter-chat/banter/internal/conformance"
	"github.com/banter-chat/banter/socketio"
)

func main() {
	port := flag.Int("port", 3000, "TCP port to listen on")
	mode := flag.String("mode", "conformance", "conformance: the official suites' settings (pingInterval 300 ms, pingTimeout 200 ms, EIO 3 refused); interop: the same with EIO 3 accepted")
	recovery := flag.Duration("recovery", 0, "interop mode: enable connection state recovery with this window (e.g. 2m); 0 = off")
	verbose := flag.Bool("v", false, "debug logs")
	pingInterval := flag.Duration("ping-interval", 0, "override the suites' 300 ms heartbeat interval (as the interop tests do)")
	pingTimeout := flag.Duration("ping-timeout", 0, "override the suites' 200 ms heartbeat timeout")
	flag.Parse()
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	var opts conformance.Options
	switch *mode {
	case "conformance":
		opts.DisableEIO3 = true
	case "interop":
		if *recovery > 0 {
			opts.Recovery = &socketio.RecoveryConfig{MaxDisconnectionDuration: *recovery}
		}
	default:
		fmt.Fprintf(os.Stderr, "conformance: unknown -mode %q (want conformance or interop)\n", *mode)
		os.Exit(2)
	}
	opts.Logger = log
	opts.PingInterval, opts.PingTimeout = *pingInterval, *pingTimeout
	srv := conformance.New(opts)
	ln, err := net.Listen("tcp", fmt.Sprintf(":%d", *port))
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		os.Exit(1)
	}
	fmt.Printf("LISTENING %d\n", ln.Addr().(*net.TCPAddr).Port)
	if ln, err = srv.Listener(ln); err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		os.Exit(1)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		<-sig
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = hs.Shutdown(ctx)
	}()
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		os.Exit(1)
	}
}
