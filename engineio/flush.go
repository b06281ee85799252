package engineio

import (
	"sync"
	"sync/atomic"
	"time"
)

// Writing WebSocket sessions.
//
// Whatever is queued for a session goes out in one write. Who writes:
//
//   - SendMany with nothing in flight writes inline, on the caller's
//     goroutine (acks and other replies: one write, no hand-off);
//   - otherwise a flush is scheduled (the session's flushing flag says one
//     is scheduled or running, so a session is flushed by one goroutine at
//     a time and frames are never reordered) and one of the flush workers
//     writes it (GOMAXPROCS goroutines draining flushQ);
//   - a blocking (TLS) connection's flush runs on a goroutine of its own:
//     its writes may block, never on a shared worker.
//
// Coalescing under load. A write to a socket costs the same system call
// and the same kernel work (and, on loopback or a busy peer, a wake-up)
// whether it carries one frame or twenty, so under load the cost per
// delivered frame is set by how many frames one write carries. When
// senders are synchronized that happens by itself: a burst of broadcasts
// queues several frames per session before its flush runs. Chat traffic is
// not synchronized: messages from independent users arrive one by one, and
// each broadcast would cost one write per recipient. So the pacer (below)
// measures the frames written per second and, past
// Config.WriteDelayAbove, holds the flush of a hot session (one that wrote
// in the current pacing period and in each of the two before it) until the
// next period starts: a session with a steady stream of frames gets about
// one write per period, carrying everything that arrived meanwhile. The
// period (the write delay) grows with the load up to Config.MaxWriteDelay.
// Any other session is flushed at once, so when the server or the session
// is quiet no frame waits, an isolated burst goes out as it comes (its
// frames coalesce by themselves), and a frame waits at most one period.

// flushBufs recycles the scratch buffers of inline flushes.
var flushBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func getFlushBuf() *[]byte { return flushBufs.Get().(*[]byte) }

// putFlushBuf returns buf (the grown contents of bp) to the pool, unless it
// grew too large to keep.
func putFlushBuf(bp *[]byte, buf []byte) {
	if cap(buf) <= 64<<10 {
		*bp = buf
		flushBufs.Put(bp)
	}
}

// appendFrames appends the WebSocket frames of ms.
func appendFrames(buf []byte, ms []*Message, protocol int) []byte {
	for _, m := range ms {
		buf = append(buf, m.wsFrame(protocol)...)
	}
	return buf
}

// flushWorker writes queued packets of WebSocket sessions. It tallies
// what it wrote locally and adds it to the shared counters when it runs
// out of work or every tallyBatch writes, so a broadcast's writes touch no
// shared cache line.
func (s *Server) flushWorker() {
	defer s.workers.Done()
	var buf []byte
	var tally sendTally
	defer tally.publish(&s.stats)
	for {
		var sess *Socket
		select {
		case sess = <-s.flushQ:
		default:
			tally.publish(&s.stats) // idle: make the counters current
			select {
			case sess = <-s.flushQ:
			case <-s.stop:
				// Drain what is left so no session waits forever.
				for {
					select {
					case sess := <-s.flushQ:
						buf = sess.flushWS(buf[:0], &tally)
					default:
						return
					}
				}
			}
		}
		buf = sess.flushWS(buf[:0], &tally)
		if cap(buf) > 64<<10 {
			buf = nil // do not pin a huge buffer
		}
	}
}

// hotPeriods: a session that wrote in this pacing period and each of the
// two before it is hot (Socket.recent's bits).
const hotPeriods = 0b111

// flushSoon schedules the flush of sess, which has something new queued:
// at once, or at the start of the next pacing period if the server is
// pacing and sess is hot. The caller holds sess.mu and has set
// sess.flushing.
func (s *Server) flushSoon(sess *Socket) {
	if sess.recent&hotPeriods == hotPeriods && s.pace.window.Load() > 0 && sess.lastTick == s.pace.tick.Load() {
		if ws := sess.ws; ws == nil || !ws.Blocking() {
			select {
			case s.pace.held <- sess:
				return
			default: // more sessions held than the queue holds: write now
			}
		}
	}
	s.flushNow(sess)
}

// flushNow hands sess to a flush worker. The caller holds sess.mu and has
// set sess.flushing.
func (s *Server) flushNow(sess *Socket) {
	if ws := sess.ws; ws != nil && ws.Blocking() {
		// Its writes may block: never on a shared worker.
		go sess.flushWS(nil, nil)
		return
	}
	select {
	case s.flushQ <- sess:
	default:
		// The queue is full: flush on a goroutine of its own rather than block
		// the sender (who may hold locks of the layer above).
		go sess.flushWS(nil, nil)
	}
}

// flushWS writes everything queued for a WebSocket session, one write per
// batch, until the queue is empty. Only one flush runs per session at a time
// (the flushing flag stays set until the queue is found empty), so frames
// are never reordered. buf is scratch space, returned for reuse. What is
// written is counted in tally, or directly in the server's counters when
// tally is nil.
func (s *Socket) flushWS(buf []byte, tally *sendTally) []byte {
	for {
		s.mu.Lock()
		wc := s.ws
		q := s.takeQueueLocked()
		closing := s.state != stateOpen
		if len(q) == 0 && !closing {
			s.flushing = false
			s.mu.Unlock()
			return buf
		}
		if len(q) > 0 {
			t := s.srv.pace.tick.Load()
			if d := t - s.lastTick; d < 8 {
				s.recent = s.recent<<d | 1
			} else {
				s.recent = 1
			}
			s.lastTick = t
		}
		s.mu.Unlock()
		if wc == nil {
			s.mu.Lock()
			s.flushing = false
			s.mu.Unlock()
			return buf
		}
		buf = appendFrames(buf[:0], q, s.protocol)
		if len(buf) > 0 {
			if err := wc.write(buf); err != nil {
				s.Close(writeErrorReason(err))
				closing = true
			} else {
				tally.add(&s.srv.stats, len(q), len(buf))
			}
		}
		if closing {
			s.mu.Lock()
			s.flushing = false
			s.mu.Unlock()
			wc.close()
			s.finishClose()
			return buf
		}
	}
}

// pacer holds the flushes of busy sessions until the next pacing period
// (see the top of this file).
type pacer struct {
	// window is the current pacing period in nanoseconds; 0: every flush
	// is immediate.
	window atomic.Int64
	// tick numbers the pacing periods. A session records the tick of its
	// last write (Socket.lastTick); it starts at 1 so that a session that
	// never wrote is never held.
	tick atomic.Uint32
	// held are the sessions waiting for the next period (their flushing
	// flag is set: nobody else schedules them).
	held chan *Socket
	// pinned, when positive, is the period whatever the load (tests).
	pinned atomic.Int64
}

// paceSample is how often the pacer measures the load while it is not
// pacing.
const paceSample = 50 * time.Millisecond

// writeDelay returns the pacing period for a load of rate frames per
// second: none up to above, then growing linearly to max at 4×above.
func writeDelay(rate float64, above int, max time.Duration) time.Duration {
	if max <= 0 || rate <= float64(above) {
		return 0
	}
	f := (rate - float64(above)) / (3 * float64(above))
	if f >= 1 {
		return max
	}
	return time.Duration(f * float64(max))
}

// runPacer runs the pacer: at every period's end it releases the held sessions
// to the flush workers, measures the frames written per second (smoothed)
// and sets the next period.
func (s *Server) runPacer() {
	defer s.workers.Done()
	tc := s.stats.of(transportWebSocket)
	last, lastAt := tc.pktsOut.Load(), time.Now()
	rate := 0.0
	t := time.NewTimer(paceSample)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-s.stop:
			s.releaseHeld()
			return
		}
		s.pace.tick.Add(1)
		s.releaseHeld()
		now := time.Now()
		if dt := now.Sub(lastAt); dt >= time.Millisecond {
			n := tc.pktsOut.Load()
			r := float64(n-last) / dt.Seconds()
			rate = (rate + r) / 2 // smoothed over about two periods
			last, lastAt = n, now
		}
		w := writeDelay(rate, s.cfg.WriteDelayAbove, s.cfg.MaxWriteDelay)
		if p := s.pace.pinned.Load(); p > 0 {
			w = time.Duration(p)
		}
		s.pace.window.Store(int64(w))
		if w <= 0 {
			w = paceSample
		}
		t.Reset(w)
	}
}

// releaseHeld hands every held session to the flush workers.
func (s *Server) releaseHeld() {
	for {
		select {
		case sess := <-s.pace.held:
			sess.mu.Lock()
			s.flushNow(sess)
			sess.mu.Unlock()
		default:
			return
		}
	}
}
