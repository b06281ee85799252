package mqttgw

import (
	"context"
	"sync"

	"github.com/banter-chat/banter/chat"
	"github.com/mochi-mqtt/server/v2/packets"
)

// Deliver implements chat.Sink. It runs with chat's locks held, so it only
// looks the client's subscriptions up and enqueues: the PUBLISH is encoded
// once per event and wire form (version, QoS, topic) and its bytes shared
// by every recipient (chat.Event.Cached); a QoS 1 packet gets its
// identifier when written.
func (c *conn) Deliver(ev *chat.Event) {
	cl := c.cl
	switch ev.Kind {
	case chat.EventMessage:
		c.mu.Lock()
		if held, ok := c.held(ev.Room); ok {
			c.x.hold[ev.Room] = append(held, ev)
		} else {
			c.routeMessageLocked(ev)
		}
		c.mu.Unlock()
	case chat.EventPresence, chat.EventTyping, chat.EventDeleted:
		kind := kindPresence
		if ev.Kind == chat.EventTyping {
			kind = kindTyping
		}
		s, ok := cl.sub(kind, ev.Room)
		if !ok {
			return
		}
		w, err := c.eventWire(ev, kind, min(s.qos, 1))
		if err != nil {
			c.g.logError("mqttgw: cannot encode event", "kind", ev.Kind.String(), "err", err)
			return
		}
		c.mu.Lock()
		if ev.Kind == chat.EventTyping && len(c.q) > 0 {
			c.mu.Unlock()
			return // lossy: dropped when the client has a backlog
		}
		c.pushLocked(out{w: w}, false)
		c.mu.Unlock()
	case chat.EventDisconnect:
		switch ev.Disconnect.Reason {
		case chat.ReasonReplaced: // a reconnect of the user took the session over
			c.stopTelling(packets.ErrSessionTakenOver, packets.ErrSessionTakenOver)
		case chat.ReasonKicked:
			c.stopTelling(packets.ErrAdministrativeAction, packets.ErrAdministrativeAction)
		case chat.ReasonExpired:
			c.stopTelling(packets.ErrMaxConnectTime, packets.ErrMaxConnectTime) // MQTT 5 0xA0: the token's time is up
		default:
			c.stopTelling(packets.ErrServerShuttingDown, packets.ErrServerShuttingDown)
		}
	}
}

// held returns the live messages of room held while it catches up, and
// whether it does. Called with mu held.
func (c *conn) held(room string) ([]*chat.Event, bool) {
	if c.x == nil || c.x.hold == nil {
		return nil, false
	}
	evs, ok := c.x.hold[room]
	return evs, ok
}

// routeMessageLocked enqueues a live message on every subscribed topic that
// carries it: the room topic, and banter/dm for a DM. Called with mu held.
func (c *conn) routeMessageLocked(ev *chat.Event) {
	m := ev.Message
	c.routeLocked(m, func(kind topicKind, qos byte) (*wire, error) { return c.eventWire(ev, kind, qos) })
}

// routeLocked enqueues message m on its subscribed topics, with the wire
// enc builds. Called with mu held.
func (c *conn) routeLocked(m *chat.Message, enc func(kind topicKind, qos byte) (*wire, error)) {
	cl := c.cl
	for _, kind := range [2]topicKind{kindRoom, kindDM} {
		room := m.Room
		if kind == kindDM {
			if !chat.IsDMRoom(m.Room) {
				break
			}
			room = ""
		}
		s, ok := cl.sub(kind, room)
		if !ok || s.noLocal && chat.NickKey(m.Sender) == cl.nick { // MQTT 5 no-local
			continue
		}
		w, err := enc(kind, min(s.qos, 1))
		if err != nil {
			c.g.logError("mqttgw: cannot encode message", "err", err)
			continue
		}
		c.pushLocked(out{w: w, room: m.Room, seq: m.Seq}, false)
	}
}

// wireKey names one encoding of an event's PUBLISH.
type wireKey struct {
	v, qos byte
	kind   topicKind
}

type keyJSON struct{}

// eventWire returns the PUBLISH of ev on its topic of kind, encoded once per
// event for every recipient of the same protocol version and QoS.
func (c *conn) eventWire(ev *chat.Event, kind topicKind, qos byte) (*wire, error) {
	payload, err := ev.Encoded(keyJSON{}, encodeEvent)
	if err != nil {
		return nil, err
	}
	v := c.wireVersion()
	x, err := ev.Cached(wireKey{v: v, qos: qos, kind: kind}, func(ev *chat.Event) (any, error) {
		return newWire(v, qos, eventTopic(ev, kind), payload, nil), nil
	})
	if err != nil {
		return nil, err
	}
	return x.(*wire), nil
}

func eventTopic(ev *chat.Event, kind topicKind) string {
	switch kind {
	case kindDM:
		return TopicDM
	case kindPresence:
		return PresenceTopic(ev.Room)
	case kindTyping:
		return TypingTopic(ev.Room)
	}
	return RoomTopic(ev.Room)
}

// --- rooms -------------------------------------------------------------------

// joinFresh makes the session a member of room for a new subscription:
// the client receives what is sent from now on (MQTT semantics; older
// messages are a history request away).
func (c *conn) joinFresh(ctx context.Context, room string) error {
	res, err := c.session().Join(ctx, room, chat.JoinOptions{Limit: 1})
	if err != nil {
		return err
	}
	c.cl.setSeen(room, res.LastSeq)
	return nil
}

// catchUp joins room and hands the client every message after Seq after
// (at most Config.MaxCatchUp, the newest), then the live ones, in order and
// once: live messages are held while the stored ones are read.
func (c *conn) catchUp(ctx context.Context, room string, after int64) error {
	sess := c.session()
	c.mu.Lock()
	x := c.extraLocked()
	if x.hold == nil {
		x.hold = make(map[string][]*chat.Event)
	}
	if _, busy := x.hold[room]; busy {
		c.mu.Unlock()
		return nil
	}
	x.hold[room] = nil
	c.mu.Unlock()
	last := after
	defer c.releaseHeld(room, &last)

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
			c.mu.Lock()
			c.routeStoredLocked(m)
			c.mu.Unlock()
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

// routeStoredLocked is routeLocked for a stored message, paced by the
// writer (the queue stays under half its bound).
func (c *conn) routeStoredLocked(m *chat.Message) {
	x := c.extraLocked()
	if x.space == nil {
		x.space = sync.NewCond(&c.mu)
	}
	for !c.dead && int(c.qBytes) > c.g.cfg.MaxQueuedBytes/2 {
		x.space.Wait()
	}
	payload := mustJSON(m)
	v := c.wireVersion()
	c.routeLocked(m, func(kind topicKind, qos byte) (*wire, error) {
		t := RoomTopic(m.Room)
		if kind == kindDM {
			t = TopicDM
		}
		return newWire(v, qos, t, payload, nil), nil
	})
}

// releaseHeld ends a catch-up: the held live messages after the last one
// handed over are enqueued, under the lock, so none can pass them.
func (c *conn) releaseHeld(room string, last *int64) {
	c.mu.Lock()
	held := c.x.hold[room]
	delete(c.x.hold, room)
	if len(c.x.hold) == 0 {
		c.x.hold = nil
	}
	for _, ev := range held {
		if ev.Message.Seq > *last {
			c.routeMessageLocked(ev)
		}
	}
	c.mu.Unlock()
}

// catchUpDMs hands a reconnected client the DMs it missed: rooms it knew
// from where it was, rooms created since from their start.
func (c *conn) catchUpDMs(ctx context.Context) {
	infos, err := c.session().Rooms(ctx)
	if err != nil {
		c.reportError(TopicDM, "", err)
		return
	}
	for _, ri := range infos {
		if !chat.IsDMRoom(ri.Name) {
			continue
		}
		after, _ := c.cl.lastSeen(ri.Name) // unknown: created while offline
		if ri.LastSeq <= after {
			continue
		}
		if err := c.catchUp(ctx, ri.Name, after); err != nil {
			c.reportError(TopicDM, "", err)
		}
	}
}

// trackDMs records the DM rooms that exist when banter/dm is first
// subscribed, so that a later catch-up does not replay old conversations.
func (c *conn) trackDMs(ctx context.Context) error {
	cl := c.cl
	cl.mu.Lock()
	done := cl.dmTracked || cl.seen == nil
	cl.mu.Unlock()
	if done {
		return nil
	}
	infos, err := c.session().Rooms(ctx)
	if err != nil {
		return err
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	for _, ri := range infos {
		if chat.IsDMRoom(ri.Name) && ri.LastSeq > cl.seen[ri.Name] {
			cl.seen[ri.Name] = ri.LastSeq
		}
	}
	cl.dmTracked = true
	return nil
}
