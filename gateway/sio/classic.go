package siogw

import (
	"errors"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/socketio"
)

// The classic dialect: socket.io's "get started" chat. A socket that sends
// "chat message" gets a session (guest-<n>, or the handshake token's
// identity) in the default room on its first message; every socket that has not chosen another dialect
// receives "chat message" for each message of the default room sent
// through this gateway.

type classicAck struct {
	OK  bool  `json:"ok"`
	Seq int64 `json:"seq"`
}

// guestAttempts bounds the search for a free guest nickname (a protocol 1
// user may have picked "guest-7").
const guestAttempts = 8

func (c *conn) onClassic(ev *socketio.Event) {
	text, err := stringArg(ev, 0, "chat message: the text")
	if err != nil {
		c.fail(ev, err)
		return
	}
	g := c.g
	ctx, cancel := g.ctx()
	defer cancel()
	sess := c.session()
	if sess == nil {
		c.dialect.Store(int32(dialectClassic))
		if c.ident != nil {
			sess, err = g.svc.Connect(ctx, chat.ConnectParams{Identity: c.ident, Sink: c})
		} else {
			for range guestAttempts {
				sess, err = g.svc.Connect(ctx, chat.ConnectParams{Nickname: g.nextGuest(), Sink: c})
				if !errors.Is(err, chat.ErrNicknameTaken) {
					break
				}
			}
		}
		if err == nil {
			if _, err = sess.Join(ctx, g.svc.DefaultRoom(), chat.JoinOptions{Limit: 1}); err != nil {
				sess.Disconnect("join of the default room failed")
			}
		}
		if err != nil {
			c.dialect.Store(int32(dialectNone))
			c.fail(ev, err)
			return
		}
		if !c.setSession(sess) {
			return
		}
	}
	m, err := sess.Send(ctx, g.svc.DefaultRoom(), text, "")
	if err != nil {
		c.fail(ev, err)
		return
	}
	g.broadcastClassic(m.Sender, m.Text, true)
	c.ok(ev, classicAck{OK: true, Seq: m.Seq})
}
