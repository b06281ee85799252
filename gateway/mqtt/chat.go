package mqttgw

import (
	"context"
	"errors"
	"strings"

	"github.com/banter-chat/banter/chat"
	"github.com/mochi-mqtt/server/v2/packets"
)

// The chat side of a connection: SUBSCRIBE is Join, the last UNSUBSCRIBE of
// a room Leave, PUBLISH is Send/Typing/DirectMessage/history, and the
// connection is its chat session's Sink.

func (c *conn) session() *chat.Session { return c.sess.Load() }

// --- SUBSCRIBE / UNSUBSCRIBE --------------------------------------------------

// onSubscribe grants each filter the ACL allows, joins its room (before the
// SUBACK: once acknowledged, the client receives what is sent), and
// answers SUBACK. Refused filters get 0x87 "not authorized" (MQTT 5) or
// 0x80 "failure" (3.1.1), as do rooms that cannot be joined.
func (c *conn) onSubscribe(pk *packets.Packet) {
	if code := pk.SubscribeValidate(); code != packets.CodeSuccess {
		c.protocolError(code)
		return
	}
	if len(pk.Properties.SubscriptionIdentifier) > 0 {
		c.protocolError(packets.ErrSubscriptionIdentifiersNotSupported) // not offered in CONNACK
		return
	}
	ctx := c.g.requestContext()
	codes := make([]byte, len(pk.Filters))
	for i, f := range pk.Filters {
		codes[i] = c.subscribe(ctx, f)
	}
	ack := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Suback}, ProtocolVersion: c.v,
		PacketID: pk.PacketID, ReasonCodes: codes, Mods: packets.Mods{DisallowProblemInfo: c.noReason}}
	c.reply(encode(&ack))
}

func (c *conn) subscribe(ctx context.Context, f packets.Subscription) byte {
	refused := packets.ErrUnspecifiedError.Code // 3.1.1: 0x80 failure
	if c.v == 5 {
		refused = packets.ErrNotAuthorized.Code
	}
	filter := strings.Clone(f.Filter)
	t, err := parseTopic(filter)
	if err == nil {
		err = c.allowed(filter, false)
	}
	if err != nil {
		c.g.logDebug("mqttgw: subscription refused", c, "topic", filter, "err", err)
		return refused
	}
	s := subscription{filter: filter, room: t.room, kind: t.kind, qos: f.Qos, noLocal: f.NoLocal}
	_, again := c.cl.byFilter(filter)
	c.cl.setSub(s)
	if again {
		return f.Qos // [MQTT-3.8.4-3]: replaced; the room is joined already
	}
	switch t.kind {
	case kindRoom, kindPresence, kindTyping:
		err = c.joinFresh(ctx, t.room)
	case kindDM:
		err = c.trackDMs(ctx)
	}
	if err != nil {
		c.cl.removeSub(filter)
		c.reportError(filter, "", err)
		return refused
	}
	return f.Qos
}

// onUnsubscribe removes the subscriptions and leaves a room once none of
// its topics is subscribed.
func (c *conn) onUnsubscribe(pk *packets.Packet) {
	if code := pk.UnsubscribeValidate(); code != packets.CodeSuccess {
		c.protocolError(code)
		return
	}
	codes := make([]byte, len(pk.Filters))
	ctx := c.g.requestContext()
	for i, f := range pk.Filters {
		if !c.cl.removeSub(f.Filter) {
			codes[i] = packets.CodeNoSubscriptionExisted.Code
			continue
		}
		t, err := parseTopic(f.Filter)
		if err != nil || t.room == "" || c.cl.roomSubscribed(t.room) {
			continue
		}
		if err := c.session().Leave(ctx, t.room); err != nil && !errors.Is(err, chat.ErrNotMember) {
			c.g.logDebug("mqttgw: leave failed", c, "room", t.room, "err", err)
		}
	}
	ack := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Unsuback}, ProtocolVersion: c.v,
		PacketID: pk.PacketID, ReasonCodes: codes, Mods: packets.Mods{DisallowProblemInfo: c.noReason}}
	c.reply(encode(&ack))
}

// --- PUBLISH -------------------------------------------------------------------

// onPublish turns a PUBLISH into a chat call, then acknowledges it: the
// PUBACK (PUBREC for QoS 2) of a message is sent once the store has it.
func (c *conn) onPublish(pk *packets.Packet) {
	if code := pk.PublishValidate(0); code != packets.CodeSuccess {
		c.protocolError(code) // a topic alias, a wildcard, a missing identifier…
		return
	}
	qos := pk.FixedHeader.Qos
	if qos == 2 {
		if c.cl.awaitingRel(pk.PacketID) {
			c.ackPublish(pk, packets.CodeSuccess) // a resend: handled already [MQTT-4.3.3-9]
			return
		}
		if c.cl.awaiting() >= receiveMaximum {
			c.protocolError(packets.ErrReceiveMaximum) // [MQTT-3.3.4-9]
			return
		}
	}
	topic := pk.TopicName
	if err := c.allowed(topic, true); err != nil {
		c.g.logDebug("mqttgw: publish refused", c, "topic", topic, "qos", qos, "err", err)
		switch {
		case qos == 0:
			c.reportError(topic, "", err) // dropped; told on banter/errors
		case c.v == 5:
			c.reportError(topic, "", err)
			c.ackPublish(pk, packets.ErrNotAuthorized)
		default:
			// 3.1.1 has no negative acknowledgement: the Server "MUST
			// either make a positive acknowledgement … or close the
			// Network Connection" [MQTT-3.3.5-2]. We close.
			c.stage = stageClosing
			c.stop(packets.ErrNotAuthorized, nil)
		}
		return
	}
	ctx := c.g.requestContext()
	clientID, err := c.publish(ctx, topic, pk.Payload, pk.Properties.ResponseTopic, pk.Properties.CorrelationData)
	if err == nil {
		c.ackPublish(pk, packets.CodeSuccess)
		return
	}
	if c.v == 5 && qos > 0 {
		c.ackPublish(pk, reasonCode(err))
		return
	}
	if qos > 0 && mayPass(err) {
		// MQTT 3.1.1 has no negative PUBACK: the Server "MUST either make
		// a positive acknowledgement … or close the Network Connection"
		// [MQTT-3.3.5-2]. A failure that may pass (the store, a shutdown)
		// is never acknowledged: the connection is closed, and the client
		// sends the message again when it reconnects.
		c.g.logInfo("mqttgw: publish failed: connection closed unacknowledged", c, "topic", topic, "err", err)
		c.stage = stageClosing
		c.stop(err, nil)
		return
	}
	// A refusal (the message itself is not acceptable): acknowledged, and
	// why is said on banter/errors (QoS 0 has no PUBACK).
	c.reportError(topic, clientID, err)
	c.ackPublish(pk, packets.CodeSuccess)
}

// mayPass reports whether a chat call failed for a reason that may pass
// (the store unavailable, the session or server ending, a timeout) rather
// than a refusal of the request.
func mayPass(err error) bool {
	switch code, _ := chat.ClientError(err); code {
	case chat.CodeUnavailable, chat.CodeNotConnected, chat.CodeInternal:
		return true
	}
	return false
}

// ackPublish answers a QoS 1 (PUBACK) or QoS 2 (PUBREC) publish.
func (c *conn) ackPublish(pk *packets.Packet, code packets.Code) {
	switch pk.FixedHeader.Qos {
	case 1:
		if code.Code == 0 {
			c.reply(appendPuback(nil, pk.PacketID))
			return
		}
		c.reply(c.ackPacket(packets.Puback, pk.PacketID, code))
	case 2:
		if code.Code < 0x80 {
			c.cl.addAwaitRel(pk.PacketID)
		}
		c.reply(c.ackPacket(packets.Pubrec, pk.PacketID, code))
	}
}

func (c *conn) ackPacket(typ byte, id uint16, code packets.Code) []byte {
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: typ}, ProtocolVersion: c.v, PacketID: id,
		ReasonCode: code.Code, Mods: packets.Mods{DisallowProblemInfo: c.noReason}}
	if code.Code >= 0x80 {
		pk.Properties.ReasonString = code.Reason
	}
	return encode(&pk)
}

// onPuback forgets an acknowledged QoS 1 packet; held packets (the client's
// Receive Maximum) may go now.
func (c *conn) onPuback(pk *packets.Packet) {
	if !c.cl.ack(pk.PacketID) {
		return
	}
	c.mu.Lock()
	if len(c.q) > 0 && c.fstate == fIdle {
		c.kickLocked(true)
	}
	c.mu.Unlock()
}

// allowed is the ACL: the banter topics only; subscribe to rooms the user
// may read, publish messages and typing to rooms it may post to, DMs and
// history requests.
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
	if !mayRead(t.room, c.cl.nick) {
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
		text, clientID, err := decodeMessage(payload, c.cl.nick)
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
		in, err := decodeDM(payload, c.cl.nick)
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
	for _, r := range c.session().Joined() {
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
	s, ok := c.cl.byFilter(resp)
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
	c.replyWire(newWire(c.wireVersion(), min(s.qos, 1), resp, mustJSON(res), append([]byte(nil), corr...)))
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
	s, ok := c.cl.byFilter(TopicErrors)
	if !ok {
		return
	}
	code, msg := chat.ClientError(err)
	c.replyWire(newWire(c.wireVersion(), min(s.qos, 1), TopicErrors,
		mustJSON(errorOut{Topic: topic, ClientID: clientID, Code: code, Message: msg}), nil))
}

// wireVersion is the encoding a connection's PUBLISHes use: 3.1 and 3.1.1
// share one.
func (c *conn) wireVersion() byte {
	if c.v == 5 {
		return 5
	}
	return 4
}
