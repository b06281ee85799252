package mqttgw

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/gateway/internal/conns"
	"github.com/banter-chat/banter/internal/evloop"
	"github.com/banter-chat/banter/internal/wsframe"
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

// conn is one MQTT network connection: the event loop's Conn (or one in
// blocking mode: TLS) and the loop's Handler.
//
// Its reading side (framer, WebSocket parser) is used by the loop's
// goroutine (OnData), or by the reading goroutine in blocking mode. Its
// packets are handled in order, one read's packets at a time: on a
// goroutine of the gateway's executor that exists while there are packets
// to handle (conns.Serial), or inline on the reading goroutine in blocking
// mode; the fields of the handling side are that handler's. The writing
// side is guarded by mu; writes are made by flush passes (a flush worker,
// the timer of a delayed flush, or the handler itself for its replies),
// one at a time.
//
// Lock order: client.mu before conn.mu before the evloop.Conn's own lock;
// chat calls are made holding none. Deliver runs under chat's locks and
// takes conn.mu only.
type conn struct {
	evloop.Conn

	g       *Gateway
	ws      *wsframe.Parser // MQTT over WebSocket: the client's frames; nil for MQTT over TCP
	release func()          // admission slot, released by the teardown

	// Handling side (the handler's), pointers.
	cl   *client                      // set under mu at CONNECT, before the chat session exists
	sess atomic.Pointer[chat.Session] // read by a connection taking this one over
	will *will

	// Writing side, guarded by mu.
	x         *connExtra
	q         []out
	lastFlush int64 // UnixNano of the last write

	// Reading side.
	fr framer
	in conns.Serial[input]

	mu sync.Mutex // the writing side's

	remote   remoteAddr    // for logs
	recvMax  uint16        // QoS 1 window: min(Config.MaxInflight, the client's Receive Maximum)
	maxOut   uint32        // MQTT 5 client's Maximum Packet Size (0: none)
	lastRead atomic.Uint32 // gateway clock (seconds) of the last bytes read
	kaLimit  atomic.Uint32 // seconds of silence tolerated (the sweeper checks)
	// inBacklog counts the bytes read and not yet handled.
	inBacklog atomic.Int32
	qBytes    int32  // bytes in q (mu)
	fgen      uint32 // generation of a delayed flush (mu)

	// Handling side, small.
	stage    uint8 // stageNew, stageConnected, stageClosing
	v        byte  // protocol version: 3, 4 or 5 (4 until CONNECT says)
	noReason bool  // MQTT 5 Request Problem Information = 0
	clean    bool  // ended by the client's DISCONNECT (no will)

	// Writing side, small (mu).
	fstate   uint8
	urgent   bool // a reply waits: the next pass is not delayed
	dead     bool // no more packets are queued
	detached bool // taken over by a newer connection of its client id (also read under client.mu)
	isV5     bool // an MQTT 5 client past CONNECT: told why it is disconnected
	ended    bool // teardown done
}

// remoteAddr is a client's address, kept in the conn without an
// allocation (a netip.AddrPort takes 32 bytes).
type remoteAddr struct {
	ip   [16]byte
	port uint16
}

func newRemoteAddr(ap netip.AddrPort) remoteAddr {
	return remoteAddr{ip: ap.Addr().As16(), port: ap.Port()}
}

func (r remoteAddr) String() string {
	return netip.AddrPortFrom(netip.AddrFrom16(r.ip).Unmap(), r.port).String()
}

// connExtra is the writing side's state that idle connections do not
// need, allocated on first use. Guarded by conn.mu.
type connExtra struct {
	bye     []byte // written before the connection is closed (a refusing CONNACK, an MQTT 5 DISCONNECT)
	stopErr error  // why it was stopped (first cause)
	space   *sync.Cond
	hold    map[string][]*chat.Event // rooms catching up: live messages wait here
}

// extraLocked returns c.x, allocated if need be. Called with mu held.
func (c *conn) extraLocked() *connExtra {
	if c.x == nil {
		c.x = new(connExtra)
	}
	return c.x
}

// input is what one read brought: complete packets, their size, and the
// framer's error (the stream is bad past those packets).
type input struct {
	pkts []rawPacket
	n    int
	err  error
}

// Connection stages.
const (
	stageNew uint8 = iota
	stageConnected
	stageClosing
)

func newConn(g *Gateway, ws bool, remote netip.AddrPort, release func()) *conn {
	c := &conn{g: g, release: release, remote: newRemoteAddr(remote), v: 4}
	if ws {
		c.ws = &wsframe.Parser{MaxMessage: g.cfg.MaxPacketBytes + g.cfg.MaxInputBytes}
	}
	c.lastRead.Store(g.clock.Load())
	c.kaLimit.Store(connectTimeout)
	c.SetHandler(c)
	return c
}

// addrPort is a connection's remote address as a value (no allocation
// kept per connection).
func addrPort(a net.Addr) netip.AddrPort {
	if ta, ok := a.(*net.TCPAddr); ok {
		ap := ta.AddrPort() // an IPv4 address in 16 bytes is IPv4-mapped IPv6 here
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	if a != nil {
		ap, _ := netip.ParseAddrPort(a.String())
		return ap
	}
	return netip.AddrPort{}
}

// remoteString returns the client's address for logs.
func (c *conn) remoteString() string { return c.remote.String() }

// --- reading -------------------------------------------------------------------

// OnData receives what was read (evloop.Handler): WebSocket frames are
// parsed first; the MQTT bytes are cut into packets at once (nothing is
// kept but an incomplete packet) and handled in order: on the executor,
// or inline in blocking mode (TLS: the connection's own reading
// goroutine).
func (c *conn) OnData(_ *evloop.Conn, b []byte) {
	c.lastRead.Store(c.g.clock.Load())
	if c.ws != nil {
		if err := c.ws.Feed(b, c.onFrame); err != nil {
			code := wsframe.CloseProtocolError
			var pe *wsframe.ProtocolError
			if errors.As(err, &pe) {
				code = pe.Code
			}
			c.g.logDebug("mqttgw: WebSocket protocol error", c, "err", err)
			c.stopWS(err, code)
		}
		return
	}
	c.feed(b)
}

// onFrame handles a WebSocket message or control frame: a binary message
// carries MQTT bytes, any number of packets or parts of one (MQTT 6.0).
func (c *conn) onFrame(op wsframe.Opcode, payload []byte) error {
	switch op {
	case wsframe.OpBinary:
		c.feed(payload)
	case wsframe.OpPing:
		_ = c.Write(wsframe.AppendFrame(nil, wsframe.OpPong, payload))
	case wsframe.OpPong:
	case wsframe.OpClose:
		code := wsframe.CloseCode(payload)
		if code == wsframe.CloseNoStatus {
			code = wsframe.CloseNormal
		}
		c.stopWS(errClientDisconnect, code)
	default: // text [MQTT-6.0.0-1]
		c.push(input{err: errTextFrame})
	}
	return nil
}

var errTextFrame = errors.New("mqttgw: text WebSocket frame")

// feed cuts MQTT bytes into packets and hands them on.
func (c *conn) feed(b []byte) {
	pkts, err := c.fr.feed(b, c.g.cfg.MaxPacketBytes, nil)
	if len(pkts) == 0 && err == nil {
		return
	}
	n := 0
	for _, p := range pkts {
		n += len(p.body) + 2
	}
	c.push(input{pkts: pkts, n: n, err: err})
}

// push hands a read's packets to the handler.
func (c *conn) push(in input) {
	if c.Blocking() {
		c.handle(in.pkts, in.err) // the connection's own goroutine
		return
	}
	if int(c.inBacklog.Add(int32(in.n))) > c.g.cfg.MaxInputBytes {
		// Handling cannot keep up with what this client sends (and the
		// event loop does not stop reading a connection): refuse it
		// rather than hold an unbounded backlog.
		c.stop(errFlood, nil)
		return
	}
	if c.in.Push(in) {
		c.g.exec.Go(c.run)
	}
}

// OnClose ends the connection after the packets it sent (evloop.Handler).
func (c *conn) OnClose(_ *evloop.Conn, err error) {
	if c.Blocking() {
		c.transportClosed(err) // after the inline handlers, on the reading goroutine
		return
	}
	if c.in.End(err) {
		c.g.exec.Go(c.run)
	}
}

// run handles the queued reads in order, then the end of the connection.
func (c *conn) run() {
	c.in.Run(func(in input) {
		c.handle(in.pkts, in.err)
		c.inBacklog.Add(-int32(in.n))
	}, c.transportClosed)
}

func (c *conn) isStopped() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dead
}

// tick is the sweeper's check, once a second: a client silent for longer
// than its limit (1.5 × its keepalive, or the CONNECT timeout) is
// disconnected.
func (c *conn) tick(now uint32) {
	if now-c.lastRead.Load() > c.kaLimit.Load() {
		c.expire()
	}
}

// --- closing -------------------------------------------------------------------

// stopLocked ends the connection with cause (the first cause wins):
// nothing more is queued, what was queued is dropped, and the transport is
// closed once bye (an MQTT 5 DISCONNECT, a refusing CONNACK, or nil) is
// written. Safe under chat's locks: it never blocks.
func (c *conn) stopLocked(cause error, bye []byte) {
	if c.dead {
		return
	}
	c.dead = true
	c.q, c.qBytes = nil, 0
	x := c.extraLocked()
	x.stopErr = cause
	if x.space != nil {
		x.space.Broadcast()
	}
	if cause == ErrSlowConsumer {
		c.g.stats.slow.Add(1)
		c.g.logInfo("mqttgw: slow consumer closed", c)
	}
	if bye != nil {
		x.bye = bye
		c.kickLocked(true)
		return
	}
	if c.fstate == fRunning || c.fstate == fQueued {
		return // the pass in progress closes it when done
	}
	c.closeTransport(cause)
}

// stop is stopLocked for callers without mu.
func (c *conn) stop(cause error, bye []byte) {
	c.mu.Lock()
	c.stopLocked(cause, bye)
	c.mu.Unlock()
}

// stopWS ends a WebSocket connection for a WebSocket-level reason: the
// close frame says code (the client's own close is answered with it).
func (c *conn) stopWS(cause error, code int) {
	c.mu.Lock()
	if !c.dead {
		c.dead = true
		c.q, c.qBytes = nil, 0
		x := c.extraLocked()
		x.stopErr = cause
		if x.space != nil {
			x.space.Broadcast()
		}
	}
	c.mu.Unlock()
	_ = c.Write(wsframe.AppendClose(nil, code, ""))
	c.CloseWhenSent()
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

// closeTransport closes the network connection of a stopped connection:
// what the event loop still holds is written first (a goodbye), except for
// a slow consumer, which is cut; a WebSocket gets a close frame. A
// connection in blocking mode is closed on a goroutine of its own (its
// writes block). The event loop then calls OnClose.
func (c *conn) closeTransport(cause error) {
	if c.Blocking() {
		c.g.spawn(func() { c.closeNow(cause) })
		return
	}
	c.closeNow(cause)
}

func (c *conn) closeNow(cause error) {
	if cause == ErrSlowConsumer {
		c.Close()
		return
	}
	if c.ws != nil {
		code := wsframe.CloseNormal
		if errors.Is(cause, errTextFrame) {
			code = wsframe.CloseUnsupported
		}
		_ = c.Write(wsframe.AppendClose(nil, code, ""))
	}
	c.CloseWhenSent()
}

// transportClosed runs once the transport is closed, after the packets read
// before were handled (on the executor, or the reading goroutine): it ends
// the chat session and releases what the connection held.
func (c *conn) transportClosed(err error) {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return
	}
	c.ended = true
	x := c.extraLocked()
	if !c.dead {
		c.dead = true
		x.stopErr = err
		if x.stopErr == nil {
			x.stopErr = net.ErrClosed
		}
	}
	c.q, c.qBytes, x.hold = nil, 0, nil
	if x.space != nil {
		x.space.Broadcast()
	}
	cause := x.stopErr
	c.mu.Unlock()
	if c.session() != nil {
		c.endSession(cause)
	}
	c.stage = stageClosing
	c.release()
	c.g.hub.Forget(c)
}
