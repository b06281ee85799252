// Command soak holds many chat connections with steady traffic against a
// Banter server and records the server's RSS and goroutine count over
// time; scripts/soak.sh runs it. Three modes, one process each (the box
// allows ~20,000 open files per process: 10,000 clients and the server's
// 10,000 sockets cannot share one):
//
//	soak server -addr 127.0.0.1:3999 -db F -every 10s   run app.New in-process, print a JSON sample
//	                                                     {"t","rssKB","goroutines","sessions"} per period
//	soak clients -url U -conns N -rooms R -rate M -for D hold N connections in R rooms, send M msg/s in
//	                                                     total, check every member got every message of
//	                                                     its room in order; print one JSON summary
//	soak plot -in samples.jsonl -out docs/img/soak.svg  draw RSS and goroutines against time
//
// Loopback only. Clients bind to 127.0.0.2, .3, … (28k ports per source
// address). Nothing here is a test: the figures go to docs/reliability.md.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/banter-chat/banter/app"
	"github.com/coder/websocket"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: soak server|clients|plot [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "server":
		err = server(os.Args[2:])
	case "clients":
		err = clients(os.Args[2:])
	case "plot":
		err = plot(os.Args[2:])
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

// sample is one measurement of the server.
type sample struct {
	T          float64 `json:"t"` // seconds since start
	RSSKB      int64   `json:"rssKB"`
	Goroutines int     `json:"goroutines"`
	Sessions   int     `json:"sessions"`
}

func server(args []string) error {
	fs := flag.NewFlagSet("server", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:3999", "listen address")
	db := fs.String("db", "soak.db", "SQLite file")
	every := fs.Duration("every", 10*time.Second, "sampling period")
	_ = fs.Parse(args)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := app.New(app.Config{DBPath: *db, Logger: log,
		RateBurst: 1000, RatePerSecond: 1000})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- a.Serve(ln) }()
	fmt.Fprintf(os.Stderr, "soak server listening on %s\n", ln.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	tick := time.NewTicker(*every)
	defer tick.Stop()
	enc := json.NewEncoder(os.Stdout)
	emit := func() {
		_ = enc.Encode(sample{T: time.Since(start).Seconds(), RSSKB: rssKB(), Goroutines: runtime.NumGoroutine(), Sessions: len(a.Service().Users())})
	}
	emit()
loop:
	for {
		select {
		case <-tick.C:
			emit()
		case <-ctx.Done():
			break loop
		case err := <-served:
			return err
		}
	}
	emit()
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return a.Shutdown(sctx)
}

func rssKB() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return -1
}

// summary is what the clients report at the end.
type summary struct {
	Conns       int     `json:"conns"`
	Rooms       int     `json:"rooms"`
	Seconds     float64 `json:"seconds"`
	Sent        int64   `json:"sent"`      // acked sends
	Delivered   int64   `json:"delivered"` // message events received
	Expected    int64   `json:"expected"`  // sum over clients of messages of its room after it joined
	Lost        int64   `json:"lost"`
	OutOfOrder  int64   `json:"outOfOrder"`
	Errors      int64   `json:"errors"`
	Disconnects int64   `json:"disconnects"`
	FirstError  string  `json:"firstError,omitempty"`
}

type soakClient struct {
	conn    *websocket.Conn
	room    string
	joined  int64 // lastSeq at join
	last    atomic.Int64
	got     atomic.Int64
	bad     atomic.Int64
	mu      sync.Mutex
	nextAck int
	acks    map[int]chan json.RawMessage
}

func clients(args []string) error {
	fs := flag.NewFlagSet("clients", flag.ExitOnError)
	base := fs.String("url", "http://127.0.0.1:3999", "server")
	n := fs.Int("conns", 10000, "connections")
	rooms := fs.Int("rooms", 100, "rooms (connections are spread evenly)")
	rate := fs.Float64("rate", 100, "messages per second, in total")
	dur := fs.Duration("for", 30*time.Minute, "how long to hold the connections with traffic")
	_ = fs.Parse(args)

	var sum summary
	sum.Conns, sum.Rooms = *n, *rooms
	var errs, disc atomic.Int64
	var firstErr atomic.Value
	fail := func(err error) {
		if errs.Add(1) == 1 {
			firstErr.Store(err.Error())
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cs := make([]*soakClient, *n)
	// Connect in parallel batches; each client has a source address of
	// its own /24 slot so the run never runs out of ephemeral ports.
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range cs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := connectSoak(ctx, *base, i, fmt.Sprintf("r%d", i%*rooms), &disc)
			if err != nil {
				fail(fmt.Errorf("client %d: %w", i, err))
				return
			}
			cs[i] = c
		}()
	}
	wg.Wait()
	fmt.Fprintf(os.Stderr, "soak: %d connections in %v, %d errors\n", *n, time.Since(start).Round(time.Millisecond), errs.Load())

	// Steady traffic: one sender per room in turn, at rate messages/s.
	period := time.Duration(float64(time.Second) / *rate)
	tick := time.NewTicker(period)
	end := time.After(*dur)
	var sent atomic.Int64
	var swg sync.WaitGroup
	k := 0
traffic:
	for {
		select {
		case <-end:
			break traffic
		case <-tick.C:
			c := cs[k%len(cs)]
			k++
			if c == nil {
				continue
			}
			swg.Add(1)
			go func() {
				defer swg.Done()
				cctx, ccancel := context.WithTimeout(ctx, 30*time.Second)
				defer ccancel()
				raw, err := c.call(cctx, "send", map[string]any{"room": c.room, "text": "soak " + strconv.Itoa(k)})
				if err != nil || !strings.Contains(string(raw), `"ok":true`) {
					fail(fmt.Errorf("send: %v %s", err, raw))
					return
				}
				sent.Add(1)
			}()
		}
	}
	tick.Stop()
	swg.Wait()
	// Every member must now have every message of its room: wait (bounded)
	// for the last deliveries, then compare with the room's lastSeq.
	lastSeq := make(map[string]int64)
	for _, c := range cs {
		if c != nil && c.last.Load() > lastSeq[c.room] {
			lastSeq[c.room] = c.last.Load()
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		behind := 0
		for _, c := range cs {
			if c != nil && c.last.Load() < lastSeq[c.room] {
				behind++
			}
		}
		if behind == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, c := range cs {
		if c == nil {
			continue
		}
		want := lastSeq[c.room] - c.joined
		sum.Expected += want
		sum.Delivered += c.got.Load()
		if d := want - c.got.Load(); d > 0 {
			sum.Lost += d
		}
		sum.OutOfOrder += c.bad.Load()
		_ = c.conn.Close(websocket.StatusNormalClosure, "")
	}
	sum.Seconds = time.Since(start).Seconds()
	sum.Sent = sent.Load()
	sum.Errors = errs.Load()
	sum.Disconnects = disc.Load()
	if s, ok := firstErr.Load().(string); ok {
		sum.FirstError = s
	}
	return json.NewEncoder(os.Stdout).Encode(sum)
}

func connectSoak(ctx context.Context, base string, i int, room string, disc *atomic.Int64) (*soakClient, error) {
	src := net.IPv4(127, 0, byte(1+i/20000), byte(2+i%20000/250))
	d := &net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: src}}
	hc := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	u := "ws" + strings.TrimPrefix(base, "http") + "/socket.io/?EIO=4&transport=websocket"
	conn, _, err := websocket.Dial(cctx, u, &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		return nil, err
	}
	conn.SetReadLimit(1 << 20)
	c := &soakClient{conn: conn, room: room, acks: make(map[int]chan json.RawMessage)}
	if _, b, err := conn.Read(cctx); err != nil || len(b) == 0 || b[0] != '0' {
		return nil, fmt.Errorf("open: %q %v", b, err)
	}
	if err := conn.Write(cctx, websocket.MessageText, []byte("40")); err != nil {
		return nil, err
	}
	if _, b, err := conn.Read(cctx); err != nil || !strings.HasPrefix(string(b), "40") {
		return nil, fmt.Errorf("connect: %q %v", b, err)
	}
	go c.read(ctx, disc)
	raw, err := c.call(cctx, "hello", map[string]any{"nickname": fmt.Sprintf("soak%d", i), "rooms": []string{room}})
	if err != nil {
		return nil, err
	}
	var h struct {
		OK    bool `json:"ok"`
		Rooms []struct {
			LastSeq int64 `json:"lastSeq"`
		} `json:"rooms"`
	}
	if json.Unmarshal(raw, &h) != nil || !h.OK || len(h.Rooms) != 1 {
		return nil, fmt.Errorf("hello: %s", raw)
	}
	c.joined = h.Rooms[0].LastSeq
	// Messages between the join and this point are counted by read; a
	// message event always has seq > joined.
	if c.last.Load() < c.joined {
		c.last.Store(c.joined)
	}
	return c, nil
}

func (c *soakClient) read(ctx context.Context, disc *atomic.Int64) {
	for {
		_, b, err := c.conn.Read(ctx)
		if err != nil {
			if ctx.Err() == nil && websocket.CloseStatus(err) != websocket.StatusNormalClosure {
				disc.Add(1)
			}
			c.mu.Lock()
			for id, ch := range c.acks {
				close(ch)
				delete(c.acks, id)
			}
			c.mu.Unlock()
			return
		}
		s := string(b)
		switch {
		case s == "2":
			go func() { _ = c.conn.Write(ctx, websocket.MessageText, []byte("3")) }()
		case strings.HasPrefix(s, "43"):
			i := 2
			for i < len(s) && s[i] >= '0' && s[i] <= '9' {
				i++
			}
			id, _ := strconv.Atoi(s[2:i])
			var args []json.RawMessage
			_ = json.Unmarshal([]byte(s[i:]), &args)
			c.mu.Lock()
			ch := c.acks[id]
			delete(c.acks, id)
			c.mu.Unlock()
			if ch != nil && len(args) > 0 {
				ch <- args[0]
			}
		case strings.HasPrefix(s, `42["message",`):
			var ev []json.RawMessage
			var m struct {
				Seq int64 `json:"seq"`
			}
			if json.Unmarshal([]byte(s[2:]), &ev) != nil || len(ev) < 2 || json.Unmarshal(ev[1], &m) != nil {
				c.bad.Add(1)
				continue
			}
			c.got.Add(1)
			// Seq order within the room; the first message may follow the
			// join's lastSeq, learnt a moment later from the hello ack.
			if prev := c.last.Swap(m.Seq); prev != 0 && m.Seq != prev+1 {
				c.bad.Add(1)
			}
		}
	}
}

func (c *soakClient) call(ctx context.Context, name string, arg any) (json.RawMessage, error) {
	b, _ := json.Marshal([]any{name, arg})
	ch := make(chan json.RawMessage, 1)
	c.mu.Lock()
	c.nextAck++
	id := c.nextAck
	c.acks[id] = ch
	c.mu.Unlock()
	if err := c.conn.Write(ctx, websocket.MessageText, []byte("42"+strconv.Itoa(id)+string(b))); err != nil {
		return nil, err
	}
	select {
	case a, ok := <-ch:
		if !ok {
			return nil, fmt.Errorf("%s: connection closed", name)
		}
		return a, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: %w", name, ctx.Err())
	}
}

// plot draws the samples as an SVG with two panels (RSS, goroutines).
func plot(args []string) error {
	fs := flag.NewFlagSet("plot", flag.ExitOnError)
	in := fs.String("in", "samples.jsonl", "samples (JSON lines from soak server)")
	out := fs.String("out", "docs/img/soak.svg", "SVG to write")
	title := fs.String("title", "soak", "chart title")
	_ = fs.Parse(args)
	f, err := os.Open(*in)
	if err != nil {
		return err
	}
	defer f.Close()
	var ss []sample
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var s sample
		if json.Unmarshal(sc.Bytes(), &s) == nil {
			ss = append(ss, s)
		}
	}
	if len(ss) < 2 {
		return fmt.Errorf("%s: %d samples, need 2", *in, len(ss))
	}
	w, err := os.Create(*out)
	if err != nil {
		return err
	}
	defer w.Close()
	return writeSVG(w, *title, ss)
}

func writeSVG(w io.Writer, title string, ss []sample) error {
	const W, H, pad = 720, 520, 60.0
	panelH := (H - 3*pad) / 2
	tmax := ss[len(ss)-1].T
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", W, H)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/><text x="%d" y="24" text-anchor="middle" font-size="15">%s</text>`+"\n", W/2, esc(title))
	panel := func(top float64, label, color string, val func(sample) float64) {
		ymax := 0.0
		for _, s := range ss {
			ymax = math.Max(ymax, val(s))
		}
		ymax = niceCeil(ymax * 1.1)
		x := func(t float64) float64 { return pad + (W-2*pad)*t/math.Max(tmax, 1) }
		y := func(v float64) float64 { return top + panelH - panelH*v/ymax }
		fmt.Fprintf(&b, `<rect x="%g" y="%g" width="%g" height="%g" fill="none" stroke="#999"/>`+"\n", pad, top, W-2*pad, panelH)
		for i := 0; i <= 4; i++ {
			v := ymax * float64(i) / 4
			fmt.Fprintf(&b, `<text x="%g" y="%g" text-anchor="end">%s</text><line x1="%g" x2="%g" y1="%g" y2="%g" stroke="#eee"/>`+"\n",
				pad-6, y(v)+4, strconv.FormatFloat(v, 'f', -1, 64), pad, W-pad, y(v), y(v))
		}
		fmt.Fprintf(&b, `<text x="%g" y="%g">%s</text>`+"\n", pad, top-6, esc(label))
		var pts []string
		for _, s := range ss {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(s.T), y(val(s))))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", color, strings.Join(pts, " "))
	}
	panel(pad, "server RSS (MiB)", "#1f77b4", func(s sample) float64 { return float64(s.RSSKB) / 1024 })
	panel(2*pad+panelH, "server goroutines", "#d62728", func(s sample) float64 { return float64(s.Goroutines) })
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">time (s), 0 – %.0f</text>`+"\n", W/2, H-12, tmax)
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
