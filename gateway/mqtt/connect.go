package mqttgw

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"github.com/banter-chat/banter/chat"
	"github.com/mochi-mqtt/server/v2/packets"
)

// will is a client's last will, performed as a publish of the client when
// its connection is lost.
type will struct {
	topic   string
	payload []byte
}

// connectTimeout is how long a connection may stay without a CONNECT.
const connectTimeout = 10

// connect handles a decoded CONNECT: it validates it, authenticates, binds
// the client id, opens the chat session and answers CONNACK; then a
// persistent session gets its unacknowledged packets again and what it
// missed.
func (c *conn) connect(pk *packets.Packet) {
	g := c.g
	v5 := c.v == 5
	if code := pk.ConnectValidate(); code != packets.CodeSuccess {
		if v5 {
			c.refuse(code, code, "")
		} else {
			c.stage = stageClosing
			c.stop(code, nil) // [MQTT-3.1.2-3] and friends: close
		}
		return
	}
	props := &pk.Properties
	if v5 {
		switch {
		case props.AuthenticationMethod != "":
			c.refuse(packets.ErrBadAuthenticationMethod, packets.ErrBadAuthenticationMethod, "enhanced authentication is not supported: send the token as the password")
			return
		case pk.Connect.WillFlag && pk.Connect.WillRetain:
			c.refuse(packets.ErrRetainNotSupported, packets.ErrRetainNotSupported, "retained messages are not supported") // [MQTT-3.2.2-13]
			return
		}
	}
	if g.cfg.MaxClients > 0 && g.stats.connected.Load() >= int64(g.cfg.MaxClients) {
		c.refuse(packets.ErrServerUnavailable, packets.Err3ServerUnavailable, "too many clients")
		return
	}

	// The client identifier: an empty one gets a name [MQTT-3.1.3-6],
	// unless a 3.1.1 client wants a persistent session [MQTT-3.1.3-8].
	id := pk.Connect.ClientIdentifier
	assigned := ""
	if id == "" {
		if !v5 && !pk.Connect.Clean {
			c.refuse(packets.ErrClientIdentifierNotValid, packets.Err3ClientIdentifierNotValid, "")
			return
		}
		id = newClientID()
		assigned = id
	}
	id = strings.Clone(id) // the packet's strings alias its body

	// Session lifetime.
	expire := uint32(0)
	switch {
	case !v5 && !pk.Connect.Clean:
		expire = uint32(g.cfg.SessionExpiry / time.Second)
	case v5 && props.SessionExpiryIntervalFlag:
		expire = min(props.SessionExpiryInterval, uint32(g.cfg.SessionExpiry/time.Second))
	}

	// Keepalive: bounded, and imposed when the client asks for none.
	ka := pk.Connect.Keepalive
	maxKA := uint16(g.cfg.MaxKeepalive / time.Second)
	serverKA := false
	if ka == 0 || ka > maxKA {
		ka, serverKA = maxKA, true
	}

	ctx := c.g.requestContext()
	user := string(pk.Connect.Username)
	ident, nick, refusal := c.authenticate(ctx, pk)
	if refusal != nil {
		c.refuse(refusal.v5, refusal.v3, refusal.reason)
		return
	}
	nick, err := chat.NormalizeNickname(nick)
	if err != nil {
		c.g.logDebug("mqttgw: refused nickname", c, "client", id, "err", err)
		_, msg := chat.ClientError(err)
		c.refuse(packets.ErrBadUsernameOrPassword, packets.Err3NotAuthorized, msg)
		return
	}
	me := chat.NickKey(nick)

	// Bind the client id and take over its live connection, if any.
	persistent := expire > 0
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		c.refuse(packets.ErrServerShuttingDown, packets.Err3ServerUnavailable, "server shutting down")
		return
	}
	cl := g.clients[id]
	if cl != nil && cl.nick != me {
		g.mu.Unlock()
		c.g.logInfo("mqttgw: client id belongs to another user", c, "client", id, "username", user)
		c.refuse(packets.ErrBadUsernameOrPassword, packets.Err3NotAuthorized, "this client id belongs to another user")
		return
	}
	present := cl != nil && !pk.Connect.Clean && cl.persistent()
	prev := cl
	var old *conn
	if cl != nil {
		old = cl.cur
	}
	if !present { // a clean start forgets the session [MQTT-3.1.2-4]
		cl = newClient(id, me, persistent)
		g.clients[id] = cl
	}
	cl.cur = c
	prevExpire := cl.expire
	cl.expire = expire
	g.mu.Unlock()

	// The chat session. A reconnect of the same client id passes the old
	// session's resume token, so the user never flickers offline.
	resume := ""
	if old != nil {
		if os := old.session(); os != nil {
			resume = os.Token()
		}
	}
	c.mu.Lock()
	c.cl = cl
	c.isV5 = v5
	c.mu.Unlock()
	sess, err := g.svc.Connect(ctx, chat.ConnectParams{Nickname: nick, Identity: ident, Sink: c, ResumeToken: resume})
	if err != nil {
		g.mu.Lock()
		if cl.cur == c {
			cl.cur = old
			cl.expire = prevExpire
			if g.clients[id] == cl && cl != prev {
				if prev != nil {
					g.clients[id] = prev
				} else {
					delete(g.clients, id)
				}
			}
		}
		g.mu.Unlock()
		c.mu.Lock()
		c.cl = nil
		c.mu.Unlock()
		c.g.logDebug("mqttgw: chat session refused", c, "client", id, "err", err)
		_, msg := chat.ClientError(err)
		c.refuse(packets.ErrBadUsernameOrPassword, packets.Err3NotAuthorized, msg)
		return
	}
	c.sess.Store(sess)
	g.mu.Lock()
	if prev != nil && prev.expiry != nil {
		prev.expiry.Stop()
		prev.expiry = nil
	}
	g.mu.Unlock()
	if old != nil {
		// Its writes stop here: what it registered is in its client,
		// which this connection inherits when the session is present.
		old.takenOver()
	}
	if present && !persistent {
		cl.mu.Lock()
		cl.seen = nil // from now on the session ends with the connection
		cl.mu.Unlock()
	}
	c.stage = stageConnected
	c.will = nil
	if pk.Connect.WillFlag {
		c.will = &will{topic: string([]byte(pk.Connect.WillTopic)), payload: append([]byte(nil), pk.Connect.WillPayload...)}
	}
	c.recvMax = uint16(g.cfg.MaxInflight)
	if v5 {
		if rm := props.ReceiveMaximum; rm > 0 && int(rm) < g.cfg.MaxInflight {
			c.recvMax = rm
		}
		c.maxOut = props.MaximumPacketSize
		c.noReason = props.RequestProblemInfoFlag && props.RequestProblemInfo == 0
	}
	c.kaLimit.Store(uint32(ka) + uint32(ka)/2)
	g.stats.connected.Add(1)
	if c.ws != nil {
		g.stats.connectedWS.Add(1)
		g.stats.acceptedWS.Add(1)
	} else {
		g.stats.acceptedTCP.Add(1)
	}

	// CONNACK.
	ack := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connack}, ProtocolVersion: c.v,
		SessionPresent: present}
	if v5 {
		p := &ack.Properties
		p.ReceiveMaximum = receiveMaximum
		p.MaximumPacketSize = uint32(g.cfg.MaxPacketBytes)
		p.TopicAliasMaximum = 0 // aliases would hide the topic from the ACL
		p.RetainAvailable, p.RetainAvailableFlag = 0, true
		p.WildcardSubAvailable, p.WildcardSubAvailableFlag = 0, true
		p.SubIDAvailable, p.SubIDAvailableFlag = 0, true
		p.SharedSubAvailable, p.SharedSubAvailableFlag = 0, true
		p.AssignedClientID = assigned
		if serverKA {
			p.ServerKeepAlive, p.ServerKeepAliveFlag = ka, true
		}
		if props.SessionExpiryIntervalFlag && expire != props.SessionExpiryInterval {
			p.SessionExpiryInterval, p.SessionExpiryIntervalFlag = expire, true
		}
	}
	c.reply(encode(&ack))
	g.logDebug("mqttgw: connected", c, "client", id, "nickname", nick, "present", present)

	if present {
		c.flushInline() // the CONNACK first, before the store is read
		c.resumeSession(ctx)
	}
}

// receiveMaximum is how many QoS 1 and 2 publishes a client may have
// unacknowledged towards us (MQTT 5 Receive Maximum): they are handled one
// by one anyway.
const receiveMaximum = 64

type refusal struct {
	v5, v3 packets.Code
	reason string
}

// authenticate returns the identity and nickname of a CONNECT: the
// password is a JWT verified by chat.Service.Authenticate when the Service
// accepts tokens (a username, if given, must be the token's nickname or
// subject); without a password the client is anonymous and the username is
// the nickname. Refusals: "bad username or password" (3.1.1 return code 4,
// MQTT 5 0x86 with the reason) for a missing, malformed, expired or forged
// token; "not authorized" (5, 0x87) for a username that is not the token's
// user. Neither the password nor the token is ever logged.
func (c *conn) authenticate(ctx context.Context, pk *packets.Packet) (*chat.Identity, string, *refusal) {
	g := c.g
	user := string(pk.Connect.Username)
	if g.cfg.Authenticate != nil {
		nick, err := g.cfg.Authenticate(ctx, user, pk.Connect.Password)
		if err != nil {
			g.logInfo("mqttgw: authentication failed", c, "username", user, "err", err)
			return nil, "", &refusal{packets.ErrBadUsernameOrPassword, packets.Err3NotAuthorized, "authentication failed"}
		}
		return nil, nick, nil
	}
	password := string(pk.Connect.Password)
	switch {
	case password == "" && !g.svc.RequiresIdentity():
		return nil, user, nil // anonymous: the username is the nickname
	case password != "" && !g.svc.AcceptsTokens():
		return nil, user, nil // passwords mean nothing without a verifier
	}
	id, err := g.svc.Authenticate(ctx, password)
	if err != nil {
		code, msg := chat.ClientError(err)
		g.logInfo("mqttgw: token refused", c, "code", string(code))
		return nil, "", &refusal{packets.ErrBadUsernameOrPassword, packets.ErrMalformedUsernameOrPassword, msg}
	}
	if user != "" && user != id.Subject && chat.NickKey(user) != chat.NickKey(id.Nickname) {
		return nil, "", &refusal{packets.ErrNotAuthorized, packets.Err3NotAuthorized, "the username is not the token's user"}
	}
	return id, id.Nickname, nil
}

// newClientID names a client that sent none.
func newClientID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "banter-" + base64.RawURLEncoding.EncodeToString(b[:])
}

// takenOver ends a connection whose client id connected again: it stops
// writing at once (what it registered as inflight stays in its client for
// the new connection to resend) and closes; MQTT 5 clients are told
// "session taken over" [MQTT-3.1.4-3].
func (c *conn) takenOver() {
	c.mu.Lock()
	cl := c.cl
	c.mu.Unlock()
	if cl != nil {
		cl.mu.Lock()
		defer cl.mu.Unlock()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.detached = true
	c.stopTellingLocked(packets.ErrSessionTakenOver, packets.ErrSessionTakenOver)
}

// resumeSession runs after the CONNACK of a session that was present: the
// unacknowledged QoS 1 packets are resent (DUP) [MQTT-4.4.0-1], the rooms
// of its subscriptions are joined again, and what it missed comes from the
// store.
func (c *conn) resumeSession(ctx context.Context) {
	cl := c.cl
	for _, r := range cl.pendingResend() {
		c.mu.Lock()
		c.pushLocked(out{w: &wire{b: r.w.appendTo(nil, r.id, true)}}, true)
		c.mu.Unlock()
	}
	rooms := map[string]bool{} // room → its message topic is subscribed
	dm := false
	for _, s := range cl.subscriptions() {
		switch s.kind {
		case kindRoom:
			rooms[s.room] = true
		case kindPresence, kindTyping:
			if _, ok := rooms[s.room]; !ok {
				rooms[s.room] = false
			}
		case kindDM:
			dm = true
		}
	}
	for room, messages := range rooms {
		var err error
		if after, ok := cl.lastSeen(room); ok && messages {
			err = c.catchUp(ctx, room, after)
		} else {
			err = c.joinFresh(ctx, room)
		}
		if err != nil {
			c.reportError(RoomTopic(room), "", err)
		}
	}
	if dm {
		c.catchUpDMs(ctx)
	}
}

// endSession runs in the teardown of a connected connection: its will, the
// end of its chat session (its rooms see it leave), and its client id's
// state: forgotten for a clean session, kept (with an expiry) for a
// persistent one.
func (c *conn) endSession(cause error) {
	g := c.g
	g.stats.connected.Add(-1)
	if c.ws != nil {
		g.stats.connectedWS.Add(-1)
	}
	g.stats.ended.Add(1)
	if c.will != nil && !c.clean && !errors.Is(cause, packets.ErrSessionTakenOver) {
		ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
		if err := c.allowed(c.will.topic, true); err == nil {
			if _, err := c.publish(ctx, c.will.topic, c.will.payload, "", nil); err != nil {
				g.logDebug("mqttgw: last will failed", c, "err", err)
			}
		}
		cancel()
	}
	reason := "mqtt: connection closed"
	if cause != nil {
		reason = "mqtt: " + boundString(cause.Error(), 200)
	}
	g.logDebug("mqttgw: disconnected", c, "reason", reason)
	c.session().Disconnect(reason)

	cl := c.cl
	g.mu.Lock()
	defer g.mu.Unlock()
	if cl.cur != c {
		return // taken over
	}
	cl.cur = nil
	if g.clients[cl.id] != cl {
		return
	}
	if cl.expire == 0 || g.closed {
		delete(g.clients, cl.id)
		return
	}
	d := time.Duration(cl.expire) * time.Second
	cl.expiry = time.AfterFunc(d, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.clients[cl.id] == cl && cl.cur == nil {
			delete(g.clients, cl.id)
		}
	})
}

// expire is the keepalive wheel's verdict: the client was silent too long
// (or sent no CONNECT in time).
func (c *conn) expire() {
	c.mu.Lock()
	cause := errKeepalive
	if c.cl == nil {
		cause = errConnectTimeout
	}
	c.stopLocked(cause, nil)
	c.mu.Unlock()
}

// onDisconnect handles the client's DISCONNECT: the will is discarded
// unless an MQTT 5 client asks for it (0x04) [MQTT-3.14.4-3]; MQTT 5 may
// change the session expiry (not from 0) [MQTT-3.14.2-2].
func (c *conn) onDisconnect(pk *packets.Packet) {
	if c.v == 5 && pk.Properties.SessionExpiryIntervalFlag {
		g := c.g
		g.mu.Lock()
		was := c.cl.expire
		if was == 0 && pk.Properties.SessionExpiryInterval > 0 {
			g.mu.Unlock()
			c.protocolError(packets.ErrProtocolViolationZeroNonZeroExpiry)
			return
		}
		c.cl.expire = min(pk.Properties.SessionExpiryInterval, uint32(g.cfg.SessionExpiry/time.Second))
		g.mu.Unlock()
	}
	c.clean = !(c.v == 5 && pk.ReasonCode == packets.CodeDisconnectWillMessage.Code)
	c.stage = stageClosing
	c.stop(errClientDisconnect, nil)
}
