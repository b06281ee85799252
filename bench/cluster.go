package bench

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// runCluster: the protocol-1 fan-out of one room across the nodes of a
// Banter cluster. The senders connect to the first --sender-nodes nodes,
// the other receivers to the remaining nodes, so that every message the
// latter get crossed the bus (store commit on the sender's node, PUBLISH,
// the receiving node's subscription). Given one node (--addr, or --nodes
// with one entry) it is the single-node run of the same load, to compare
// with in the same ladder.
//
// Measured per node: CPU per delivery (its CPU over what its own clients
// received); for the cluster: Redis CPU per message (--redis), the
// store's appends/s and append latency (and, with --postgres, the CPU of
// its PostgreSQL backends per append) and the bus lag, read from every
// node's /metrics before and after the window; latency from send to receive
// for all deliveries and apart for those that crossed the bus.
func runCluster(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench cluster", flag.ContinueOnError)
	var c common
	c.register(fs)
	nodesFlag := fs.String("nodes", "", "the cluster's nodes as ADDR=PID,ADDR=PID,... (instead of --addr and --server-pid); one node: a single-node run of the same load")
	senderNodes := fs.Int("sender-nodes", 1, "the senders connect to the first k nodes, the other receivers to the remaining ones (to all nodes when k is their number)")
	redisURL := fs.String("redis", "", "the cluster's Redis (redis://host:port; a Redis Cluster: every master is read), for its CPU per message from INFO (empty: not measured)")
	pgURL := fs.String("postgres", "", "the nodes' store URL, with their application_name parameter: the CPU of their PostgreSQL backends per append (the server on this machine; empty: not measured)")
	scrape := fs.Bool("metrics", true, "read each node's /metrics before and after the window (store appends and latency, bus lag)")
	n := fs.Int("n", 1000, "connections in all (senders included); every one is in the room and receives every message")
	senders := fs.Int("senders", 200, "how many of the connections also send")
	rate := fs.Float64("rate", 100, "messages per second sent, all senders together")
	shapeName := fs.String("shape", "poisson", "when senders send: poisson, spread or burst (as bench fanout)")
	warmup := fs.Duration("warmup", 2*time.Second, "sending before the measured window")
	dur := fs.Duration("duration", 5*time.Second, "measured window")
	drain := fs.Duration("drain", 3*time.Second, "longest wait for late messages after sending stops")
	size := fs.Int("size", 32, "bytes of text in each message")
	crate := fs.Float64("connect-rate", 3000, "connections opened per second")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if err := c.check(); err != nil {
		return err
	}
	addrs, pids, err := parseNodes(*nodesFlag, &c)
	if err != nil {
		return err
	}
	sh, err := parseShape(*shapeName)
	if err != nil {
		return err
	}
	k := len(addrs)
	switch {
	case *senderNodes < 1 || *senderNodes > k:
		return fmt.Errorf("%w: --sender-nodes %d: want 1..%d (the number of nodes)", ErrUsage, *senderNodes, k)
	case *n < 1 || *n > 19_000:
		return fmt.Errorf("%w: --n %d: want 1..19000 (one process)", ErrUsage, *n)
	case *senders < 1 || *senders > *n:
		return fmt.Errorf("%w: --senders %d: want 1..n", ErrUsage, *senders)
	case *senderNodes < k && *senders == *n:
		return fmt.Errorf("%w: --senders %d leaves no receivers for the nodes without senders", ErrUsage, *senders)
	case *rate <= 0 || *rate > 1e6:
		return fmt.Errorf("%w: --rate %v", ErrUsage, *rate)
	case *dur <= 0 || *warmup < 0 || *drain < 0 || *size < 0 || *size > 100_000:
		return fmt.Errorf("%w: bad --duration, --warmup, --drain or --size", ErrUsage)
	}
	var rm *redisMeter
	if *redisURL != "" {
		if rm, err = newRedisMeter(ctx, *redisURL); err != nil {
			return err
		}
		defer rm.close()
	}
	var pm *pgMeter
	if *pgURL != "" {
		if pm, err = newPGMeter(ctx, *pgURL); err != nil {
			return err
		}
		defer pm.close()
	}
	dl := dialectV1
	expect := *rate / float64(*senders) * (*warmup + *dur).Seconds()
	perSender := int(expect+3*math.Sqrt(expect)) + 8
	total := perSender * *senders

	// Where each connection goes: senders round robin over the sender
	// nodes, receivers over the others (over all when every node sends).
	recvNodes := addrs[*senderNodes:]
	recvBase := *senderNodes
	if len(recvNodes) == 0 {
		recvNodes, recvBase = addrs, 0
	}
	counts := make([]int, k) // [node] senders first, then receivers
	sendCounts := make([]int, k)
	for i := range *senders {
		sendCounts[i%*senderNodes]++
	}
	for i := range *n - *senders {
		counts[recvBase+i%len(recvNodes)]++
	}

	var (
		wg     sync.WaitGroup
		nicks  atomic.Int64
		byNode = make([][]*receiver, k)
		sendRv []*receiver // sender s is sendRv[s]
		mu     sync.Mutex
	)
	prog := &progress{w: stderr}
	var opened []*conn
	defer func() { closeAll(opened); wg.Wait() }()
	// connectTo opens m connections to node i, each a protocol-1 user in
	// the room; senders are appended to sendRv.
	connectTo := func(i, m int, sending bool) error {
		if m == 0 {
			return nil
		}
		nc := c
		nc.addr = addrs[i]
		cr := connectMany(ctx, &nc, m, *crate, 64, prog, func(cn *conn) error {
			rv := &receiver{c: cn, room: benchRoom, seen: make([]uint64, (total+63)/64), perSender: perSender, acks: make(chan []byte, 1)}
			rv.winStart.Store(math.MaxInt64)
			mu.Lock()
			byNode[i] = append(byNode[i], rv)
			if sending {
				sendRv = append(sendRv, rv)
			}
			mu.Unlock()
			wg.Add(1)
			go func() { defer wg.Done(); rv.loop() }()
			return dl.setup(rv, int(nicks.Add(1)), c.timeout)
		})
		prog.done()
		opened = append(opened, cr.conns...)
		if len(cr.conns) < m {
			return fmt.Errorf("bench cluster: node %s: %d of %d connections failed: %v", addrs[i], cr.failures, m, cr.firstErr)
		}
		return nil
	}
	for i := range k {
		if err := connectTo(i, sendCounts[i], true); err != nil {
			return err
		}
	}
	for i := range k {
		if err := connectTo(i, counts[i], false); err != nil {
			return err
		}
	}
	var all []*receiver
	for _, rs := range byNode {
		all = append(all, rs...)
	}

	start := time.Now()
	winStart := start.Add(*warmup)
	winEnd := winStart.Add(*dur)
	for _, rv := range all {
		rv.winEnd.Store(winEnd.UnixMicro())
		rv.winStart.Store(winStart.UnixMicro())
	}
	pad := strings.Repeat("x", *size)
	var sent atomic.Int64
	var sendErr atomic.Pointer[error]
	var sw sync.WaitGroup
	for s := range *senders {
		sw.Add(1)
		go func() {
			defer sw.Done()
			err := sendScheduled(ctx, sendRv[s], dl, s, perSender, sh.schedule(s, *senders, *rate, start), winEnd, pad, &sent)
			if err != nil {
				sendErr.CompareAndSwap(nil, &err)
			}
		}()
	}
	defer sw.Wait()

	if !sleepUntil(ctx, winStart) {
		return ctx.Err()
	}
	// The window: the generator's counters and the processes' CPU are read
	// at its edges; then the slower sources (the nodes' /metrics, Redis's
	// INFO, PostgreSQL's backends), whose rates use their own interval.
	fast := func() ([]int64, int64) {
		d := make([]int64, k)
		for i, rs := range byNode {
			d[i] = sumReceived(rs)
		}
		return d, sent.Load()
	}
	d0, sent0 := fast()
	meters := make([]*cpuMeter, len(pids))
	for i, pid := range pids {
		if meters[i], err = startCPU(pid); err != nil {
			return err
		}
	}
	gen, err := startCPU(0)
	if err != nil {
		return err
	}
	slow0, err := sampleSlow(ctx, *scrape, addrs, rm, pm)
	if err != nil {
		return err
	}
	for time.Now().Before(winEnd) {
		next := time.Now().Add(time.Second)
		if next.After(winEnd) {
			next = winEnd
		}
		if !sleepUntil(ctx, next) {
			return ctx.Err()
		}
		prog.printf("cluster: %d sent, %d delivered", sent.Load(), sumReceived(all))
	}
	d1, sent1 := fast()
	nodeCPU := make([]time.Duration, len(meters))
	for i, m := range meters {
		if nodeCPU[i], _, err = m.stop(); err != nil {
			return err
		}
	}
	gcpu, wall, err := gen.stop()
	if err != nil {
		return err
	}
	slow1, err := sampleSlow(ctx, *scrape, addrs, rm, pm)
	if err != nil {
		return err
	}
	sw.Wait()
	refused := func() (r int64) {
		for _, rv := range all {
			r += rv.refused.Load()
		}
		return r
	}
	deadline := time.Now().Add(*drain)
	for sumReceived(all) < (sent.Load()-refused())*int64(*n) && time.Now().Before(deadline) && ctx.Err() == nil {
		sleepUntil(ctx, time.Now().Add(20*time.Millisecond))
	}
	prog.done()
	closeAll(opened)
	wg.Wait()

	// Latency: all deliveries, and apart those to nodes that hold no
	// sender (each crossed the bus) and to the sender nodes (local, when
	// there is one sender node).
	var hAll, hRemote, hLocal hist
	var uniq, dups, bad int64
	for i, rs := range byNode {
		for _, rv := range rs {
			hAll.merge(&rv.h)
			if i >= *senderNodes {
				hRemote.merge(&rv.h)
			} else {
				hLocal.merge(&rv.h)
			}
			uniq += rv.unique
			dups += rv.dups
			bad += rv.bad
		}
	}
	want := (sent.Load() - refused()) * int64(*n)
	var delivered int64
	for i := range k {
		delivered += d1[i] - d0[i]
	}
	r := &Result{Scenario: "cluster", Shape: sh.String(), Dialect: dl.String(),
		Params: map[string]float64{"nodes": float64(k), "sender_nodes": float64(*senderNodes),
			"receivers": float64(*n), "senders": float64(*senders), "rate": *rate,
			"offered_deliveries_s": *rate * float64(*n), "duration_s": dur.Seconds(), "size": float64(*size)},
		Metrics: map[string]float64{
			"deliveries_s": float64(delivered) / wall.Seconds(),
			"sent":         float64(sent.Load()),
			"refused":      float64(refused()),
			"lost":         float64(want - uniq),
			"duplicated":   float64(dups),
			"malformed":    float64(bad),
		}}
	hAll.latencyMetrics(r.Metrics, "latency_")
	if k > *senderNodes {
		hRemote.latencyMetrics(r.Metrics, "remote_latency_")
		if *senderNodes == 1 {
			hLocal.latencyMetrics(r.Metrics, "local_latency_")
		}
	}
	if len(pids) == k {
		var cpuSum time.Duration
		for i := range k {
			cpuSum += nodeCPU[i]
			nd := d1[i] - d0[i]
			pfx := "node" + strconv.Itoa(i+1) + "_"
			r.Metrics[pfx+"cpu"] = nodeCPU[i].Seconds() / wall.Seconds()
			r.Metrics[pfx+"deliveries_s"] = float64(nd) / wall.Seconds()
			if nd > 0 {
				r.Metrics[pfx+"cpu_us_per_delivery"] = float64(nodeCPU[i].Microseconds()) / float64(nd)
			}
		}
		r.Metrics["server_cpu"] = cpuSum.Seconds() / wall.Seconds()
		if delivered > 0 {
			r.Metrics["cpu_us_per_delivery"] = float64(cpuSum.Microseconds()) / float64(delivered)
		}
	}
	slow0.addTo(r.Metrics, slow1, sent1-sent0)
	if wall < *dur*8/10 {
		r.Notes = append(r.Notes, fmt.Sprintf("the measured window lasted %v of %v: the machine was too loaded to keep time", wall.Round(time.Millisecond), *dur))
	}
	r.GeneratorCPU = gcpu.Seconds() / wall.Seconds()
	if p := sendErr.Load(); p != nil {
		r.Notes = append(r.Notes, "send error: "+(*p).Error())
	}
	if nr := refused(); nr > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d of %d messages refused by the server (rate limits?)", nr, sent.Load()))
	}
	if want > uniq {
		r.Notes = append(r.Notes, fmt.Sprintf("%d deliveries missing %v after sending stopped", want-uniq, *drain))
	}
	return c.emit(r, stdout)
}

// slowSample is one reading of the sources that take a while to read:
// every node's /metrics, Redis's INFO, the PostgreSQL backends' CPU.
type slowSample struct {
	at    time.Time // the middle of the reading
	nodes []nodeMetrics
	redis *redisSample
	pg    map[int]time.Duration
}

func sampleSlow(ctx context.Context, scrape bool, addrs []string, rm *redisMeter, pm *pgMeter) (slowSample, error) {
	var s slowSample
	t0 := time.Now()
	var err error
	if scrape {
		if s.nodes, err = scrapeNodes(ctx, addrs); err != nil {
			return s, err
		}
	}
	if rm != nil {
		rs, err := rm.sample(ctx)
		if err != nil {
			return s, err
		}
		s.redis = &rs
	}
	if pm != nil {
		if s.pg, err = pm.sample(ctx); err != nil {
			return s, err
		}
	}
	s.at = t0.Add(time.Since(t0) / 2)
	return s, nil
}

// addTo adds what happened between a and b: the store, bus and lag
// figures of the nodes, Redis's CPU per message and PostgreSQL's per
// append (messages: those stored, else sent, the count of sends in the
// window).
func (a slowSample) addTo(m map[string]float64, b slowSample, sent int64) {
	d := b.at.Sub(a.at)
	msgs := float64(sent)
	if a.nodes != nil {
		diff := sumNodeMetrics(a.nodes, b.nodes)
		diff.addTo(m, d)
		msgs = diff.counters["banter_chat_messages_stored_total"]
		if a.pg != nil && msgs > 0 {
			cpu := pgCPU(a.pg, b.pg)
			m["postgres_cpu"] = cpu.Seconds() / d.Seconds()
			m["postgres_cpu_us_per_append"] = float64(cpu.Microseconds()) / msgs
		}
	}
	if a.redis != nil {
		a.redis.addTo(m, *b.redis, d, int64(msgs))
	}
}
