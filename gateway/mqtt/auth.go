package mqttgw

import (
	"context"

	"github.com/banter-chat/banter/chat"
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// authenticate verifies the CONNECT's password as a JWT. It runs in
// OnConnect, before mochi's own CONNACK, so that a refusal can carry the
// right code and, for MQTT 5, the reason: "bad username or password"
// (3.1.1 return code 4, MQTT 5 0x86) for a missing, malformed, expired or
// forged token, "not authorized" (5, 0x87) for a username that is not the
// token's user. The identity waits in g.idents for OnConnectAuthenticate.
func (g *Gateway) authenticate(cl *mochi.Client, pk packets.Packet) error {
	if g.cfg.Authenticate != nil {
		return nil // a custom check owns the credentials
	}
	password := string(pk.Connect.Password)
	switch {
	case password == "" && !g.svc.RequiresIdentity():
		return nil // anonymous: the username is the nickname
	case password != "" && !g.svc.AcceptsTokens():
		return nil // passwords mean nothing without a verifier (as before tokens)
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	id, err := g.svc.Authenticate(ctx, password)
	if err != nil {
		_, msg := chat.ClientError(err)
		g.log.Info("mqttgw: token refused", "client", cl.ID, "err", err)
		return g.refuse(cl, packets.ErrBadUsernameOrPassword, packets.ErrMalformedUsernameOrPassword, msg)
	}
	if user := string(pk.Connect.Username); user != "" && user != id.Subject && chat.NickKey(user) != chat.NickKey(id.Nickname) {
		return g.refuse(cl, packets.ErrNotAuthorized, packets.Err3NotAuthorized, "the username is not the token's user")
	}
	g.mu.Lock()
	g.idents[cl] = id
	g.mu.Unlock()
	return nil
}

// refuse sends the CONNACK of a refused CONNECT (v5 with reason text, v3
// with its return code) and returns the error that makes mochi close.
func (g *Gateway) refuse(cl *mochi.Client, v5, v3 packets.Code, reason string) error {
	code := packets.Code{Code: v5.Code, Reason: reason}
	if cl.Properties.ProtocolVersion < 5 {
		code = v3
	}
	if err := g.srv.SendConnack(cl, code, false, nil); err != nil {
		g.log.Debug("mqttgw: cannot send CONNACK", "client", cl.ID, "err", err)
	}
	return v5
}

// takeIdentity returns and forgets the identity authenticate verified.
func (g *Gateway) takeIdentity(cl *mochi.Client) *chat.Identity {
	g.mu.Lock()
	defer g.mu.Unlock()
	id := g.idents[cl]
	delete(g.idents, cl)
	return id
}
