// Package redis carries chat events between Banter nodes through Redis
// pub/sub (github.com/redis/rueidis), and keeps the cluster's roster: which
// nodes are alive and where, who is online and in which room.
//
// Entry points: Open(ctx, url, Config) returns a *Bus, a chat.Bus; give it to
// chat.Config.Bus on every node and Close it after the Service. NewRoster(ctx,
// bus, RosterConfig) returns a *Roster (roster.go), a chat.Roster on the same
// connection, with the node's heartbeat; close it after the Service and
// before the Bus. EncodeEvent and DecodeEvent are the payload codec (pure).
//
// Interest-based routing: a Bus subscribes to the Redis channel of a topic
// (Config.Prefix + topic) only while this node has a local subscriber, so a
// node receives the traffic of the rooms its users are in, not of the whole
// cluster. Publish delivers to this node's subscribers at once, in the
// caller's goroutine (as chat.LocalBus does), then PUBLISHes for the others;
// a node ignores its own publications when they come back.
//
// Concurrency: all methods are safe for concurrent use. Subscribe and its
// unsubscribe function never touch the network: they update the wanted set
// and wake one background goroutine that owns a dedicated connection and
// issues SUBSCRIBE/UNSUBSCRIBE, resubscribing everything after a
// reconnection. Handlers run in rueidis's reading goroutine for remote
// events and must not block (the chat.Bus contract).
//
// Delivery is at most once, as chat.Bus allows: an event published while a
// subscription is still being set up, or while the connection is down, is
// not seen by this node. When a subscription becomes live (again), the
// topic's local handlers get a chat.EventSubscribed, and the chat Service
// reads what the room may have missed from the Store; reconnecting clients
// catch up from the Store too.
package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	neturl "net/url"
	"strings"
	"sync"
	"time"

	"github.com/banter-chat/banter/chat"
	"github.com/redis/rueidis"
)

// ErrClosed is returned by Publish and Subscribe after Close.
var ErrClosed = errors.New("redis: bus closed")

// Config tunes a Bus. The zero value is the documented default.
type Config struct {
	// Logger receives connection problems and bad payloads. Default:
	// slog.Default().
	Logger *slog.Logger
	// Prefix of every channel, so several clusters can share one Redis
	// (pub/sub channels are not per database). Default: the URL's prefix
	// parameter (redis://host:6379/0?prefix=prod:), else "banter:".
	Prefix string
	// NodeID names this node in its publications. Default: random.
	NodeID string
	// PublishTimeout bounds one PUBLISH, so that a Redis outage slows
	// senders down by at most this much. Default 2s.
	PublishTimeout time.Duration
	// ConnectTimeout bounds Open. Default 5s.
	ConnectTimeout time.Duration
	// RetryDelay is the pause before the subscriber reconnects. Default
	// 200ms.
	RetryDelay time.Duration
	// ObserveLag, if set, is called for every event received from another
	// node with the time since that node published it (its clock against
	// ours: keep the nodes' clocks synchronized). It runs in the reading
	// goroutine and must not block; negative lags (clock skew) are
	// reported as 0.
	ObserveLag func(time.Duration)
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Prefix == "" {
		c.Prefix = "banter:"
	}
	if c.NodeID == "" {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		c.NodeID = hex.EncodeToString(b)
	}
	if c.PublishTimeout <= 0 {
		c.PublishTimeout = 2 * time.Second
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 5 * time.Second
	}
	if c.RetryDelay <= 0 {
		c.RetryDelay = 200 * time.Millisecond
	}
	return c
}

// Bus is a chat.Bus over Redis pub/sub.
type Bus struct {
	cfg    Config
	log    *slog.Logger
	client rueidis.Client
	local  *chat.LocalBus // this node's handlers
	evPfx  string         // Prefix + "ev:"

	mu         sync.Mutex
	closed     bool
	want       map[string]int  // channel → local subscriptions
	subscribed map[string]bool // channel → confirmed by Redis (subscriber goroutine's view)
	kick       chan struct{}   // wakes the subscriber; capacity 1

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	done   chan struct{} // the subscriber goroutine ended

	stats counters // stats.go
}

var _ chat.Bus = (*Bus)(nil)

// Open connects to the Redis at url (redis://[user:password@]host:port/db)
// and starts the subscriber. It fails if Redis does not answer within
// Config.ConnectTimeout.
func Open(ctx context.Context, url string, cfg Config) (*Bus, error) {
	url, prefix, err := cutPrefixParam(url)
	if err != nil {
		return nil, err
	}
	if cfg.Prefix == "" {
		cfg.Prefix = prefix
	}
	cfg = cfg.withDefaults()
	opt, err := rueidis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis: parse url: %w", err)
	}
	opt.DisableCache = true // pub/sub only: no client-side caching (needs RESP3 tracking)
	opt.Dialer.Timeout = cfg.ConnectTimeout
	// Named, so that an operator (or a test) finds a node's connections in
	// CLIENT LIST.
	opt.ClientName = "banter-" + cfg.NodeID
	client, err := rueidis.NewClient(opt)
	if err != nil {
		return nil, fmt.Errorf("redis: connect %s: %w", opt.InitAddress, err)
	}
	pctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	if err := client.Do(pctx, client.B().Ping().Build()).Error(); err != nil {
		client.Close()
		return nil, fmt.Errorf("redis: ping %s: %w", opt.InitAddress, err)
	}
	b := &Bus{
		cfg: cfg, log: cfg.Logger, client: client, local: chat.NewLocalBus(),
		evPfx: cfg.Prefix + "ev:",
		want:  make(map[string]int), subscribed: make(map[string]bool),
		kick: make(chan struct{}, 1), done: make(chan struct{}),
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	go b.subscriber()
	return b, nil
}

// cutPrefixParam removes Banter's own prefix parameter from a Redis URL
// (rueidis does not know it).
func cutPrefixParam(raw string) (rest, prefix string, err error) {
	u, err := neturl.Parse(raw)
	if err != nil {
		return "", "", fmt.Errorf("redis: parse url: %w", err)
	}
	q := u.Query()
	prefix = q.Get("prefix")
	if !q.Has("prefix") {
		return raw, "", nil
	}
	if prefix == "" {
		return "", "", fmt.Errorf("redis: url: empty prefix parameter")
	}
	q.Del("prefix")
	u.RawQuery = q.Encode()
	return u.String(), prefix, nil
}

// NodeID returns the id this node publishes under.
func (b *Bus) NodeID() string { return b.cfg.NodeID }

// Client returns the underlying Redis client, for other cluster features
// of the same node to share the connection.
func (b *Bus) Client() rueidis.Client { return b.client }

// Publish implements chat.Bus: local subscribers first, synchronously, then
// the other nodes through Redis.
func (b *Bus) Publish(ctx context.Context, topic string, ev *chat.Event) error {
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return ErrClosed
	}
	_ = b.local.Publish(ctx, topic, ev)
	data, err := EncodeEventAt(b.cfg.NodeID, time.Now(), ev)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, b.cfg.PublishTimeout)
	defer cancel()
	cmd := b.client.B().Publish().Channel(b.evPfx + topic).Message(rueidis.BinaryString(data)).Build()
	if err := b.client.Do(ctx, cmd).Error(); err != nil {
		b.stats.publishErrors.Add(1)
		return fmt.Errorf("redis: publish %s: %w", topic, err)
	}
	b.stats.published.Add(1)
	return nil
}

// Subscribe implements chat.Bus. It registers h at once; the Redis
// subscription follows asynchronously (Subscribed tells when it is live).
func (b *Bus) Subscribe(topic string, h func(*chat.Event)) (func(), error) {
	ch := b.evPfx + topic
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, ErrClosed
	}
	unsubLocal, _ := b.local.Subscribe(topic, h)
	b.want[ch]++
	first := b.want[ch] == 1
	b.mu.Unlock()
	if first {
		b.wake()
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			unsubLocal()
			b.mu.Lock()
			b.want[ch]--
			last := b.want[ch] == 0
			if last {
				delete(b.want, ch)
			}
			b.mu.Unlock()
			if last {
				b.wake()
			}
		})
	}, nil
}

// Subscribed reports whether Redis confirmed this node's subscription to
// topic: from then on, events other nodes publish on it reach this node.
func (b *Bus) Subscribed(topic string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.subscribed[b.evPfx+topic]
}

func (b *Bus) wake() {
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// Close stops the subscriber and closes the connections. Later Publish and
// Subscribe calls fail with ErrClosed; calling Close again returns nil.
func (b *Bus) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		<-b.done
		return nil
	}
	b.closed = true
	b.mu.Unlock()
	b.cancel()
	<-b.done
	b.client.Close()
	return nil
}

// subscriber owns the dedicated pub/sub connection: it makes Redis's
// subscriptions follow the wanted set, and starts over on a new connection
// when the current one breaks.
func (b *Bus) subscriber() {
	defer close(b.done)
	for {
		err := b.runConnection()
		b.mu.Lock()
		clear(b.subscribed)
		b.mu.Unlock()
		if b.ctx.Err() != nil {
			return
		}
		b.stats.reconnects.Add(1)
		b.log.Warn("redis: subscriber connection lost; reconnecting", "err", err, "in", b.cfg.RetryDelay)
		select {
		case <-b.ctx.Done():
			return
		case <-time.After(b.cfg.RetryDelay):
		}
	}
}

// runConnection runs one dedicated connection until it breaks (the error)
// or Close (nil).
func (b *Bus) runConnection() error {
	dc, release := b.client.Dedicate()
	defer release()
	defer dc.Close()
	wait := dc.SetPubSubHooks(rueidis.PubSubHooks{OnMessage: b.onMessage})
	have := map[string]bool{} // what this connection is subscribed to
	for {
		if err := b.sync(dc, have); err != nil {
			return err
		}
		select {
		case <-b.kick:
		case err := <-wait:
			if err == nil {
				err = errors.New("subscriber connection closed")
			}
			return err
		case <-b.ctx.Done():
			return nil
		}
	}
}

// sync subscribes to what is wanted and not had, and unsubscribes from the
// reverse, in one command each.
func (b *Bus) sync(dc rueidis.DedicatedClient, have map[string]bool) error {
	var add, del []string
	b.mu.Lock()
	for ch := range b.want {
		if !have[ch] {
			add = append(add, ch)
		}
	}
	for ch := range have {
		if b.want[ch] == 0 {
			del = append(del, ch)
		}
	}
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	if len(add) > 0 {
		if err := dc.Do(ctx, dc.B().Subscribe().Channel(add...).Build()).Error(); err != nil {
			return fmt.Errorf("subscribe: %w", err)
		}
		for _, ch := range add {
			have[ch] = true
		}
	}
	defer func() {
		// Live from now on: what was published before (while setting up,
		// or during an outage) may have been missed (chat.EventSubscribed).
		for _, ch := range add {
			topic := strings.TrimPrefix(ch, b.evPfx)
			_ = b.local.Publish(context.Background(), topic, &chat.Event{Kind: chat.EventSubscribed})
		}
	}()
	if len(del) > 0 {
		if err := dc.Do(ctx, dc.B().Unsubscribe().Channel(del...).Build()).Error(); err != nil {
			return fmt.Errorf("unsubscribe: %w", err)
		}
		for _, ch := range del {
			delete(have, ch)
		}
	}
	b.mu.Lock()
	clear(b.subscribed)
	for ch := range have {
		b.subscribed[ch] = true
	}
	b.mu.Unlock()
	return nil
}

// onMessage hands a remote event to this node's handlers of its topic.
func (b *Bus) onMessage(m rueidis.PubSubMessage) {
	topic, ok := strings.CutPrefix(m.Channel, b.evPfx)
	if !ok {
		return
	}
	node, at, ev, err := DecodeEventAt([]byte(m.Message))
	if err != nil {
		b.stats.dropped.Add(1)
		b.log.Warn("redis: dropped an event", "channel", m.Channel, "err", err)
		return
	}
	if node == b.cfg.NodeID {
		return // delivered locally when published
	}
	b.stats.received.Add(1)
	if b.cfg.ObserveLag != nil && !at.IsZero() {
		b.cfg.ObserveLag(max(time.Since(at), 0))
	}
	_ = b.local.Publish(context.Background(), topic, ev)
}
