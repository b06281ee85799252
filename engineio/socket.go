package engineio

import (
	"encoding/json"
	"strconv"
	"sync"
	"time"

	"github.com/banter-chat/banter/engineio/parser"
)

type transportKind uint8

const (
	transportPolling transportKind = iota
	transportWebSocket
)

func (t transportKind) String() string {
	if t == transportWebSocket {
		return "websocket"
	}
	return "polling"
}

// Handler receives the events of one session.
type Handler interface {
	// OnMessage is called for every message packet, in order, never
	// concurrently for one session. data is only valid during the call.
	OnMessage(s *Socket, data []byte, binary bool)
	// OnClose is called once when the session ends. A last OnMessage may
	// still be running on another goroutine.
	OnClose(s *Socket, reason Reason)
}

type sessionState uint8

const (
	stateOpen sessionState = iota
	stateClosing
	stateClosed
)

// Socket is one Engine.IO session. Its methods are safe for concurrent use.
type Socket struct {
	srv       *Server
	id        string
	protocol  int
	handshake *Handshake
	handler   Handler
	release   func() // Config.Admit's, called once by Server.remove

	// recvMu serializes deliveries to handler.OnMessage.
	recvMu sync.Mutex

	mu          sync.Mutex
	reason      Reason
	queue       []*Message
	queuedBytes int
	poll        chan []*Message // pending GET; receives the packets it must answer with
	ws          *wsConn         // the WebSocket transport once open or upgraded
	probe       *wsConn         // a WebSocket being upgraded to
	hb          hbLink          // heartbeat timer (heartbeat.go); hb.when is the deadline
	closeTimer  *time.Timer     // polling close waiting for the last GET
	lastTick    uint32          // the pacing period of the last WebSocket write (flush.go)

	// One-byte fields together (no padding between them: a Socket is kept
	// per connection). supportsBinary is set once; the others are guarded
	// by mu.
	supportsBinary bool
	state          sessionState
	transport      transportKind
	posting        bool  // a POST is being processed
	upgrading      bool  // probe answered, waiting for the upgrade packet
	flushing       bool  // a WebSocket flush is scheduled
	corked         bool  // writes held in queue (Cork)
	awaitPong      bool  // v4: ping sent, pong not yet received
	recent         uint8 // bit i: a WebSocket write in pacing period lastTick-i (flush.go)
}

// ID returns the session id (sid).
func (s *Socket) ID() string { return s.id }

// Protocol returns the Engine.IO protocol version: 3 or 4.
func (s *Socket) Protocol() int { return s.protocol }

// Handshake returns the request that opened the session.
func (s *Socket) Handshake() *Handshake { return s.handshake }

// SetHandler sets the session's event handler. Call it from
// Config.OnConnection.
func (s *Socket) SetHandler(h Handler) { s.handler = h }

// Transport returns "polling" or "websocket".
func (s *Socket) Transport() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.transport.String()
}

// Closed reports whether the session has ended (or is ending).
func (s *Socket) Closed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state != stateOpen
}

// appendOpenPacket appends the OPEN packet's JSON, as encoding/json would
// write {sid, upgrades, pingInterval, pingTimeout, maxPayload (omitted when
// 0)}, without its reflection (a sixteenth of the CPU of a handshake).
func appendOpenPacket(b []byte, sid string, upgrade bool, pingInterval, pingTimeout int64, maxPayload int) []byte {
	b = append(b, `{"sid":`...)
	if jsonSafe(sid) {
		b = append(b, '"')
		b = append(b, sid...)
		b = append(b, '"')
	} else {
		q, _ := json.Marshal(sid)
		b = append(b, q...)
	}
	if upgrade {
		b = append(b, `,"upgrades":["websocket"]`...)
	} else {
		b = append(b, `,"upgrades":[]`...)
	}
	b = append(b, `,"pingInterval":`...)
	b = strconv.AppendInt(b, pingInterval, 10)
	b = append(b, `,"pingTimeout":`...)
	b = strconv.AppendInt(b, pingTimeout, 10)
	if maxPayload != 0 {
		b = append(b, `,"maxPayload":`...)
		b = strconv.AppendInt(b, int64(maxPayload), 10)
	}
	return append(b, '}')
}

// jsonSafe reports whether s needs no escaping in a JSON string (as
// encoding/json escapes: also <, > and &).
func jsonSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// open queues the OPEN packet, starts the heartbeat and announces the
// session to the application.
func (s *Socket) open() {
	cfg := &s.srv.cfg
	maxPayload := 0
	if s.protocol == 4 {
		maxPayload = cfg.MaxPayload
	}
	data := appendOpenPacket(make([]byte, 0, 128), s.id, s.transport == transportPolling && s.srv.ws != nil,
		cfg.PingInterval.Milliseconds(), cfg.PingTimeout.Milliseconds(), maxPayload)
	s.mu.Lock()
	s.queue = append(s.queue, &Message{pkt: parser.Packet{Type: parser.Open, Data: data}})
	if s.protocol == 4 {
		s.srv.hb.reset(s, hbInterval)
	} else {
		s.srv.hb.reset(s, hbV3)
	}
	s.mu.Unlock()
	s.logOpened()
	if cfg.OnConnection != nil {
		cfg.OnConnection(s)
	}
}

// onTimer drives the heartbeat. v4: the server pings every PingInterval and
// expects a pong within PingTimeout. v3: the client pings; silence for
// PingInterval+PingTimeout ends the session. gen is the timer generation
// that fired: a timer reset or stopped since is not acted on. It runs on the
// heartbeat scheduler's goroutine, so a close (and the application's
// OnClose) runs on its own.
func (s *Socket) onTimer(gen uint32) {
	s.mu.Lock()
	if s.state != stateOpen || s.hb.gen != gen {
		s.mu.Unlock()
		return
	}
	if s.protocol == 4 && !s.awaitPong {
		s.awaitPong = true
		s.srv.hb.reset(s, hbTimeout)
		s.enqueueLocked(msgPing)
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	go s.Close(ReasonPingTimeout)
}

// heartbeatExpiredLocked reports whether the heartbeat deadline has passed
// even if the timer has not fired yet (timers may run late on a busy machine;
// a request arriving after the deadline must see the session as dead).
func (s *Socket) heartbeatExpiredLocked() bool {
	return (s.protocol == 3 || s.awaitPong) && time.Now().UnixNano() > s.hb.when
}

// Send queues a message. It never blocks. It fails with ErrClosed on a closed
// session; a session whose queue exceeds MaxBufferedBytes is closed with
// ReasonSlowConsumer and the message is not sent.
func (s *Socket) Send(m *Message) error {
	return s.SendMany(m)
}

// SendMany queues several messages atomically: nothing is interleaved
// between them (Socket.IO binary packets and their attachments). On
// WebSocket, when no flush is in progress, the caller writes them itself
// (one non-blocking write, no goroutine hand-off): the fast path for replies
// such as acks. Use Enqueue for broadcasts. A corked session is uncorked
// first (see Cork).
func (s *Socket) SendMany(ms ...*Message) error { return s.send(ms, true) }

// Enqueue is SendMany without the inline write: a flush worker writes the
// messages, coalescing them with whatever else is queued for the session.
// A broadcast to many sessions uses it so the broadcaster does not do every
// write itself and busy sessions get one write per batch. It leaves a
// corked session corked: the messages wait in its queue.
func (s *Socket) Enqueue(ms ...*Message) error { return s.send(ms, false) }

// Cork holds what is queued for the session until Uncork, SendMany or
// Close: Enqueue and SendVolatile only queue meanwhile. Socket.IO corks a
// connection while it attaches a socket and runs its connection handlers,
// so the client sees the CONNECT reply only once the handlers' room joins
// are done (as with Node, whose handlers run before the reply leaves).
func (s *Socket) Cork() {
	s.mu.Lock()
	s.corked = true
	s.mu.Unlock()
}

// Uncork releases what Cork held, in order.
func (s *Socket) Uncork() {
	s.mu.Lock()
	if s.corked {
		s.corked = false
		if len(s.queue) > 0 {
			s.kickLocked()
		}
	}
	s.mu.Unlock()
}

func (s *Socket) send(ms []*Message, inline bool) error {
	s.mu.Lock()
	if s.state != stateOpen {
		s.mu.Unlock()
		return ErrClosed
	}
	if inline {
		s.corked = false // a direct write wants out now, with what was held
	}
	n := 0
	for _, m := range ms {
		n += m.size()
	}
	if s.queuedBytes+n > s.srv.cfg.MaxBufferedBytes {
		s.mu.Unlock()
		s.Close(ReasonSlowConsumer)
		return ErrClosed
	}
	s.queue = append(s.queue, ms...)
	s.queuedBytes += n
	flushHere := false
	if inline && s.transport == transportWebSocket && s.ws != nil && !s.flushing && !s.ws.Blocking() {
		s.flushing = true
		flushHere = true
	} else {
		s.kickLocked()
	}
	s.mu.Unlock()
	if flushHere {
		bp := getFlushBuf()
		putFlushBuf(bp, s.flushWS((*bp)[:0], nil))
	}
	return nil
}

// Queued returns the bytes queued for the session and not yet handed to
// its transport.
func (s *Socket) Queued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queuedBytes
}

// VolatileBacklog is the queued byte count above which SendVolatile drops.
const VolatileBacklog = 64 << 10

// SendVolatile queues messages unless the session has a backlog (in our
// queue, or for WebSocket unsent in the kernel), in which case they are
// dropped: for lossy traffic such as typing indicators, which must not
// push a slow client towards its buffer limit. It reports whether they
// were queued.
func (s *Socket) SendVolatile(ms ...*Message) bool {
	s.mu.Lock()
	if s.state != stateOpen || s.queuedBytes > VolatileBacklog || s.wsBackloggedLocked() {
		s.mu.Unlock()
		return false
	}
	for _, m := range ms {
		s.enqueueLocked(m)
	}
	s.mu.Unlock()
	return true
}

// volatileKernelBacklog is the unsent byte count (held by the event loop
// or the kernel) above which a WebSocket session counts as backlogged for
// SendVolatile. Our queue is flushed at once into the connection, so a
// client that stopped reading shows its backlog there, not in queuedBytes.
const volatileKernelBacklog = 8 << 10

func (s *Socket) wsBackloggedLocked() bool {
	if s.transport != transportWebSocket || s.ws == nil {
		return false
	}
	return s.ws.Unsent() > volatileKernelBacklog
}

// enqueueLocked appends m and wakes whatever transport will write it.
func (s *Socket) enqueueLocked(m *Message) {
	s.queue = append(s.queue, m)
	s.queuedBytes += m.size()
	s.kickLocked()
}

func (s *Socket) kickLocked() {
	if s.corked {
		return
	}
	switch {
	case s.transport == transportWebSocket && s.ws != nil:
		if !s.flushing {
			s.flushing = true
			s.srv.flushSoon(s)
		}
	case s.poll != nil:
		s.poll <- s.takeQueueLocked()
		s.poll = nil
	}
}

// releasePollLaterLocked releases the pending GET with a noop after
// upgradeCheckInterval, unless it has been answered by then. The client
// waits for that GET before it sends the upgrade packet; the delay lets
// frames the client sent earlier on the WebSocket, still in flight on
// another goroutine, be handled first (so a GET sent after the upgrade
// packet gets 400, as with Node, which handles everything in order).
func (s *Socket) releasePollLaterLocked() {
	ch := s.poll
	if ch == nil {
		return
	}
	time.AfterFunc(upgradeCheckInterval, func() {
		s.mu.Lock()
		if s.poll == ch {
			s.releasePollLocked()
		}
		s.mu.Unlock()
	})
}

// releasePollLocked answers a pending GET with what is queued, or a noop.
func (s *Socket) releasePollLocked() {
	if s.poll == nil {
		return
	}
	q := s.takeQueueLocked()
	if len(q) == 0 {
		q = []*Message{msgNoop}
	}
	s.poll <- q
	s.poll = nil
}

// takeQueue removes and returns everything queued (nothing while the
// session is open and corked).
func (s *Socket) takeQueueLocked() []*Message {
	if s.corked && s.state == stateOpen {
		return nil
	}
	q := s.queue
	s.queue = nil
	s.queuedBytes = 0
	return q
}

// Close ends the session: queued packets are still written (on WebSocket
// right away, on polling with the next GET), then the transport is closed.
// The handler's OnClose runs once, with the first reason given.
func (s *Socket) Close(reason Reason) {
	s.mu.Lock()
	if s.state != stateOpen {
		s.mu.Unlock()
		return
	}
	s.beginCloseLocked(reason)
	probe := s.probe
	s.probe = nil
	finish := false
	switch {
	case s.transport == transportWebSocket && s.ws != nil:
		// The flush worker writes the queue, then the close frame.
		if !s.flushing {
			s.flushing = true
			s.srv.flushNow(s)
		}
	case s.poll != nil:
		s.queue = append(s.queue, msgClose)
		s.kickLocked()
		finish = true
	case len(s.queue) > 0 && reason != ReasonPingTimeout && reason != ReasonTransportError && reason != ReasonTransportClose &&
		reason != ReasonServerShutdown:
		// Polling with no GET pending: keep the session until the client
		// fetches what is queued (and the close packet), for at most a
		// heartbeat period. Not on shutdown: Node discards the buffer
		// there, and Shutdown must not wait a heartbeat for idle clients.
		s.queue = append(s.queue, msgClose)
		s.closeTimer = time.AfterFunc(s.srv.cfg.PingInterval+s.srv.cfg.PingTimeout, s.finishClose)
	default:
		finish = true
	}
	s.mu.Unlock()
	if probe != nil {
		probe.close()
	}
	if finish {
		s.finishClose()
	}
}

// beginCloseLocked moves an open session to closing with reason: the
// first step of every way a session ends. Callers hold s.mu.
func (s *Socket) beginCloseLocked(reason Reason) {
	s.state = stateClosing
	s.reason = reason
	s.corked = false // what was held goes out before the close
	s.srv.stats.ending(reason)
	s.srv.hb.stop(s)
}

// closeLost ends a WebSocket session whose connection is already gone
// (the event loop reported it closed): nothing queued can be written any
// more, so no flush is scheduled for it and the session ends here.
func (s *Socket) closeLost(reason Reason) {
	s.mu.Lock()
	if s.state == stateOpen {
		s.beginCloseLocked(reason)
	}
	probe := s.probe
	s.probe = nil
	s.mu.Unlock()
	if probe != nil {
		probe.close()
	}
	s.finishClose()
}

// finishPendingClose ends a polling session whose close is waiting for
// its client's next GET (closeTimer), now.
func (s *Socket) finishPendingClose() {
	s.mu.Lock()
	pending := s.state == stateClosing && s.closeTimer != nil
	s.mu.Unlock()
	if pending {
		s.finishClose()
	}
}

// clientCloseGrace is how long a polling session closed by the client's
// close packet waits for a concurrent GET, which then gets a noop (as with
// Node, where the GET is always handled first).
const clientCloseGrace = 250 * time.Millisecond

// closeFromClient handles a close packet from the client.
func (s *Socket) closeFromClient() {
	s.mu.Lock()
	if s.state != stateOpen || s.transport != transportPolling {
		s.mu.Unlock()
		s.Close(ReasonTransportClose)
		return
	}
	s.beginCloseLocked(ReasonTransportClose)
	s.queue = append(s.queue, msgNoop)
	pending := s.poll != nil
	if pending {
		s.kickLocked()
	} else {
		s.closeTimer = time.AfterFunc(clientCloseGrace, s.finishClose)
	}
	probe := s.probe
	s.probe = nil
	s.mu.Unlock()
	if probe != nil {
		probe.close()
	}
	if pending {
		s.finishClose()
	}
}

// finishClose removes the session and tells the application. It runs once.
func (s *Socket) finishClose() {
	s.mu.Lock()
	if s.state == stateClosed {
		s.mu.Unlock()
		return
	}
	s.state = stateClosed
	if s.closeTimer != nil {
		s.closeTimer.Stop()
	}
	reason := s.reason
	transport := s.transport
	if s.poll != nil {
		s.poll <- []*Message{msgClose}
		s.poll = nil
	}
	s.queue = nil
	s.queuedBytes = 0
	s.mu.Unlock()
	if s.srv.remove(s) {
		s.srv.stats.of(transport).open.Add(-1)
		s.logClosed(transport, reason)
	}
	if s.handler != nil {
		s.handler.OnClose(s, reason)
	}
}

// onPacket handles one packet received on the session's transport.
func (s *Socket) onPacket(p parser.Packet) {
	switch p.Type {
	case parser.Message:
		s.recvMu.Lock()
		if !s.Closed() && s.handler != nil {
			s.handler.OnMessage(s, p.Data, p.Binary)
		}
		s.recvMu.Unlock()
	case parser.Pong:
		if s.protocol == 3 {
			s.Close(ReasonTransportError) // invalid heartbeat direction
			return
		}
		s.mu.Lock()
		if s.state == stateOpen && s.awaitPong {
			s.awaitPong = false
			s.srv.hb.reset(s, hbInterval)
		}
		s.mu.Unlock()
	case parser.Ping:
		if s.protocol == 4 {
			s.Close(ReasonTransportError) // invalid heartbeat direction
			return
		}
		s.mu.Lock()
		if s.state == stateOpen {
			s.srv.hb.reset(s, hbV3)
			if string(p.Data) == "probe" {
				s.enqueueLocked(msgPong3P)
			} else {
				s.enqueueLocked(msgPong)
			}
		}
		s.mu.Unlock()
	case parser.Close:
		s.closeFromClient()
	case parser.Noop:
	default:
		// open and upgrade packets are never valid here
		s.Close(ReasonParseError)
	}
}
