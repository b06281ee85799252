package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	httppprof "net/http/pprof"
	"os"
	"runtime/pprof"
	"time"

	"github.com/banter-chat/banter/bench/workload"
	"github.com/banter-chat/banter/engineio"
	"github.com/banter-chat/banter/internal/memreclaim"
	"github.com/banter-chat/banter/socketio"
)

// runServe serves the workload on a Socket.IO server with the default
// configuration until ctx ends.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench serve", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:3000", "listen address (port 0: any free port)")
	verbose := fs.Bool("v", false, "debug logs to stderr")
	debugAddr := fs.String("debug-addr", "", "serve net/http/pprof on this loopback address (evidence for performance reports)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	maxWriteDelay := fs.Duration("max-write-delay", 0, "engineio.Config.MaxWriteDelay: longest a frame waits to share a write under load (0: the default; negative: never)")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return fmt.Errorf("bench serve: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return fmt.Errorf("bench serve: %w", err)
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	io := socketio.NewServer(socketio.Config{Logger: log, Engine: engineio.Config{MaxWriteDelay: *maxWriteDelay}})
	workload.Mount(io, log)
	// As the banter server does: memory goes back to the OS after bursts.
	rctx, stopReclaim := context.WithCancel(ctx)
	defer stopReclaim()
	go memreclaim.Run(rctx, memreclaim.Config{Logger: log}, memreclaim.EngineActivity(io.Engine()))
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", io)
	if *debugAddr != "" {
		dl, err := net.Listen("tcp", *debugAddr)
		if err != nil {
			return fmt.Errorf("bench serve: --debug-addr: %w", err)
		}
		dm := http.NewServeMux()
		dm.HandleFunc("/debug/pprof/", httppprof.Index)
		dm.HandleFunc("/debug/pprof/profile", httppprof.Profile)
		dm.HandleFunc("/debug/pprof/trace", httppprof.Trace)
		ds := &http.Server{Handler: dm, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = ds.Serve(dl) }()
		defer ds.Close()
	}
	ln, err := engineio.Listen(*addr)
	if err != nil {
		return fmt.Errorf("bench serve: %w", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	// As the banter server does: WebSocket handshakes on the event loop.
	if ln, err = io.Engine().Accept(ln, 10*time.Second, engineio.Route{Prefix: "/socket.io/", Handler: io}); err != nil {
		return fmt.Errorf("bench serve: %w", err)
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	// The port and the pid: what the script needs to aim and to measure.
	fmt.Fprintf(stdout, "LISTENING %d %d\n", port, os.Getpid())
	select {
	case err := <-served:
		return fmt.Errorf("bench serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = errors.Join(io.Shutdown(sctx), hs.Shutdown(sctx))
	if err2 := <-served; !errors.Is(err2, http.ErrServerClosed) {
		err = errors.Join(err, err2)
	}
	return err
}
