package bench

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// The platform floor of a broadcast: no Engine.IO, no Socket.IO, no
// server framework. floor-serve accepts plain TCP connections and, when
// told to, writes one 8-byte timestamp (the round's start) to every
// receiver in a loop from one goroutine; floor connects the receivers and
// measures, per receiver, the time from the round's start to its read. On
// loopback the writer's cost per connection includes waking the reader on
// the other CPU, so this is what any single-core server pays to reach N
// clients on this machine: the lower bound of the fan-out latencies.

// runFloorServe: accept; each connection first sends 'r' (a receiver) or
// 'c' (control: "ROUNDS INTERVAL_MS\n", then the rounds run over the
// receivers connected so far and the control connection is closed).
func runFloorServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("floor-serve", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address (loopback)")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("bench floor-serve: %w", err)
	}
	defer ln.Close()
	go func() { <-ctx.Done(); ln.Close() }()
	fmt.Fprintf(stdout, "LISTENING %d %d\n", ln.Addr().(*net.TCPAddr).Port, os.Getpid())
	var mu sync.Mutex
	var receivers []net.Conn
	defer func() {
		mu.Lock()
		for _, c := range receivers {
			c.Close()
		}
		mu.Unlock()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("bench floor-serve: %w", err)
		}
		go func() {
			br := bufio.NewReader(c)
			kind, err := br.ReadByte()
			if err != nil {
				c.Close()
				return
			}
			if kind == 'r' {
				mu.Lock()
				receivers = append(receivers, c)
				mu.Unlock()
				return
			}
			defer c.Close()
			var rounds, intervalMS int
			if _, err := fmt.Fscanf(br, "%d %d\n", &rounds, &intervalMS); err != nil || rounds < 1 || rounds > 1000 || intervalMS < 0 || intervalMS > 60000 {
				fmt.Fprintf(c, "ERR bad control line\n")
				return
			}
			mu.Lock()
			rs := append([]net.Conn(nil), receivers...)
			mu.Unlock()
			var b [8]byte
			for r := 0; r < rounds && ctx.Err() == nil; r++ {
				binary.LittleEndian.PutUint64(b[:], uint64(time.Now().UnixNano()))
				for _, rc := range rs {
					_, _ = rc.Write(b[:])
				}
				time.Sleep(time.Duration(intervalMS) * time.Millisecond)
			}
			fmt.Fprintf(c, "DONE\n")
		}()
	}
}

// runFloor connects N receivers to floor-serve, runs the rounds and
// reports the latency distribution over every (round, receiver).
func runFloor(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("floor", flag.ContinueOnError)
	var c common
	c.register(fs)
	n := fs.Int("n", 1000, "receivers")
	rounds := fs.Int("rounds", 10, "broadcasts")
	interval := fs.Duration("interval", 500*time.Millisecond, "pause between broadcasts")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if err := c.check(); err != nil {
		return err
	}
	if *n < 1 || *n > 19000 || *rounds < 1 || *rounds > 1000 || *interval < 0 || *interval > time.Minute {
		return fmt.Errorf("%w: want 1 ≤ --n ≤ 19000, 1 ≤ --rounds ≤ 1000, 0 ≤ --interval ≤ 1m", ErrUsage)
	}
	conns := make([]net.Conn, 0, *n)
	defer func() {
		for _, nc := range conns {
			nc.Close()
		}
	}()
	for i := range *n {
		d := net.Dialer{Timeout: c.timeout}
		if ip := c.source(i); ip != nil {
			d.LocalAddr = &net.TCPAddr{IP: ip}
			d.Control = bindNoPort
		}
		nc, err := d.DialContext(ctx, "tcp", c.addr)
		if err != nil {
			return fmt.Errorf("bench floor: receiver %d: %w", i, err)
		}
		conns = append(conns, nc)
		if _, err := nc.Write([]byte{'r'}); err != nil {
			return fmt.Errorf("bench floor: receiver %d: %w", i, err)
		}
	}
	time.Sleep(500 * time.Millisecond) // every 'r' read by the server
	var mu sync.Mutex
	var h hist
	var wg sync.WaitGroup
	for _, nc := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, *rounds) // not a hist each: 8 KB × 19,000
			var b [8]byte
			for range *rounds {
				if _, err := io.ReadFull(nc, b[:]); err != nil {
					break
				}
				lat = append(lat, time.Duration(time.Now().UnixNano()-int64(binary.LittleEndian.Uint64(b[:]))))
			}
			mu.Lock()
			for _, d := range lat {
				h.add(d)
			}
			mu.Unlock()
		}()
	}
	srv, gen, err := startMeters(c.serverPID)
	if err != nil {
		return fmt.Errorf("bench floor: %w", err)
	}
	ctl, err := net.DialTimeout("tcp", c.addr, c.timeout)
	if err != nil {
		return fmt.Errorf("bench floor: control: %w", err)
	}
	defer ctl.Close()
	fmt.Fprintf(ctl, "c%d %d\n", *rounds, interval.Milliseconds())
	line, err := bufio.NewReader(ctl).ReadString('\n')
	if err != nil || line != "DONE\n" {
		return errors.Join(fmt.Errorf("bench floor: control answered %q", line), err)
	}
	srvCPU, genCPU, wall, err := stopMeters(srv, gen)
	if err != nil {
		return fmt.Errorf("bench floor: %w", err)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		return errors.New("bench floor: receivers did not get every round within 10 s")
	}
	got := h.n
	r := &Result{Scenario: "floor", Params: map[string]float64{"receivers": float64(*n), "rounds": float64(*rounds), "interval_ms": float64(interval.Milliseconds())}}
	r.Metrics = map[string]float64{
		"deliveries": float64(got),
		"lost":       float64(*n**rounds) - float64(got),
	}
	h.latencyMetrics(r.Metrics, "latency_")
	if srvCPU >= 0 && got > 0 {
		r.Metrics["writer_cpu_us_per_delivery"] = srvCPU.Seconds() * 1e6 / float64(got)
	}
	r.GeneratorCPU = genCPU.Seconds() / wall.Seconds()
	return c.emit(r, stdout)
}
