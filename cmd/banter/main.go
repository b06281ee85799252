// Command banter is the Banter chat server.
//
//	banter [serve] [flags]   run the server (the default)
//	banter bench ...         the load generator and benchmark report
//	banter version           print the version
//
// Run `banter --help` for the flags. Configuration comes from flags, then
// the environment (BANTER_ADDR, BANTER_DB, BANTER_LOG_LEVEL), then
// defaults. SIGINT or SIGTERM stops the server gracefully.
//
// Exit codes: 0 clean stop, 1 failure while running or stopping, 2 bad
// command line, 3 cannot listen on the address, 4 cannot open the database.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/banter-chat/banter/app"
	"github.com/banter-chat/banter/bench"
)

// version is set at build time: -ldflags "-X main.version=v1.2.3".
var version = ""

// Exit codes.
const (
	exitOK       = 0
	exitFailure  = 1
	exitUsage    = 2
	exitListen   = 3
	exitDatabase = 4
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole command, testable: ctx ends when a stop signal arrives.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	sub := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	switch sub {
	case "serve":
		return serve(ctx, args, getenv, stdout, stderr)
	case "chat":
		return chatMain(ctx, args, getenv, os.Stdin, stdout, stderr)
	case "token":
		return tokenMain(args, getenv, stdout, stderr)
	case "bench":
		if err := bench.Main(ctx, args, stdout, stderr); err != nil {
			fmt.Fprintln(stderr, "banter bench:", err)
			if errors.Is(err, bench.ErrUsage) {
				return exitUsage
			}
			return exitFailure
		}
		return exitOK
	case "version":
		fmt.Fprintln(stdout, "banter", versionString())
		return exitOK
	case "help":
		fmt.Fprint(stdout, usageHead)
		newServeFlags(getenv, stdout).fs.PrintDefaults()
		return exitOK
	}
	fmt.Fprintf(stderr, "banter: unknown command %q\n\n%s", sub, usageHead)
	return exitUsage
}

const usageHead = `Banter: a real-time chat server speaking Socket.IO.

Usage:
  banter [serve] [flags]   run the server (the default command)
  banter bench <sub> ...   load generator and benchmark report (banter bench help)
  banter chat --nick NAME  the terminal chat client (banter chat --help)
  banter token --sub ID    print a signed JWT for tests (banter token --help)
  banter version           print the version
  banter help              this text

Environment (used when the flag is not given): BANTER_ADDR, BANTER_DB,
BANTER_LOG_LEVEL.

Exit codes: 0 clean stop, 1 failure, 2 bad command line, 3 cannot listen,
4 cannot open the database.

Flags of serve:
`

func versionString() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	return v + " " + bi.GoVersion
}

type serveFlags struct {
	fs              *flag.FlagSet
	addr, db, level string
	cors            string
	pingInterval    time.Duration
	pingTimeout     time.Duration
	shutdownTimeout time.Duration
	maxMessageBytes int
	rateBurst       int
	ratePerSecond   float64
	fullSync        bool
	apiKey, tcpAddr string
	mqttAddr        string
	store, redis    string // cluster backends (app/cluster.go)
	auth            *authFlags
}

func newServeFlags(getenv func(string) string, out io.Writer) *serveFlags {
	f := &serveFlags{fs: flag.NewFlagSet("banter serve", flag.ContinueOnError)}
	fs := f.fs
	fs.SetOutput(out)
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	fs.StringVar(&f.addr, "addr", env("BANTER_ADDR", ":3000"), "listen address, host:port (env BANTER_ADDR)")
	fs.StringVar(&f.db, "db", env("BANTER_DB", "./banter.db"), "SQLite database file, created if missing (env BANTER_DB)")
	fs.StringVar(&f.level, "log-level", env("BANTER_LOG_LEVEL", "info"), "log level: debug, info, warn or error (env BANTER_LOG_LEVEL)")
	fs.StringVar(&f.cors, "cors-origins", "", "comma-separated origins allowed to use long-polling cross-origin (* for any); default same-origin only")
	fs.DurationVar(&f.pingInterval, "ping-interval", 25*time.Second, "Engine.IO heartbeat interval")
	fs.DurationVar(&f.pingTimeout, "ping-timeout", 20*time.Second, "Engine.IO heartbeat timeout")
	fs.DurationVar(&f.shutdownTimeout, "shutdown-timeout", 15*time.Second, "how long a graceful stop may take before connections are cut")
	fs.IntVar(&f.maxMessageBytes, "max-message-bytes", 4096, "largest message text in bytes")
	fs.IntVar(&f.rateBurst, "rate-burst", 20, "messages a client may send in a burst")
	fs.Float64Var(&f.ratePerSecond, "rate-per-second", 5, "sustained messages per second per client")
	fs.StringVar(&f.apiKey, "api-key", env("BANTER_API_KEY", ""), "key that backends send to POST /api/v1/publish; empty disables server-side publish (env BANTER_API_KEY)")
	fs.StringVar(&f.tcpAddr, "tcp", env("BANTER_TCP", ""), "serve the raw TCP line protocol on this address, e.g. :4000; off when empty (env BANTER_TCP)")
	fs.StringVar(&f.mqttAddr, "mqtt", env("BANTER_MQTT", ""), "serve MQTT on this address, e.g. :1883; off when empty; MQTT over WebSocket is always at /mqtt (env BANTER_MQTT)")
	fs.StringVar(&f.store, "store", env("BANTER_STORE", ""), "PostgreSQL URL for a cluster node, e.g. postgres://banter@db:5432/banter; replaces --db (env BANTER_STORE)")
	fs.StringVar(&f.redis, "redis", env("BANTER_REDIS", ""), "Redis URL carrying events between cluster nodes, e.g. redis://cache:6379/0 (env BANTER_REDIS)")
	fs.BoolVar(&f.fullSync, "full-sync", false, "fsync every commit: acknowledged messages also survive power loss (slower)")
	f.auth = addAuthFlags(fs, getenv)
	fs.Usage = func() {
		fmt.Fprint(out, usageHead)
		fs.PrintDefaults()
	}
	return f
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	err := l.UnmarshalText([]byte(s))
	return l, err
}

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	out := stderr
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" || a == "--h" {
			out = stdout // asked for: not an error
		}
	}
	f := newServeFlags(getenv, out)
	if err := f.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if f.fs.NArg() > 0 {
		fmt.Fprintf(stderr, "banter: unexpected argument %q (see banter --help)\n", f.fs.Arg(0))
		return exitUsage
	}
	level, err := parseLevel(f.level)
	if err != nil {
		fmt.Fprintf(stderr, "banter: --log-level %q: want debug, info, warn or error\n", f.level)
		return exitUsage
	}
	if f.maxMessageBytes <= 0 || f.rateBurst <= 0 || f.ratePerSecond <= 0 || f.pingInterval <= 0 || f.pingTimeout <= 0 || f.shutdownTimeout <= 0 {
		fmt.Fprintln(stderr, "banter: --max-message-bytes, --rate-*, --ping-* and --shutdown-timeout must be positive")
		return exitUsage
	}
	authCfg, err := f.auth.config()
	if err != nil {
		fmt.Fprintf(stderr, "banter: %v\n", err)
		return exitUsage
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	var origins []string
	for _, o := range strings.Split(f.cors, ",") {
		if o = strings.TrimSpace(o); o != "" {
			origins = append(origins, o)
		}
	}
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		fmt.Fprintf(stderr, "banter: cannot listen on %s: %v\n", f.addr, err)
		if errors.Is(err, syscall.EADDRINUSE) {
			fmt.Fprintln(stderr, "banter: another program uses this port; stop it or choose another with --addr")
		}
		return exitListen
	}
	a, err := app.New(app.Config{
		Addr: f.addr, DBPath: f.db, Logger: log,
		PingInterval: f.pingInterval, PingTimeout: f.pingTimeout, CORSOrigins: origins,
		MaxMessageBytes: f.maxMessageBytes, RateBurst: f.rateBurst, RatePerSecond: f.ratePerSecond,
		FullSync: f.fullSync, APIKey: f.apiKey, TCPAddr: f.tcpAddr, MQTTAddr: f.mqttAddr,
		StoreURL: f.store, RedisURL: f.redis, Auth: authCfg,
	})
	if err != nil {
		ln.Close()
		fmt.Fprintf(stderr, "banter: %v\n", err)
		if errors.Is(err, app.ErrDatabase) || errors.Is(err, app.ErrCluster) {
			return exitDatabase
		}
		if errors.Is(err, app.ErrTCPListen) || errors.Is(err, app.ErrMQTTListen) {
			return exitListen
		}
		if errors.Is(err, app.ErrAuth) {
			return exitUsage
		}
		return exitFailure
	}
	served := make(chan error, 1)
	go func() { served <- a.Serve(ln) }()
	code := exitOK
	select {
	case <-ctx.Done():
		log.Info("stop signal received; shutting down", "timeout", f.shutdownTimeout)
	case err := <-served:
		// Serve ended without Shutdown: the listener failed.
		log.Error("server stopped", "err", err)
		code = exitFailure
	}
	sctx, cancel := context.WithTimeout(context.Background(), f.shutdownTimeout)
	defer cancel()
	if err := a.Shutdown(sctx); err != nil {
		log.Error("shutdown", "err", err)
		code = exitFailure
	}
	if code == exitOK {
		if err := <-served; err != nil {
			log.Error("serve", "err", err)
			code = exitFailure
		}
	}
	return code
}
