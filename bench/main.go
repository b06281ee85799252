package bench

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strings"
	"time"
)

// ErrUsage is returned for bad command lines.
var ErrUsage = errors.New("bench: usage")

// Main runs the bench command with args (the words after "bench").
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("%w: missing subcommand", ErrUsage)
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "serve":
		return runServe(ctx, rest, stdout, stderr)
	case "idle":
		return runIdle(ctx, rest, stdout, stderr)
	case "idle-worker":
		return runIdleWorker(ctx, rest, stdout, stderr)
	case "fanout":
		return runFanout(ctx, rest, stdout, stderr)
	case "echo":
		return runEcho(ctx, rest, stdout, stderr)
	case "churn":
		return runChurn(ctx, rest, stdout, stderr)
	case "joinstorm":
		return runJoinStorm(ctx, rest, stdout, stderr)
	case "cluster":
		return runCluster(ctx, rest, stdout, stderr)
	case "floor-serve":
		return runFloorServe(ctx, rest, stdout, stderr)
	case "floor":
		return runFloor(ctx, rest, stdout, stderr)
	case "mqtt-idle":
		return runMQTTIdle(ctx, rest, stdout, stderr)
	case "mqtt-fanout":
		return runMQTTFanout(ctx, rest, stdout, stderr)
	case "mqtt-churn":
		return runMQTTChurn(ctx, rest, stdout, stderr)
	case "xmpp-idle", "xmpp-logins", "xmpp-fanout":
		return runXMPP(ctx, sub, rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("%w: unknown subcommand %q", ErrUsage, sub)
}

const usage = `usage: bench <subcommand> [flags]   (bench <subcommand> -h for flags)
  serve    run the Banter workload server; prints "LISTENING port pid"
  idle     hold N idle connections; server bytes per connection
  fanout   broadcast to N receivers, senders on independent schedules (or
           synchronized: --shape burst); deliveries/s, latency, server CPU and
           writes per delivery; --dialect v1 --rooms own: acked sends
  echo     closed-loop acked echo; acks/s and RTT
  churn    connect+disconnect at a rate; handshakes/s, RSS after
  joinstorm
           N chat users say hello into one room at once (banter's protocol 1
           over Socket.IO or the TCP gateway); time until all joined, presence
           events and bytes the clients received
  cluster  protocol-1 fan-out across the nodes of a cluster (--nodes):
           senders on some nodes, receivers on the others; CPU per delivery
           per node, Redis CPU per message, store appends and latency, bus
           lag, latency of the deliveries that crossed the bus
  floor-serve, floor
           the platform's floor: one goroutine writing to N plain TCP
           connections (no protocol), latency from the write loop's start
  mqtt-idle, mqtt-fanout, mqtt-churn
           the same against any MQTT broker (Banter --mqtt, Mosquitto)
  xmpp-idle, xmpp-logins, xmpp-fanout
           XMPP: idle authenticated connections, logins/s, MUC fan-out
`

// Result is one scenario run, printed as one JSON line.
type Result struct {
	Scenario string `json:"scenario"`
	Server   string `json:"server"`
	// Shape and Dialect: how the senders' traffic was spread in time and
	// what was spoken (fan-out scenarios; empty elsewhere).
	Shape   string             `json:"shape,omitempty"`
	Dialect string             `json:"dialect,omitempty"`
	Run     int                `json:"run,omitempty"`
	Time    time.Time          `json:"time"`
	Params  map[string]float64 `json:"params"`
	Metrics map[string]float64 `json:"metrics"`
	// GeneratorCPU is the generator's CPU (all its processes) as a fraction
	// of one core during the measured window.
	GeneratorCPU float64 `json:"generator_cpu"`
	// GeneratorBound is set when the generator, not the server, likely
	// limited the result (it used most of its core).
	GeneratorBound bool `json:"generator_bound"`
	// Load1 is the machine's 1-minute load average when the run ended: on
	// a shared machine, the evidence of noise.
	Load1 float64  `json:"load1"`
	Notes []string `json:"notes,omitempty"`
}

// generatorBoundAt is the share of its core above which the generator is
// flagged as the bottleneck.
const generatorBoundAt = 0.85

// common holds the flags every scenario takes.
type common struct {
	addr      string
	serverPID int
	label     string
	run       int
	out       string
	sources   int
	srcBase   int // first source address index (workers)
	timeout   time.Duration
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.addr, "addr", "127.0.0.1:3000", "server host:port (loopback)")
	fs.IntVar(&c.serverPID, "server-pid", 0, "server process id, for its CPU and RSS from /proc (0: not measured)")
	fs.StringVar(&c.label, "label", "server", "server name in the results (banter, node)")
	fs.IntVar(&c.run, "run", 0, "run number, recorded in the result")
	fs.StringVar(&c.out, "out", "", "append the JSON result line to this file")
	fs.IntVar(&c.sources, "sources", 1, "number of source addresses 127.0.0.2, 127.0.0.3, ... to spread connections over (0: kernel's choice)")
	fs.DurationVar(&c.timeout, "timeout", 5*time.Second, "timeout of one connection handshake")
}

func (c *common) check() error {
	host, _, err := net.SplitHostPort(c.addr)
	if err != nil {
		return fmt.Errorf("%w: --addr %q: %v", ErrUsage, c.addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%w: --addr %q: only loopback addresses are benchmarked", ErrUsage, c.addr)
	}
	if c.sources < 0 || c.sources+c.srcBase > 250 || c.srcBase < 0 {
		return fmt.Errorf("%w: --sources %d: want 0..250", ErrUsage, c.sources)
	}
	if c.serverPID < 0 {
		return fmt.Errorf("%w: --server-pid %d", ErrUsage, c.serverPID)
	}
	if c.serverPID > 0 {
		if _, err := procRSS(c.serverPID); err != nil {
			return fmt.Errorf("%w: --server-pid %d: %w", ErrUsage, c.serverPID, err)
		}
	}
	return nil
}

// source returns the i-th source address (nil: any).
func (c *common) source(i int) net.IP {
	if c.sources == 0 {
		return nil
	}
	return net.IPv4(127, 0, 0, byte(2+c.srcBase+i%c.sources))
}

func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %w", ErrUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", ErrUsage, fs.Arg(0))
	}
	return nil
}

// emit prints the table and the JSON line, and appends it to c.out.
func (c *common) emit(r *Result, stdout io.Writer) error {
	r.Server = c.label
	r.Run = c.run
	r.Time = time.Now().UTC().Truncate(time.Second)
	r.GeneratorBound = r.GeneratorCPU >= generatorBoundAt
	r.Load1 = load1()
	if r.GeneratorBound {
		r.Notes = append(r.Notes, fmt.Sprintf("generator used %.0f%% of its core: it may be the bottleneck", 100*r.GeneratorCPU))
	}
	printTable(stdout, r)
	line, err := json.Marshal(r)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\n", line)
	if c.out != "" {
		f, err := os.OpenFile(c.out, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return fmt.Errorf("bench: --out: %w", err)
		}
		_, werr := fmt.Fprintf(f, "%s\n", line)
		if err := f.Close(); werr == nil {
			werr = err
		}
		if werr != nil {
			return fmt.Errorf("bench: --out: %w", werr)
		}
	}
	return nil
}

func printTable(w io.Writer, r *Result) {
	fmt.Fprintf(w, "\n%s against %s (run %d)\n", r.Scenario, r.Server, r.Run)
	keys := func(m map[string]float64) []string {
		ks := make([]string, 0, len(m))
		for k := range m {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		return ks
	}
	fmt.Fprintf(w, "  %-28s %s\n", "parameter", "value")
	for _, k := range keys(r.Params) {
		fmt.Fprintf(w, "  %-28s %s\n", k, FormatNum(r.Params[k]))
	}
	fmt.Fprintf(w, "  %-28s %s\n", "metric", "value")
	for _, k := range keys(r.Metrics) {
		fmt.Fprintf(w, "  %-28s %s\n", k, FormatNum(r.Metrics[k]))
	}
	fmt.Fprintf(w, "  %-28s %.0f%%\n", "generator CPU", 100*r.GeneratorCPU)
	for _, n := range r.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
}

// FormatNum formats a figure of a result for people: integers as such,
// others with two decimals, or fewer digits when small or large.
func FormatNum(v float64) string {
	switch {
	case v == float64(int64(v)) && v < 1e15 && v > -1e15:
		return fmt.Sprintf("%d", int64(v))
	case v >= 100 || v <= -100:
		return fmt.Sprintf("%.0f", v)
	case v >= 1 || v <= -1:
		return fmt.Sprintf("%.2f", v)
	default:
		return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.4f", v), "0"), ".")
	}
}

// progress prints a status line to w at most once a second.
type progress struct {
	w    io.Writer
	last time.Time
}

func (p *progress) printf(format string, args ...any) {
	if time.Since(p.last) < time.Second {
		return
	}
	p.last = time.Now()
	fmt.Fprintf(p.w, "\r"+format+"   ", args...)
}

func (p *progress) done() { fmt.Fprintln(p.w) }

// load1 returns the 1-minute load average (0 if unknown).
func load1() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	var v float64
	_, _ = fmt.Sscan(string(b), &v)
	return v
}
