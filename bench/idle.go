package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// runIdle opens N idle connections through worker processes, holds them, and
// measures the server's RSS before and after.
func runIdle(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench idle", flag.ContinueOnError)
	var c common
	c.register(fs)
	n := fs.Int("n", 1000, "connections to open")
	rate := fs.Float64("rate", 3000, "connections opened per second, all workers together (0: unpaced)")
	conc := fs.Int("concurrency", 64, "handshakes in flight per worker")
	perWorker := fs.Int("per-worker", 9500, "connections per worker process (each must stay under the 20,000-descriptor limit)")
	settle := fs.Duration("settle", 3*time.Second, "wait after the last connection before reading the server's RSS")
	hold := fs.Duration("hold", 0, "keep the connections open this long after measuring")
	nodes := fs.String("nodes", "", "several server nodes, as ADDR=PID,ADDR=PID,... (instead of --addr and --server-pid): above ~19,000 connections one server process runs out of descriptors; workers are spread over the nodes and their RSS is summed")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	addrs, pids, err := parseNodes(*nodes, &c)
	if err != nil {
		return err
	}
	if err := c.check(); err != nil {
		return err
	}
	if *n <= 0 || *n > 200_000 {
		return fmt.Errorf("%w: --n %d: want 1..200000", ErrUsage, *n)
	}
	if *perWorker <= 0 || *perWorker > 19_500 {
		return fmt.Errorf("%w: --per-worker %d: want 1..19500", ErrUsage, *perWorker)
	}
	self, err := selfCommand(args)
	if err != nil {
		return err
	}
	workers := (*n + *perWorker - 1) / *perWorker
	if c.sources > 0 && c.sources < workers {
		// Each worker gets its own source address: 28k ephemeral ports each.
		c.sources = workers
	}
	rss0, err := sumRSS(pids)
	if err != nil {
		return err
	}
	prog := &progress{w: stderr}
	ws := make([]*idleWorker, 0, workers)
	defer func() {
		for _, w := range ws {
			w.stop()
		}
	}()
	for i := range workers {
		cnt := *n / workers
		if i < *n%workers {
			cnt++
		}
		wargs := []string{"idle-worker", "--addr", addrs[i%len(addrs)], "--n", fmt.Sprint(cnt),
			"--rate", fmt.Sprint(*rate / float64(workers)), "--concurrency", fmt.Sprint(*conc),
			"--sources", fmt.Sprint(min(c.sources, 1)), "--src-base", fmt.Sprint(i % max(c.sources, 1)), "--timeout", c.timeout.String()}
		w, err := startIdleWorker(ctx, self, wargs, stderr)
		if err != nil {
			return err
		}
		ws = append(ws, w)
	}
	var total idleReport
	var h hist
	for i, w := range ws {
		rep, err := w.ready(ctx)
		if err != nil {
			return fmt.Errorf("bench idle: worker %d: %w", i, err)
		}
		total.Connected += rep.Connected
		total.Failures += rep.Failures
		if total.FirstError == "" {
			total.FirstError = rep.FirstError
		}
		total.ElapsedMS = max(total.ElapsedMS, rep.ElapsedMS)
		h.merge(rep.hist())
		prog.printf("workers ready %d/%d", i+1, workers)
	}
	genCPU := time.Duration(0)
	for _, w := range ws {
		if cpu, err := procCPU(w.cmd.Process.Pid); err == nil {
			genCPU += cpu
		}
	}
	t := time.NewTimer(*settle)
	select {
	case <-t.C:
	case <-ctx.Done():
		t.Stop()
		return ctx.Err()
	}
	r := &Result{Scenario: "idle",
		Params: map[string]float64{"connections": float64(*n), "rate": *rate, "workers": float64(workers), "nodes": float64(len(addrs))},
		Metrics: map[string]float64{
			"connected":       float64(total.Connected),
			"failures":        float64(total.Failures),
			"connect_per_s":   float64(total.Connected) / math.Max(total.ElapsedMS/1000, 1e-3),
			"connect_seconds": total.ElapsedMS / 1000,
		}}
	h.latencyMetrics(r.Metrics, "connect_")
	if len(pids) > 0 {
		rss1, err := sumRSS(pids)
		if err != nil {
			return err
		}
		r.Metrics["rss_before_mb"] = float64(rss0) / (1 << 20)
		r.Metrics["rss_after_mb"] = float64(rss1) / (1 << 20)
		if total.Connected > 0 {
			r.Metrics["bytes_per_conn"] = float64(rss1-rss0) / float64(total.Connected)
		}
	}
	if total.ElapsedMS > 0 {
		r.GeneratorCPU = genCPU.Seconds() / (total.ElapsedMS / 1000)
	}
	if total.FirstError != "" {
		r.Notes = append(r.Notes, "first failure: "+total.FirstError)
	}
	if *hold > 0 {
		t := time.NewTimer(*hold)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	var dropped int
	for _, w := range ws {
		dropped += w.stop()
	}
	ws = nil
	r.Metrics["dropped"] = float64(dropped)
	return c.emit(r, stdout)
}

// idleReport is what an idle worker prints once its connections are open.
type idleReport struct {
	Connected  int            `json:"connected"`
	Failures   int            `json:"failures"`
	FirstError string         `json:"first_error,omitempty"`
	ElapsedMS  float64        `json:"elapsed_ms"`
	Hist       map[int]uint32 `json:"hist"` // bucket → count, connect latency
	MaxUS      int64          `json:"max_us"`
	Dropped    int            `json:"dropped"` // final line: connections the server closed
}

func (r *idleReport) hist() *hist {
	var h hist
	for i, c := range r.Hist {
		if i >= 0 && i < histBuckets {
			h.counts[i] += c
			h.n += uint64(c)
		}
	}
	h.max = r.MaxUS
	return &h
}

// runIdleWorker opens its share of the connections, prints an idleReport,
// holds them (answering pings) until stdin closes, then prints the number
// the server dropped meanwhile.
func runIdleWorker(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench idle-worker", flag.ContinueOnError)
	var c common
	c.register(fs)
	n := fs.Int("n", 1000, "connections")
	rate := fs.Float64("rate", 0, "connections per second")
	conc := fs.Int("concurrency", 64, "handshakes in flight")
	fs.IntVar(&c.srcBase, "src-base", 0, "index of the first source address (0: 127.0.0.2)")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if err := c.check(); err != nil {
		return err
	}
	var dropped atomic.Int64
	var closing atomic.Bool
	var wg sync.WaitGroup
	res := connectMany(ctx, &c, *n, *rate, *conc, nil, func(cn *conn) error {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if _, err := cn.readText(); err != nil {
					if !closing.Load() {
						dropped.Add(1)
					}
					return
				}
			}
		}()
		return nil
	})
	defer closeAll(res.conns)
	rep := idleReport{Connected: len(res.conns), Failures: res.failures, ElapsedMS: float64(res.elapsed.Microseconds()) / 1000,
		Hist: map[int]uint32{}, MaxUS: res.hist.max}
	if res.firstErr != nil {
		rep.FirstError = res.firstErr.Error()
	}
	for i, v := range res.hist.counts {
		if v > 0 {
			rep.Hist[i] = v
		}
	}
	if err := json.NewEncoder(stdout).Encode(rep); err != nil {
		return err
	}
	// Hold until the parent closes our stdin (or dies).
	stdinDone := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(stdinDone) }()
	select {
	case <-stdinDone:
	case <-ctx.Done():
	}
	closing.Store(true)
	closeAll(res.conns)
	wg.Wait()
	return json.NewEncoder(stdout).Encode(idleReport{Dropped: int(dropped.Load())})
}

// idleWorker is a running worker process.
type idleWorker struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines *bufio.Scanner
	done  bool
}

func startIdleWorker(ctx context.Context, self, args []string, stderr io.Writer) (*idleWorker, error) {
	cmd := exec.CommandContext(ctx, self[0], append(slices.Clone(self[1:]), args...)...)
	cmd.Stderr = stderr
	cmd.WaitDelay = 5 * time.Second
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start worker: %w", err)
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	return &idleWorker{cmd: cmd, stdin: in, lines: sc}, nil
}

func (w *idleWorker) ready(ctx context.Context) (*idleReport, error) {
	if !w.lines.Scan() {
		return nil, fmt.Errorf("worker exited without a report: %v", errors.Join(w.lines.Err(), ctx.Err()))
	}
	var rep idleReport
	if err := json.Unmarshal(w.lines.Bytes(), &rep); err != nil {
		return nil, fmt.Errorf("worker report: %w", err)
	}
	return &rep, nil
}

// stop releases the worker's connections, waits for it and returns how many
// connections the server dropped while they were held.
func (w *idleWorker) stop() int {
	if w.done {
		return 0
	}
	w.done = true
	_ = w.stdin.Close()
	var rep idleReport
	if w.lines.Scan() {
		_ = json.Unmarshal(w.lines.Bytes(), &rep)
	}
	_ = w.cmd.Wait()
	return rep.Dropped
}

// selfCommand returns the command that re-runs this bench command: the
// executable and the words of os.Args before args (e.g. ["banter", "bench"]).
func selfCommand(args []string) ([]string, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("bench: cannot find own executable for worker processes: %w", err)
	}
	osArgs := os.Args
	k := len(osArgs) - len(args)
	if k < 1 || !slices.Equal(osArgs[k:], args) {
		return nil, fmt.Errorf("bench: worker processes need Main's args to be the tail of os.Args")
	}
	// osArgs[k-1] is the subcommand ("idle"): drop it, keep what precedes.
	if k < 2 {
		return nil, fmt.Errorf("bench: worker processes need Main's args to be the tail of os.Args")
	}
	return append([]string{exe}, osArgs[1:k-1]...), nil
}

// parseNodes reads --nodes (ADDR=PID,...) into addresses and server pids;
// without it the one node is --addr (and --server-pid, when given). Every
// address is checked like --addr.
func parseNodes(nodes string, c *common) (addrs []string, pids []int, err error) {
	if nodes == "" {
		if c.serverPID > 0 {
			pids = []int{c.serverPID}
		}
		return []string{c.addr}, pids, nil
	}
	for _, nd := range strings.Split(nodes, ",") {
		a, p, ok := strings.Cut(strings.TrimSpace(nd), "=")
		pid, perr := strconv.Atoi(p)
		if !ok || perr != nil || pid <= 0 {
			return nil, nil, fmt.Errorf("%w: --nodes %q: want ADDR=PID,ADDR=PID,...", ErrUsage, nodes)
		}
		one := *c
		one.addr, one.serverPID = a, pid
		if err := one.check(); err != nil {
			return nil, nil, err
		}
		addrs = append(addrs, a)
		pids = append(pids, pid)
	}
	c.addr, c.serverPID = addrs[0], pids[0]
	return addrs, pids, nil
}

// sumRSS is the total resident set size of the server nodes.
func sumRSS(pids []int) (int64, error) {
	var total int64
	for _, pid := range pids {
		v, err := procRSS(pid)
		if err != nil {
			return 0, err
		}
		total += v
	}
	return total, nil
}
