package bench

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// runJoinStorm: N users of banter's chat protocol connect and say hello
// into one room (or into none: the baseline) as fast as the server lets
// them, and stay. It reports how long until all were joined and what the
// room's presence cost the clients: events and bytes received while it
// filled up. Rooms that fill up all at once are what a chat server sees
// when a class, a stream or a company channel starts.
func runJoinStorm(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench joinstorm", flag.ContinueOnError)
	var c common
	c.register(fs)
	n := fs.Int("n", 1000, "users")
	proto := fs.String("proto", "sio", "sio (Socket.IO, protocol 1 hello) or tcp (the TCP gateway's JSON lines; --addr is its address)")
	room := fs.String("room", "general", `the room every user joins in its hello; "" joins none (the baseline)`)
	conc := fs.Int("concurrency", 64, "hellos in flight at once")
	settle := fs.Duration("settle", time.Second, "how long no presence must arrive, after the last hello ack, for the storm to count as over")
	maxSettle := fs.Duration("max-settle", 30*time.Second, "longest wait for presence to stop")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if err := c.check(); err != nil {
		return err
	}
	switch {
	case *n < 1 || *n > 19_000:
		return fmt.Errorf("%w: --n %d: want 1..19000 (one process)", ErrUsage, *n)
	case *proto != "sio" && *proto != "tcp":
		return fmt.Errorf("%w: --proto %q: want sio or tcp", ErrUsage, *proto)
	case *conc < 1 || *settle <= 0 || *maxSettle < *settle:
		return fmt.Errorf("%w: bad --concurrency, --settle or --max-settle", ErrUsage)
	}
	var rooms []string
	if *room != "" {
		rooms = []string{*room}
	}
	var (
		st       stormStats
		mu       sync.Mutex
		clients  []io.Closer
		next     atomic.Int64
		failures atomic.Int64
		firstErr atomic.Pointer[error]
		wg       sync.WaitGroup
		readers  sync.WaitGroup
	)
	defer func() {
		mu.Lock()
		for _, cl := range clients {
			_ = cl.Close()
		}
		mu.Unlock()
		readers.Wait()
	}()
	prog := &progress{w: stderr}
	srv, gen, err := startMeters(c.serverPID)
	if err != nil {
		return err
	}
	start := time.Now()
	for range *conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= *n {
					return
				}
				cl, err := stormJoin(ctx, &c, *proto, i, rooms, &st, &readers)
				if err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, &err)
					continue
				}
				mu.Lock()
				clients = append(clients, cl)
				mu.Unlock()
				if d := st.joined.Add(1); d%500 == 0 {
					prog.printf("joinstorm: %d/%d joined", d, *n)
				}
			}
		}()
	}
	wg.Wait()
	joined := time.Since(start)
	// The storm is over when presence stopped arriving.
	deadline := time.Now().Add(*maxSettle)
	for time.Since(time.Unix(0, st.lastPresence.Load())) < *settle && time.Now().Before(deadline) && ctx.Err() == nil {
		sleepUntil(ctx, time.Now().Add(50*time.Millisecond))
	}
	over := time.Since(start)
	if last := time.Unix(0, st.lastPresence.Load()); last.After(start) {
		over = last.Sub(start)
	}
	srvCPU, gcpu, wall, err := stopMeters(srv, gen)
	if err != nil {
		return err
	}
	prog.done()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	r := &Result{Scenario: "joinstorm", Dialect: *proto,
		Params: map[string]float64{"users": float64(*n), "concurrency": float64(*conc)},
		Metrics: map[string]float64{
			"joined":               float64(st.joined.Load()),
			"failed":               float64(failures.Load()),
			"joined_s":             joined.Seconds(),
			"joins_per_s":          float64(st.joined.Load()) / joined.Seconds(),
			"presence_over_s":      over.Seconds(),
			"presence_events":      float64(st.events.Load()),
			"presence_bytes":       float64(st.bytes.Load()),
			"presence_max_client":  float64(st.maxEvents.Load()),
			"presence_bytes_max_c": float64(st.maxBytes.Load()),
		}}
	if *room == "" {
		r.Params["room"] = 0
	} else {
		r.Params["room"] = 1
	}
	if srvCPU >= 0 {
		r.Metrics["server_cpu_s"] = srvCPU.Seconds()
		if n := st.joined.Load(); n > 0 {
			r.Metrics["cpu_ms_per_join"] = float64(srvCPU.Microseconds()) / 1000 / float64(n)
		}
	}
	if c.serverPID > 0 {
		if rss, err := procRSS(c.serverPID); err == nil {
			r.Metrics["server_rss_mib"] = float64(rss) / (1 << 20)
		}
	}
	r.GeneratorCPU = gcpu.Seconds() / wall.Seconds()
	if p := firstErr.Load(); p != nil {
		r.Notes = append(r.Notes, fmt.Sprintf("%d users failed, first: %v", failures.Load(), *p))
	}
	if time.Now().After(deadline) {
		r.Notes = append(r.Notes, fmt.Sprintf("presence still arriving after %v", *maxSettle))
	}
	return c.emit(r, stdout)
}

// stormStats is what all clients of a join storm received.
type stormStats struct {
	joined       atomic.Int64
	events       atomic.Int64 // presence events (or room-count updates)
	bytes        atomic.Int64 // their bytes
	maxEvents    atomic.Int64 // most events one client received
	maxBytes     atomic.Int64
	lastPresence atomic.Int64 // unix ns of the last one
}

// client records one client's presence traffic.
func (st *stormStats) client() *stormClient { return &stormClient{st: st} }

type stormClient struct {
	st            *stormStats
	events, bytes int64
}

func (sc *stormClient) presence(n int) {
	sc.events++
	sc.bytes += int64(n)
	sc.st.events.Add(1)
	sc.st.bytes.Add(int64(n))
	sc.st.lastPresence.Store(time.Now().UnixNano())
	for m := sc.st.maxEvents.Load(); sc.events > m && !sc.st.maxEvents.CompareAndSwap(m, sc.events); m = sc.st.maxEvents.Load() {
	}
	for m := sc.st.maxBytes.Load(); sc.bytes > m && !sc.st.maxBytes.CompareAndSwap(m, sc.bytes); m = sc.st.maxBytes.Load() {
	}
}

// Presence on the wire: protocol 1's presence event, and the room member
// count that replaces per-user presence in large rooms.
var (
	sioPresence = [][]byte{[]byte(`42["presence",`), []byte(`42["members",`)}
	tcpPresence = [][]byte{[]byte(`{"type":"presence"`), []byte(`{"type":"members"`)}
)

func hasAnyPrefix(p []byte, prefixes [][]byte) bool {
	for _, x := range prefixes {
		if bytes.HasPrefix(p, x) {
			return true
		}
	}
	return false
}

// stormJoin connects user i, says hello into rooms and returns once the
// hello is acknowledged; a goroutine keeps reading its presence.
func stormJoin(ctx context.Context, c *common, proto string, i int, rooms []string, st *stormStats, readers *sync.WaitGroup) (io.Closer, error) {
	dctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	sc := st.client()
	acked := make(chan []byte, 1)
	if proto == "tcp" {
		tc, err := dialTCP(dctx, c.addr, c.source(i))
		if err != nil {
			return nil, err
		}
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				line, err := tc.r.ReadSlice('\n')
				if err != nil {
					return
				}
				switch {
				case bytes.HasPrefix(line, []byte(`{"type":"reply","ref":1,`)):
					select {
					case acked <- bytes.Clone(line):
					default:
					}
				case hasAnyPrefix(line, tcpPresence):
					sc.presence(len(line))
				}
			}
		}()
		hello := append(appendTCPHello(nil, i, rooms), '\n')
		if _, err := tc.c.Write(hello); err != nil {
			tc.Close()
			return nil, err
		}
		if err := awaitStormAck(dctx, acked); err != nil {
			tc.Close()
			return nil, err
		}
		return tc, nil
	}
	cn, err := dial(dctx, c.addr, c.source(i))
	if err != nil {
		return nil, err
	}
	readers.Add(1)
	go func() {
		defer readers.Done()
		for {
			p, err := cn.readText()
			if err != nil {
				return
			}
			switch {
			case bytes.HasPrefix(p, prefixAck0):
				select {
				case acked <- bytes.Clone(p):
				default:
				}
			case hasAnyPrefix(p, sioPresence):
				sc.presence(len(p))
			}
		}
	}()
	if err := cn.writeText(appendHello(nil, i, rooms)); err != nil {
		cn.close()
		return nil, err
	}
	if err := awaitStormAck(dctx, acked); err != nil {
		cn.close()
		return nil, err
	}
	return closerFunc(cn.close), nil
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

func awaitStormAck(ctx context.Context, acked <-chan []byte) error {
	select {
	case a := <-acked:
		if !bytes.Contains(a, []byte(`"ok":true`)) {
			return fmt.Errorf("%w: hello refused: %.200s", ErrProtocol, a)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: no hello ack: %w", ErrProtocol, ctx.Err())
	}
}

// tcpConn is a client of the TCP gateway's JSON lines.
type tcpConn struct {
	c net.Conn
	r *bufio.Reader
}

func (t *tcpConn) Close() error { return t.c.Close() }

func dialTCP(ctx context.Context, addr string, local net.IP) (*tcpConn, error) {
	d := net.Dialer{}
	if local != nil {
		d.LocalAddr = &net.TCPAddr{IP: local}
		d.Control = bindNoPort
	}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return &tcpConn{c: nc, r: bufio.NewReaderSize(nc, 64<<10)}, nil
}

// appendTCPHello appends the TCP gateway's hello of user i (ref 1).
func appendTCPHello(b []byte, i int, rooms []string) []byte {
	b = append(b, `{"type":"hello","ref":1,"nickname":"bench-`...)
	b = strconv.AppendInt(b, int64(i), 10)
	b = append(b, `","rooms":[`...)
	for k, r := range rooms {
		if k > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, r)
	}
	return append(b, "]}"...)
}
