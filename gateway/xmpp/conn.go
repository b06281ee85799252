package xmppgw

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/banter-chat/banter/gateway/xmpp/stanza"
	"github.com/banter-chat/banter/internal/evloop"
	"github.com/banter-chat/banter/internal/wsframe"
)

type transportKind uint8

const (
	transportTCP transportKind = iota
	transportDirectTLS
	transportWebSocket
)

func (k transportKind) String() string {
	switch k {
	case transportDirectTLS:
		return "tls"
	case transportWebSocket:
		return "websocket"
	}
	return "tcp"
}

// streamState is where a stream is in its negotiation (RFC 6120 4-7).
type streamState uint8

const (
	stateHeader     streamState = iota // waiting for the stream header
	stateOpen                          // features sent: STARTTLS or SASL expected
	stateAuthed                        // SASL done, waiting for the restarted header
	stateAuthedOpen                    // restarted: bind or resume expected
	stateBound                         // a resource is bound: stanzas flow
	stateClosed
)

// job is one item the event loop found, handled by the connection's
// processor in order.
type job struct {
	kind stanza.Kind
	data []byte
}

// conn is one client connection: the input side (bytes → items, on the
// event loop: the embedded evloop.Conn and its Handler methods OnData and
// OnClose), the processor (items → actions, one goroutine while there is
// work, none when idle) and, once a resource is bound, its session (which
// outlives the connection while a XEP-0198 resumption may come).
//
// Lock order: chat's locks → session.mu → conn.jobMu; conn.inMu is taken
// only by the event loop's read callback and by the processor at stream
// restarts, never with another of these held.
type conn struct {
	evloop.Conn // writes never block (bounded: Config.MaxQueuedBytes); blocking mode for a TLS WebSocket of the HTTPS port
	g           *Gateway
	kind        transportKind
	release     func() // admission slot
	remote      string
	secure      atomic.Bool // TLS is up (or the transport is secure by itself)
	authBy      int64       // Unix ns by which a resource must be bound (the sweeper checks)
	bound       atomic.Pointer[session]

	inMu  sync.Mutex
	scan  stanza.Scanner
	ws    *wsframe.Parser // WebSocket only
	tls   *tlsShim
	tlsUp bool // the handshake is done: the event loop decrypts
	inErr bool // input stopped

	jobMu    sync.Mutex
	jobs     []job
	jobBytes int
	running  bool // a processor goroutine runs
	gone     bool // the connection is closed
	finished bool // finish ran

	// Processor state: only the processor touches it (one at a time).
	state     streamState
	id        string // stream id
	sentOpen  bool   // our stream header went out
	who       *principal
	sasl      string // mechanism waiting for a <response/>
	saslTries int
	sess      *session

	closing atomic.Bool
}

func (g *Gateway) newConn(kind transportKind, release func(), remote string) *conn {
	c := &conn{g: g, kind: kind, release: release, remote: remote}
	c.scan.MaxStanza, c.scan.MaxDepth = g.cfg.MaxStanzaBytes, g.cfg.MaxDepth
	if kind == transportWebSocket {
		c.ws = &wsframe.Parser{MaxMessage: g.cfg.MaxStanzaBytes}
	}
	c.authBy = g.cfg.Now().Add(g.cfg.AuthTimeout).UnixNano()
	c.SetHandler(c)
	return c
}

// tick runs on the hub's sweeper once a second: a connection that has
// not bound a resource in time is closed (no timer per connection).
func (c *conn) tick(now time.Time) {
	if c.bound.Load() == nil && now.UnixNano() > c.authBy {
		c.streamError("connection-timeout", "authenticate and bind a resource sooner")
	}
}

// Flush writes what the connection's session has queued (conns.Flushable:
// sessions schedule themselves; a connection's queue is its session's).
func (c *conn) Flush() {
	if s := c.bound.Load(); s != nil {
		s.Flush()
	}
}

var plainPool = sync.Pool{New: func() any { b := make([]byte, 16<<10); return &b }}

// OnData handles bytes from the event loop (or the reading goroutine of a
// blocking connection), in order (evloop.Handler).
func (c *conn) OnData(_ *evloop.Conn, data []byte) {
	c.inMu.Lock()
	defer c.inMu.Unlock()
	if c.inErr {
		return
	}
	var err error
	switch {
	case c.kind == transportWebSocket:
		err = c.ws.Feed(data, c.onFrame)
	case c.kind == transportDirectTLS && c.tls == nil:
		// The client's first bytes (its ClientHello): the handshake
		// starts now, on a goroutine while it lasts (XEP-0368).
		c.startTLSLocked()
		c.tls.push(data)
	case c.tls != nil:
		c.tls.push(data)
		if c.tlsUp {
			err = c.decryptLocked()
		}
	default:
		err = c.feedXMLLocked(data)
	}
	if err != nil {
		c.inErr = true
		c.inputError(err)
	}
}

func (c *conn) decryptLocked() error {
	bp := plainPool.Get().(*[]byte)
	defer plainPool.Put(bp)
	return c.tls.decrypt(*bp, c.feedXMLLocked)
}

// feedXMLLocked scans stream bytes; a <starttls/> hands what follows it to
// TLS at once (the client sends its handshake only after our <proceed/>,
// so nothing after it is XML).
func (c *conn) feedXMLLocked(p []byte) error {
	for len(p) > 0 {
		n, err := c.scan.Feed(p, c.emit)
		if err != nil {
			return err
		}
		p = p[n:]
		if c.tls != nil && !c.tlsUp && len(p) > 0 {
			c.tls.push(p)
			return nil
		}
	}
	return nil
}

// emit queues one scanned item for the processor.
func (c *conn) emit(kind stanza.Kind, data []byte) error {
	if kind == stanza.KindElement && c.kind == transportTCP && c.tls == nil && c.g.cfg.TLS != nil && isStartTLS(data) {
		c.tls = newTLSShim(c.g.cfg.TLS, c.writeNet, c.remote)
		c.queue(job{kind: kind, data: data})
		return stanza.ErrStop
	}
	return c.queue(job{kind: kind, data: data})
}

func isStartTLS(data []byte) bool {
	return bytes.HasPrefix(data, []byte("<starttls")) && len(data) > 9 && (data[9] == ' ' || data[9] == '/' || data[9] == '>' || data[9] == '\t' || data[9] == '\n' || data[9] == '\r')
}

// onFrame handles one WebSocket message or control frame (RFC 7395: one
// XMPP element per text message). payload is only valid during the call.
func (c *conn) onFrame(op wsframe.Opcode, payload []byte) error {
	switch op {
	case wsframe.OpText:
		return c.queue(job{kind: stanza.KindElement, data: append([]byte(nil), payload...)})
	case wsframe.OpBinary:
		return errWSBinary
	case wsframe.OpPing:
		return c.writeNet(wsframe.AppendFrame(nil, wsframe.OpPong, payload))
	case wsframe.OpClose:
		code := wsframe.CloseCode(payload)
		if code == wsframe.CloseNoStatus {
			code = wsframe.CloseNormal
		}
		_ = c.writeNet(wsframe.AppendClose(nil, code, ""))
		return io.EOF
	}
	return nil
}

// errWSBinary: RFC 7395 3.2 carries XMPP in text frames only.
var errWSBinary = &wsframe.ProtocolError{Code: wsframe.CloseUnsupported, Reason: "XMPP over WebSocket is sent in text frames (RFC 7395)"}

var errFlood = errors.New("too much unprocessed input")

// queue hands a job to the processor, starting it when idle.
func (c *conn) queue(j job) error {
	c.jobMu.Lock()
	if c.gone {
		c.jobMu.Unlock()
		return io.EOF
	}
	c.jobBytes += len(j.data)
	if c.jobBytes > 4*c.g.cfg.MaxStanzaBytes {
		c.jobMu.Unlock()
		return errFlood
	}
	c.jobs = append(c.jobs, j)
	start := !c.running
	c.running = true
	c.jobMu.Unlock()
	if start {
		c.g.hub.Workers.Go(c.process)
	}
	return nil
}

// process runs the queued jobs in order, then ends. It is counted by the
// connection's hold on the gateway's WaitGroup (see finish).
func (c *conn) process() {
	var s *session // the session whose output this batch holds back (session.procStart)
	for {
		bound := c.sess // read while this goroutine is the processor
		c.jobMu.Lock()
		if len(c.jobs) == 0 || c.gone {
			c.jobs, c.jobBytes = nil, 0
			c.running = false
			fin := c.gone && !c.finished
			c.jobMu.Unlock()
			if s != nil {
				s.procEnd()
			}
			if bound != nil && bound != s { // bound during this batch
				bound.procEnd()
			}
			if fin {
				c.finish()
			}
			return
		}
		j := c.jobs[0]
		c.jobs[0] = job{}
		c.jobs = c.jobs[1:]
		c.jobBytes -= len(j.data)
		c.jobMu.Unlock()
		if s == nil && c.sess != nil {
			s = c.sess
			s.procStart()
		}
		c.handle(j)
	}
}

// inputError ends the stream because of what the client sent (or its
// connection failing).
func (c *conn) inputError(err error) {
	var pe *wsframe.ProtocolError
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		c.closeNow()
	case errors.Is(err, stanza.ErrTooLarge), errors.Is(err, errFlood):
		c.streamError("policy-violation", stanza.Describe(err))
	case errors.Is(err, stanza.ErrTooDeep):
		c.streamError("policy-violation", stanza.Describe(err))
	case errors.Is(err, stanza.ErrRestricted):
		c.streamError("restricted-xml", stanza.Describe(err))
	case errors.As(err, &pe):
		// A broken WebSocket frame (or one too large): closed with the
		// RFC 6455 status, as the other WebSocket endpoints do.
		c.g.log.Debug("xmpp: WebSocket protocol error", "remote", c.remote, "err", pe)
		c.closing.Store(true)
		_ = c.writeNet(wsframe.AppendClose(nil, pe.Code, pe.Reason))
		c.CloseWhenSent()
	default:
		if c.tls != nil && !c.tlsUp {
			c.closeNow()
			return
		}
		var re tlsRecordError
		if errors.As(err, &re) {
			c.closeNow()
			return
		}
		c.streamError("not-well-formed", stanza.Describe(err))
	}
}

type tlsRecordError interface{ Temporary() bool }

// handle runs one job on the processor. A panic (a bug) ends this
// stream, not the server.
func (c *conn) handle(j job) {
	if c.state == stateClosed {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			c.g.log.Error("xmpp: panic handling a stanza; stream closed", "remote", c.remote, "panic", r, "stack", string(debug.Stack()))
			c.state = stateClosed
			c.streamError("internal-server-error", "")
		}
	}()
	if c.kind == transportWebSocket {
		el, err := stanza.ParseFramed(j.data, c.g.cfg.MaxDepth)
		if err != nil {
			c.streamError("not-well-formed", err.Error())
			return
		}
		switch {
		case el.Is(stanza.NSFraming, "open"):
			c.onOpen(el)
		case el.Is(stanza.NSFraming, "close"):
			c.onStreamEnd()
		default:
			c.onElement(el)
		}
		return
	}
	switch j.kind {
	case stanza.KindOpen:
		hdr, err := stanza.ParseHeader(j.data)
		if err != nil {
			c.streamError("not-well-formed", err.Error())
			return
		}
		if !hdr.Is(stanza.NSStream, "stream") {
			c.streamError("invalid-namespace", "the stream element must be stream:stream in "+stanza.NSStream)
			return
		}
		c.onOpen(hdr)
	case stanza.KindClose:
		c.onStreamEnd()
	case stanza.KindElement:
		el, err := stanza.Parse(j.data, c.g.cfg.MaxDepth)
		if err != nil {
			if errors.Is(err, stanza.ErrDepth) {
				c.streamError("policy-violation", "stanza nested too deeply")
				return
			}
			c.streamError("not-well-formed", err.Error())
			return
		}
		c.onElement(el)
	}
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// onOpen answers a stream header (or a WebSocket <open/>) with ours and
// the features of the current state.
func (c *conn) onOpen(hdr *stanza.Element) {
	switch c.state {
	case stateHeader, stateAuthed:
	default:
		c.streamError("not-authorized", "unexpected stream header")
		return
	}
	c.id = newID()
	if v := hdr.Get("version"); v == "" || v[0] < '1' {
		c.writeRaw(c.openStream())
		c.streamError("unsupported-version", "XMPP 1.0 is required")
		return
	}
	if to := hdr.Get("to"); to != "" {
		if j, err := stanza.ParseJID(to); err != nil || j.Domain != c.g.domain || j.Local != "" {
			c.writeRaw(c.openStream())
			c.streamError("host-unknown", "this server is "+c.g.domain)
			return
		}
	}
	open := c.openStream() // written with the features: one write
	var b stanza.Builder
	if c.kind == transportWebSocket {
		b.Start("stream:features", "xmlns:stream", stanza.NSStream)
	} else {
		b.Start("stream:features")
	}
	if c.state == stateHeader {
		c.state = stateOpen
		if c.needTLS() {
			b.Start("starttls", "xmlns", stanza.NSTLS).Empty("required").End("starttls")
		} else {
			b.Start("mechanisms", "xmlns", stanza.NSSASL)
			for _, m := range c.mechanisms() {
				b.Elem("mechanism", m)
			}
			b.End("mechanisms")
		}
	} else {
		c.state = stateAuthedOpen
		b.Empty("bind", "xmlns", stanza.NSBind)
		b.Start("session", "xmlns", stanza.NSSession).Empty("optional").End("session")
		b.Empty("sm", "xmlns", stanza.NSSM)
		b.Empty("csi", "xmlns", stanza.NSCSI)
		c.g.caps.appendC(&b)
	}
	b.End("stream:features")
	if c.kind == transportWebSocket {
		c.writeRaw(open) // two frames
		c.writeRaw(b.B)
		return
	}
	c.writeRaw(append(open, b.B...))
}

// openStream returns our stream header, once per stream (nil after).
func (c *conn) openStream() []byte {
	if c.sentOpen {
		return nil
	}
	c.sentOpen = true
	var b stanza.Builder
	if c.kind == transportWebSocket {
		b.Empty("open", "xmlns", stanza.NSFraming, "id", c.id, "from", c.g.domain, "version", "1.0", "xml:lang", "en")
	} else {
		b.Raw("<?xml version='1.0'?>")
		b.Start("stream:stream", "xmlns", stanza.NSClient, "xmlns:stream", stanza.NSStream,
			"id", c.id, "from", c.g.domain, "version", "1.0", "xml:lang", "en")
	}
	return b.B
}

// needTLS reports whether STARTTLS must come before authentication.
func (c *conn) needTLS() bool {
	return c.kind == transportTCP && c.g.cfg.TLS != nil && !c.secure.Load()
}

// onStreamEnd handles the client's end of the stream: the session ends
// (no resumption after a clean close) and we close ours.
func (c *conn) onStreamEnd() {
	c.state = stateClosed
	if s := c.sess; s != nil {
		s.detachForEnd(c)
		s.end("client closed the stream")
	}
	c.writeRaw(c.closeTag())
	c.closeNow()
}

func (c *conn) closeTag() []byte {
	if c.kind == transportWebSocket {
		return []byte("<close xmlns='" + stanza.NSFraming + "'/>")
	}
	return []byte("</stream:stream>")
}

// onElement dispatches a top-level element by state.
func (c *conn) onElement(el *stanza.Element) {
	switch c.state {
	case stateHeader, stateAuthed:
		c.streamError("not-authorized", "send a stream header first")
	case stateOpen:
		switch {
		case el.Is(stanza.NSTLS, "starttls"):
			c.onStartTLS()
		case c.needTLS():
			c.streamError("policy-violation", "use STARTTLS first")
		case el.Space == stanza.NSSASL:
			c.onSASL(el)
		default:
			c.streamError("not-authorized", "authenticate first")
		}
	case stateAuthedOpen:
		switch {
		case el.Is(stanza.NSSM, "resume"):
			c.onResume(el)
		case el.Is(stanza.NSClient, "iq") && el.Child(stanza.NSBind, "bind") != nil:
			c.onBind(el)
		case el.Is(stanza.NSSM, "enable"):
			c.writeRaw(smFailed("unexpected-request", "bind a resource first"))
		default:
			c.streamError("not-authorized", "bind a resource first")
		}
	case stateBound:
		c.sess.onElement(c, el)
	}
}

// onStartTLS answers <starttls/>: <proceed/>, then the TLS handshake on a
// goroutine of its own (while it lasts).
func (c *conn) onStartTLS() {
	c.inMu.Lock()
	shim := c.tls
	c.inMu.Unlock()
	if shim == nil || c.kind != transportTCP {
		c.writeRaw([]byte("<failure xmlns='" + stanza.NSTLS + "'/>"))
		c.writeRaw(c.closeTag())
		c.closeNow()
		return
	}
	c.writeRaw([]byte("<proceed xmlns='" + stanza.NSTLS + "'/>"))
	c.runHandshake(shim)
}

// startTLSLocked starts TLS on a direct-TLS connection (XEP-0368) when
// its first bytes arrive: the handshake runs on a goroutine that plays
// the processor's part meanwhile, then processes what followed it.
// Called with inMu, by OnData.
func (c *conn) startTLSLocked() {
	c.tls = newTLSShim(c.g.cfg.TLS, c.writeNet, c.remote)
	shim := c.tls
	c.jobMu.Lock()
	c.running = true // no job can arrive before the handshake is done: the input goes to TLS
	c.jobMu.Unlock()
	c.g.hub.Workers.Go(func() {
		c.runHandshake(shim)
		c.process()
	})
}

// runHandshake runs on the processor goroutine: nothing else is processed
// meanwhile (no job can arrive: the input goes to TLS).
func (c *conn) runHandshake(shim *tlsShim) {
	if err := shim.runHandshake(c.g.cfg.AuthTimeout); err != nil {
		c.g.log.Debug("xmpp: TLS handshake failed", "remote", c.remote, "err", err)
		c.closeNow()
		return
	}
	c.secure.Store(true)
	c.g.stats.tlsHandshakes.Add(1)
	c.inMu.Lock()
	c.tlsUp = true
	c.scan.Reset()
	c.sentOpen = false
	c.state = stateHeader
	err := c.decryptLocked() // what arrived during the handshake's last steps
	if err != nil {
		c.inErr = true
	}
	c.inMu.Unlock()
	if err != nil {
		c.inputError(err)
	}
}

// restart prepares for the stream restart after SASL success: the next
// bytes are a new stream header (RFC 6120 6.4.6).
func (c *conn) restart() {
	c.inMu.Lock()
	if c.kind != transportWebSocket {
		c.scan.Reset()
	}
	c.inMu.Unlock()
	c.sentOpen = false
	c.state = stateAuthed
}

// writeNet writes bytes to the network (framed and encrypted already): on
// the event loop it never blocks (what the kernel does not take waits in
// the evloop.Conn, bounded); in blocking mode it blocks for at most
// Config.WriteTimeout.
func (c *conn) writeNet(b []byte) error { return c.Conn.Write(b) }

// write sends one element's XML: framed for WebSocket, encrypted over TLS.
func (c *conn) write(b []byte) error {
	if c.kind == transportWebSocket {
		b = wsframe.AppendFrame(make([]byte, 0, len(b)+10), wsframe.OpText, b)
	}
	return c.writeBytes(b)
}

// writeBytes sends bytes already framed.
func (c *conn) writeBytes(b []byte) error {
	if c.secure.Load() && c.tls != nil {
		_, err := c.tls.tc.Write(b)
		return err
	}
	return c.writeNet(b)
}

// writeRaw writes from the processor before a session exists, or a final
// element; a failure closes the connection.
func (c *conn) writeRaw(b []byte) {
	if len(b) == 0 {
		return
	}
	if err := c.write(b); err != nil {
		c.closeNow()
	}
}

// streamError sends a stream error and closes once it is written (RFC
// 6120 4.9). Safe from any goroutine.
func (c *conn) streamError(cond, text string) {
	if !c.closing.CompareAndSwap(false, true) {
		return
	}
	var b stanza.Builder
	if c.kind == transportWebSocket {
		b.Start("stream:error", "xmlns:stream", stanza.NSStream)
	} else {
		if !c.sentOpen {
			// Only the processor sets sentOpen; a stream error before any
			// header of ours carries one (RFC 6120 4.9.1.1).
			b.Raw("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='" + stanza.NSStream + "' version='1.0' from='")
			b.Text(c.g.domain).Raw("'>")
		}
		b.Start("stream:error")
	}
	b.Empty(cond, "xmlns", stanza.NSStreams)
	if text != "" {
		b.Elem("text", text, "xmlns", stanza.NSStreams, "xml:lang", "en")
	}
	b.End("stream:error")
	_ = c.write(b.B)
	_ = c.write(c.closeTag())
	c.g.log.Debug("xmpp: stream error", "remote", c.remote, "condition", cond, "text", text)
	c.closeNetwork()
}

// closeNow closes without a stream error.
func (c *conn) closeNow() {
	c.closing.Store(true)
	c.closeNetwork()
}

// closeNetwork closes the connection once what was written is sent (the
// write timeout bounds the wait): over WebSocket, after a close frame.
func (c *conn) closeNetwork() {
	if c.kind == transportWebSocket {
		_ = c.writeNet(wsframe.AppendClose(nil, wsframe.CloseNormal, ""))
	}
	c.CloseWhenSent()
}

// OnClose runs once when the network connection is gone
// (evloop.Handler).
func (c *conn) OnClose(_ *evloop.Conn, err error) {
	c.g.log.Debug("xmpp: connection closed", "remote", c.remote, "err", err)
	c.inMu.Lock()
	c.inErr = true
	if c.tls != nil {
		c.tls.shutdown()
	}
	c.inMu.Unlock()
	if errors.Is(err, evloop.ErrOverflow) || errors.Is(err, evloop.ErrWriteTimeout) {
		c.g.stats.slow.Add(1)
	}
	c.jobMu.Lock()
	c.gone = true
	fin := !c.running && !c.finished
	c.jobMu.Unlock()
	if fin {
		go c.finish()
	}
}

// finish runs once, after the connection closed and its processor
// stopped: the session hibernates (XEP-0198) or ends, and the gateway
// forgets the connection.
func (c *conn) finish() {
	c.jobMu.Lock()
	if c.finished {
		c.jobMu.Unlock()
		return
	}
	c.finished = true
	c.jobMu.Unlock()
	if s := c.sess; s != nil {
		s.connLost(c)
	}
	c.g.unregister(c)
	c.release()
}
