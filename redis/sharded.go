package redis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/banter-chat/banter/chat"
	"github.com/redis/rueidis"
)

// Sharded pub/sub on a Redis Cluster (Redis 7+). A channel belongs to the
// slot of its name (CRC16 of the whole name: the prefix has no hash tag),
// so the rooms spread over the shards, and SPUBLISH goes to the one shard
// that owns the room's slot, which delivers to the nodes subscribed there:
// no message crosses the cluster bus between shards, and the pub/sub load
// grows with the number of shards.
//
// The subscriber keeps one dedicated connection per master that owns a
// slot of a wanted channel, and issues SSUBSCRIBE/SUNSUBSCRIBE there (one
// command per slot: Redis refuses channels of different slots in one). It
// reads the slot map with CLUSTER SHARDS, and reads it again when a
// subscription is refused (MOVED: resharding, failover), when Redis
// unsubscribes a channel by itself (a slot migrated, the master became a
// replica) and when a shard's connection breaks. A shard that is down does
// not hold up the others: its channels are retried, with a back-off, until
// it (or the replica that replaces it) serves them again, and then each
// gets its chat.EventSubscribed, so the rooms read what they missed from
// the store.

// maxShardRetry bounds the back-off between attempts at a shard that
// refuses or cannot be reached.
const maxShardRetry = 5 * time.Second

// shardSub is the subscriber's connection to one master.
type shardSub struct {
	addr    string
	dc      rueidis.DedicatedClient
	release func()
	have    map[string]bool // channels Redis confirmed on this connection (subscriber goroutine only)

	mu      sync.Mutex
	leaving map[string]bool // channels this side is SUNSUBSCRIBEing: their notices are expected
}

// shardEvent is what the connections report to the subscriber goroutine:
// a connection ended (err), or Redis unsubscribed a channel by itself.
type shardEvent struct {
	conn    *shardSub
	err     error
	revoked string
}

// shardedSub is the state of the sharded subscriber (its goroutine's,
// except the queue of events).
type shardedSub struct {
	b     *Bus
	conns map[string]*shardSub // master address → connection
	owner map[uint16]string    // slot → address of its master (online), from CLUSTER SHARDS
	stale bool                 // owner must be read again
	slots map[string]uint16    // channel → slot, for the wanted channels

	// Back-off: a shard whose connection broke, or that refused or could
	// not be reached, is not tried again before its retry time; the delay
	// starts at Config.RetryDelay and doubles up to maxShardRetry. The same
	// for reading the slot map.
	retry   map[string]backoff // by master address
	global  backoff            // the slot map, slots nobody serves
	lastLog time.Time          // of the last "incomplete" warning

	// Reported by the connections' reading goroutines, which must never
	// wait (the subscriber may be waiting for a reply they read).
	mu     sync.Mutex
	events []shardEvent
	notify chan struct{} // capacity 1
}

// backoff is when something may be tried again, and the delay after
// its next failure.
type backoff struct {
	at    time.Time
	delay time.Duration
}

// fail schedules the next attempt after a failure at now.
func (k *backoff) fail(now time.Time, first time.Duration) {
	k.delay = min(max(2*k.delay, first), maxShardRetry)
	k.at = now.Add(k.delay)
}

// runSharded is the subscriber goroutine on a Redis Cluster.
func (b *Bus) runSharded() {
	defer close(b.done)
	s := &shardedSub{b: b, conns: map[string]*shardSub{}, stale: true, slots: map[string]uint16{},
		retry: map[string]backoff{}, notify: make(chan struct{}, 1)}
	defer s.closeAll()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next, err := s.sync()
		if b.ctx.Err() != nil {
			return
		}
		if err != nil && time.Since(s.lastLog) >= maxShardRetry {
			s.lastLog = time.Now()
			b.log.Warn("redis: sharded subscriptions incomplete; retrying", "err", err)
		}
		var retry <-chan time.Time
		if !next.IsZero() {
			timer.Reset(max(time.Until(next), time.Millisecond))
			retry = timer.C
		}
		select {
		case <-b.kick:
		case <-s.notify:
			s.mu.Lock()
			evs := s.events
			s.events = nil
			s.mu.Unlock()
			for _, ev := range evs {
				s.handle(ev)
			}
		case <-retry:
		case <-b.ctx.Done():
			return
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// handle applies a connection's report.
func (s *shardedSub) handle(ev shardEvent) {
	c := ev.conn
	if s.conns[c.addr] != c {
		return // an old connection's late news
	}
	if ev.revoked != "" {
		if c.have[ev.revoked] {
			delete(c.have, ev.revoked)
			s.stale = true
			s.b.log.Info("redis: a shard dropped a subscription (slot moved?); subscribing again", "channel", ev.revoked, "shard", c.addr)
		}
		return
	}
	s.b.stats.reconnects.Add(1)
	s.b.log.Warn("redis: subscriber connection to a shard lost; reconnecting", "shard", c.addr, "err", ev.err, "in", s.b.cfg.RetryDelay)
	s.drop(c)
	s.stale = true
	k := s.retry[c.addr]
	k.fail(time.Now(), s.b.cfg.RetryDelay)
	s.retry[c.addr] = k
}

// drop closes a shard's connection and forgets its subscriptions.
func (s *shardedSub) drop(c *shardSub) {
	delete(s.conns, c.addr)
	c.dc.Close()
	c.release()
}

func (s *shardedSub) closeAll() {
	for _, c := range s.conns {
		s.drop(c)
	}
	s.b.mu.Lock()
	clear(s.b.subscribed)
	s.b.mu.Unlock()
}

// slotOf is the cluster slot of a channel, as rueidis routes SPUBLISH.
func (s *shardedSub) slotOf(ch string) uint16 {
	if sl, ok := s.slots[ch]; ok {
		return sl
	}
	cmd := s.b.client.B().Spublish().Channel(ch).Message("").Build()
	sl := cmd.Slot() & 0x3fff
	s.slots[ch] = sl
	return sl
}

// sync makes the shards' subscriptions follow the wanted set. What could
// not be done is retried at next (zero: nothing pending), and err says
// why; what could be done is done.
func (s *shardedSub) sync() (next time.Time, err error) {
	b := s.b
	b.mu.Lock()
	want := make(map[string]bool, len(b.want))
	for ch := range b.want {
		want[ch] = true
	}
	b.mu.Unlock()
	for ch := range s.slots {
		if !want[ch] {
			delete(s.slots, ch)
		}
	}
	var errs []error
	now := time.Now()
	later := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	if s.stale && len(want) > 0 && !now.Before(s.global.at) {
		if err := s.readSlots(); err != nil {
			errs = append(errs, err)
			s.global.fail(now, s.b.cfg.RetryDelay)
		} else {
			s.stale = false
		}
	}
	if s.stale && len(want) > 0 {
		later(s.global.at)
	}
	// Where each wanted channel belongs now ("": nobody serves its slot).
	where := make(map[string]string, len(want))
	for ch := range want {
		where[ch] = s.owner[s.slotOf(ch)]
	}
	var added []string
	// Leave what is no longer wanted here (unwanted, or moved elsewhere).
	for addr, c := range s.conns {
		var del []string
		for ch := range c.have {
			if where[ch] != addr {
				del = append(del, ch)
			}
		}
		if err := s.unsubscribe(c, del); err != nil {
			errs = append(errs, fmt.Errorf("shard %s: %w", addr, err))
		}
	}
	// Subscribe where missing, grouped by shard.
	byShard := map[string][]string{}
	unserved := 0
	for ch, addr := range where {
		switch c := s.conns[addr]; {
		case addr == "":
			unserved++
		case c == nil || !c.have[ch]:
			byShard[addr] = append(byShard[addr], ch)
		}
	}
	if unserved > 0 {
		errs = append(errs, fmt.Errorf("no shard serves the slots of %d channels", unserved))
		if !s.stale {
			s.stale = true
			s.global.fail(now, s.b.cfg.RetryDelay)
		}
		later(s.global.at)
	} else if !s.stale {
		s.global = backoff{}
	}
	for addr, chs := range byShard {
		if k := s.retry[addr]; now.Before(k.at) {
			later(k.at)
			continue
		}
		c, err := s.connect(addr)
		if err == nil {
			var got []string
			got, err = s.subscribe(c, chs)
			added = append(added, got...)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("shard %s: %w", addr, err))
			s.stale = true
			k := s.retry[addr]
			k.fail(now, s.b.cfg.RetryDelay)
			s.retry[addr] = k
			later(k.at)
			continue
		}
		delete(s.retry, addr)
	}
	// Drop connections that hold nothing any more.
	for _, c := range s.conns {
		if len(c.have) == 0 {
			s.drop(c)
		}
	}
	b.mu.Lock()
	clear(b.subscribed)
	for _, c := range s.conns {
		for ch := range c.have {
			b.subscribed[ch] = true
		}
	}
	b.mu.Unlock()
	// Live from now on (chat.EventSubscribed: the rooms read what they
	// may have missed).
	for _, ch := range added {
		_ = b.local.Publish(context.Background(), strings.TrimPrefix(ch, b.evPfx), &chat.Event{Kind: chat.EventSubscribed})
	}
	return next, errors.Join(errs...)
}

// connect returns the connection to the master at addr, opening it.
func (s *shardedSub) connect(addr string) (*shardSub, error) {
	if c := s.conns[addr]; c != nil {
		return c, nil
	}
	node := s.b.client.Nodes()[addr]
	if node == nil {
		return nil, errors.New("not among the client's nodes yet")
	}
	dc, release := node.Dedicate()
	c := &shardSub{addr: addr, dc: dc, release: release, have: map[string]bool{}, leaving: map[string]bool{}}
	wait := dc.SetPubSubHooks(rueidis.PubSubHooks{OnMessage: s.b.onMessage, OnSubscription: func(m rueidis.PubSubSubscription) {
		if m.Kind != "sunsubscribe" {
			return
		}
		c.mu.Lock()
		own := c.leaving[m.Channel]
		c.mu.Unlock()
		if !own {
			s.report(shardEvent{conn: c, revoked: m.Channel})
		}
	}})
	go func() {
		err := <-wait
		if err == nil {
			err = errors.New("connection closed")
		}
		s.report(shardEvent{conn: c, err: err})
	}()
	s.conns[addr] = c
	return c, nil
}

// report hands a connection's news to the subscriber goroutine, without
// waiting.
func (s *shardedSub) report(ev shardEvent) {
	s.mu.Lock()
	s.events = append(s.events, ev)
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// subscribe SSUBSCRIBEs chs on c, one command per slot, and returns those
// Redis confirmed. A refusal (MOVED: the slot is elsewhere now) marks the
// slot map stale; a broken connection is dropped.
func (s *shardedSub) subscribe(c *shardSub, chs []string) ([]string, error) {
	ctx, cancel := context.WithTimeout(s.b.ctx, 10*time.Second)
	defer cancel()
	var done []string
	for _, group := range s.bySlot(chs) {
		err := c.dc.Do(ctx, c.dc.B().Ssubscribe().Channel(group...).Build()).Error()
		if err != nil {
			if _, redisErr := rueidis.IsRedisErr(err); !redisErr {
				s.drop(c)
			}
			s.stale = true
			return done, fmt.Errorf("ssubscribe: %w", err)
		}
		for _, ch := range group {
			c.have[ch] = true
		}
		done = append(done, group...)
	}
	return done, nil
}

// unsubscribe SUNSUBSCRIBEs chs on c, one command per slot.
func (s *shardedSub) unsubscribe(c *shardSub, chs []string) error {
	if len(chs) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(s.b.ctx, 10*time.Second)
	defer cancel()
	for _, group := range s.bySlot(chs) {
		c.mu.Lock()
		for _, ch := range group {
			c.leaving[ch] = true
		}
		c.mu.Unlock()
		// Do returns after Redis confirmed every channel (the notices
		// went through the hook, which ignored them).
		err := c.dc.Do(ctx, c.dc.B().Sunsubscribe().Channel(group...).Build()).Error()
		c.mu.Lock()
		for _, ch := range group {
			delete(c.leaving, ch)
		}
		c.mu.Unlock()
		for _, ch := range group {
			delete(c.have, ch)
		}
		if err != nil {
			if _, redisErr := rueidis.IsRedisErr(err); !redisErr {
				s.drop(c)
			}
			return fmt.Errorf("sunsubscribe: %w", err)
		}
	}
	return nil
}

// bySlot groups channels by slot.
func (s *shardedSub) bySlot(chs []string) [][]string {
	m := map[uint16][]string{}
	for _, ch := range chs {
		sl := s.slotOf(ch)
		m[sl] = append(m[sl], ch)
	}
	out := make([][]string, 0, len(m))
	for _, g := range m {
		out = append(out, g)
	}
	return out
}

// readSlots reads which master serves each slot (CLUSTER SHARDS; masters
// that are not online serve nothing).
func (s *shardedSub) readSlots() error {
	ctx, cancel := context.WithTimeout(s.b.ctx, 10*time.Second)
	defer cancel()
	owner, err := clusterShards(ctx, s.b.client, s.b.tls)
	if err != nil {
		return err
	}
	s.owner = owner
	return nil
}

// clusterShards maps every served slot to the address of its online
// master, as rueidis names the nodes (the endpoint, else the IP, and the
// TLS port on TLS connections).
func clusterShards(ctx context.Context, c rueidis.Client, tls bool) (map[uint16]string, error) {
	shards, err := c.Do(ctx, c.B().ClusterShards().Build()).ToArray()
	if err != nil {
		return nil, fmt.Errorf("cluster shards: %w", err)
	}
	owner := map[uint16]string{}
	for _, sh := range shards {
		m, err := sh.AsMap()
		if err != nil {
			return nil, fmt.Errorf("cluster shards: %w", err)
		}
		slotsMsg, nodesMsg := m["slots"], m["nodes"]
		ranges, err := slotsMsg.AsIntSlice()
		if err != nil {
			return nil, fmt.Errorf("cluster shards: slots: %w", err)
		}
		nodes, err := nodesMsg.ToArray()
		if err != nil {
			return nil, fmt.Errorf("cluster shards: nodes: %w", err)
		}
		addr := ""
		for _, n := range nodes {
			nm, err := n.AsMap()
			if err != nil {
				return nil, fmt.Errorf("cluster shards: node: %w", err)
			}
			if str(nm, "role") != "master" || str(nm, "health") != "online" {
				continue
			}
			host := str(nm, "endpoint")
			if host == "" || host == "?" {
				host = str(nm, "ip")
			}
			port := num(nm, "port")
			if tp := num(nm, "tls-port"); tls && tp > 0 {
				port = tp
			}
			if host != "" && port > 0 {
				addr = net.JoinHostPort(host, strconv.FormatInt(port, 10))
			}
		}
		if addr == "" {
			continue // no online master: its slots are not served now
		}
		for k := 0; k+1 < len(ranges); k += 2 {
			for sl := ranges[k]; sl <= ranges[k+1] && sl < 16384; sl++ {
				owner[uint16(sl)] = addr
			}
		}
	}
	return owner, nil
}

func str(m map[string]rueidis.RedisMessage, k string) string {
	v, ok := m[k]
	if !ok {
		return ""
	}
	s, _ := v.ToString()
	return s
}

func num(m map[string]rueidis.RedisMessage, k string) int64 {
	v, ok := m[k]
	if !ok {
		return 0
	}
	n, _ := v.AsInt64()
	return n
}
