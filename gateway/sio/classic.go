package siogw

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/socketio"
)

// The classic dialect: socket.io's "get started" chat. A socket that sends
// "chat message" gets a session (guest-<n>, or the handshake token's
// identity) in the default room on its first message. Every socket that
// has not chosen another dialect receives "chat message" for each message
// of the default room, from any gateway and any node: one watcher of the
// room per node (chat.Service.WatchRoom) broadcasts each message, encoded
// once, to the Socket.IO room of those sockets. A listening tutorial page
// therefore costs a room membership, no chat session.

type classicAck struct {
	OK  bool  `json:"ok"`
	Seq int64 `json:"seq"`
}

// guestAttempts bounds the search for a free guest nickname (a protocol 1
// user may have picked "guest-7").
const guestAttempts = 8

// guestPrefix starts the nicknames of the dialect's anonymous users.
const guestPrefix = "guest-"

func (c *conn) onClassic(ev *socketio.Event) {
	text, err := stringArg(ev, 0, "chat message: the text", true)
	if err != nil {
		c.fail(ev, err)
		return
	}
	g := c.g
	ctx, cancel := g.proto.Context(context.Background())
	defer cancel()
	sess := c.Session()
	if sess == nil {
		if sess, err = c.connectClassic(ctx); err != nil {
			c.fail(ev, err)
			return
		}
	}
	m, err := sess.Send(ctx, g.svc.DefaultRoom(), text, "")
	if err != nil {
		g.proto.LogFailure(ev.Name, err)
		c.refuseMessage(ev, err)
		return
	}
	if ev.HasAck() {
		ev.Ack(classicAck{OK: true, Seq: m.Seq})
	}
}

// connectClassic starts the socket's session: a guest, or the handshake
// token's user, in the default room.
func (c *conn) connectClassic(ctx context.Context) (*chat.Session, error) {
	g := c.g
	c.dialect.Store(int32(dialectClassic))
	var sess *chat.Session
	var err error
	if ident := c.Identity(); ident != nil {
		sess, err = g.svc.Connect(ctx, chat.ConnectParams{Identity: ident, Sink: c})
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
		g.proto.LogFailure("chat message", err)
		return nil, err
	}
	if !c.Attach(sess) {
		return nil, chat.ErrNotConnected
	}
	return sess, nil
}

// classicText is how a message of the default room reads in the classic
// dialect: a guest's text as it was typed (the tutorial's own messages),
// anyone else's as "nickname: text".
func classicText(m *chat.Message) string {
	if strings.HasPrefix(m.Sender, guestPrefix) {
		return m.Text
	}
	return m.Sender + ": " + m.Text
}

// deliverClassic is the default room's watcher: each message goes, encoded
// once, to every classic socket of this node (other nodes' watchers serve
// theirs). It runs under the watcher's lock: it only enqueues.
func (g *Gateway) deliverClassic(ev *chat.Event) {
	if ev.Kind != chat.EventMessage {
		return
	}
	if err := g.nsp.Except(roomDialect).Local().Emit("chat message", classicText(ev.Message)); err != nil {
		g.log.Warn("siogw: classic broadcast failed", "err", err)
	}
}

// watchClassic starts the default room's watcher; if the Store cannot be
// read now it tries again every ClassicRetry until it can or the gateway
// closes.
func (g *Gateway) watchClassic() {
	ctx, cancel := g.proto.Context(context.Background())
	stop, err := g.svc.WatchRoom(ctx, g.svc.DefaultRoom(), chat.SinkFunc(g.deliverClassic))
	cancel()
	g.bgMu.Lock()
	defer g.bgMu.Unlock()
	switch {
	case err == nil && g.closed:
		stop()
	case err == nil:
		g.classicStop, g.classicRetry = stop, nil
	case !g.closed:
		g.log.Warn("siogw: cannot watch the default room for classic clients; retrying", "err", err, "in", g.cfg.ClassicRetry)
		g.classicRetry = time.AfterFunc(g.cfg.ClassicRetry, func() {
			if g.track() {
				defer g.bg.Done()
				g.watchClassic()
			}
		})
	}
}
