package engineio

import "sync/atomic"

// Stats is a snapshot of a Server's counters, for metrics. Counters
// (everything but the Open fields) only grow for the life of the Server.
//
// They are plain atomics updated where the event happens: one add per
// session opened or closed, per upgrade, per received frame or POST, per
// polling response and per inline write (an ack). The flush workers, which
// write broadcasts, tally locally and add to the counters when idle or
// every 64 writes: the fan-out touches no shared counter per recipient,
// and WebSocket sent counts may lag by that much while the server is busy.
// Reading them costs nothing to the connections.
type Stats struct {
	Polling   TransportStats
	WebSocket TransportStats
	// Upgrades counts sessions switched from polling to WebSocket.
	Upgrades uint64
	// Closes counts sessions closed, by reason, from the moment the close
	// is decided (a polling session may still wait up to a heartbeat for
	// its client to fetch what was queued). Every Reason in Reasons is a
	// key (zero included); a reason outside that list counts as
	// ReasonOther.
	Closes map[Reason]uint64
	// Refused counts requests answered with an Engine.IO error (bad
	// transport, unknown session, forbidden…), by code.
	Refused map[ErrorCode]uint64
}

// TransportStats are the counters of one transport. A session counts on
// the transport it was opened with for Handshakes, and on the one it uses
// now for Open.
type TransportStats struct {
	Open            int64  // sessions open now on this transport
	Handshakes      uint64 // sessions opened on this transport
	PacketsReceived uint64 // every Engine.IO packet (message, ping, pong, close…)
	PacketsSent     uint64
	BytesReceived   uint64 // frame or POST body payload bytes
	BytesSent       uint64 // bytes handed to the transport (WebSocket frames with headers, polling bodies)
	// Writes counts the writes that carried PacketsSent: WebSocket writes
	// (one write carries everything queued for a session: flush.go) and
	// polling responses.
	Writes uint64
}

// ReasonOther is the Stats.Closes key of a reason the package does not
// define (an application's own reason given to Socket.Close).
const ReasonOther Reason = "other"

// Reasons lists the close reasons this package reports, in a stable order
// (for metrics labels).
var Reasons = reasonList[:]

var reasonList = [...]Reason{
	ReasonTransportClose, ReasonTransportError, ReasonPingTimeout, ReasonForcedClose,
	ReasonServerShutdown, ReasonParseError, ReasonPayloadTooLarge, ReasonSlowConsumer,
	ReasonOverlappingPolls, ReasonOther,
}

// ErrorCodes lists the request error codes, in order.
var ErrorCodes = []ErrorCode{
	ErrUnknownTransport, ErrUnknownSID, ErrBadHandshakeMethod, ErrBadRequest,
	ErrForbidden, ErrUnsupportedProtocolVersion,
}

// reasonIndex maps a reason to its slot in Reasons (a linear scan of ten
// strings, once per closed session).
func reasonIndex(r Reason) int {
	for i, x := range reasonList[:len(reasonList)-1] {
		if x == r {
			return i
		}
	}
	return len(reasonList) - 1
}

type transportCounters struct {
	open              atomic.Int64
	handshakes        atomic.Uint64
	pktsIn, pktsOut   atomic.Uint64
	bytesIn, bytesOut atomic.Uint64
	writes            atomic.Uint64
}

func (c *transportCounters) snapshot() TransportStats {
	return TransportStats{
		Open:            c.open.Load(),
		Handshakes:      c.handshakes.Load(),
		PacketsReceived: c.pktsIn.Load(),
		PacketsSent:     c.pktsOut.Load(),
		BytesReceived:   c.bytesIn.Load(),
		BytesSent:       c.bytesOut.Load(),
		Writes:          c.writes.Load(),
	}
}

// counters are a Server's statistics.
type counters struct {
	transport [2]transportCounters // by transportKind
	upgrades  atomic.Uint64
	closes    [len(reasonList)]atomic.Uint64 // by reasonIndex
	refused   [6]atomic.Uint64               // by ErrorCode
}

func (c *counters) of(t transportKind) *transportCounters { return &c.transport[t] }

func (c *counters) refuse(code ErrorCode) {
	if int(code) >= 0 && int(code) < len(c.refused) {
		c.refused[code].Add(1)
	}
}

// Stats returns the server's counters. It is cheap (atomic loads) and safe
// to call at any time, during and after Shutdown.
func (s *Server) Stats() Stats {
	st := Stats{
		Polling:   s.stats.of(transportPolling).snapshot(),
		WebSocket: s.stats.of(transportWebSocket).snapshot(),
		Upgrades:  s.stats.upgrades.Load(),
		Closes:    make(map[Reason]uint64, len(Reasons)),
		Refused:   make(map[ErrorCode]uint64, len(ErrorCodes)),
	}
	for i, r := range reasonList {
		st.Closes[r] = s.stats.closes[i].Load()
	}
	for _, c := range ErrorCodes {
		st.Refused[c] = s.stats.refused[c].Load()
	}
	return st
}

// Backlog reports the bytes queued for clients and not yet handed to a
// transport: the sum over open sessions and the largest single queue (a
// session past Config.MaxBufferedBytes is closed as a slow consumer). It
// visits every session, taking each one's lock briefly, so it costs time
// in proportion to the open sessions (about a millisecond for 20,000):
// call it at scrape time, not on a hot path.
func (s *Server) Backlog() (total, largest int64) {
	s.mu.RLock()
	all := make([]*Socket, 0, len(s.sessions))
	for _, sess := range s.sessions {
		all = append(all, sess)
	}
	s.mu.RUnlock()
	for _, sess := range all {
		sess.mu.Lock()
		n := int64(sess.queuedBytes)
		sess.mu.Unlock()
		total += n
		largest = max(largest, n)
	}
	return total, largest
}

// sendTally accumulates a flush worker's WebSocket writes before they are
// added to the shared counters (at most tallyBatch writes late, or when
// the worker goes idle).
type sendTally struct {
	writes      int
	pkts, bytes uint64
}

const tallyBatch = 64

// add counts one write; a nil tally counts it in c at once.
func (t *sendTally) add(c *counters, pkts, bytes int) {
	if t == nil {
		tc := c.of(transportWebSocket)
		tc.pktsOut.Add(uint64(pkts))
		tc.bytesOut.Add(uint64(bytes))
		tc.writes.Add(1)
		return
	}
	t.writes++
	t.pkts += uint64(pkts)
	t.bytes += uint64(bytes)
	if t.writes >= tallyBatch {
		t.publish(c)
	}
}

func (t *sendTally) publish(c *counters) {
	if t.writes == 0 {
		return
	}
	tc := c.of(transportWebSocket)
	tc.pktsOut.Add(t.pkts)
	tc.bytesOut.Add(t.bytes)
	tc.writes.Add(uint64(t.writes))
	*t = sendTally{}
}

func (c *counters) opened(t transportKind) {
	tc := c.of(t)
	tc.open.Add(1)
	tc.handshakes.Add(1)
}

// upgraded is called under the session's lock as it switches transport.
func (c *counters) upgraded() {
	c.upgrades.Add(1)
	c.of(transportPolling).open.Add(-1)
	c.of(transportWebSocket).open.Add(1)
}

// ending counts a session's close reason when it is decided (a polling
// session may then wait up to a heartbeat for its client to fetch the
// close packet before it is gone from Open).
func (c *counters) ending(r Reason) {
	c.closes[reasonIndex(r)].Add(1)
}
