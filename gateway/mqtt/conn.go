package mqttgw

import (
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/banter-chat/banter/chat"
	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/nbhttp/websocket"
	"github.com/mochi-mqtt/server/v2/packets"
)

// ErrSlowConsumer is the close cause of a client whose outbound queue went
// past Config.MaxQueuedBytes or whose unacknowledged QoS 1 messages went
// past Config.MaxInflight. Nothing is lost: a persistent session catches
// up from the store when it reconnects.
var ErrSlowConsumer = errors.New("mqttgw: slow consumer")

// Close causes of connections (Stats counts some; debug logs name them).
var (
	errFlood            = errors.New("mqttgw: client sent faster than its packets could be handled")
	errKeepalive        = errors.New("mqttgw: keepalive timeout")
	errConnectTimeout   = errors.New("mqttgw: no CONNECT in time")
	errClientDisconnect = errors.New("mqttgw: client disconnected")
	errShutdown         = errors.New("mqttgw: gateway closed")
)

// transportKind is how a connection's bytes travel.
type transportKind uint8

const (
	tcpLoop  transportKind = iota // plain TCP on the event loop
	wsLoop                        // WebSocket over plain TCP on the event loop
	tcpBlock                      // TLS (MQTTS): a reading goroutine, blocking writes
	wsBlock                       // WebSocket over TLS: the same
)

func (k transportKind) websocket() bool { return k == wsLoop || k == wsBlock }
func (k transportKind) blocking() bool  { return k == tcpBlock || k == wsBlock }

// flush states of a connection's outbound queue.
const (
	fIdle    uint8 = iota // nothing scheduled
	fDelayed              // a flush waits in the flusher's heap (generation fgen)
	fQueued               // handed to a flush worker
	fRunning              // a flush pass is writing
)

// out is one packet waiting to be written.
type out struct {
	w    *wire  // shared with other recipients: never modified
	room string // with seq: a chat message (recorded as seen once written)
	seq  int64
}

// conn is one MQTT network connection. Its reading side (framer) is used by
// one reader at a time: the poller, or the connection's executor for
// WebSocket, or the reading goroutine for TLS. Its packets are handled in
// order by one handler at a time (serial executor or the reading
// goroutine): the fields of the handling side are that handler's. The
// writing side is guarded by mu; writes are made by flush passes (a flush
// worker, the timer of a delayed flush, or the handler itself for its
// replies), one at a time.
//
// Lock order: client.mu before conn.mu; chat calls are made holding
// neither. Deliver runs under chat's locks and takes conn.mu only.
type conn struct {
	g       *Gateway
	kind    transportKind
	nc      net.Conn        // *nbio.Conn on the loop; the TLS connection otherwise
	wsc     *websocket.Conn // WebSocket transports
	release func()          // admission slot, released by the teardown

	// Reading side.
	fr        framer
	inBacklog atomic.Int64 // bytes read and not yet handled (loop TCP)
	lastRead  atomic.Int64 // gateway clock (seconds) of the last bytes read

	// Keepalive wheel links (guarded by the wheel's lock).
	kaNext, kaPrev *conn
	kaSlot         int32  // -1: not in the wheel
	kaLimit        uint32 // seconds of silence tolerated

	// Handling side.
	stage    uint8                        // stageNew, stageConnected, stageClosing
	v        byte                         // protocol version: 3, 4 or 5 (4 until CONNECT says)
	cl       *client                      // set under mu at CONNECT, before the chat session exists
	sess     atomic.Pointer[chat.Session] // read by a connection taking this one over
	will     *will
	maxOut   uint32 // MQTT 5 client's Maximum Packet Size (0: none)
	recvMax  uint16 // QoS 1 window: min(Config.MaxInflight, the client's Receive Maximum)
	noReason bool   // MQTT 5 Request Problem Information = 0
	clean    bool   // ended by the client's DISCONNECT (no will)

	ended     atomic.Bool // teardown done
	published atomic.Bool // see ready

	// Writing side, guarded by mu.
	mu        sync.Mutex
	q         []out
	qBytes    int
	fstate    uint8
	urgent    bool   // a reply waits: the next pass is not delayed
	dead      bool   // no more packets are queued
	detached  bool   // taken over by a newer connection of its client id (also read under client.mu)
	fgen      uint32 // generation of a delayed flush
	lastFlush int64  // UnixNano of the last write
	bye       []byte // written before the connection is shut (a refusing CONNACK, an MQTT 5 DISCONNECT)
	isV5      bool   // an MQTT 5 client past CONNECT: told why it is disconnected
	stopErr   error  // why it was stopped (first cause)
	space     *sync.Cond
	hold      map[string][]*chat.Event // rooms catching up: live messages wait here
}

// Connection stages.
const (
	stageNew uint8 = iota
	stageConnected
	stageClosing
)

func newConn(g *Gateway, kind transportKind, nc net.Conn, release func()) *conn {
	// Allocated zeroed and filled field by field (see ready).
	c := new(conn)
	c.g, c.kind, c.nc, c.release, c.kaSlot, c.v = g, kind, nc, release, -1, 4
	c.lastRead.Store(g.clock.Load())
	return c
}

// ready publishes c to the goroutines that will read it. The poller learns
// of a connection through epoll, which the race detector cannot see as
// synchronization: every reader first loads published (sync), and this is
// the matching store. Call it once c is complete, before the connection
// can be read.
func (c *conn) ready() { c.published.Store(true) }

// remote returns the client's address for logs.
func (c *conn) remote() string {
	if a := c.nc.RemoteAddr(); a != nil {
		return a.String()
	}
	return ""
}

// --- reading -------------------------------------------------------------------

// onLoopData is the poller's callback for a plain TCP connection: the
// bytes are cut into packets at once (nothing is kept but an incomplete
// packet) and handed to the connection's serial executor.
func (c *conn) onLoopData(nbc *nbio.Conn, data []byte) {
	pkts, n, err := c.cut(data)
	if len(pkts) == 0 && err == nil {
		return
	}
	if c.inBacklog.Add(int64(n)) > int64(c.g.cfg.MaxInputBytes) {
		// Handling cannot keep up with what this client sends (and the
		// event loop does not stop reading a connection): refuse it
		// rather than hold an unbounded backlog.
		c.stop(errFlood, nil)
		return
	}
	nbc.Execute(func() {
		c.handle(pkts, err)
		c.inBacklog.Add(-int64(n))
	})
}

// onWSMessage handles a WebSocket message (on the serial executor, or the
// TLS reading goroutine): a binary message carries MQTT bytes, any number
// of packets or parts of one (MQTT 6.0).
func (c *conn) onWSMessage(mt websocket.MessageType, data []byte) {
	c.published.Load()
	if c.isStopped() {
		return
	}
	c.lastRead.Store(c.g.clock.Load())
	if mt != websocket.BinaryMessage {
		c.fail(errors.New("mqttgw: text WebSocket frame"), packets.ErrMalformedPacket) // [MQTT-6.0.0-1]
		return
	}
	pkts, _, err := c.cut(data)
	c.handle(pkts, err)
}

// readBlocking is the reading goroutine of a TLS connection: it reads,
// cuts and handles packets inline, then tears the connection down.
func (c *conn) readBlocking() {
	buf := make([]byte, 4096)
	var err error
	for {
		var n int
		n, err = c.nc.Read(buf)
		if n > 0 {
			pkts, _, ferr := c.cut(buf[:n])
			c.handle(pkts, ferr)
		}
		if err != nil {
			break
		}
	}
	c.transportClosed(err)
}

// cut feeds data to the framer. It returns the complete packets, their
// size, and the framer's error: the stream is bad past those packets.
func (c *conn) cut(data []byte) ([]rawPacket, int, error) {
	c.published.Load()
	if c.isStopped() {
		return nil, 0, nil
	}
	c.lastRead.Store(c.g.clock.Load())
	pkts, err := c.fr.feed(data, c.g.cfg.MaxPacketBytes, nil)
	n := 0
	for _, p := range pkts {
		n += len(p.body) + 2
	}
	return pkts, n, err
}

func (c *conn) isStopped() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dead
}

// --- writing -------------------------------------------------------------------

// pushLocked queues o and makes sure a flush pass will write it (urgent:
// without a coalescing delay). Past MaxQueuedBytes the connection is a
// slow consumer (never a silent loss). Called with mu held.
func (c *conn) pushLocked(o out, urgent bool) {
	if c.appendLocked(o) {
		c.kickLocked(urgent)
	}
}

// appendLocked queues o unless the connection is stopped or o would take
// the queue past MaxQueuedBytes (which stops it as a slow consumer).
func (c *conn) appendLocked(o out) bool {
	if c.dead {
		return false
	}
	size := len(o.w.b)
	if c.qBytes+size > c.g.cfg.MaxQueuedBytes {
		c.stopLocked(ErrSlowConsumer, nil)
		return false
	}
	c.q = append(c.q, o)
	c.qBytes += size
	return true
}

// reply queues a packet for this client alone (an acknowledgement, a
// response, an error report). Only the connection's handler calls it; it
// writes the replies to the packets it handled, with whatever else is
// queued, in one write when it is done with them (flushInline): no
// hand-off to a flush worker, no coalescing delay.
func (c *conn) reply(b []byte) { c.replyWire(&wire{b: b}) }

// replyWire is reply for a PUBLISH (a QoS 1 one gets its identifier when
// written).
func (c *conn) replyWire(w *wire) {
	c.mu.Lock()
	if c.appendLocked(out{w: w}) {
		c.urgent = true
	}
	c.mu.Unlock()
}

// kickLocked makes sure a flush pass will write the queue: at once when
// the connection is idle or a reply waits; when it wrote less than the
// coalescing delay ago and the gateway is busy, once a second packet joins
// the first or the delay has passed, whichever comes first (flush.go).
func (c *conn) kickLocked(urgent bool) {
	switch c.fstate {
	case fIdle:
		if !urgent && len(c.q) < coalesceBatch {
			if d := c.g.fl.delay(); d > 0 {
				if now := time.Now().UnixNano(); now-c.lastFlush < d {
					c.fstate = fDelayed
					c.fgen++
					c.g.fl.after(c, c.fgen, now+d)
					return
				}
			}
		}
		c.fstate = fQueued
		c.g.fl.now(c)
	case fDelayed:
		if urgent || len(c.q) >= coalesceBatch {
			c.fgen++ // the delayed entry is stale now
			c.fstate = fQueued
			c.g.fl.now(c)
		}
	case fRunning:
		c.urgent = c.urgent || urgent
	}
}

// coalesceBatch is how many packets end a coalescing delay: the write
// they share halves the cost of each, and waiting for more would only add
// latency (under heavier load the flushers lag and batches grow anyway).
const coalesceBatch = 2

// flushInline writes what is queued from the handler's goroutine (replies
// leave without a hand-off), unless a flush pass has it already: a queued
// one writes it soon, a running one goes again at once (urgent).
func (c *conn) flushInline() {
	c.mu.Lock()
	switch {
	case c.fstate == fQueued:
	case c.fstate == fRunning:
		c.urgent = c.urgent || len(c.q) > 0
	case len(c.q) == 0 && c.bye == nil:
	default:
		if c.fstate == fDelayed {
			c.fgen++ // the delayed entry is stale now
		}
		c.fstate = fRunning
		c.mu.Unlock()
		c.flushPass()
		return
	}
	c.mu.Unlock()
}

// flushPass writes everything queued in one write (one WebSocket frame).
// QoS 1 packets get their identifier and are registered in the client's
// inflight store first, so that they are resent (DUP) if the client comes
// back with its session before acknowledging them.
func (c *conn) flushPass() {
	c.mu.Lock()
	c.fstate = fRunning
	c.urgent = false
	q := c.q
	c.q, c.qBytes = nil, 0
	bye := c.bye
	dead := c.dead
	cl := c.cl
	c.bye = nil
	if c.space != nil {
		c.space.Broadcast()
	}
	c.mu.Unlock()

	var rest []out // QoS 1 packets beyond the client's Receive Maximum
	bp := getBuf()
	buf := (*bp)[:headroom]
	var seen []out // QoS 0 messages of a persistent session: seen once written
	if !dead && len(q) > 0 {
		buf, rest, seen = c.appendQueue(cl, buf, q)
	}
	if bye != nil {
		buf = append(buf, bye...)
	}
	var err error
	if len(buf) > headroom {
		err = c.write(buf)
		if err == nil {
			c.g.fl.wrote(len(q))
		}
	}
	putBuf(bp, buf)
	if err == nil && len(seen) > 0 {
		cl.markSeenAll(c, seen)
	}

	c.mu.Lock()
	c.lastFlush = time.Now().UnixNano()
	c.fstate = fIdle
	if err != nil && !c.dead {
		cause := error(errors.Join(errors.New("mqttgw: write failed"), err))
		if errors.Is(err, nbio.ErrOverflow) {
			cause = ErrSlowConsumer
		}
		c.stopLocked(cause, nil) // shuts the transport
		c.mu.Unlock()
		return
	}
	if c.dead {
		if c.bye != nil { // a DISCONNECT was queued during this pass
			c.kickLocked(true)
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		c.shutdown()
		return
	}
	if len(rest) > 0 {
		c.q = append(rest, c.q...)
		for _, o := range rest {
			c.qBytes += len(o.w.b)
		}
		if len(c.q) > len(rest) || c.urgent { // more than the held packets: write those
			c.kickLocked(c.urgent)
		}
	} else if len(c.q) > 0 {
		c.kickLocked(c.urgent)
	}
	c.mu.Unlock()
}

// appendQueue appends q's packets to buf. It returns the QoS 1 packets the
// client's window does not allow yet and the QoS 0 messages to record as
// seen once written.
func (c *conn) appendQueue(cl *client, buf []byte, q []out) (_ []byte, rest, seen []out) {
	if cl == nil { // before CONNECT: CONNACK only
		for _, o := range q {
			buf = append(buf, o.w.b...)
		}
		return buf, nil, nil
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if c.detachedLocked() {
		return buf, nil, nil // its client id lives on another connection now
	}
	for i, o := range q {
		if c.maxOut > 0 && len(o.w.b) > int(c.maxOut) {
			continue // [MQTT-3.1.2-25]: larger than the client accepts
		}
		if o.w.idAt == 0 {
			buf = append(buf, o.w.b...)
			if o.room != "" && cl.seen != nil {
				seen = append(seen, o)
			}
			continue
		}
		if len(cl.inflight) >= int(c.recvMax) {
			if int(c.recvMax) >= c.g.cfg.MaxInflight {
				c.mu.Lock()
				c.stopLocked(ErrSlowConsumer, nil)
				c.mu.Unlock()
				return buf, nil, nil
			}
			return buf, q[i:], seen // the client's own window: wait for PUBACKs
		}
		id := cl.register(o)
		buf = o.w.appendTo(buf, id, false)
	}
	return buf, nil, seen
}

// detachedLocked reads detached, which is written under both locks.
func (c *conn) detachedLocked() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.detached
}

// headroom is reserved in front of a write buffer for a WebSocket frame
// header (at most 10 bytes for a server frame).
const headroom = 10

// write writes buf[headroom:] (as one binary frame for WebSocket). On the
// event loop it never blocks (nbio keeps what the kernel does not take, up
// to MaxQueuedBytes); TLS writes block, with a deadline.
func (c *conn) write(buf []byte) error {
	start := headroom
	if c.kind.websocket() {
		n := len(buf) - headroom
		var h []byte
		switch {
		case n < 126:
			h = []byte{0x82, byte(n)}
		case n < 1<<16:
			h = []byte{0x82, 126, byte(n >> 8), byte(n)}
		default:
			h = []byte{0x82, 127, 0, 0, 0, 0, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
		}
		start -= len(h)
		copy(buf[start:], h)
	}
	if c.kind.blocking() {
		_ = c.nc.SetWriteDeadline(time.Now().Add(c.g.cfg.WriteTimeout))
	}
	_, err := c.nc.Write(buf[start:])
	return err
}

// bufs recycles write buffers: a connection holds one only during a pass.
var bufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func getBuf() *[]byte { return bufs.Get().(*[]byte) }

func putBuf(bp *[]byte, b []byte) {
	if cap(b) <= 64<<10 {
		*bp = b[:0]
		bufs.Put(bp)
	}
}

// --- closing -------------------------------------------------------------------

// stopLocked ends the connection with cause (the first cause wins):
// nothing more is queued, what was queued is dropped, and the transport is
// shut once bye (an MQTT 5 DISCONNECT, or nil) is written. Safe under
// chat's locks: it never blocks.
func (c *conn) stopLocked(cause error, bye []byte) {
	if c.dead {
		return
	}
	c.dead = true
	c.stopErr = cause
	c.q, c.qBytes = nil, 0
	if c.space != nil {
		c.space.Broadcast()
	}
	if cause == ErrSlowConsumer {
		c.g.stats.slow.Add(1)
		c.g.logInfo("mqttgw: slow consumer closed", c)
	}
	if bye != nil {
		c.bye = bye
		c.kickLocked(true)
		return
	}
	if c.fstate == fRunning || c.fstate == fQueued {
		return // the pass in progress shuts it when done
	}
	c.g.spawn(c.shutdown) // not under the caller's locks
}

// stop is stopLocked for callers without mu.
func (c *conn) stop(cause error, bye []byte) {
	c.mu.Lock()
	c.stopLocked(cause, bye)
	c.mu.Unlock()
}

// fail ends the connection for a protocol error: an MQTT 5 client (past
// CONNECT) is told the reason in a DISCONNECT first (MQTT 4.13).
func (c *conn) fail(cause error, code packets.Code) {
	var bye []byte
	if c.v == 5 && c.stage == stageConnected && code.Code >= 0x80 {
		bye = c.disconnectPacket(code)
	}
	c.stop(cause, bye)
}

// stopTelling is stop for causes MQTT 5 clients are told in a DISCONNECT
// with code (kicks, takeovers, shutdown): safe from any goroutine.
func (c *conn) stopTelling(cause error, code packets.Code) {
	c.mu.Lock()
	c.stopTellingLocked(cause, code)
	c.mu.Unlock()
}

func (c *conn) stopTellingLocked(cause error, code packets.Code) {
	var bye []byte
	if c.isV5 && c.cl != nil {
		bye = c.disconnectPacket(code)
	}
	c.stopLocked(cause, bye)
}

// disconnectPacket is an MQTT 5 DISCONNECT with reason code.
func (c *conn) disconnectPacket(code packets.Code) []byte {
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}, ProtocolVersion: 5, ReasonCode: code.Code}
	return encode(&pk)
}

// shutdown ends the transport. A connection on the event loop is shut down
// (shutdown(2), not closed): the poller sees the hang-up and closes the
// descriptor itself, so that a descriptor number is never reused while the
// poller may still hold an event for it (the stale hang-up events of
// docs/architecture.md, Known issues). TLS connections are closed (their
// reading goroutine then ends), on a goroutine: closing TLS writes.
func (c *conn) shutdown() {
	switch c.kind {
	case tcpLoop, wsLoop:
		nbc, _ := c.nc.(*nbio.Conn)
		if nbc == nil {
			return
		}
		if c.kind == wsLoop {
			_, _ = nbc.Write(wsCloseFrame)
		}
		nbc.Lock()
		if closed, _ := nbc.IsClosed(); !closed {
			_ = syscall.Shutdown(nbc.Hash(), syscall.SHUT_RDWR)
		}
		nbc.Unlock()
	default:
		if c.kind == wsBlock {
			_ = c.nc.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = c.nc.Write(wsCloseFrame)
		}
		if tc, ok := c.nc.(*tls.Conn); ok {
			_ = tc.NetConn().SetDeadline(time.Now().Add(time.Second))
		}
		_ = c.nc.Close()
	}
}

// wsCloseFrame is a WebSocket close frame with status 1000.
var wsCloseFrame = []byte{0x88, 2, 0x03, 0xe8}

// transportClosed runs once the transport is closed, after the packets read
// before were handled (on the connection's executor, or its reading
// goroutine): it ends the chat session and releases what the connection
// held.
func (c *conn) transportClosed(err error) {
	c.published.Load()
	if !c.ended.CompareAndSwap(false, true) {
		return
	}
	c.mu.Lock()
	if !c.dead {
		c.dead = true
		c.stopErr = err
		if c.stopErr == nil {
			c.stopErr = net.ErrClosed
		}
	}
	c.q, c.qBytes, c.hold = nil, 0, nil
	if c.space != nil {
		c.space.Broadcast()
	}
	cause := c.stopErr
	c.mu.Unlock()
	c.g.ka.remove(c)
	if c.session() != nil {
		c.endSession(cause)
	}
	c.stage = stageClosing
	if c.kind.blocking() {
		_ = c.nc.Close()
	}
	c.release()
	c.g.live.Done()
}
