package siogw

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/gateway/proto1"
	"github.com/banter-chat/banter/socketio"
)

// The SocketChat dialect: the events of the AppCoda iOS sample
// (docs/protocol.md, Compatibility). Its server kept two pieces of global
// state, which the gateway keeps too: the user list, in order of first
// connection (users who disconnect stay, marked offline, until exitUser),
// and the typing users of the default room as an object {nickname: 1}.

// scUser is one entry of the SocketChat user list.
type scUser struct {
	ID          string `json:"id"`
	Nickname    string `json:"nickname"`
	IsConnected bool   `json:"isConnected"`
}

type socketChatState struct {
	mu       sync.Mutex
	users    []scUser
	typing   []string // the default room's typing list, as last delivered
	sessions int      // SocketChat sessions online

	// userList broadcasts, at most one per window (Config.SocketChatListWindow).
	listAt      time.Time   // the last one
	listPending *time.Timer // one waits for the window's end
	after       []scEmit    // updates that follow it (the original order)
}

// scEmit is a broadcast held behind a pending user list.
type scEmit struct {
	event string
	args  []any
}

// connect adds or revives the entry of nick and returns it.
func (s *socketChatState) connect(id, nick string, maxUsers int) scUser {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessions++
	key := chat.NickKey(nick)
	for i := range s.users {
		if chat.NickKey(s.users[i].Nickname) == key {
			s.users[i] = scUser{ID: id, Nickname: nick, IsConnected: true}
			return s.users[i]
		}
	}
	if len(s.users) >= maxUsers {
		// Forget the oldest offline entry (or the oldest at all).
		i := slices.IndexFunc(s.users, func(u scUser) bool { return !u.IsConnected })
		s.users = slices.Delete(s.users, max(i, 0), max(i, 0)+1)
	}
	u := scUser{ID: id, Nickname: nick, IsConnected: true}
	s.users = append(s.users, u)
	return u
}

// end records that the session id ended: its entry is removed (exitUser) or
// marked offline (disconnect).
func (s *socketChatState) end(id string, remove bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessions--
	if s.sessions <= 0 {
		// Nobody receives the room's typing updates any more: the list
		// would go stale.
		s.sessions, s.typing = 0, nil
	}
	for i := range s.users {
		if s.users[i].ID == id {
			if remove {
				s.users = slices.Delete(s.users, i, i+1)
			} else {
				s.users[i].IsConnected = false
			}
			return
		}
	}
}

// list returns the user list: SocketChat entries, then the users of other
// dialects online on this node.
func (s *socketChatState) list(online []chat.User) []scUser {
	s.mu.Lock()
	out := slices.Clone(s.users)
	s.mu.Unlock()
	seen := make(map[string]bool, len(out))
	for _, u := range out {
		seen[chat.NickKey(u.Nickname)] = true
	}
	for _, u := range online {
		if !seen[chat.NickKey(u.Nickname)] {
			out = append(out, scUser{ID: u.ID, Nickname: u.Nickname, IsConnected: true})
		}
	}
	if out == nil {
		out = []scUser{}
	}
	return out
}

func (s *socketChatState) setTyping(nicks []string) {
	s.mu.Lock()
	s.typing = slices.Clone(nicks)
	s.mu.Unlock()
}

// without removes nick from the typing list and returns the list.
func (s *socketChatState) without(nick string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := chat.NickKey(nick)
	s.typing = slices.DeleteFunc(s.typing, func(n string) bool { return chat.NickKey(n) == key })
	return slices.Clone(s.typing)
}

// typingObject encodes a typing list as SocketChat's {nickname: 1, ...}.
func typingObject(nicks []string) json.RawMessage {
	b := []byte{'{'}
	for i, n := range nicks {
		if i > 0 {
			b = append(b, ',')
		}
		k, _ := json.Marshal(n)
		b = append(b, k...)
		b = append(b, ":1"...)
	}
	return append(b, '}')
}

// DateLayout is SocketChat's dateString: Node's
// new Date().toLocaleString() in en-US, e.g. "11/25/2026, 10:40:00 PM".
const DateLayout = "1/2/2006, 3:04:05 PM"

func (g *Gateway) dateString(ts int64) string {
	return time.UnixMilli(ts).In(g.cfg.Location).Format(DateLayout)
}

// sendUserList broadcasts the user list to every SocketChat socket,
// followed by the updates (userConnectUpdate, userExitUpdate) given: now if
// no list went out in the last window, else at the window's end, once for
// all the changes meanwhile, their updates after it in order.
func (g *Gateway) sendUserList(updates ...scEmit) {
	s := &g.sc
	s.mu.Lock()
	now := g.cfg.Now()
	if wait := s.listAt.Add(g.cfg.SocketChatListWindow).Sub(now); wait > 0 {
		s.after = append(s.after, updates...)
		if s.listPending == nil {
			s.listPending = time.AfterFunc(wait, g.flushUserList)
		}
		s.mu.Unlock()
		return
	}
	s.listAt = now
	s.mu.Unlock()
	g.toSocketChat("userList", g.sc.list(g.svc.Users()))
	for _, u := range updates {
		g.toSocketChat(u.event, u.args...)
	}
}

// flushUserList sends the list a window held back, and what followed it.
func (g *Gateway) flushUserList() {
	s := &g.sc
	s.mu.Lock()
	s.listPending = nil
	s.listAt = g.cfg.Now()
	after := s.after
	s.after = nil
	s.mu.Unlock()
	g.toSocketChat("userList", g.sc.list(g.svc.Users()))
	for _, u := range after {
		g.toSocketChat(u.event, u.args...)
	}
}

// toSocketChat emits an event to every SocketChat socket.
func (g *Gateway) toSocketChat(event string, args ...any) {
	if err := g.nsp.To(roomSocketChat).Emit(event, args...); err != nil {
		g.log.Warn("siogw: SocketChat broadcast failed", "event", event, "err", err)
	}
}

func (c *conn) onSocketChat(ev *socketio.Event) {
	switch ev.Name {
	case "connectUser":
		c.connectUser(ev)
		return
	}
	sess := c.Session()
	if sess == nil {
		if ev.Name != "startType" && ev.Name != "stopType" { // typing is lossy
			c.fail(ev, chat.Errorf(chat.CodeNotConnected, "send connectUser first"))
		}
		return
	}
	switch ev.Name {
	case "exitUser":
		c.exitUser(ev, sess)
	case "chatMessage":
		c.chatMessage(ev, sess)
	case "startType", "stopType":
		active := ev.Name == "startType"
		ctx, cancel := c.g.proto.Context(context.Background())
		err := sess.Typing(ctx, c.g.svc.DefaultRoom(), active)
		cancel()
		if active && err == nil {
			c.startTypingRefresh()
		} else {
			c.stopTypingRefresh()
		}
		if err != nil && ev.HasAck() {
			c.fail(ev, err)
		} else {
			c.ok(ev, nil)
		}
	}
}

func (c *conn) connectUser(ev *socketio.Event) {
	nick, err := stringArg(ev, 0, "connectUser: the nickname", false)
	if err != nil {
		c.fail(ev, err)
		return
	}
	g := c.g
	ident := c.Identity()
	if ident != nil {
		nick = ident.Nickname // the handshake token names the user
	}
	if old := c.Session(); old != nil {
		if chat.NickKey(old.Nickname()) == chat.NickKey(trimNick(nick)) {
			// Connected already as this user: just repeat the news.
			g.sendUserList(scEmit{"userConnectUpdate", []any{scUser{ID: old.ID(), Nickname: old.Nickname(), IsConnected: true}}})
			c.ok(ev, nil)
			return
		}
		// Another user on the same socket: the first one leaves.
		c.endSocketChatSession(old, false)
	}
	ctx, cancel := g.proto.Context(context.Background())
	defer cancel()
	c.dialect.Store(int32(dialectSocketChat))
	sess, err := g.svc.Connect(ctx, chat.ConnectParams{Nickname: nick, Identity: ident, Sink: c})
	if err == nil {
		if _, err = sess.Join(ctx, g.svc.DefaultRoom(), chat.JoinOptions{Limit: 1}); err != nil {
			sess.Disconnect("join of the default room failed")
		}
	}
	if err != nil {
		g.proto.LogFailure(ev.Name, err)
		c.fail(ev, err)
		return
	}
	if !c.Attach(sess) {
		return
	}
	c.sock.Join(roomDialect, roomSocketChat)
	u := g.sc.connect(sess.ID(), sess.Nickname(), g.cfg.SocketChatMaxUsers)
	g.sendUserList(scEmit{"userConnectUpdate", []any{u}})
	c.ok(ev, nil)
}

func trimNick(s string) string {
	n, err := chat.NormalizeNickname(s)
	if err != nil {
		return s
	}
	return n
}

// endSocketChatSession ends sess for exitUser (remove the entry) or a
// second connectUser (mark it offline).
func (c *conn) endSocketChatSession(sess *chat.Session, remove bool) string {
	c.stopTypingRefresh()
	nick := sess.Nickname()
	c.g.sc.end(sess.ID(), remove)
	c.Detach(sess)
	sess.Disconnect("SocketChat exitUser")
	return nick
}

func (c *conn) exitUser(ev *socketio.Event, sess *chat.Session) {
	nick := c.endSocketChatSession(sess, true)
	c.g.toSocketChat("userExitUpdate", nick)
	c.ok(ev, nil)
}

// socketChatDisconnect runs when a SocketChat socket disconnects.
func (g *Gateway) socketChatDisconnect(sess *chat.Session) {
	if sess == nil {
		return // exitUser came first, or connectUser never succeeded
	}
	nick := sess.Nickname()
	g.sc.end(sess.ID(), false)
	sess.Disconnect("SocketChat socket disconnected")
	typing := g.sc.without(nick)
	g.sendUserList(scEmit{"userExitUpdate", []any{nick}}, scEmit{"userTypingUpdate", []any{typingObject(typing)}})
}

func (c *conn) chatMessage(ev *socketio.Event, sess *chat.Session) {
	text, err := stringArg(ev, 1, "chatMessage: the message", true)
	if err != nil {
		c.fail(ev, err)
		return
	}
	c.stopTypingRefresh()
	ctx, cancel := c.g.proto.Context(context.Background())
	defer cancel()
	m, err := sess.Send(ctx, c.g.svc.DefaultRoom(), text, "")
	if err != nil {
		c.g.proto.LogFailure(ev.Name, err)
		c.refuseMessage(ev, err)
		return
	}
	// newChatMessage reaches SocketChat sockets through their sinks, like
	// messages of the other dialects (classic sockets: the watcher).
	c.ok(ev, proto1.SendResult{ID: m.ID, Room: m.Room, Seq: m.Seq, TS: m.TS})
}

// deliverSocketChat turns chat events of the default room into SocketChat
// events: a message becomes userTypingUpdate (its sender stopped typing)
// then newChatMessage; a typing list becomes userTypingUpdate.
func (c *conn) deliverSocketChat(ev *chat.Event) {
	g := c.g
	if ev.Room != g.svc.DefaultRoom() {
		return
	}
	switch ev.Kind {
	case chat.EventMessage:
		m := ev.Message
		typ, _ := prepared(ev, keySCTypingTx{}, func(*chat.Event) (*socketio.PreparedPacket, error) {
			return g.nsp.PrepareEventJSON("userTypingUpdate", typingObject(g.sc.without(m.Sender)))
		})
		msg, _ := prepared(ev, keySCMessage{}, func(*chat.Event) (*socketio.PreparedPacket, error) {
			return g.nsp.PrepareEvent("newChatMessage", m.Sender, m.Text, g.dateString(m.TS))
		})
		c.send(typ, true)
		c.send(msg, false)
	case chat.EventTyping:
		p, _ := prepared(ev, keySCTyping{}, func(*chat.Event) (*socketio.PreparedPacket, error) {
			g.sc.setTyping(ev.Typing.Nicknames)
			return g.nsp.PrepareEventJSON("userTypingUpdate", typingObject(ev.Typing.Nicknames))
		})
		c.send(p, true)
	}
}

// typingRefresh is how often the gateway repeats a SocketChat user's
// typing signal: well within chat's typing TTL.
func (c *conn) typingRefresh() time.Duration {
	ttl := time.Duration(c.g.svc.Limits().TypingTTLMillis) * time.Millisecond
	return max(ttl*3/5, 100*time.Millisecond)
}

func (c *conn) startTypingRefresh() {
	c.typMu.Lock()
	defer c.typMu.Unlock()
	c.typUntil = c.g.cfg.Now().Add(c.g.cfg.SocketChatTypingMax)
	c.typStopped = false
	if c.typTimer == nil {
		c.typTimer = time.AfterFunc(c.typingRefresh(), c.refreshTyping)
	} else {
		c.typTimer.Reset(c.typingRefresh())
	}
}

func (c *conn) stopTypingRefresh() {
	c.typMu.Lock()
	defer c.typMu.Unlock()
	c.typStopped = true
	if c.typTimer != nil {
		c.typTimer.Stop()
	}
}

func (c *conn) refreshTyping() {
	if !c.g.track() {
		return
	}
	defer c.g.bg.Done()
	c.typMu.Lock()
	if c.typStopped || c.g.cfg.Now().After(c.typUntil) {
		c.typMu.Unlock()
		return
	}
	c.typTimer.Reset(c.typingRefresh())
	c.typMu.Unlock()
	sess := c.Session()
	if sess == nil {
		return
	}
	ctx, cancel := c.g.proto.Context(context.Background())
	defer cancel()
	if err := sess.Typing(ctx, c.g.svc.DefaultRoom(), true); err != nil && !errors.Is(err, chat.ErrRateLimited) {
		c.g.log.Debug("siogw: SocketChat typing refresh failed", "err", err)
	}
}

// stringArg returns argument i of a SocketChat event, which must be a
// string (isText: message text).
func stringArg(ev *socketio.Event, i int, what string, isText bool) (string, error) {
	args := ev.RawArgs()
	if i >= len(args) || string(args[i]) == "null" {
		return "", chat.Errorf(chat.CodeInvalidArgument, "%s is missing", what)
	}
	var s string
	return s, proto1.Unmarshal(args[i], what, isText, &s)
}
