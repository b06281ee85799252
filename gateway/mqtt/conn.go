package mqttgw

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/banter-chat/banter/chat"
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// ErrSlowConsumer is the stop cause of a client whose outbound queue went
// past Config.MaxQueuedBytes or whose unacknowledged QoS 1 messages went
// past Config.MaxInflight. Nothing is lost: a persistent session catches
// up from the store when it reconnects.
var ErrSlowConsumer = errors.New("mqttgw: slow consumer")

// state is what outlives one connection of an MQTT client id: the
// nickname it belongs to and, per room, the last Seq handed to the client
// (for catch-up when a persistent session reconnects). Guarded by mu.
type state struct {
	nick string // NickKey of the owner: the client id is bound to it
	cur  *conn  // the live connection; nil while offline (guarded by Gateway.mu)

	mu        sync.Mutex
	seen      map[string]int64
	dmTracked bool // the DM rooms existing at subscribe time are in seen
}

func newState(nickKey string) *state { return &state{nick: nickKey, seen: make(map[string]int64)} }

func (s *state) markSeen(room string, seq int64) {
	if room == "" {
		return
	}
	s.mu.Lock()
	if seq > s.seen[room] {
		s.seen[room] = seq
	}
	s.mu.Unlock()
}

func (s *state) lastSeen(room string) (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seq, ok := s.seen[room]
	return seq, ok
}

func (s *state) setSeen(room string, seq int64) {
	s.mu.Lock()
	s.seen[room] = seq
	s.mu.Unlock()
}

// out is one PUBLISH waiting for the connection's writer.
type out struct {
	topic   string
	payload []byte // shared between recipients: never modified
	qos     byte
	corr    []byte // MQTT 5 correlation data of a response
	room    string // with seq: a message, recorded as seen once written
	seq     int64
}

func (o *out) size() int { return len(o.topic) + len(o.payload) + len(o.corr) + 64 }

// conn is one MQTT connection and its chat session; it is the session's
// chat.Sink. Deliver only enqueues; a writer goroutine, started when the
// queue becomes non-empty and ended when it is drained, writes the packets
// with the mochi client's WritePacket (so an idle connection costs no
// goroutine of ours).
type conn struct {
	g    *Gateway
	cl   *mochi.Client
	st   *state
	nick string // as displayed
	me   string // NickKey
	v5   bool
	sess atomic.Pointer[chat.Session]

	qmu      sync.Mutex
	space    *sync.Cond // signalled when the writer takes a batch (catch-up waits on it)
	q        []out
	qBytes   int
	draining bool
	dead     bool                     // no more packets are accepted
	stopErr  error                    // set with dead: the writer stops the client with it
	bye      bool                     // send an MQTT 5 DISCONNECT (server shutting down) first
	hold     map[string][]*chat.Event // rooms catching up: live messages wait here
	writer   sync.WaitGroup
}

func newConn(g *Gateway, cl *mochi.Client, st *state, nick string) *conn {
	c := &conn{g: g, cl: cl, st: st, nick: nick, me: chat.NickKey(nick), v5: cl.Properties.ProtocolVersion == 5}
	c.space = sync.NewCond(&c.qmu)
	return c
}

func (c *conn) session() *chat.Session { return c.sess.Load() }

// subQoS returns the QoS to deliver on topic, and false if the client has
// no subscription to it. Chat messages are published at QoS 1, so a QoS 2
// subscription gets QoS 1 (the lower of the two, as MQTT says).
func (c *conn) subQoS(topic string) (packets.Subscription, byte, bool) {
	sub, ok := c.cl.State.Subscriptions.Get(topic)
	if !ok {
		return sub, 0, false
	}
	return sub, min(sub.Qos, 1), true
}

// Deliver implements chat.Sink: it runs with chat's locks held, so it only
// encodes (once per event, shared by all recipients) and enqueues.
func (c *conn) Deliver(ev *chat.Event) {
	switch ev.Kind {
	case chat.EventMessage:
		payload, err := ev.Encoded(keyJSON{}, encodeEvent)
		if err != nil {
			c.g.log.Error("mqttgw: cannot encode message", "err", err)
			return
		}
		c.qmu.Lock()
		if held, ok := c.hold[ev.Room]; ok {
			c.hold[ev.Room] = append(held, ev)
		} else {
			c.routeMessageLocked(ev.Message, payload)
		}
		c.qmu.Unlock()
	case chat.EventPresence, chat.EventTyping, chat.EventDeleted:
		t := PresenceTopic(ev.Room)
		if ev.Kind == chat.EventTyping {
			t = TypingTopic(ev.Room)
		}
		_, qos, ok := c.subQoS(t)
		if !ok {
			return
		}
		payload, err := ev.Encoded(keyJSON{}, encodeEvent)
		if err != nil {
			c.g.log.Error("mqttgw: cannot encode event", "kind", ev.Kind.String(), "err", err)
			return
		}
		c.qmu.Lock()
		c.pushLocked(out{topic: t, payload: payload, qos: qos}, ev.Kind == chat.EventTyping)
		c.qmu.Unlock()
	case chat.EventDisconnect:
		switch ev.Disconnect.Reason {
		case chat.ReasonReplaced:
			c.stop(packets.ErrSessionTakenOver, false)
		case chat.ReasonKicked:
			c.stop(packets.ErrAdministrativeAction, true)
		case chat.ReasonExpired:
			c.stop(packets.ErrMaxConnectTime, true) // MQTT 5 0xA0: the token's time is up
		default:
			c.stop(packets.ErrServerShuttingDown, true)
		}
	}
}

type keyJSON struct{}

// routeMessageLocked enqueues a message on every topic the client
// subscribed to that carries it: the room topic, and banter/dm for a DM.
func (c *conn) routeMessageLocked(m *chat.Message, payload []byte) {
	topics := [2]string{RoomTopic(m.Room)}
	if chat.IsDMRoom(m.Room) {
		topics[1] = TopicDM
	}
	for _, t := range topics {
		if t == "" {
			continue
		}
		sub, qos, ok := c.subQoS(t)
		if !ok || sub.NoLocal && chat.NickKey(m.Sender) == c.me { // MQTT 5 no-local
			continue
		}
		c.pushLocked(out{topic: t, payload: payload, qos: qos, room: m.Room, seq: m.Seq}, false)
	}
}

// pushLocked enqueues o. Lossy packets (typing) are dropped when packets
// are already waiting; anything else past MaxQueuedBytes ends the
// connection as a slow consumer (never a silent loss).
func (c *conn) pushLocked(o out, lossy bool) {
	if c.dead || lossy && len(c.q) > 0 {
		return
	}
	if c.qBytes+o.size() > c.g.cfg.MaxQueuedBytes {
		c.killLocked(ErrSlowConsumer, false)
		return
	}
	c.q = append(c.q, o)
	c.qBytes += o.size()
	c.startWriterLocked()
}

func (c *conn) startWriterLocked() {
	if c.draining {
		return
	}
	c.draining = true
	c.writer.Add(1)
	c.g.wg.Add(1)
	go c.drain()
}

// send enqueues a packet for this client alone (responses, errors) from the
// connection's own goroutine.
func (c *conn) send(o out) {
	c.qmu.Lock()
	c.pushLocked(o, false)
	c.qmu.Unlock()
}

func (c *conn) isDead() bool {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	return c.dead
}

// killLocked marks the connection dead; the writer (started if needed)
// stops the client with err.
func (c *conn) killLocked(err error, bye bool) {
	if c.dead {
		return
	}
	if err == ErrSlowConsumer {
		c.g.stats.slow.Add(1)
		c.g.log.Info("mqttgw: slow consumer closed", "client", c.cl.ID)
	}
	c.dead, c.stopErr, c.bye = true, err, bye && c.v5
	c.q, c.qBytes = nil, 0
	c.space.Broadcast()
	c.startWriterLocked()
}

// stop ends the connection with err (asynchronously: safe under chat's
// locks).
func (c *conn) stop(err error, bye bool) {
	c.qmu.Lock()
	c.killLocked(err, bye)
	c.qmu.Unlock()
}

// stopAndWait ends the connection and waits for its writer, so that
// nothing more is written or recorded as seen for it.
func (c *conn) stopAndWait(err error) {
	c.stop(err, false)
	c.writer.Wait()
}

// drain is the connection's writer: it runs while packets are queued.
func (c *conn) drain() {
	defer c.g.wg.Done()
	defer c.writer.Done()
	for {
		c.qmu.Lock()
		if c.dead || len(c.q) == 0 {
			c.draining = false
			err, bye := c.stopErr, c.bye
			c.stopErr = nil
			c.qmu.Unlock()
			if err != nil {
				if bye {
					// MQTT 5 DISCONNECT with the reason: the code of err
					// (administrative action, maximum connect time…),
					// else "server shutting down".
					code := packets.ErrServerShuttingDown.Code
					var pc packets.Code
					if errors.As(err, &pc) {
						code = pc.Code
					}
					_ = c.cl.WritePacket(packets.Packet{
						FixedHeader: packets.FixedHeader{Type: packets.Disconnect},
						ReasonCode:  code,
					})
				}
				c.cl.Stop(err)
			}
			return
		}
		batch := c.q
		c.q, c.qBytes = nil, 0
		c.space.Broadcast()
		c.qmu.Unlock()
		for i := range batch {
			// Checked per packet: after a takeover nothing more may be
			// recorded as seen for this connection.
			if c.isDead() || !c.write(&batch[i]) {
				break
			}
		}
	}
}

// write sends one PUBLISH. A QoS 1 packet is registered in mochi's
// inflight store first, so that mochi resends it (DUP) if the client
// reconnects with its session before acknowledging it; that is why it
// counts as seen even if the write fails. A QoS 0 packet counts only once
// written.
func (c *conn) write(o *out) bool {
	pk := packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: o.qos},
		TopicName:   o.topic,
		Payload:     o.payload,
		Created:     time.Now().Unix(),
	}
	if o.corr != nil {
		pk.Properties.CorrelationData = o.corr
	}
	if o.qos > 0 {
		if c.cl.State.Inflight.Len() >= c.g.cfg.MaxInflight {
			c.stop(ErrSlowConsumer, false)
			return false
		}
		id, err := c.cl.NextPacketID()
		if err != nil {
			c.stop(ErrSlowConsumer, false)
			return false
		}
		pk.PacketID = uint16(id)
		if c.cl.State.Inflight.Set(pk) {
			atomic.AddInt64(&c.g.srv.Info.Inflight, 1)
		}
		c.st.markSeen(o.room, o.seq)
		return c.cl.WritePacket(pk) == nil
	}
	if err := c.cl.WritePacket(pk); err != nil {
		return false
	}
	c.st.markSeen(o.room, o.seq)
	return true
}

// --- rooms -------------------------------------------------------------------

// joinFresh makes the session a member of room for a new subscription:
// the client receives what is sent from now on (MQTT semantics; older
// messages are a history request away).
func (c *conn) joinFresh(ctx context.Context, room string) error {
	sess := c.session()
	res, err := sess.Join(ctx, room, chat.JoinOptions{Limit: 1})
	if err != nil {
		return err
	}
	c.st.setSeen(room, res.LastSeq)
	return nil
}

// catchUp joins room and hands the client every message after Seq after
// (at most Config.MaxCatchUp, the newest), then the live ones, in order and
// once: live messages are held while the stored ones are read.
func (c *conn) catchUp(ctx context.Context, room string, after int64) error {
	sess := c.session()
	c.qmu.Lock()
	if c.hold == nil {
		c.hold = make(map[string][]*chat.Event)
	}
	if _, busy := c.hold[room]; busy {
		c.qmu.Unlock()
		return nil
	}
	c.hold[room] = nil
	c.qmu.Unlock()
	last := after
	defer c.release(room, &last)

	res, err := sess.Join(ctx, room, chat.JoinOptions{CatchUp: true, After: after})
	if err != nil {
		return err
	}
	if res.LastSeq-after > int64(c.g.cfg.MaxCatchUp) {
		last = res.LastSeq - int64(c.g.cfg.MaxCatchUp)
		res.Messages, res.More = nil, true
	}
	msgs := res.Messages
	for {
		for i := range msgs {
			m := &msgs[i]
			if m.Seq <= last || m.Seq > res.LastSeq {
				continue
			}
			c.qmu.Lock()
			c.routeMessageWaitLocked(m)
			c.qmu.Unlock()
			last = m.Seq
		}
		if last >= res.LastSeq {
			return nil
		}
		if msgs, err = sess.Since(ctx, room, last, 0); err != nil {
			return err
		}
		if len(msgs) == 0 {
			return nil
		}
	}
}

// routeMessageWaitLocked is routeMessageLocked for a stored message, paced
// by the writer.
func (c *conn) routeMessageWaitLocked(m *chat.Message) {
	for !c.dead && c.qBytes > c.g.cfg.MaxQueuedBytes/2 {
		c.space.Wait()
	}
	c.routeMessageLocked(m, mustJSON(m))
}

// release ends a catch-up: the held live messages after the last one
// handed over are enqueued, under the lock, so none can pass them.
func (c *conn) release(room string, last *int64) {
	c.qmu.Lock()
	held := c.hold[room]
	delete(c.hold, room)
	for _, ev := range held {
		if ev.Message.Seq > *last {
			payload, err := ev.Encoded(keyJSON{}, encodeEvent)
			if err == nil {
				c.routeMessageLocked(ev.Message, payload)
			}
		}
	}
	c.qmu.Unlock()
}

// roomSubscribed reports whether any of room's topics is still subscribed.
func (c *conn) roomSubscribed(room string) bool {
	for _, t := range [...]string{RoomTopic(room), PresenceTopic(room), TypingTopic(room)} {
		if _, ok := c.cl.State.Subscriptions.Get(t); ok {
			return true
		}
	}
	return false
}
