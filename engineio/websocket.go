package engineio

import (
	"crypto/sha1" //nolint:gosec // the WebSocket accept key (RFC 6455)
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/banter-chat/banter/engineio/parser"
	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/nbhttp"
	"github.com/lesismal/nbio/nbhttp/websocket"
)

// wsEngine serves WebSocket connections from an event loop. Connections are
// accepted by net/http, upgraded here (the 101 response goes out in the same
// write as the session's first packets), and handed over to nbio's poller,
// so an idle connection has no goroutine and no read buffer of its own.
//
// nbio is used for reading (frame parsing, masking, fragments, control
// frames). Writes bypass it: frames are encoded here (server frames are
// unmasked and trivial) so that a broadcast frame is encoded once and
// everything queued for a connection goes out in one write.
type wsEngine struct {
	srv      *Server
	exec     *executor
	engine   *nbhttp.Engine
	upgrader *websocket.Upgrader
	pollers  int // nbio poller goroutines (see reserveProcs)

	mu      sync.Mutex
	started bool // the event loop runs (see start)
	stopped bool
}

// wsConn is one WebSocket connection, attached to a session (or probing for
// an upgrade of one).
type wsConn struct {
	sess *Socket
	// c is set once the handshake's response is written, before the
	// client's frames can be read.
	c     atomic.Pointer[websocket.Conn]
	probe bool // still probing: not yet the session's transport (only touched by this connection's serial handlers and under sess.mu)
	// blocking: the connection is not on the epoll loop (a TLS connection
	// from crypto/tls, which nbio serves with a reading goroutine): writes
	// may block, so they get a deadline and never run on a shared flush
	// worker. Set before c.
	blocking atomic.Bool

	closeOnce sync.Once
}

func newWSEngine(srv *Server) *wsEngine {
	routeNBIOLogs(srv.log)
	e := &wsEngine{srv: srv, exec: newExecutor(16 * runtime.GOMAXPROCS(0))}
	e.pollers = max(1, runtime.GOMAXPROCS(0)/4)
	e.engine = nbhttp.NewEngine(nbhttp.Config{
		Name:           "banter-ws",
		NPoller:        e.pollers, // nbio's default follows NumCPU, which ignores a container's CPU limit
		ServerExecutor: e.exec.Go,
		// We never dial: without this nbio starts a client executor pool
		// in NewEngine that only Stop ends, and Stop is not called when
		// no WebSocket ever started the event loop.
		SupportServerOnly:       true,
		ReleaseWebsocketPayload: true,
		MaxWriteBufferSize:      srv.cfg.MaxBufferedBytes,
		WriteTimeout:            srv.cfg.WriteTimeout,
	})
	u := websocket.NewUpgrader()
	u.Engine = e.engine
	u.KeepaliveTime = 0 // Engine.IO has its own heartbeat
	u.MessageLengthLimit = srv.cfg.MaxPayload
	u.CheckOrigin = func(*http.Request) bool { return true } // AllowRequest decides
	u.OnMessage(e.onMessage)
	u.OnClose(e.onClose)
	e.upgrader = u
	return e
}

// start starts the event loop on the first WebSocket, not in NewServer:
// nbio v1.6.12's Engine.Stop hangs forever when it runs before the poller
// goroutines that Start spawns have entered their loop (poller.readWriteLoop
// clears its shutdown flag on entry, losing the stop signal), so a server
// shut down right after it was created (tests do it all the time) never
// returned from Shutdown. By the time a connection has been upgraded, the
// pollers run.
func (e *wsEngine) start() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped {
		return ErrClosed
	}
	if !e.started {
		reserveProcs(e.pollers, e.srv.log)
		// Without listeners Start only starts pollers; it fails only when
		// the OS refuses epoll.
		if err := e.engine.Start(); err != nil {
			return err
		}
		e.started = true
	}
	return nil
}

// reserveProcs makes room for the event loop's pollers in the scheduler.
// Each poller goroutine waits in epoll_wait as an ordinary system call,
// which keeps its P (Go's scheduler slot) until sysmon takes it back, tens
// of microseconds to milliseconds later, and exitsyscall then has to win a
// P back. With GOMAXPROCS=1 (one CPU, a container limited to one CPU, a
// taskset) every other goroutine (accepting, HTTP, handlers, flushes) waits
// behind that: measured with the server on one core, half the handshakes
// per second and 1.6× the CPU per delivered message. So GOMAXPROCS is
// raised to one P per poller plus one, unless the GOMAXPROCS environment
// variable sets it. The process still runs on the CPUs it was given; the
// poller's thread is asleep in the kernel nearly all the time.
func reserveProcs(pollers int, log *slog.Logger) {
	want := pollers + 1
	have := runtime.GOMAXPROCS(0)
	if have >= want || os.Getenv("GOMAXPROCS") != "" {
		return
	}
	runtime.GOMAXPROCS(want)
	log.Info("GOMAXPROCS raised for the WebSocket event loop", "from", have, "to", want)
}

func (e *wsEngine) stop() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stopped = true
	if e.started {
		e.engine.Stop()
	}
	e.exec.Close()
}

// hijack checks the WebSocket handshake of r (RFC 6455 4.2.1) and takes
// over its connection. It returns the Sec-WebSocket-Accept value for the
// 101 response. On failure the client has had its HTTP error.
func (e *wsEngine) hijack(w http.ResponseWriter, r *http.Request) (net.Conn, []byte, bool) {
	if err := e.start(); err != nil {
		e.srv.log.Warn("websocket event loop unavailable", "err", err)
		http.Error(w, "websocket unavailable", http.StatusServiceUnavailable)
		return nil, nil, false
	}
	status := 0
	switch {
	case r.Method != http.MethodGet:
		status = http.StatusMethodNotAllowed
	case !isWebSocketUpgrade(r), !headerHasToken(r.Header, "Sec-WebSocket-Version", "13"):
		status = http.StatusBadRequest
	}
	key := r.Header.Get("Sec-WebSocket-Key")
	if k, err := base64.StdEncoding.DecodeString(key); err != nil || len(k) != 16 {
		status = http.StatusBadRequest
	}
	if status != 0 {
		w.Header().Set("Sec-WebSocket-Version", "13")
		http.Error(w, http.StatusText(status), status)
		return nil, nil, false
	}
	h, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "websocket needs HTTP/1.1", http.StatusInternalServerError)
		return nil, nil, false
	}
	conn, rw, err := h.Hijack()
	if err != nil {
		e.srv.log.Debug("websocket hijack failed", "remote", r.RemoteAddr, "err", err)
		return nil, nil, false
	}
	if rw.Reader.Buffered() > 0 {
		// Bytes after the upgrade request, before our 101: no client does
		// that, and nbio's reader would never see them.
		_ = conn.Close()
		return nil, nil, false
	}
	sum := sha1.Sum([]byte(key + websocketGUID)) //nolint:gosec // RFC 6455
	return conn, base64.StdEncoding.AppendEncode(nil, sum[:]), true
}

const websocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// attach writes the 101 response and frames (the first packets of the
// session) in one write, then serves conn: a plain TCP connection moves
// onto nbio's event loop; anything else (TLS) gets a reading goroutine and
// blocking writes. wc is the connection's session before any frame of the
// client can be read. On error conn is closed.
func (e *wsEngine) attach(conn net.Conn, accept, frames []byte, wc *wsConn) error {
	resp := make([]byte, 0, 128+len(frames))
	resp = append(resp, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	resp = append(resp, accept...)
	resp = append(resp, "\r\n\r\n"...)
	resp = append(resp, frames...)
	tc, onLoop := conn.(*net.TCPConn)
	if onLoop {
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
	if !onLoop {
		wc.blocking.Store(true)
		c := websocket.NewServerConn(e.upgrader, conn, "", false, false)
		c.Engine = e.engine
		c.Execute = func(f func()) bool { f(); return true } // in order, on the reading goroutine
		c.SetSession(wc)
		wc.c.Store(c)
		go c.HandleRead(websocket.DefaultBlockingReadBufferSize)
		return nil
	}
	// As nbio's Upgrader does for a *net.TCPConn, with the session set
	// before the event loop can deliver a frame.
	nbc, err := nbio.NBConn(tc) // a duplicate of the descriptor; tc is closed
	if err != nil {
		_ = conn.Close()
		return err
	}
	c := websocket.NewServerConn(e.upgrader, nbc, "", false, false)
	c.Engine = e.engine
	c.Execute = nbc.Execute
	c.SetSession(wc)
	wc.c.Store(c)
	nbc.SetSession(c)
	nbc.OnData(func(nc *nbio.Conn, data []byte) {
		if err := c.Parse(data); err != nil {
			_ = nc.CloseWithError(err)
		}
	})
	if err := e.engine.AddTransferredConn(nbc); err != nil {
		_ = nbc.Close()
		return err
	}
	return nil
}

// handshake opens a new session directly over WebSocket. The 101 response,
// the OPEN packet and whatever the application queued while the session
// opened (a v3 client's implicit Socket.IO CONNECT) leave in one write.
func (e *wsEngine) handshake(w http.ResponseWriter, r *http.Request, protocol int, release func()) {
	conn, accept, ok := e.hijack(w, r)
	if !ok {
		release()
		return
	}
	wc := &wsConn{}
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
	wc.sess = sess
	e.srv.mu.Lock()
	if e.srv.closing {
		e.srv.mu.Unlock()
		release()
		_ = conn.Close()
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
	conn, accept, ok := e.hijack(w, r)
	if !ok {
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

func (e *wsEngine) onMessage(c *websocket.Conn, mt websocket.MessageType, data []byte) {
	wc, _ := c.Session().(*wsConn)
	if wc == nil {
		_ = c.Close()
		return
	}
	sess := wc.sess
	tc := e.srv.stats.of(transportWebSocket)
	tc.pktsIn.Add(1)
	tc.bytesIn.Add(uint64(len(data)))
	var p parser.Packet
	var err error
	switch mt {
	case websocket.TextMessage:
		if sess.protocol == 3 {
			p, err = parser.DecodeTextV3(data)
		} else {
			p, err = parser.DecodeText(data, false)
		}
	case websocket.BinaryMessage:
		p, err = parser.DecodeBinary(data, sess.protocol)
	default:
		return
	}
	if err != nil {
		e.srv.log.Debug("engine.io bad packet", "sid", sess.id, "err", err)
		if wc.probe {
			wc.close()
			return
		}
		sess.Close(ReasonParseError)
		return
	}
	if wc.probe {
		e.onProbePacket(wc, p)
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
		if c := wc.c.Load(); c != nil {
			_ = wc.write(c, msgPong3P.wsFrame(sess.protocol))
		}
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

func (e *wsEngine) onClose(c *websocket.Conn, err error) {
	wc, _ := c.Session().(*wsConn)
	if wc == nil || wc.sess == nil {
		return
	}
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
	// The connection is closed: the session ends now, with the reason
	// the way it was lost tells (or the one it was already closing with).
	switch {
	case state == stateClosing:
		sess.finishClose()
	case errors.Is(err, websocket.ErrMessageTooLarge):
		sess.closeLost(ReasonPayloadTooLarge)
	case errors.Is(err, nbio.ErrOverflow):
		sess.closeLost(ReasonSlowConsumer)
	case err == nil || errors.Is(err, net.ErrClosed) || isEOF(err) || isCloseFrame(err):
		sess.closeLost(ReasonTransportClose)
	default:
		sess.closeLost(ReasonTransportError)
	}
}

// writeErrorReason classifies a failed write: past MaxBufferedBytes of
// unsent data nbio refuses the write and closes the connection.
func writeErrorReason(err error) Reason {
	if errors.Is(err, nbio.ErrOverflow) {
		return ReasonSlowConsumer
	}
	return ReasonTransportError
}

func isEOF(err error) bool { return errors.Is(err, io.EOF) }

// isCloseFrame reports whether the client closed with a close frame whose
// code is not 1000 (nbio reports those as a *CloseError): 1005 "no status"
// is what the ws module and browsers send on a plain close(), and 1001 "going
// away" a page being left. Node calls every client close "transport close".
func isCloseFrame(err error) bool {
	var ce *websocket.CloseError
	return errors.As(err, &ce)
}

// close sends a close frame and closes the connection.
func (wc *wsConn) close() {
	wc.closeOnce.Do(func() {
		c := wc.c.Load()
		if c == nil {
			return
		}
		_ = wc.write(c, closeFrame)
		_ = c.Close()
	})
}

// write writes raw frames. Writes to the epoll loop's connections never
// block (nbio buffers them, bounded and with its own write timeout);
// blocking connections get the write timeout as a deadline.
func (wc *wsConn) write(c *websocket.Conn, b []byte) error {
	if wc.blocking.Load() {
		_ = c.Conn.SetWriteDeadline(time.Now().Add(wc.sess.srv.cfg.WriteTimeout))
	}
	_, err := c.Conn.Write(b)
	return err
}
