package mqttgw

import (
	"bytes"
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/banter-chat/banter/chat"
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// hook is the gateway inside mochi: every MQTT event the gateway acts on
// arrives here, on the goroutine of the client's connection.
type hook struct {
	mochi.HookBase
	g *Gateway
}

func (h *hook) ID() string { return "banter" }

func (h *hook) Provides(b byte) bool {
	return bytes.Contains([]byte{
		mochi.OnConnect, mochi.OnConnectAuthenticate, mochi.OnACLCheck,
		mochi.OnSessionEstablished, mochi.OnDisconnect, mochi.OnSubscribed,
		mochi.OnUnsubscribed, mochi.OnPublish, mochi.OnWill, mochi.OnClientExpired,
		mochi.OnPacketRead,
	}, []byte{b})
}

// OnPacketRead works around mochi keeping the packet ids of both
// directions in one inflight map: a SUBSCRIBE or UNSUBSCRIBE whose id
// equals that of a QoS 1 message the server sent and that is still
// unacknowledged would be refused ("packet identifier in use"). Client
// ids usually restart at 1 on reconnect, as ours do, so this happens after
// a reconnect with an unacknowledged message. The message is given up as
// mochi itself does for a colliding PUBLISH: it was sent, and resent at
// the reconnect.
func (h *hook) OnPacketRead(cl *mochi.Client, pk packets.Packet) (packets.Packet, error) {
	if t := pk.FixedHeader.Type; t == packets.Subscribe || t == packets.Unsubscribe {
		if old, ok := cl.State.Inflight.Get(pk.PacketID); ok && old.FixedHeader.Type == packets.Publish {
			if cl.State.Inflight.Delete(pk.PacketID) {
				atomic.AddInt64(&h.g.srv.Info.Inflight, -1)
			}
		}
	}
	return pk, nil
}

// requestTimeout bounds the chat calls of one packet (store reads and
// appends).
const requestTimeout = 30 * time.Second

func (g *Gateway) conn(cl *mochi.Client) *conn {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.conns[cl]
}

// OnConnect enforces the keepalive bound before mochi sets the deadline.
func (h *hook) OnConnect(cl *mochi.Client, pk packets.Packet) error {
	max := uint16(h.g.cfg.MaxKeepalive / time.Second)
	if ka := cl.State.Keepalive; ka == 0 || ka > max {
		cl.State.Keepalive = max
		cl.State.ServerKeepalive = true // MQTT 5: told in the CONNACK
	}
	return h.g.authenticate(cl, pk)
}

// OnConnectAuthenticate turns the CONNECT into a chat session: the
// username is the nickname (or Config.Authenticate's answer). A client id
// is bound to the nickname that first used it, so nobody can take over
// someone else's persistent session; a reconnect of the same client id
// replaces the previous connection's chat session without an
// offline/online flicker. A refused CONNECT gets "bad username or
// password" (MQTT 3.1.1 return code 4, MQTT 5 reason 0x86).
func (h *hook) OnConnectAuthenticate(cl *mochi.Client, pk packets.Packet) bool {
	g := h.g
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	user := string(pk.Connect.Username)
	nick := user
	ident := g.takeIdentity(cl)
	if ident != nil {
		nick = ident.Nickname
	} else if g.cfg.Authenticate != nil {
		var err error
		if nick, err = g.cfg.Authenticate(ctx, user, pk.Connect.Password); err != nil {
			g.log.Info("mqttgw: authentication failed", "client", cl.ID, "username", user, "err", err)
			return false
		}
	}
	nick, err := chat.NormalizeNickname(nick)
	if err != nil {
		g.log.Debug("mqttgw: refused nickname", "client", cl.ID, "username", user, "err", err)
		return false
	}
	me := chat.NickKey(nick)

	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return false
	}
	st := g.states[cl.ID]
	if st != nil && st.nick != me {
		g.mu.Unlock()
		g.log.Info("mqttgw: client id belongs to another user", "client", cl.ID, "username", user)
		return false
	}
	if st == nil || pk.Connect.Clean { // a clean start forgets what was seen
		fresh := newState(me)
		if st != nil {
			fresh.cur = st.cur
		}
		st = fresh
		g.states[cl.ID] = st
	}
	old := st.cur
	c := newConn(g, cl, st, nick)
	st.cur = c // before the old one ends, so its disconnect leaves st alone
	g.mu.Unlock()

	resume := ""
	if old != nil {
		if s := old.session(); s != nil {
			resume = s.Token()
		}
	}
	sess, err := g.svc.Connect(ctx, chat.ConnectParams{Nickname: nick, Identity: ident, Sink: c, ResumeToken: resume})
	if err != nil {
		g.mu.Lock()
		if st.cur == c {
			st.cur = old
		}
		g.mu.Unlock()
		g.log.Debug("mqttgw: chat session refused", "client", cl.ID, "nickname", nick, "err", err)
		return false
	}
	c.sess.Store(sess)
	if old != nil {
		// Its session was replaced; wait for its writer so that what it
		// wrote is in mochi's inflight store (inherited next) and in seen.
		old.stopAndWait(packets.ErrSessionTakenOver)
	}
	g.mu.Lock()
	g.conns[cl] = c
	g.mu.Unlock()
	if cl.Net.Listener == listenerWS {
		g.stats.acceptedWS.Add(1)
	} else {
		g.stats.acceptedTCP.Add(1)
	}
	g.log.Debug("mqttgw: connected", "client", cl.ID, "nickname", nick, "transport", cl.Net.Listener, "remote", cl.Net.Remote)
	return true
}

// OnSessionEstablished runs after the CONNACK: a persistent session that
// kept its subscriptions rejoins their rooms and receives what it missed
// from the store.
func (h *hook) OnSessionEstablished(cl *mochi.Client, pk packets.Packet) {
	c := h.g.conn(cl)
	if c == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	rooms := map[string]bool{} // room → its message topic is subscribed
	dm := false
	for filter := range cl.State.Subscriptions.GetAll() {
		t, err := parseTopic(filter)
		if err != nil {
			continue
		}
		switch t.kind {
		case kindRoom:
			rooms[t.room] = true
		case kindPresence, kindTyping:
			if _, ok := rooms[t.room]; !ok {
				rooms[t.room] = false
			}
		case kindDM:
			dm = true
		}
	}
	for room, messages := range rooms {
		var err error
		if after, ok := c.st.lastSeen(room); ok && messages {
			err = c.catchUp(ctx, room, after)
		} else {
			err = c.joinFresh(ctx, room)
		}
		if err != nil {
			c.reportError(RoomTopic(room), "", err)
		}
	}
	if dm {
		h.g.catchUpDMs(ctx, c)
	}
}

// catchUpDMs hands a reconnected client the DMs it missed: rooms it knew
// from where it was, rooms created since from their start.
func (g *Gateway) catchUpDMs(ctx context.Context, c *conn) {
	infos, err := c.session().Rooms(ctx)
	if err != nil {
		c.reportError(TopicDM, "", err)
		return
	}
	for _, ri := range infos {
		if !chat.IsDMRoom(ri.Name) {
			continue
		}
		after, _ := c.st.lastSeen(ri.Name) // unknown: created while offline
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
func (g *Gateway) trackDMs(ctx context.Context, c *conn) error {
	c.st.mu.Lock()
	done := c.st.dmTracked
	c.st.mu.Unlock()
	if done {
		return nil
	}
	infos, err := c.session().Rooms(ctx)
	if err != nil {
		return err
	}
	c.st.mu.Lock()
	defer c.st.mu.Unlock()
	for _, ri := range infos {
		if chat.IsDMRoom(ri.Name) && ri.LastSeq > c.st.seen[ri.Name] {
			c.st.seen[ri.Name] = ri.LastSeq
		}
	}
	c.st.dmTracked = true
	return nil
}

// OnACLCheck allows the banter topics only: subscribe to rooms the user
// may read, publish messages and typing to rooms it may join, DMs and
// history requests. A refused publish is reported on banter/errors too.
func (h *hook) OnACLCheck(cl *mochi.Client, topic string, write bool) bool {
	c := h.g.conn(cl)
	if c == nil {
		return false
	}
	err := c.allowed(topic, write)
	if err == nil {
		return true
	}
	if write {
		c.reportError(topic, "", err)
	}
	h.g.log.Debug("mqttgw: refused", "client", cl.ID, "topic", topic, "write", write, "err", err)
	return false
}

func (c *conn) allowed(topic string, write bool) error {
	t, err := parseTopic(topic)
	if err != nil {
		return err
	}
	switch t.kind {
	case kindRoom, kindTyping:
	case kindPresence, kindErrors, kindReplies:
		if write {
			return chat.Errorf(chat.CodeForbidden, "this topic is only for subscribing")
		}
	}
	if t.room == "" {
		return nil
	}
	if !mayRead(t.room, c.me) {
		return chat.ErrForbidden
	}
	// The token's rights: publishing a message or typing needs "post",
	// everything else "rooms".
	sess := c.session()
	if write && (t.kind == kindRoom || t.kind == kindTyping) {
		if !sess.MayPost(t.room) {
			return chat.Errorf(chat.CodeForbidden, "your token does not allow posting in room %q", t.room)
		}
	} else if !sess.MayRead(t.room) {
		return chat.Errorf(chat.CodeForbidden, "your token does not allow room %q", t.room)
	}
	return nil
}

// OnSubscribed joins the rooms of the granted subscriptions. The client
// receives what is sent from now on; history is a request away.
func (h *hook) OnSubscribed(cl *mochi.Client, pk packets.Packet, codes []byte) {
	c := h.g.conn(cl)
	if c == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	for i, sub := range pk.Filters {
		if i >= len(codes) || codes[i] > packets.CodeGrantedQos2.Code {
			continue
		}
		t, err := parseTopic(sub.Filter)
		if err != nil {
			continue
		}
		switch t.kind {
		case kindRoom, kindPresence, kindTyping:
			err = c.joinFresh(ctx, t.room)
		case kindDM:
			err = h.g.trackDMs(ctx, c)
		}
		if err != nil {
			c.reportError(sub.Filter, "", err)
		}
	}
}

// OnUnsubscribed leaves a room once none of its topics is subscribed.
func (h *hook) OnUnsubscribed(cl *mochi.Client, pk packets.Packet) {
	c := h.g.conn(cl)
	if c == nil {
		return
	}
	for _, sub := range pk.Filters {
		t, err := parseTopic(sub.Filter)
		if err != nil || t.room == "" || c.roomSubscribed(t.room) {
			continue
		}
		if err := c.session().Leave(context.Background(), t.room); err != nil && !errors.Is(err, chat.ErrNotMember) {
			c.g.log.Debug("mqttgw: leave failed", "client", cl.ID, "room", t.room, "err", err)
		}
	}
}

// OnPublish turns a PUBLISH into a chat call. It runs before mochi sends
// the PUBACK, so a QoS 1 message is acknowledged only once the store has
// it. Every publish is then marked "ignore": the gateway delivered it
// itself, mochi's own fan-out and retained store are never used.
func (h *hook) OnPublish(cl *mochi.Client, pk packets.Packet) (packets.Packet, error) {
	c := h.g.conn(cl)
	if c == nil {
		return pk, packets.ErrRejectPacket
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	clientID, err := c.publish(ctx, pk.TopicName, pk.Payload, pk.Properties.ResponseTopic, pk.Properties.CorrelationData)
	if err == nil {
		return pk, packets.CodeSuccessIgnore
	}
	if c.v5 && pk.FixedHeader.Qos == 1 {
		return pk, reasonCode(err) // PUBACK with the reason
	}
	// MQTT 3.1.1 has no negative PUBACK (and QoS 0 no PUBACK): acknowledge
	// and say why on banter/errors.
	c.reportError(pk.TopicName, clientID, err)
	return pk, packets.CodeSuccessIgnore
}

// publish performs a publish (or a last will) on topic; it returns the
// client message id, if any, for error reports.
func (c *conn) publish(ctx context.Context, topic string, payload []byte, respTopic string, corr []byte) (string, error) {
	t, err := parseTopic(topic)
	if err != nil {
		return "", err
	}
	sess := c.session()
	switch t.kind {
	case kindRoom:
		text, clientID, err := decodeMessage(payload, c.me)
		if err != nil {
			return clientID, err
		}
		if err := c.ensureJoined(ctx, t.room); err != nil {
			return clientID, err
		}
		_, err = sess.Send(ctx, t.room, text, clientID)
		return clientID, err
	case kindTyping:
		active, err := decodeTyping(payload)
		if err != nil {
			return "", err
		}
		if err := c.ensureJoined(ctx, t.room); err != nil {
			return "", err
		}
		err = sess.Typing(ctx, t.room, active)
		if errors.Is(err, chat.ErrRateLimited) {
			return "", nil // typing is lossy: dropped silently, as on the other gateways
		}
		return "", err
	case kindDM:
		in, err := decodeDM(payload, c.me)
		if err != nil {
			return in.ClientID, err
		}
		_, err = sess.DirectMessage(ctx, in.To, *in.Text, in.ClientID)
		return in.ClientID, err
	case kindHistory:
		c.history(ctx, payload, respTopic, corr)
		return "", nil
	}
	return "", chat.Errorf(chat.CodeForbidden, "this topic is only for subscribing")
}

// ensureJoined joins room for a publish without a subscription
// (mosquitto_pub connects, publishes and leaves).
func (c *conn) ensureJoined(ctx context.Context, room string) error {
	sess := c.session()
	for _, r := range sess.Joined() {
		if r == room {
			return nil
		}
	}
	return c.joinFresh(ctx, room)
}

// history answers a history request on the MQTT 5 response topic (with
// its correlation data) or else on banter/history; the client must be
// subscribed to that topic. A failure is answered there too.
func (c *conn) history(ctx context.Context, payload []byte, respTopic string, corr []byte) {
	resp := TopicHistory
	if respTopic != "" {
		if t, err := parseTopic(respTopic); err == nil && (t.kind == kindReplies || t.kind == kindHistory) {
			resp = respTopic
		} else {
			c.reportError(TopicHistory, "", chat.Errorf(chat.CodeInvalidArgument,
				"the response topic must be banter/history or under banter/replies/"))
			return
		}
	}
	_, qos, ok := c.subQoS(resp)
	if !ok {
		c.reportError(TopicHistory, "", chat.Errorf(chat.CodeInvalidArgument,
			"subscribe to %s to receive the response", resp))
		return
	}
	in, err := decodeHistory(payload)
	var res historyOut
	if err == nil {
		res, err = c.readHistory(ctx, in)
	}
	if err != nil {
		code, msg := chat.ClientError(err)
		res = historyOut{Room: in.Room, Error: &errorBody{Code: code, Message: msg}}
	}
	res.ID = in.ID
	c.send(out{topic: resp, payload: mustJSON(res), qos: qos, corr: corr})
}

func (c *conn) readHistory(ctx context.Context, in historyIn) (historyOut, error) {
	sess := c.session()
	limits := c.g.svc.Limits()
	limit := in.Limit
	if limit == 0 {
		limit = limits.PageLimit
	}
	limit = min(limit, limits.MaxPageLimit)
	var msgs []chat.Message
	var err error
	if in.After != nil {
		msgs, err = sess.Since(ctx, in.Room, *in.After, in.Limit)
	} else {
		msgs, err = sess.History(ctx, in.Room, in.Before, in.Limit)
	}
	if err != nil {
		return historyOut{}, err
	}
	room, _ := chat.NormalizeRoom(in.Room)
	more := len(msgs) == limit && limit > 0
	if in.After == nil && len(msgs) > 0 {
		more = msgs[0].Seq > 1
	}
	return historyOut{Room: room, Messages: msgs, More: more}, nil
}

// reportError publishes an error on banter/errors if the client
// subscribed to it.
func (c *conn) reportError(topic, clientID string, err error) {
	_, qos, ok := c.subQoS(TopicErrors)
	if !ok {
		return
	}
	code, msg := chat.ClientError(err)
	c.send(out{topic: TopicErrors, qos: qos,
		payload: mustJSON(errorOut{Topic: topic, ClientID: clientID, Code: code, Message: msg})})
}

// OnWill acts on a client's last will when its connection is lost: a will
// on a room, typing or DM topic is performed like a publish of the client
// (a "gone" message, say); its presence in every room ends anyway when the
// session does. The will is then emptied so that mochi publishes nothing
// itself.
func (h *hook) OnWill(cl *mochi.Client, will mochi.Will) (mochi.Will, error) {
	if c := h.g.conn(cl); c != nil && will.TopicName != "" {
		ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
		defer cancel()
		if err := c.allowed(will.TopicName, true); err == nil {
			if _, err := c.publish(ctx, will.TopicName, will.Payload, "", nil); err != nil {
				h.g.log.Debug("mqttgw: last will failed", "client", cl.ID, "topic", will.TopicName, "err", err)
			}
		}
	}
	return mochi.Will{}, nil
}

// OnDisconnect ends the connection's chat session: its rooms see it leave
// (a keepalive expiry too). A clean session is forgotten; a persistent
// one keeps what it has seen until it reconnects or expires.
func (h *hook) OnDisconnect(cl *mochi.Client, err error, expire bool) {
	g := h.g
	g.mu.Lock()
	c := g.conns[cl]
	delete(g.conns, cl)
	g.mu.Unlock()
	if c == nil {
		return
	}
	c.stopAndWait(mochi.ErrConnectionClosed)
	reason := "mqtt: disconnected"
	if err != nil {
		reason = "mqtt: " + err.Error()
	}
	g.log.Debug("mqttgw: disconnected", "client", cl.ID, "reason", reason)
	c.session().Disconnect(reason)
	g.mu.Lock()
	if c.st.cur == c {
		c.st.cur = nil
		if expire && g.states[cl.ID] == c.st {
			delete(g.states, cl.ID)
		}
	}
	g.mu.Unlock()
}

// OnClientExpired forgets a persistent session that did not come back.
func (h *hook) OnClientExpired(cl *mochi.Client) {
	g := h.g
	g.mu.Lock()
	defer g.mu.Unlock()
	if st := g.states[cl.ID]; st != nil && (st.cur == nil || st.cur.isDead()) {
		delete(g.states, cl.ID)
	}
}
