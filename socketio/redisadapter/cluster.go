// Package redisadapter is a Socket.IO Adapter over Redis pub/sub,
// wire-compatible with Node's @socket.io/redis-adapter 8.x: Banter servers
// and Node Socket.IO servers using that adapter (with the same key) form
// one cluster, and @socket.io/redis-emitter can emit to Banter's clients.
//
// Entry points: New(client, Config) returns a *Cluster for one node; pass
// its Adapter method as socketio.Config.Adapter, wait for Ready before
// counting on other nodes, and Close the Cluster after the Server's
// Shutdown. The wire format (channels, MessagePack and JSON messages) is
// package wire, pure and fuzzed; this package does the Redis I/O and the
// bookkeeping of requests. docs/cluster.md has the deployment guide.
//
// What crosses nodes: broadcasts (to all, rooms, except rooms, volatile;
// Local ones stay), broadcasts with acknowledgements, FetchSockets,
// SocketsJoin, SocketsLeave, DisconnectSockets, AllRooms, ServerSideEmit
// (with or without acknowledgement). Connection state recovery stays per
// node, as with Node's adapter.
//
// Concurrency: all methods are safe for concurrent use. One goroutine owns
// a dedicated Redis connection and keeps it subscribed to the channels of
// every namespace (resubscribing after a reconnection). Answers to this
// node's requests are handled on rueidis's reading goroutine; broadcasts
// and requests from other nodes go, in the order Redis delivers them, to a
// dispatcher goroutine (they run application code: disconnect and
// OnServerSideEmit handlers, which may wait for other nodes' answers);
// answers to other nodes are published by a third goroutine. A Broadcast
// delivers locally, then publishes before it returns (bounded by
// Config.PublishTimeout); requests wait for answers at most
// Config.RequestsTimeout.
package redisadapter

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/banter-chat/banter/socketio"
	"github.com/redis/rueidis"
)

// Errors.
var (
	// ErrTimeout is wrapped by the errors of requests that not every node
	// answered in time.
	ErrTimeout = errors.New("redisadapter: timeout reached while waiting for other nodes")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("redisadapter: closed")
)

// Config configures a Cluster. The zero value is the documented default.
type Config struct {
	// Key prefixes every channel, as the Node adapter's key option
	// (default "socket.io"). Every node of a cluster, Node or Banter, and
	// every emitter must use the same key.
	Key string
	// RequestsTimeout bounds how long a request (FetchSockets, AllRooms,
	// ServerSideEmitWithAck) waits for the other nodes (default 5s, as
	// Node's requestsTimeout).
	RequestsTimeout time.Duration
	// PublishOnSpecificResponseChannel answers a node's requests on its own
	// channel (key-response#nsp#uid#) rather than the shared one, as the
	// Node option of that name. Every node reads both, so nodes may differ.
	PublishOnSpecificResponseChannel bool
	// PublishTimeout bounds one PUBLISH (default 2s).
	PublishTimeout time.Duration
	// RetryDelay is the pause before the subscriber reconnects (default
	// 200ms).
	RetryDelay time.Duration
	// Logger receives dropped messages and connection problems (default
	// slog.Default()).
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Key == "" {
		c.Key = "socket.io"
	}
	if c.RequestsTimeout <= 0 {
		c.RequestsTimeout = 5 * time.Second
	}
	if c.PublishTimeout <= 0 {
		c.PublishTimeout = 2 * time.Second
	}
	if c.RetryDelay <= 0 {
		c.RetryDelay = 200 * time.Millisecond
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// outQueue bounds the answers waiting to be published; past it answers are
// dropped (with a log line), and the asking node times out.
const outQueue = 4096

// inQueue bounds the broadcasts and requests waiting for the dispatcher;
// past it the subscriber waits (Redis buffers for the connection, up to its
// client-output-buffer-limit for pub/sub).
const inQueue = 16384

// Cluster is one node's membership in the Redis pub/sub of a Socket.IO
// cluster, shared by all its namespaces.
type Cluster struct {
	cfg    Config
	log    *slog.Logger
	client rueidis.Client

	closed atomic.Bool

	mu        sync.RWMutex
	byPattern map[string]*Adapter // key#nsp#* → adapter (broadcasts)
	byChannel map[string]*Adapter // request and response channels → adapter
	ready     chan struct{}       // closed when everything wanted is subscribed; replaced when more is wanted
	kick      chan struct{}

	out   chan outMsg                // answers to publish
	inbox chan rueidis.PubSubMessage // broadcasts and requests for the dispatcher

	ctx    context.Context
	cancel context.CancelFunc
	done   sync.WaitGroup
}

type outMsg struct {
	channel string
	msg     []byte
}

// New starts a node's membership on client (a rueidis client the caller
// owns and closes after the Cluster). It does not wait for Redis: Ready
// does.
func New(client rueidis.Client, cfg Config) *Cluster {
	cfg = cfg.withDefaults()
	c := &Cluster{
		cfg: cfg, log: cfg.Logger, client: client,
		byPattern: make(map[string]*Adapter), byChannel: make(map[string]*Adapter),
		ready: make(chan struct{}),
		kick:  make(chan struct{}, 1),
		out:   make(chan outMsg, outQueue),
		inbox: make(chan rueidis.PubSubMessage, inQueue),
	}
	close(c.ready) // nothing wanted yet
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.done.Add(3)
	go c.subscriber()
	go c.dispatcher()
	go c.publisher()
	return c
}

// Adapter creates the adapter of namespace n; pass it as
// socketio.Config.Adapter.
func (c *Cluster) Adapter(n *socketio.Namespace) socketio.Adapter {
	a := newAdapter(c, n)
	c.mu.Lock()
	c.byPattern[a.pattern] = a
	for _, ch := range a.ownChannels() {
		c.byChannel[ch] = a
	}
	c.wantMoreLocked()
	c.mu.Unlock()
	c.wake()
	return a
}

// remove forgets a closed adapter's channels.
func (c *Cluster) remove(a *Adapter) {
	c.mu.Lock()
	if c.byPattern[a.pattern] == a {
		delete(c.byPattern, a.pattern)
	}
	for _, ch := range a.ownChannels() {
		if c.byChannel[ch] == a {
			delete(c.byChannel, ch)
		}
	}
	c.mu.Unlock()
	c.wake()
}

// wantMoreLocked opens a new ready period (called with c.mu held).
func (c *Cluster) wantMoreLocked() {
	select {
	case <-c.ready:
		c.ready = make(chan struct{})
	default:
	}
}

// Ready waits until Redis confirmed the subscriptions of every namespace
// created so far: from then on this node receives what other nodes
// publish, and counts in their ServerCount.
func (c *Cluster) Ready(ctx context.Context) error {
	if c.closed.Load() {
		return ErrClosed
	}
	c.mu.Lock()
	ready := c.ready
	c.mu.Unlock()
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("redisadapter: subscriptions not confirmed: %w", ctx.Err())
	}
}

// Close stops the subscriber and the publisher; requests in flight fail
// with ErrClosed. The rueidis client stays open (the caller owns it).
func (c *Cluster) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		c.done.Wait()
		return nil
	}
	c.mu.Lock()
	adapters := make([]*Adapter, 0, len(c.byPattern))
	for _, a := range c.byPattern {
		adapters = append(adapters, a)
	}
	c.mu.Unlock()
	for _, a := range adapters {
		a.failPending(ErrClosed)
	}
	c.cancel()
	c.done.Wait()
	return nil
}

func (c *Cluster) wake() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// publish sends msg now, bounded by PublishTimeout.
func (c *Cluster) publish(ctx context.Context, channel string, msg []byte) error {
	if c.closed.Load() {
		return ErrClosed
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.PublishTimeout)
	defer cancel()
	cmd := c.client.B().Publish().Channel(channel).Message(rueidis.BinaryString(msg)).Build()
	if err := c.client.Do(ctx, cmd).Error(); err != nil {
		return fmt.Errorf("redisadapter: publish on %s: %w", channel, err)
	}
	return nil
}

// publishLater queues an answer for the publisher goroutine (called from
// the subscriber's goroutine, which must not wait for Redis).
func (c *Cluster) publishLater(channel string, msg []byte) {
	select {
	case c.out <- outMsg{channel, msg}:
	default:
		c.log.Warn("redisadapter: answer queue full, dropped an answer (the asking node will time out)", "channel", channel)
	}
}

func (c *Cluster) publisher() {
	defer c.done.Done()
	for {
		select {
		case <-c.ctx.Done():
			return
		case m := <-c.out:
			if err := c.publish(c.ctx, m.channel, m.msg); err != nil && c.ctx.Err() == nil {
				c.log.Warn("redisadapter: could not answer a request", "err", err)
			}
		}
	}
}

// numsub returns how many connections are subscribed to channel.
func (c *Cluster) numsub(ctx context.Context, channel string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RequestsTimeout)
	defer cancel()
	m, err := c.client.Do(ctx, c.client.B().PubsubNumsub().Channel(channel).Build()).AsIntMap()
	if err != nil {
		return 0, fmt.Errorf("redisadapter: PUBSUB NUMSUB %s: %w", channel, err)
	}
	return int(m[channel]), nil
}

// subscriber owns the dedicated pub/sub connection and starts over on a
// new one when it breaks.
func (c *Cluster) subscriber() {
	defer c.done.Done()
	for {
		err := c.runConnection()
		c.mu.Lock()
		c.wantMoreLocked()
		c.mu.Unlock()
		if c.ctx.Err() != nil {
			return
		}
		c.log.Warn("redisadapter: subscriber connection lost; reconnecting", "err", err, "in", c.cfg.RetryDelay)
		select {
		case <-c.ctx.Done():
			return
		case <-time.After(c.cfg.RetryDelay):
		}
	}
}

// runConnection runs one dedicated connection until it breaks (the error)
// or Close (nil).
func (c *Cluster) runConnection() error {
	dc, release := c.client.Dedicate()
	defer release()
	defer dc.Close()
	wait := dc.SetPubSubHooks(rueidis.PubSubHooks{OnMessage: c.onMessage})
	have := map[string]bool{}
	for {
		if err := c.sync(dc, have); err != nil {
			return err
		}
		select {
		case <-c.kick:
		case err := <-wait:
			if err == nil {
				err = errors.New("subscriber connection closed")
			}
			return err
		case <-c.ctx.Done():
			return nil
		}
	}
}

// sync makes the connection's subscriptions follow the wanted sets.
func (c *Cluster) sync(dc rueidis.DedicatedClient, have map[string]bool) error {
	var psub, sub, punsub, unsub []string
	c.mu.Lock()
	for p := range c.byPattern {
		if !have[p] {
			psub = append(psub, p)
		}
	}
	for ch := range c.byChannel {
		if !have[ch] {
			sub = append(sub, ch)
		}
	}
	for x := range have {
		if _, ok := c.byPattern[x]; ok {
			continue
		}
		if _, ok := c.byChannel[x]; ok {
			continue
		}
		if isPattern(x) {
			punsub = append(punsub, x)
		} else {
			unsub = append(unsub, x)
		}
	}
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
	defer cancel()
	var cmds rueidis.Commands
	if len(psub) > 0 {
		cmds = append(cmds, dc.B().Psubscribe().Pattern(psub...).Build())
	}
	if len(sub) > 0 {
		cmds = append(cmds, dc.B().Subscribe().Channel(sub...).Build())
	}
	if len(punsub) > 0 {
		cmds = append(cmds, dc.B().Punsubscribe().Pattern(punsub...).Build())
	}
	if len(unsub) > 0 {
		cmds = append(cmds, dc.B().Unsubscribe().Channel(unsub...).Build())
	}
	for _, r := range dc.DoMulti(ctx, cmds...) {
		if err := r.Error(); err != nil {
			return fmt.Errorf("subscribe: %w", err)
		}
	}
	for _, x := range append(psub, sub...) {
		have[x] = true
	}
	for _, x := range append(punsub, unsub...) {
		delete(have, x)
	}
	c.mu.Lock()
	complete := true
	for p := range c.byPattern {
		complete = complete && have[p]
	}
	for ch := range c.byChannel {
		complete = complete && have[ch]
	}
	if complete {
		select {
		case <-c.ready:
		default:
			close(c.ready)
		}
	}
	c.mu.Unlock()
	return nil
}

// isPattern: the only patterns are key#nsp#*; channel names of ours never
// end in '*' (they end in '#').
func isPattern(x string) bool { return len(x) > 0 && x[len(x)-1] == '*' }

// onMessage runs on rueidis's reading goroutine. Answers to our requests
// are handled at once; broadcasts and requests go, in order, to the
// dispatcher, because they run application code (disconnect handlers,
// serverSideEmit handlers) that may itself wait for answers: those must
// not queue behind it.
func (c *Cluster) onMessage(m rueidis.PubSubMessage) {
	if m.Pattern == "" {
		c.mu.RLock()
		a := c.byChannel[m.Channel]
		c.mu.RUnlock()
		if a != nil && a.isResponseChannel(m.Channel) {
			a.onResponse([]byte(m.Message))
			return
		}
	}
	select {
	case c.inbox <- m:
	case <-c.ctx.Done():
	}
}

// dispatcher hands broadcasts and requests to their namespace's adapter,
// in the order Redis delivered them (a socketsJoin then a broadcast to the
// room reach the room's new member).
func (c *Cluster) dispatcher() {
	defer c.done.Done()
	for {
		select {
		case <-c.ctx.Done():
			return
		case m := <-c.inbox:
			c.mu.RLock()
			var a *Adapter
			if m.Pattern != "" {
				a = c.byPattern[m.Pattern]
			} else {
				a = c.byChannel[m.Channel]
			}
			c.mu.RUnlock()
			switch {
			case a == nil: // a namespace closed meanwhile
			case m.Pattern != "":
				a.onBroadcast(m.Channel, []byte(m.Message))
			default:
				a.onRequest([]byte(m.Message))
			}
		}
	}
}

// randomID returns n random characters of [A-Za-z0-9] (Node uses uid2).
func randomID(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
