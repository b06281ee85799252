package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	eio "github.com/banter-chat/banter/engineio/parser"
)

// transport moves Engine.IO packets for one engine. write is only called by
// the engine's writer goroutine; run reads until the transport ends and
// returns why; close makes run and write return.
type transport interface {
	name() string
	write(ctx context.Context, pkts []eio.Packet) error
	run(ctx context.Context, deliver func([]eio.Packet) error) error
	close()
}

// handshake is the data of the Engine.IO open packet.
type handshake struct {
	SID          string   `json:"sid"`
	Upgrades     []string `json:"upgrades"`
	PingInterval int      `json:"pingInterval"`
	PingTimeout  int      `json:"pingTimeout"`
	MaxPayload   int      `json:"maxPayload"`
}

func parseHandshake(p eio.Packet) (handshake, error) {
	var hs handshake
	if p.Type != eio.Open {
		return hs, fmt.Errorf("%w: first packet is %s, not open", ErrHandshake, p.Type)
	}
	if err := json.Unmarshal(p.Data, &hs); err != nil || hs.SID == "" || hs.PingInterval <= 0 || hs.PingTimeout <= 0 {
		return hs, fmt.Errorf("%w: bad open packet %q", ErrHandshake, p.Data)
	}
	return hs, nil
}

// engine is one Engine.IO 4 session: a handshake, a current transport (which
// may change once, polling → websocket), a writer goroutine draining the
// send queue, and the heartbeat watchdog. It reports every received message
// to onMessage and its end, once, to onClose; both are called from the
// engine's own goroutines, so they must not wait for the engine.
type engine struct {
	cfg       *Config
	base      *url.URL
	log       *slog.Logger
	onMessage func(eio.Packet) error
	onClose   func(error)

	hs     handshake
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	tr        transport
	queue     []eio.Packet
	paused    bool // upgrading: the writer holds the queue
	writing   bool // the writer is inside tr.write
	idle      *sync.Cond
	wake      chan struct{}
	closed    bool
	watchdog  *time.Timer
	closeOnce sync.Once
	upgraded  atomic.Bool
	pongs     atomic.Int64
}

// openEngine performs the handshake and starts the engine.
func openEngine(ctx context.Context, cfg *Config, base *url.URL, log *slog.Logger, onMessage func(eio.Packet) error, onClose func(error)) (*engine, error) {
	e := &engine{cfg: cfg, base: base, log: log, onMessage: onMessage, onClose: onClose, wake: make(chan struct{}, 1)}
	e.idle = sync.NewCond(&e.mu)
	e.ctx, e.cancel = context.WithCancel(context.Background())
	dctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()
	// Tie the dial to both the caller and the engine's life.
	stop := context.AfterFunc(e.ctx, cancel)
	defer stop()

	var (
		tr    transport
		first []eio.Packet
		err   error
	)
	if cfg.Transports[0] == "websocket" {
		tr, first, err = dialWebSocket(dctx, e, "")
	} else {
		tr, first, err = openPolling(dctx, e)
	}
	if err != nil {
		e.cancel()
		return nil, err
	}
	hs, err := parseHandshake(first[0])
	if err != nil {
		tr.close()
		e.cancel()
		return nil, err
	}
	e.hs, e.tr = hs, tr
	e.log.Debug("socket.io client: engine open", "sid", hs.SID, "transport", tr.name())
	e.watchdog = time.AfterFunc(e.deadline(), e.pingTimedOut)
	e.wg.Add(2)
	go e.writer()
	go e.runTransport(tr)
	// Packets that came with the open packet (a polling payload may hold more).
	if err := e.deliver(first[1:]); err != nil {
		e.fail(err)
	}
	if tr.name() == "polling" && slices.Contains(hs.Upgrades, "websocket") && slices.Contains(cfg.Transports, "websocket") {
		e.wg.Add(1)
		go e.upgrade()
	}
	return e, nil
}

func (e *engine) deadline() time.Duration {
	return time.Duration(e.hs.PingInterval+e.hs.PingTimeout) * time.Millisecond
}

func (e *engine) pingTimedOut() {
	e.fail(&disconnectError{reason: ReasonPingTimeout})
}

// url builds a request URL for transport, with the session id once known.
func (e *engine) url(transport, sid string) string {
	u := *e.base
	q := url.Values{}
	for k, v := range e.cfg.Query {
		q[k] = v
	}
	q.Set("EIO", "4")
	q.Set("transport", transport)
	if sid != "" {
		q.Set("sid", sid)
	}
	if transport == "polling" {
		// Defeats caches between us and the server, as the JS client does.
		q.Set("t", strconv.FormatInt(time.Now().UnixNano(), 36))
	}
	if transport == "websocket" {
		switch u.Scheme {
		case "https":
			u.Scheme = "wss"
		default:
			u.Scheme = "ws"
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func (e *engine) header() http.Header {
	h := e.cfg.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	return h
}

// deliver handles packets read from the transport, in order.
func (e *engine) deliver(pkts []eio.Packet) error {
	for _, p := range pkts {
		switch p.Type {
		case eio.Ping:
			e.watchdog.Reset(e.deadline())
			e.send(eio.Packet{Type: eio.Pong, Data: p.Data})
			e.pongs.Add(1)
		case eio.Message:
			if err := e.onMessage(p); err != nil {
				return err
			}
		case eio.Close:
			return &disconnectError{reason: ReasonTransportClose, err: errors.New("server closed the session")}
		case eio.Noop, eio.Pong:
		default:
			return &disconnectError{reason: ReasonParseError, err: fmt.Errorf("unexpected %s packet", p.Type)}
		}
	}
	return nil
}

// runTransport reads from tr until it ends. A transport that ends because
// the engine upgraded away from it is not a failure.
func (e *engine) runTransport(tr transport) {
	defer e.wg.Done()
	err := tr.run(e.ctx, e.deliver)
	if errors.Is(err, errTransportReplaced) {
		return
	}
	if err == nil {
		err = &disconnectError{reason: ReasonTransportClose}
	}
	e.fail(err)
}

// errTransportReplaced ends a polling transport after the upgrade.
var errTransportReplaced = errors.New("transport replaced by upgrade")

// send queues a packet; it is dropped once the engine is closed.
func (e *engine) send(pkts ...eio.Packet) {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	e.queue = append(e.queue, pkts...)
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// writer is the only caller of transport.write: it drains the queue in
// batches (one POST, or a run of WebSocket frames).
func (e *engine) writer() {
	defer e.wg.Done()
	for {
		select {
		case <-e.ctx.Done():
			return
		case <-e.wake:
		}
		for {
			e.mu.Lock()
			if e.paused || len(e.queue) == 0 || e.closed {
				e.mu.Unlock()
				break
			}
			batch, tr := e.queue, e.tr
			e.queue = nil
			e.writing = true
			e.mu.Unlock()
			err := tr.write(e.ctx, batch)
			e.mu.Lock()
			e.writing = false
			e.idle.Broadcast()
			e.mu.Unlock()
			if err != nil {
				e.fail(err)
				return
			}
		}
	}
}

// upgrade probes a WebSocket and switches to it (engine.io-client's
// sequence): probe, pause polling (wait for the POST in flight and the
// pending GET, which the server releases with a noop), send the upgrade
// packet, then resume writing over the WebSocket. Any failure keeps polling.
func (e *engine) upgrade() {
	defer e.wg.Done()
	ctx, cancel := context.WithTimeout(e.ctx, e.cfg.DialTimeout)
	defer cancel()
	ws, _, err := dialWebSocket(ctx, e, e.hs.SID)
	if err != nil {
		e.log.Debug("socket.io client: upgrade failed, staying on polling", "err", err)
		return
	}
	poll := e.currentTransport().(*polling)
	e.mu.Lock()
	e.paused = true
	for e.writing {
		e.idle.Wait()
	}
	e.mu.Unlock()
	resume := func() {
		e.mu.Lock()
		e.paused = false
		e.mu.Unlock()
		select {
		case e.wake <- struct{}{}:
		default:
		}
	}
	if err := poll.pause(ctx); err != nil {
		e.log.Debug("socket.io client: upgrade: polling did not pause", "err", err)
		ws.close()
		resume()
		return
	}
	if err := ws.write(ctx, []eio.Packet{{Type: eio.Upgrade}}); err != nil {
		// The server may already consider the probe failed; polling goes on.
		ws.close()
		poll.unpause()
		resume()
		return
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		ws.close()
		return
	}
	e.tr = ws
	e.mu.Unlock()
	e.upgraded.Store(true)
	poll.retire()
	e.log.Debug("socket.io client: upgraded to websocket", "sid", e.hs.SID)
	e.wg.Add(1)
	go e.runTransport(ws)
	resume()
}

func (e *engine) currentTransport() transport {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.tr
}

// transportName is "polling" or "websocket".
func (e *engine) transportName() string { return e.currentTransport().name() }

// fail ends the engine with err (once) and reports it.
func (e *engine) fail(err error) {
	e.closeOnce.Do(func() {
		e.mu.Lock()
		e.closed = true
		tr := e.tr
		e.mu.Unlock()
		if e.watchdog != nil {
			e.watchdog.Stop()
		}
		e.cancel()
		tr.close()
		e.onClose(err)
	})
}

// close sends a close packet (best effort, bounded) and ends the engine
// with reason; wait then waits for its goroutines.
func (e *engine) close(reason error) {
	e.mu.Lock()
	closed := e.closed
	tr := e.tr
	e.mu.Unlock()
	if !closed {
		ctx, cancel := context.WithTimeout(e.ctx, time.Second)
		e.mu.Lock()
		for e.writing {
			e.idle.Wait()
		}
		pending := append(e.queue, eio.Packet{Type: eio.Close})
		e.queue = nil
		e.paused = true // the writer must not interleave with this flush
		e.mu.Unlock()
		_ = tr.write(ctx, pending)
		cancel()
	}
	e.fail(reason)
}

func (e *engine) wait() { e.wg.Wait() }
