package client

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	eio "github.com/banter-chat/banter/engineio/parser"
	sio "github.com/banter-chat/banter/socketio/parser"
)

// Manager is one connection to a Socket.IO server, shared by the sockets
// of its namespaces, kept up by reconnecting with back-off while any socket
// is active.
type Manager struct {
	cfg  Config
	base *url.URL
	log  *slog.Logger
	disp *dispatcher

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	sockets   map[string]*Socket
	eng       *engine
	running   bool // the run loop is alive
	closed    bool
	onAttempt []func(attempt int, delay time.Duration)

	ownTransport *http.Transport // closed by Close; nil with Config.HTTPClient

	decMu sync.Mutex
	dec   sio.Decoder
}

// NewManager returns a manager for the server at rawURL ("http://host:3000";
// ws and wss are accepted too; the path is Config.Path, not the URL's). It
// connects nothing until a socket's Connect.
func NewManager(rawURL string, cfg Config) (*Manager, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("socket.io client: bad URL %q: %w", rawURL, err)
	}
	switch u.Scheme {
	case "http", "https":
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	default:
		return nil, fmt.Errorf("socket.io client: bad URL %q: scheme must be http, https, ws or wss", rawURL)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("socket.io client: bad URL %q: no host", rawURL)
	}
	cfg = cfg.withDefaults()
	var own *http.Transport
	if cfg.HTTPClient == nil {
		own = http.DefaultTransport.(*http.Transport).Clone()
		cfg.HTTPClient = &http.Client{Transport: own}
	}
	for _, t := range cfg.Transports {
		if t != "polling" && t != "websocket" {
			return nil, fmt.Errorf("socket.io client: unknown transport %q", t)
		}
	}
	path := cfg.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	if !strings.HasSuffix(path, "/") {
		path += "/"
	}
	base := &url.URL{Scheme: u.Scheme, Host: u.Host, User: u.User, Path: path}
	m := &Manager{cfg: cfg, base: base, log: cfg.Logger, sockets: map[string]*Socket{}, disp: newDispatcher(), ownTransport: own}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	return m, nil
}

// Socket returns the socket of namespace nsp ("/" when empty), creating it
// on first use with opts (later calls return the same socket and ignore
// opts). It is not connected until Connect.
func (m *Manager) Socket(nsp string, opts SocketOptions) *Socket {
	if nsp == "" {
		nsp = "/"
	}
	if !strings.HasPrefix(nsp, "/") {
		nsp = "/" + nsp
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.sockets[nsp]; ok {
		return s
	}
	s := newSocket(m, nsp, opts)
	m.sockets[nsp] = s
	return s
}

// OnReconnectAttempt registers f, called before each reconnection attempt
// with its number (from 1) and the delay about to be waited.
func (m *Manager) OnReconnectAttempt(f func(attempt int, delay time.Duration)) {
	m.mu.Lock()
	m.onAttempt = append(m.onAttempt, f)
	m.mu.Unlock()
}

// Transport returns the transport in use ("polling", "websocket"), or ""
// while disconnected.
func (m *Manager) Transport() string {
	m.mu.Lock()
	e := m.eng
	m.mu.Unlock()
	if e == nil {
		return ""
	}
	return e.transportName()
}

// Close disconnects every socket (reason "io client disconnect"), closes
// the connection and waits for the manager's goroutines, handlers included.
// Do not call it from a handler (it would wait for itself); call it in a
// goroutine from there.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		m.wg.Wait()
		m.disp.wait()
		return nil
	}
	m.closed = true
	socks := m.socketList()
	m.mu.Unlock()
	for _, s := range socks {
		s.disconnect(false)
	}
	m.cancel()
	m.wg.Wait()
	m.disp.close()
	m.disp.wait()
	if m.ownTransport != nil {
		m.ownTransport.CloseIdleConnections()
	}
	return nil
}

func (m *Manager) socketList() []*Socket {
	out := make([]*Socket, 0, len(m.sockets))
	for _, s := range m.sockets {
		out = append(out, s)
	}
	return out
}

// start runs the connection loop if it is not running. Called by a socket
// that became active.
func (m *Manager) start() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if !m.running {
		m.running = true
		m.wg.Add(1)
		go m.run()
	}
	return nil
}

// wantsConnection reports whether any socket is active; if none, the run
// loop ends (under the same lock, so a socket activated later restarts it).
func (m *Manager) keepRunning() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.sockets {
		if s.isActive() {
			return true
		}
	}
	m.running = false
	return false
}

// run opens the connection, waits for it to end, and reconnects with
// back-off while some socket is active.
func (m *Manager) run() {
	defer m.wg.Done()
	attempt := 0
	for m.ctx.Err() == nil && m.keepRunning() {
		if attempt > 0 {
			if m.cfg.NoReconnect || (m.cfg.ReconnectAttempts > 0 && attempt > m.cfg.ReconnectAttempts) {
				m.giveUp()
				continue
			}
			delay := m.cfg.backoff(attempt, randFloat())
			m.mu.Lock()
			hooks := append([]func(int, time.Duration){}, m.onAttempt...)
			m.mu.Unlock()
			for _, f := range hooks {
				n := attempt
				m.disp.do(func() { f(n, delay) })
			}
			m.log.Debug("socket.io client: reconnecting", "attempt", attempt, "delay", delay)
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-m.ctx.Done():
				t.Stop()
				return
			}
			if !m.keepRunning() {
				return
			}
		}
		closed := make(chan error, 1)
		eng, err := openEngine(m.ctx, &m.cfg, m.base, m.log, m.onMessage, func(err error) { closed <- err })
		if err != nil {
			if m.ctx.Err() != nil {
				return
			}
			m.log.Debug("socket.io client: connection failed", "err", err)
			for _, s := range m.activeSockets() {
				s.transportFailed(err)
			}
			attempt++
			continue
		}
		m.decMu.Lock()
		m.dec.Reset()
		m.decMu.Unlock()
		m.mu.Lock()
		m.eng = eng
		m.mu.Unlock()
		for _, s := range m.activeSockets() {
			s.sendConnect(eng)
		}
		select {
		case err = <-closed:
		case <-m.ctx.Done():
			eng.close(&disconnectError{reason: ReasonClientDisconnect})
			err = <-closed
		}
		eng.wait()
		m.mu.Lock()
		m.eng = nil
		socks := m.socketList()
		m.mu.Unlock()
		reason := reasonOf(err)
		m.log.Debug("socket.io client: connection closed", "reason", reason, "err", err)
		for _, s := range socks {
			s.engineClosed(reason)
		}
		if reason.Reconnects() {
			attempt = 1
		} else {
			attempt = 0
		}
	}
}

// giveUp deactivates every socket after the last allowed attempt.
func (m *Manager) giveUp() {
	for _, s := range m.activeSockets() {
		s.fail(ErrReconnectFailed)
	}
}

func (m *Manager) activeSockets() []*Socket {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*Socket
	for _, s := range m.sockets {
		if s.isActive() {
			out = append(out, s)
		}
	}
	return out
}

// closeIfIdle closes the connection when no socket is active any more, as
// the JS client does after the last socket's disconnect.
func (m *Manager) closeIfIdle() {
	m.mu.Lock()
	eng := m.eng
	for _, s := range m.sockets {
		if s.isActive() {
			m.mu.Unlock()
			return
		}
	}
	m.mu.Unlock()
	if eng != nil {
		eng.close(&disconnectError{reason: ReasonClientDisconnect})
	}
}

// current returns the open engine, or nil.
func (m *Manager) current() *engine {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.eng
}

// onMessage decodes Engine.IO messages into Socket.IO packets and routes
// them to their namespace's socket. Called by the engine's reader.
func (m *Manager) onMessage(p eio.Packet) error {
	m.decMu.Lock()
	var (
		pkt  *sio.Packet
		done bool
		err  error
	)
	if p.Binary {
		pkt, done, err = m.dec.AddBinary(p.Data)
	} else {
		pkt, done, err = m.dec.AddText(p.Data)
	}
	m.decMu.Unlock()
	if err != nil {
		return &disconnectError{reason: ReasonParseError, err: err}
	}
	if !done {
		return nil
	}
	m.mu.Lock()
	s := m.sockets[pkt.Namespace]
	m.mu.Unlock()
	if s == nil {
		m.log.Debug("socket.io client: packet for unknown namespace", "nsp", pkt.Namespace, "type", pkt.Type)
		return nil
	}
	s.onPacket(pkt)
	return nil
}

// send writes a Socket.IO packet (text frame then attachments) on eng.
func sendPacket(eng *engine, p *sio.Packet) {
	pkts := make([]eio.Packet, 0, 1+len(p.Attachments))
	pkts = append(pkts, eio.Packet{Type: eio.Message, Data: sio.Encode(p)})
	for _, a := range p.Attachments {
		pkts = append(pkts, eio.Packet{Type: eio.Message, Data: a, Binary: true})
	}
	eng.send(pkts...)
}

// Dial connects to the default namespace, or the namespace in rawURL's
// path ("http://host:3000/admin"), and returns the connected socket. Close
// it with s.Manager().Close().
func Dial(ctx context.Context, rawURL string, cfg Config, opts SocketOptions) (*Socket, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("socket.io client: bad URL %q: %w", rawURL, err)
	}
	m, err := NewManager(rawURL, cfg)
	if err != nil {
		return nil, err
	}
	s := m.Socket(u.Path, opts)
	if err := s.Connect(ctx); err != nil {
		_ = m.Close()
		return nil, err
	}
	return s, nil
}

// dispatcher runs handlers one at a time, in order, on one goroutine.
// Its queue is unbounded so the connection's reader never waits for a
// slow handler (a client that cannot keep up grows; it does not stall the
// heartbeat).
type dispatcher struct {
	mu     sync.Mutex
	cond   *sync.Cond
	q      []func()
	closed bool
	done   chan struct{}
}

func newDispatcher() *dispatcher {
	d := &dispatcher{done: make(chan struct{})}
	d.cond = sync.NewCond(&d.mu)
	go d.loop()
	return d
}

func (d *dispatcher) do(f func()) {
	d.mu.Lock()
	if !d.closed {
		d.q = append(d.q, f)
		d.cond.Signal()
	}
	d.mu.Unlock()
}

func (d *dispatcher) loop() {
	defer close(d.done)
	for {
		d.mu.Lock()
		for len(d.q) == 0 && !d.closed {
			d.cond.Wait()
		}
		if len(d.q) == 0 {
			d.mu.Unlock()
			return
		}
		f := d.q[0]
		d.q[0] = nil
		d.q = d.q[1:]
		d.mu.Unlock()
		f()
	}
}

// close lets the queued handlers run, then ends the loop.
func (d *dispatcher) close() {
	d.mu.Lock()
	d.closed = true
	d.cond.Signal()
	d.mu.Unlock()
}

func (d *dispatcher) wait() { <-d.done }
