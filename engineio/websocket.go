package engineio

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/banter-chat/banter/engineio/parser"
	"github.com/banter-chat/banter/internal/evloop"
	"github.com/banter-chat/banter/internal/wsframe"
)

// wsEngine serves WebSocket connections from an event loop
// (internal/evloop). Connections are accepted by net/http, upgraded here
// (the 101 response goes out in the same write as the session's first
// packets), and handed over to the loop, so an idle connection has no
// goroutine and no read buffer of its own.
//
// Frames are parsed by internal/wsframe on the loop's goroutine as bytes
// arrive; heartbeat packets are handled there, every other packet is
// handed to the executor, in order per connection. Writes bypass the
// frame codec: a broadcast frame is encoded once (Message.wsFrame) and
// everything queued for a connection goes out in one write.
type wsEngine struct {
	srv  *Server
	exec *executor

	mu      sync.Mutex
	loop    *evloop.Loop // started by the first WebSocket (see start)
	stopped bool
}

// wsConn is one WebSocket connection, attached to a session (or probing for
// an upgrade of one).
type wsConn struct {
	evloop.Conn
	// hs: the connection was accepted on the loop and is still in HTTP
	// (accept.go); nil once it is a WebSocket.
	hs     atomic.Pointer[httpHead]
	sess   *Socket
	parser wsframe.Parser // touched only by the connection's reading side
	// probe: still probing, not yet the session's transport (only touched
	// by this connection's serial handlers and under sess.mu).
	probe bool
	// closing: a close frame was written (under execMu).
	closing bool
	// closeErr: how the connection was closed (set before connClosed is
	// queued).
	closeErr error

	// The packets waiting for the executor, handled one at a time in
	// order (running: a task of the executor is handling them).
	execMu  sync.Mutex
	pending []parser.Packet
	running bool
}

func newWSEngine(srv *Server) *wsEngine {
	return &wsEngine{srv: srv, exec: newExecutor(16 * runtime.GOMAXPROCS(0))}
}

// start starts the event loop on the first WebSocket, not in NewServer:
// many servers (tests, polling-only deployments) never see one, and the
// loop's pollers are goroutines and descriptors of their own.
func (e *wsEngine) start() (*evloop.Loop, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped {
		return nil, ErrClosed
	}
	if e.loop == nil {
		l, err := evloop.New(evloop.Config{
			MaxWriteBuffer: e.srv.cfg.MaxBufferedBytes,
			WriteTimeout:   e.srv.cfg.WriteTimeout,
			Logger:         e.srv.log,
		})
		if err != nil {
			return nil, err
		}
		e.loop = l
	}
	return e.loop, nil
}

func (e *wsEngine) stop() {
	e.mu.Lock()
	e.stopped = true
	l := e.loop
	e.mu.Unlock()
	if l != nil {
		l.Close()
	}
	e.exec.Close()
}

// hijack checks the WebSocket handshake of r (RFC 6455 4.2.1) and takes
// over its connection. It returns the Sec-WebSocket-Accept value for the
// 101 response. On failure the client has had its HTTP error.
//
// A request read on the event loop (accept.go) is already there: loop is
// its connection and conn is nil.
func (e *wsEngine) hijack(w http.ResponseWriter, r *http.Request) (conn net.Conn, accept []byte, loop *wsConn, ok bool) {
	if _, err := e.start(); err != nil {
		e.srv.log.Warn("websocket event loop unavailable", "err", err)
		http.Error(w, "websocket unavailable", http.StatusServiceUnavailable)
		return nil, nil, nil, false
	}
	status := 0
	switch {
	case r.Method != http.MethodGet:
		status = http.StatusMethodNotAllowed
	case !isWebSocketUpgrade(r), !headerHasToken(r.Header, "Sec-WebSocket-Version", "13"):
		status = http.StatusBadRequest
	}
	key := r.Header.Get("Sec-WebSocket-Key")
	if !wsframe.ValidKey(key) {
		status = http.StatusBadRequest
	}
	if status != 0 {
		w.Header().Set("Sec-WebSocket-Version", "13")
		http.Error(w, http.StatusText(status), status)
		return nil, nil, nil, false
	}
	if lw, isLoop := w.(*loopWriter); isLoop {
		lw.hijacked = true
		return nil, []byte(wsframe.AcceptKey(key)), lw.wc, true
	}
	h, isHijacker := w.(http.Hijacker)
	if !isHijacker {
		http.Error(w, "websocket needs HTTP/1.1", http.StatusInternalServerError)
		return nil, nil, nil, false
	}
	conn, rw, err := h.Hijack()
	if err != nil {
		e.srv.log.Debug("websocket hijack failed", "remote", r.RemoteAddr, "err", err)
		return nil, nil, nil, false
	}
	if rw.Reader.Buffered() > 0 {
		// Bytes after the upgrade request, before our 101: no client does
		// that, and the event loop would never see them.
		_ = conn.Close()
		return nil, nil, nil, false
	}
	return conn, []byte(wsframe.AcceptKey(key)), nil, true
}

// attach writes the 101 response and frames (the first packets of the
// session) in one write, then hands conn to the event loop (a TLS
// connection gets a reading goroutine and blocking writes there). wc is the
// connection's session before any frame of the client can be read. On
// error conn is closed.
func (e *wsEngine) attach(conn net.Conn, accept, frames []byte, wc *wsConn) error {
	resp := make([]byte, 0, 128+len(frames))
	resp = append(resp, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	resp = append(resp, accept...)
	resp = append(resp, "\r\n\r\n"...)
	resp = append(resp, frames...)
	if conn == nil { // read on the loop (accept.go): a WebSocket from now on
		wc.parser.MaxMessage = e.srv.cfg.MaxPayload
		wc.hs.Store(nil)
		return wc.Write(resp)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		if n := e.srv.cfg.SocketSendBuffer; n > 0 {
			_ = tc.SetWriteBuffer(n)
		}
	}
	_ = conn.SetDeadline(time.Now().Add(e.srv.cfg.WriteTimeout))
	if _, err := conn.Write(resp); err != nil {
		_ = conn.Close()
		return err
	}
	_ = conn.SetDeadline(time.Time{})
	l, err := e.start()
	if err != nil {
		_ = conn.Close()
		return err
	}
	wc.parser.MaxMessage = e.srv.cfg.MaxPayload
	wc.SetHandler(wc)
	return l.AddConn(conn, &wc.Conn)
}

// handshake opens a new session directly over WebSocket. The 101 response,
// the OPEN packet and whatever the application queued while the session
// opened (a v3 client's implicit Socket.IO CONNECT) leave in one write.
func (e *wsEngine) handshake(w http.ResponseWriter, r *http.Request, protocol int, release func()) {
	conn, accept, wc, ok := e.hijack(w, r)
	if !ok {
		release()
		return
	}
	if wc == nil {
		wc = &wsConn{}
	}
	sess := &Socket{
		srv:            e.srv,
		id:             e.srv.cfg.SIDPrefix + NewID(),
		protocol:       protocol,
		supportsBinary: true,
		handshake:      newHandshake(r),
		transport:      transportWebSocket,
		release:        release,
		ws:             wc,
		flushing:       true, // this goroutine writes until the first flush is done
	}
	wc.execMu.Lock()
	wc.sess = sess // (OnClose of a loop connection reads it meanwhile)
	wc.execMu.Unlock()
	e.srv.mu.Lock()
	if e.srv.closing {
		e.srv.mu.Unlock()
		release()
		if conn != nil {
			_ = conn.Close()
		} else {
			wc.CloseWithError(nil)
		}
		return
	}
	e.srv.sessions[sess.id] = sess
	e.srv.stats.opened(transportWebSocket) // under srv.mu: before any close can count it gone
	e.srv.mu.Unlock()
	e.srv.count.Add(1)
	sess.open()
	sess.mu.Lock()
	q := sess.takeQueueLocked()
	sess.mu.Unlock()
	bp := getFlushBuf()
	buf := appendFrames((*bp)[:0], q, protocol)
	if err := e.attach(conn, accept, buf, wc); err != nil {
		e.srv.log.Debug("websocket handshake failed", "remote", r.RemoteAddr, "err", err)
		sess.closeLost(ReasonTransportError)
	} else {
		(*sendTally)(nil).add(&e.srv.stats, len(q), len(buf))
		// What was queued meanwhile, and a close that came meanwhile.
		buf = sess.flushWS(buf, nil)
	}
	putFlushBuf(bp, buf)
}

// upgrade accepts a WebSocket that probes an upgrade of a polling session.
func (e *wsEngine) upgrade(w http.ResponseWriter, r *http.Request, sess *Socket) {
	conn, accept, lw, ok := e.hijack(w, r)
	if !ok {
		return
	}
	if lw != nil { // upgrades are never read on the loop (accept.go)
		lw.CloseWithError(nil)
		return
	}
	wc := &wsConn{sess: sess, probe: true}
	// Registered before the 101 is written: the client sends "2probe" as
	// soon as it reads it.
	sess.mu.Lock()
	dup := sess.state != stateOpen || sess.transport != transportPolling || sess.probe != nil
	if !dup {
		sess.probe = wc
	}
	sess.mu.Unlock()
	if err := e.attach(conn, accept, nil, wc); err != nil {
		sess.mu.Lock()
		if sess.probe == wc {
			sess.probe = nil
			sess.upgrading = false
		}
		sess.mu.Unlock()
		return
	}
	if dup {
		// Already upgraded or upgrading: Node accepts the duplicate and
		// closes it right away (refusing it crashes some clients).
		wc.close()
		return
	}
	time.AfterFunc(e.srv.cfg.UpgradeTimeout, func() {
		sess.mu.Lock()
		timedOut := sess.probe == wc
		if timedOut {
			sess.probe = nil
			sess.upgrading = false
		}
		sess.mu.Unlock()
		if timedOut {
			wc.close()
		}
	})
}

// OnData parses what the loop read (evloop.Handler). It runs on the loop's
// goroutine: it must not block, so packets go to the executor, but for
// the heartbeat, which only touches the session under its lock.
func (wc *wsConn) OnData(_ *evloop.Conn, b []byte) {
	if h := wc.hs.Load(); h != nil {
		wc.onHTTP(h, b)
		return
	}
	if err := wc.parser.Feed(b, wc.onFrame); err != nil {
		code, reason := wsframe.CloseProtocolError, ReasonTransportError
		var pe *wsframe.ProtocolError
		if errors.As(err, &pe) {
			code = pe.Code
			if code == wsframe.CloseTooBig {
				reason = ReasonPayloadTooLarge
			}
		}
		wc.sess.srv.log.Debug("websocket protocol error", "sid", wc.sess.id, "err", err)
		wc.closeWith(code, reason)
	}
}

// onFrame handles one message or control frame of the client.
func (wc *wsConn) onFrame(op wsframe.Opcode, payload []byte) error {
	sess := wc.sess
	switch op {
	case wsframe.OpPing:
		_ = wc.Write(wsframe.AppendFrame(nil, wsframe.OpPong, payload))
		return nil
	case wsframe.OpPong:
		return nil
	case wsframe.OpClose:
		// Answer with the client's code (RFC 6455 5.5.1) and close: the
		// session ends with "transport close".
		code := wsframe.CloseCode(payload)
		if code == wsframe.CloseNoStatus {
			code = wsframe.CloseNormal
		}
		wc.closeWith(code, ReasonTransportClose)
		return nil
	}
	tc := sess.srv.stats.of(transportWebSocket)
	tc.pktsIn.Add(1)
	tc.bytesIn.Add(uint64(len(payload)))
	var p parser.Packet
	var err error
	if op == wsframe.OpText {
		if sess.protocol == 3 {
			p, err = parser.DecodeTextV3(payload)
		} else {
			p, err = parser.DecodeText(payload, false)
		}
	} else {
		p, err = parser.DecodeBinary(payload, sess.protocol)
	}
	if err != nil {
		sess.srv.log.Debug("engine.io bad packet", "sid", sess.id, "err", err)
		wc.dispatch(parser.Packet{Type: badPacket})
		return nil
	}
	switch p.Type {
	case parser.Pong, parser.Ping, parser.Noop:
		if !wc.probing() {
			sess.onPacket(p) // quick, never blocks: here, not on the executor
			return nil
		}
	}
	p.Data = bytes.Clone(p.Data) // payload is the loop's read buffer
	wc.dispatch(p)
	return nil
}

// Pseudo packets of the serial queue.
const (
	badPacket  parser.Type = 0xff // a packet that did not decode
	connClosed parser.Type = 0xfe // the connection is closed (wsConn.closeErr says how)
)

// probing reports whether the connection still probes an upgrade.
func (wc *wsConn) probing() bool {
	wc.sess.mu.Lock()
	defer wc.sess.mu.Unlock()
	return wc.probe
}

// dispatch queues p for the executor; the connection's packets are
// handled one at a time, in order.
func (wc *wsConn) dispatch(p parser.Packet) {
	wc.execMu.Lock()
	wc.pending = append(wc.pending, p)
	if wc.running {
		wc.execMu.Unlock()
		return
	}
	wc.running = true
	wc.execMu.Unlock()
	wc.sess.srv.ws.exec.Go(wc.run)
}

func (wc *wsConn) run() {
	for {
		wc.execMu.Lock()
		if len(wc.pending) == 0 {
			wc.running = false
			wc.pending = nil
			wc.execMu.Unlock()
			return
		}
		p := wc.pending[0]
		wc.pending[0] = parser.Packet{}
		wc.pending = wc.pending[1:]
		wc.execMu.Unlock()
		wc.onPacket(p)
	}
}

// onPacket handles a packet of the client, on the executor.
func (wc *wsConn) onPacket(p parser.Packet) {
	sess := wc.sess
	if p.Type == connClosed {
		wc.closed(wc.closeErr)
		return
	}
	sess.mu.Lock()
	probe := wc.probe
	sess.mu.Unlock()
	if p.Type == badPacket {
		if probe {
			wc.close()
			return
		}
		sess.Close(ReasonParseError)
		return
	}
	if probe {
		sess.srv.ws.onProbePacket(wc, p)
		return
	}
	sess.onPacket(p)
}

// onProbePacket runs the upgrade handshake: ping "probe" → pong "probe",
// then the client's upgrade packet switches the session to this connection.
func (e *wsEngine) onProbePacket(wc *wsConn, p parser.Packet) {
	sess := wc.sess
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if sess.probe != wc || sess.state != stateOpen {
		go wc.close()
		return
	}
	switch {
	case p.Type == parser.Ping && string(p.Data) == "probe":
		_ = wc.Write(msgPong3P.wsFrame(sess.protocol))
		sess.upgrading = true
		sess.releasePollLaterLocked()
	case p.Type == parser.Upgrade && sess.upgrading:
		sess.probe = nil
		sess.upgrading = false
		wc.probe = false
		sess.transport = transportWebSocket
		sess.ws = wc
		sess.srv.stats.upgraded()
		if sess.poll != nil {
			// The client only upgrades once its poll has returned, so this
			// GET was sent after the upgrade packet: refuse it, as Node does.
			sess.poll <- nil
			sess.poll = nil
		}
		if len(sess.queue) > 0 {
			sess.kickLocked()
		}
	default:
		sess.probe = nil
		sess.upgrading = false
		go wc.close()
	}
}

// OnClose queues the end of the connection behind the packets it sent
// (evloop.Handler): a client that sends a Socket.IO disconnect and closes
// at once has its disconnect handled first.
func (wc *wsConn) OnClose(_ *evloop.Conn, err error) {
	wc.execMu.Lock()
	sess := wc.sess
	wc.execMu.Unlock()
	if sess == nil { // still in HTTP (accept.go): no session to end
		if h := wc.hs.Load(); h != nil {
			h.l.untrack(wc)
		}
		return
	}
	wc.closeErr = err
	wc.dispatch(parser.Packet{Type: connClosed})
}

// closed ends the session whose transport the connection was, with the
// reason the way it was lost tells (or the one it was already closing
// with).
func (wc *wsConn) closed(err error) {
	sess := wc.sess
	sess.mu.Lock()
	if sess.probe == wc {
		sess.probe = nil
		sess.upgrading = false
	}
	active := sess.ws == wc
	state := sess.state
	sess.mu.Unlock()
	if !active {
		return
	}
	var reason Reason
	var cr *closeReason
	switch {
	case state == stateClosing:
		sess.finishClose()
		return
	case errors.As(err, &cr):
		reason = cr.r
	case errors.Is(err, evloop.ErrOverflow):
		reason = ReasonSlowConsumer
	case err == nil || errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF):
		reason = ReasonTransportClose
	default:
		reason = ReasonTransportError
	}
	sess.closeLost(reason)
}

// closeReason is the error a connection closed by closeWith reports.
type closeReason struct{ r Reason }

func (c *closeReason) Error() string { return "websocket closed: " + string(c.r) }

// writeErrorReason classifies a failed write: past MaxBufferedBytes of
// unsent data the loop refuses the write and closes the connection.
func writeErrorReason(err error) Reason {
	if errors.Is(err, evloop.ErrOverflow) {
		return ReasonSlowConsumer
	}
	return ReasonTransportError
}

// closeWith sends a close frame with code and closes the connection; the
// session, if it is still open, ends with reason.
func (wc *wsConn) closeWith(code int, reason Reason) {
	wc.execMu.Lock()
	if wc.closing {
		wc.execMu.Unlock()
		return
	}
	wc.closing = true
	wc.execMu.Unlock()
	_ = wc.Write(wsframe.AppendClose(nil, code, ""))
	wc.CloseWithError(&closeReason{reason})
}

// close sends a normal close frame and closes the connection.
func (wc *wsConn) close() { wc.closeWith(wsframe.CloseNormal, ReasonTransportClose) }

// write writes raw frames. Writes to the loop's connections never block
// (the loop keeps what the kernel does not take, bounded, with its own
// write timeout); blocking (TLS) connections block up to WriteTimeout.
func (wc *wsConn) write(b []byte) error { return wc.Write(b) }
