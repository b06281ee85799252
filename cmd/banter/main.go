// Command banter is the Banter chat server.
//
//	banter [serve] [flags]   run the server (the default)
//	banter config [flags]    print the effective configuration
//	banter bench ...         the load generator and benchmark report
//	banter version           print the version
//
// Run `banter --help` for the settings. Each comes from its flag, else its
// BANTER_* environment variable, else the YAML config file (--config),
// else its default (config.go). SIGINT or SIGTERM stops the server
// gracefully.
//
// Exit codes: 0 clean stop, 1 failure while running or stopping, 2 bad
// command line, 3 cannot listen on the address, 4 cannot open the database.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/banter-chat/banter/app"
	"github.com/banter-chat/banter/auth"
	"github.com/banter-chat/banter/bench"
	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/engineio"
	"github.com/banter-chat/banter/guard"
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
	case "config":
		return configMain(args, getenv, stdout, stderr)
	case "admin-password":
		return adminPasswordMain(args, os.Stdin, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "banter", versionString())
		return exitOK
	case "help":
		fmt.Fprint(stdout, usageHead)
		printUsage(stdout, newServeFlags(stdout).fs)
		return exitOK
	}
	fmt.Fprintf(stderr, "banter: unknown command %q\n\n%s", sub, usageHead)
	return exitUsage
}

const usageHead = `Banter: a real-time chat server speaking Socket.IO.

Usage:
  banter [serve] [flags]   run the server (the default command)
  banter config [flags]    check the settings and print the effective
                           configuration (secrets masked)
  banter bench <sub> ...   load generator and benchmark report (banter bench help)
  banter chat --nick NAME  the terminal chat client (banter chat --help)
  banter token --sub ID    print a signed JWT for tests (banter token --help)
  banter admin-password    print the bcrypt hash of a password read from
                           stdin (for --admin-ui)
  banter version           print the version
  banter help              this text

Every setting below can be given as a flag, as an environment variable
(BANTER_ + its name in capitals, dashes as underscores) or as a key of the
YAML config file named by --config or BANTER_CONFIG. Precedence, highest
first: flag > environment > config file > default. Invalid settings stop
the server at start (exit code 2).

Exit codes: 0 clean stop, 1 failure, 2 bad settings, 3 cannot listen,
4 cannot open the database or reach the cluster.

Settings of serve:
`

// versionString is the stamped version (make build, make run, the
// Dockerfile: -X main.version), else what the build info knows: the module
// version of `go install …@version`, or the commit that `go build` in the
// git checkout records (vcs.revision, vcs.time, vcs.modified). `go run`
// records no commit.
func versionString() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	return buildVersion(bi, ok)
}

// buildVersion is versionString's reading of the build info.
func buildVersion(bi *debug.BuildInfo, ok bool) string {
	if !ok {
		return "unknown (built without module information)"
	}
	var rev, at string
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	v := bi.Main.Version
	switch {
	case rev != "" && (v == "" || v == "(devel)"):
		v = "devel-" + rev[:min(12, len(rev))]
		if dirty {
			v += "-dirty"
		}
	case v == "" || v == "(devel)":
		return "devel (no commit recorded: build with make build, or go build in the git checkout) " + bi.GoVersion
	}
	if at != "" {
		v += " (" + at + ")"
	}
	return v + " " + bi.GoVersion
}

type serveFlags struct {
	fs              *flag.FlagSet
	config          string
	addr, db, level string
	logFormat       string
	cors            string
	pingInterval    time.Duration
	pingTimeout     time.Duration
	shutdownTimeout time.Duration
	maxMessageBytes int
	maxFileBytes    int64
	fileTypes       string
	rateBurst       int
	ratePerSecond   float64
	fullSync        bool
	apiKey, tcpAddr string
	mqttAddr        string
	xmpp            xmppFlags // xmpp.go
	store, redis    string    // cluster backends (app/cluster.go)
	tlsCert, tlsKey string
	maxConns        int
	maxRooms        int
	requestBurst    int
	requestRate     float64
	maxPayload      int
	maxBuffered     int
	largeRoom       int
	presenceWindow  time.Duration
	editWindow      time.Duration
	maxWriteDelay   time.Duration
	maxConnsPerIP   int
	handshakeRate   float64
	limitLoopback   bool
	metricsAddr     string // "", "off" or an address (app/metrics_http.go)
	advertise       string
	heartbeat, ttl  time.Duration
	auth            *authFlags
	authCfg         auth.Config // read by parseServe
	admin           *adminFlags
	adminCfg        app.AdminUIConfig // read by parseServe
}

// newServeFlags declares every setting of serve with its default; the
// environment and the config file are applied by resolveSettings
// (config.go).
func newServeFlags(out io.Writer) *serveFlags {
	f := &serveFlags{fs: flag.NewFlagSet("banter serve", flag.ContinueOnError)}
	fs := f.fs
	fs.SetOutput(out)
	fs.StringVar(&f.config, configFlag, "", "YAML `file` of settings (keys are the flag names); flags and BANTER_* variables override it")
	fs.StringVar(&f.addr, "addr", ":3000", "listen `address`, host:port")
	fs.StringVar(&f.db, "db", "./banter.db", "SQLite database `file`, created if missing")
	fs.StringVar(&f.level, "log-level", "info", "log `level`: debug, info, warn or error")
	fs.StringVar(&f.logFormat, "log-format", "text", "log `format`: text (key=value lines) or json (one object per line)")
	fs.StringVar(&f.cors, "cors-origins", "", "comma-separated browser `origins` (https://chat.example.com) allowed besides the server's own, for long-polling (CORS), WebSocket, /ws, /mqtt and SSE; * for any; default same-origin only (native apps send no Origin and are not affected)")
	fs.IntVar(&f.maxConns, "max-conns", 0, "most client connections at once, all gateways together; 0: the file descriptor limit minus 256; -1: no cap")
	fs.IntVar(&f.maxConnsPerIP, "max-conns-per-ip", 1000, "most connections from one client address (IPv6: one /64); 0: no cap")
	fs.Float64Var(&f.handshakeRate, "handshake-rate-per-ip", 20, "new connections per second one client address may open (burst twice that); 0: no limit")
	fs.BoolVar(&f.limitLoopback, "limit-loopback", false, "apply the per-address limits to loopback clients too (by default they are exempt: behind a local reverse proxy every client is loopback)")
	fs.DurationVar(&f.pingInterval, "ping-interval", 25*time.Second, "Engine.IO heartbeat interval")
	fs.DurationVar(&f.pingTimeout, "ping-timeout", 20*time.Second, "Engine.IO heartbeat timeout")
	fs.DurationVar(&f.shutdownTimeout, "shutdown-timeout", 15*time.Second, "how long a graceful stop may take before connections are cut")
	fs.IntVar(&f.maxMessageBytes, "max-message-bytes", 4096, "largest message text in `bytes`")
	fs.Int64Var(&f.maxFileBytes, "max-file-bytes", 10<<20, "largest file a user may upload, in `bytes`")
	fs.StringVar(&f.fileTypes, "file-types", strings.Join(chat.DefaultFileTypes, ","), "comma-separated media `types` users may upload, as sniffed from the content (image/* for a family); HTML, SVG, XML and script are refused whatever this says")
	fs.IntVar(&f.maxRooms, "max-rooms", 100, "most rooms one session may be in (DM rooms included)")
	fs.IntVar(&f.maxPayload, "max-payload-bytes", 1_000_000, "largest Socket.IO/Engine.IO message or polling request body in `bytes` (Node's maxHttpBufferSize); bigger ones close the connection")
	fs.IntVar(&f.maxBuffered, "max-buffered-bytes", 4<<20, "most `bytes` queued for one slow client before it is disconnected as a slow consumer")
	fs.IntVar(&f.requestBurst, "request-burst", 100, "Socket.IO events of any kind a connection may send in a burst (joins, history pages…; messages also count against --rate-*)")
	fs.Float64Var(&f.requestRate, "request-rate", 50, "sustained Socket.IO events per second per connection")
	fs.IntVar(&f.largeRoom, "large-room", 200, "users above which a room is large: its members get the member count (at most once per --presence-window) instead of a presence event for every user who joins or leaves, and join results list the first 100 members")
	fs.DurationVar(&f.presenceWindow, "presence-window", time.Second, "shortest interval between two member counts (and typing lists, and read markers) of a room")
	fs.DurationVar(&f.editWindow, "edit-window", 24*time.Hour, "how long after sending users may edit and delete their own messages (admins may delete any message at any time)")
	fs.DurationVar(&f.maxWriteDelay, "max-write-delay", 40*time.Millisecond, "under load, the longest a WebSocket frame may wait to share a write with the next ones (fewer, fuller writes: less CPU per delivered message); 0: never wait")
	fs.IntVar(&f.rateBurst, "rate-burst", 60, "messages a user may send in a burst (a pasted block of lines, several devices: they share the bucket)")
	fs.Float64Var(&f.ratePerSecond, "rate-per-second", 10, "sustained messages per second per user")
	fs.StringVar(&f.apiKey, "api-key", "", "`key` that backends send to POST /api/v1/publish; empty disables server-side publish (prefer the environment to the command line)")
	fs.StringVar(&f.tcpAddr, "tcp", "", "serve the raw TCP line protocol on this `address`, e.g. :4000; off when empty")
	fs.StringVar(&f.mqttAddr, "mqtt", "", "serve MQTT on this `address`, e.g. :1883; off when empty; MQTT over WebSocket is always at /mqtt")
	f.xmpp.add(fs)
	fs.StringVar(&f.tlsCert, "tls-cert", "", "PEM certificate `file` (with its chain): serve HTTPS/WSS on --addr and MQTTS on --mqtt; reloaded on SIGHUP")
	fs.StringVar(&f.tlsKey, "tls-key", "", "PEM private key `file` of --tls-cert; reloaded on SIGHUP")
	fs.StringVar(&f.store, "store", "", "PostgreSQL `URL` for a cluster node, e.g. postgres://banter@db:5432/banter; replaces --db")
	fs.StringVar(&f.redis, "redis", "", "Redis `URL` carrying events between cluster nodes, e.g. redis://cache:6379/0; a Redis Cluster (found out at start: sharded pub/sub) by its seed nodes, redis://r1:6379?addr=r2:6379&addr=r3:6379")
	fs.StringVar(&f.metricsAddr, "metrics-addr", "", "serve /metrics and the /status page on this `address` instead of the main port, e.g. 127.0.0.1:9090; off disables them")
	fs.StringVar(&f.advertise, "advertise", "", "with --redis: the `URL` other nodes reach this one at, e.g. http://10.0.0.5:3000; default: the listen address (a wildcard address: this machine's first non-loopback IP)")
	fs.DurationVar(&f.heartbeat, "cluster-heartbeat", 2*time.Second, "with --redis: how often this node refreshes its liveness key")
	fs.DurationVar(&f.ttl, "cluster-ttl", 6*time.Second, "with --redis: how long a node's liveness key lives; a node that stops is declared gone (its users leave) within ttl + heartbeat; at least twice the heartbeat")
	fs.BoolVar(&f.fullSync, "full-sync", false, "fsync every commit: acknowledged messages also survive power loss (slower)")
	f.auth = addAuthFlags(fs)
	f.admin = addAdminFlags(fs)
	fs.Usage = func() {
		fmt.Fprint(out, usageHead)
		printUsage(out, fs)
	}
	return f
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	err := l.UnmarshalText([]byte(s))
	return l, err
}

// usageError is a configuration mistake: exit code 2 with its message.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// parse reads the command line, the environment and the config file, and
// checks every value as serve needs it (so `banter config` refuses what
// serve would). Its errors are usageErrors, or flag.ErrHelp once the usage
// is printed.
func parseServe(args []string, getenv func(string) string, stdout, stderr io.Writer) (*serveFlags, []setting, error) {
	f := newServeFlags(stdout)
	usage := func(w io.Writer) {
		fmt.Fprint(w, usageHead)
		printUsage(w, f.fs)
	}
	if err := parseFlags(f.fs, args, "banter", usage, stdout); err != nil {
		return nil, nil, err
	}
	if f.fs.NArg() > 0 {
		return nil, nil, usageError{fmt.Sprintf("unexpected argument %q (see banter --help)", f.fs.Arg(0))}
	}
	settings, err := resolveSettings(f.fs, getenv)
	if err != nil {
		return nil, nil, usageError{err.Error()}
	}
	if err := f.check(); err != nil {
		return nil, nil, usageError{err.Error()}
	}
	f.auth.getenv = getenv // BANTER_JWT_SECRET: the secret is never a flag
	if f.authCfg, err = f.auth.config(); err != nil {
		return nil, nil, usageError{err.Error()}
	}
	f.admin.getenv = getenv // the Admin UI's password hash is never a flag
	if f.adminCfg, err = f.admin.config(); err != nil {
		return nil, nil, usageError{err.Error()}
	}
	if f.authCfg.Mode == auth.ModeRequired && !f.authCfg.Enabled() {
		return nil, nil, usageError{"--auth-mode required needs key material: --jwt-secret-file (or BANTER_JWT_SECRET), --jwt-public-key or --jwt-jwks"}
	}
	// The key material is checked as the server does at start; a JWKS URL
	// is fetched there, not here.
	if f.authCfg.Enabled() && f.authCfg.JWKSURL == "" {
		if _, err := auth.New(context.Background(), f.authCfg); err != nil {
			return nil, nil, usageError{"authentication: " + strings.TrimPrefix(err.Error(), "auth: ")}
		}
	}
	return f, settings, nil
}

// check validates values that parse but make no sense.
func (f *serveFlags) check() error {
	var errs []error
	if _, err := parseLevel(f.level); err != nil {
		errs = append(errs, fmt.Errorf("--log-level %q: want debug, info, warn or error", f.level))
	}
	if f.logFormat != "text" && f.logFormat != "json" {
		errs = append(errs, fmt.Errorf("--log-format %q: want text or json", f.logFormat))
	}
	if f.maxMessageBytes <= 0 || f.maxRooms <= 0 || f.requestBurst <= 0 || f.requestRate <= 0 || f.maxPayload <= 0 || f.maxBuffered <= 0 || f.rateBurst <= 0 || f.ratePerSecond <= 0 || f.pingInterval <= 0 || f.pingTimeout <= 0 || f.shutdownTimeout <= 0 {
		errs = append(errs, errors.New("--max-message-bytes, --max-rooms, --request-*, --max-payload-bytes, --max-buffered-bytes, --rate-*, --ping-* and --shutdown-timeout must be positive"))
	}
	if f.maxFileBytes <= 0 || f.maxFileBytes > chat.MaxStoredFileBytes {
		errs = append(errs, fmt.Errorf("--max-file-bytes must be between 1 and %d", chat.MaxStoredFileBytes))
	}
	if err := (chat.FileConfig{Types: f.types()}).Validate(); err != nil {
		_, msg := chat.ClientError(err)
		errs = append(errs, fmt.Errorf("--file-types: %s", strings.TrimPrefix(msg, "chat: Files.Types: ")))
	} else if len(f.types()) == 0 {
		errs = append(errs, errors.New("--file-types: name at least one media type"))
	}
	if f.largeRoom <= 1 || f.presenceWindow <= 0 || f.maxWriteDelay < 0 || f.maxWriteDelay > time.Second {
		errs = append(errs, errors.New("--large-room must be at least 2, --presence-window positive, --max-write-delay between 0 and 1s"))
	}
	if f.editWindow < time.Second {
		errs = append(errs, errors.New("--edit-window must be at least 1s"))
	}
	if f.maxConns < -1 || f.maxConnsPerIP < 0 || f.handshakeRate < 0 {
		errs = append(errs, errors.New("--max-conns (-1 for no cap), --max-conns-per-ip and --handshake-rate-per-ip must not be negative"))
	}
	if _, err := guard.New(guard.Config{Origins: f.origins()}); err != nil {
		errs = append(errs, fmt.Errorf("--cors-origins: %w", err))
	}
	if (f.tlsCert == "") != (f.tlsKey == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key go together"))
	} else if f.tlsCert != "" {
		if _, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey); err != nil {
			errs = append(errs, fmt.Errorf("%w: --tls-cert %s, --tls-key %s: %v", app.ErrTLS, f.tlsCert, f.tlsKey, err))
		}
	}
	for _, a := range []struct{ flag, addr string }{{"addr", f.addr}, {"tcp", f.tcpAddr}, {"mqtt", f.mqttAddr}, {"metrics-addr", f.metricsAddr}} {
		if a.addr != "" && !(a.flag == "metrics-addr" && a.addr == "off") {
			if err := checkListenAddr(a.flag, a.addr); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if f.heartbeat <= 0 || f.ttl < 2*f.heartbeat {
		errs = append(errs, errors.New("--cluster-heartbeat must be positive and --cluster-ttl at least twice as long"))
	}
	if f.advertise != "" {
		if _, err := app.ParseAdvertise(f.advertise); err != nil {
			errs = append(errs, fmt.Errorf("--advertise: %w", err))
		}
	}
	if f.store != "" && !app.IsStoreURL(f.store) {
		errs = append(errs, fmt.Errorf("--store %q: want postgres://… (or no store for SQLite)", app.RedactURL(f.store)))
	}
	return errors.Join(errs...)
}

// startHint says what to do about an error of app.New.
func startHint(err error, f *serveFlags) string {
	switch {
	case errors.Is(err, app.ErrDatabase) && f.store != "":
		return "check that PostgreSQL runs at --store and that its user, password and database are right (banter config shows the settings)"
	case errors.Is(err, app.ErrDatabase):
		return "check that the directory of --db exists and is writable, and that no other program holds the file"
	case errors.Is(err, app.ErrCluster):
		return "check that Redis runs at --redis (banter config shows the settings)"
	case errors.Is(err, app.ErrTCPListen), errors.Is(err, app.ErrMQTTListen), errors.Is(err, app.ErrMetricsListen):
		return "another program uses that port: stop it or choose another address"
	}
	return ""
}

// logger builds the server's logger from --log-level and --log-format.
func (f *serveFlags) logger(w io.Writer) *slog.Logger {
	level, _ := parseLevel(f.level) // checked
	opts := &slog.HandlerOptions{Level: level}
	if f.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func (f *serveFlags) origins() []string {
	var origins []string
	for _, o := range strings.Split(f.cors, ",") {
		if o = strings.TrimSpace(o); o != "" {
			origins = append(origins, o)
		}
	}
	return origins
}

// types is --file-types as a list.
func (f *serveFlags) types() []string {
	out := []string{}
	for _, t := range strings.Split(f.fileTypes, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// appConfig is the app.Config the settings describe.
func (f *serveFlags) appConfig(log *slog.Logger) app.Config {
	metricsAddr := f.metricsAddr
	if metricsAddr == "off" {
		metricsAddr = ""
	}
	return app.Config{
		Addr: f.addr, DBPath: f.db, Logger: log,
		PingInterval: f.pingInterval, PingTimeout: f.pingTimeout, CORSOrigins: f.origins(),
		MaxMessageBytes: f.maxMessageBytes, RateBurst: f.rateBurst, RatePerSecond: f.ratePerSecond,
		MaxFileBytes: f.maxFileBytes, FileTypes: f.types(),
		FullSync: f.fullSync, APIKey: f.apiKey, TCPAddr: f.tcpAddr, MQTTAddr: f.mqttAddr,
		XMPPAddr: f.xmpp.addr, XMPPTLSAddr: f.xmpp.tlsAddr, XMPPDomain: f.xmpp.domain,
		StoreURL: f.store, RedisURL: f.redis,
		TLSCertFile: f.tlsCert, TLSKeyFile: f.tlsKey,
		MaxRoomsPerSession: f.maxRooms, RequestBurst: f.requestBurst, RequestsPerSecond: f.requestRate, MaxPayloadBytes: f.maxPayload, MaxBufferedBytes: f.maxBuffered,
		LargeRoom: f.largeRoom, PresenceWindow: f.presenceWindow, EditWindow: f.editWindow, MaxWriteDelay: f.maxWriteDelay, NoWriteDelay: f.maxWriteDelay == 0,
		MaxConns: f.maxConns, MaxConnsPerIP: f.maxConnsPerIP, HandshakesPerSecondPerIP: f.handshakeRate,
		LimitLoopback: f.limitLoopback,
		MetricsAddr:   metricsAddr, DisableMetrics: f.metricsAddr == "off",
		Advertise: f.advertise, ClusterHeartbeat: f.heartbeat, ClusterTTL: f.ttl,
		Auth: f.authCfg, AdminUI: f.adminCfg, SocketIOKey: f.admin.sioKey,
	}
}

// configMain is `banter config [flags]`: it resolves and checks the
// settings like serve, prints them (secrets masked) and exits; exit code 2
// when they are invalid.
func configMain(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	_, settings, err := parseServe(args, getenv, stdout, stderr)
	if err != nil {
		return usageExit(err, stderr)
	}
	printConfig(stdout, settings)
	if getenv("BANTER_JWT_SECRET") != "" {
		fmt.Fprintln(stdout, "# BANTER_JWT_SECRET: set (the JWT HMAC secret; never printed)")
	}
	if getenv(adminHashEnv) != "" {
		fmt.Fprintln(stdout, "# "+adminHashEnv+": set (the Admin UI password's bcrypt hash; never printed)")
	}
	return exitOK
}

// usageExit reports a parseServe error and returns the exit code.
func usageExit(err error, stderr io.Writer) int { return commandExit("banter", err, stderr) }

// commandExit reports a usage error of cmd, each line prefixed with cmd,
// and returns the exit code (0 after --help).
func commandExit(cmd string, err error, stderr io.Writer) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if msg := err.Error(); msg != "" {
		for _, line := range strings.Split(msg, "\n") {
			fmt.Fprintln(stderr, cmd+":", line)
		}
	}
	return exitUsage
}

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	f, _, err := parseServe(args, getenv, stdout, stderr)
	if err != nil {
		return usageExit(err, stderr)
	}
	log := f.logger(stderr)
	ln, err := engineio.Listen(f.addr)
	if err != nil {
		fmt.Fprintf(stderr, "banter: cannot listen on %s: %v\n", f.addr, err)
		if errors.Is(err, syscall.EADDRINUSE) {
			fmt.Fprintln(stderr, "banter: another program uses this port; stop it or choose another with --addr")
		}
		return exitListen
	}
	a, err := app.New(f.appConfig(log))
	if err != nil {
		ln.Close()
		fmt.Fprintf(stderr, "banter: %v\n", err)
		if hint := startHint(err, f); hint != "" {
			fmt.Fprintln(stderr, "banter:", hint)
		}
		if errors.Is(err, app.ErrDatabase) || errors.Is(err, app.ErrCluster) {
			return exitDatabase
		}
		if errors.Is(err, app.ErrTCPListen) || errors.Is(err, app.ErrMQTTListen) || errors.Is(err, app.ErrXMPPListen) || errors.Is(err, app.ErrMetricsListen) {
			return exitListen
		}
		if errors.Is(err, app.ErrConfig) || errors.Is(err, app.ErrTLS) || errors.Is(err, app.ErrAuth) {
			return exitUsage
		}
		return exitFailure
	}
	served := make(chan error, 1)
	go func() { served <- a.Serve(ln) }()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	code := exitOK
wait:
	for {
		select {
		case <-hup:
			// SIGHUP: a renewed certificate is picked up without a restart.
			if err := a.ReloadTLS(); err != nil {
				log.Error("SIGHUP: TLS certificate not reloaded; the previous one stays in use", "err", err)
			} else {
				log.Info("SIGHUP: TLS certificate reloaded", "tls", f.tlsCert != "")
			}
		case <-ctx.Done():
			log.Info("stop signal received; shutting down", "timeout", f.shutdownTimeout)
			break wait
		case err := <-served:
			// Serve ended without Shutdown: the listener failed.
			log.Error("server stopped", "err", err)
			code = exitFailure
			break wait
		}
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
