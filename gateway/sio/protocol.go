package siogw

import (
	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/socketio"
)

// ProtocolVersion is the version of docs/protocol.md this gateway speaks.
const ProtocolVersion = 1

// onV1 handles the events of protocol 1.
func (c *conn) onV1(ev *socketio.Event) {
	if ev.Name == "hello" {
		c.hello(ev)
		return
	}
	sess := c.session()
	if sess == nil {
		if ev.Name == "typing" && !ev.HasAck() {
			return // lossy: no error for a dropped typing signal
		}
		c.fail(ev, chat.Errorf(chat.CodeNotConnected, "say hello first"))
		return
	}
	switch ev.Name {
	case "nick":
		c.nick(ev, sess)
	case "join":
		c.join(ev, sess)
	case "leave":
		c.leave(ev, sess)
	case "rooms":
		c.rooms(ev, sess)
	case "send", "dm":
		c.sendMessage(ev, sess, ev.Name == "dm")
	case "history", "since":
		c.page(ev, sess)
	case "typing":
		c.typing(ev, sess)
	case "kick":
		c.kick(ev, sess)
	case "delete":
		c.deleteMessage(ev, sess)
	}
}

type deleteAck struct {
	OK   bool   `json:"ok"`
	Room string `json:"room"`
	Seq  int64  `json:"seq"`
}

func (c *conn) deleteMessage(ev *socketio.Event, sess *chat.Session) {
	a, err := bindDelete(ev)
	if err != nil {
		c.fail(ev, err)
		return
	}
	ctx, cancel := c.g.ctx()
	defer cancel()
	m, err := sess.DeleteMessage(ctx, a.Room, a.Seq)
	if err != nil {
		c.fail(ev, err)
		return
	}
	c.ok(ev, deleteAck{OK: true, Room: m.Room, Seq: m.Seq})
}

func (c *conn) kick(ev *socketio.Event, sess *chat.Session) {
	a, err := bindKick(ev)
	if err != nil {
		c.fail(ev, err)
		return
	}
	ctx, cancel := c.g.ctx()
	defer cancel()
	if err := sess.Kick(ctx, a.Nickname, a.Reason); err != nil {
		c.fail(ev, err)
		return
	}
	c.ok(ev, okAck{OK: true})
}

type helloAck struct {
	OK          bool        `json:"ok"`
	Protocol    int         `json:"protocol"`
	ID          string      `json:"id"`
	Nickname    string      `json:"nickname"`
	Token       string      `json:"token"`
	Limits      chat.Limits `json:"limits"`
	DefaultRoom string      `json:"defaultRoom"`
	Rooms       []any       `json:"rooms"`
	Users       []chat.User `json:"users,omitempty"`
}

type joinAck struct {
	OK bool `json:"ok"`
	chat.JoinResult
}

type joinFailure struct {
	Room  string    `json:"room"`
	OK    bool      `json:"ok"`
	Error errorBody `json:"error"`
}

func (c *conn) hello(ev *socketio.Event) {
	if c.session() != nil {
		c.fail(ev, chat.Errorf(chat.CodeInvalidArgument, "hello was already said on this connection (use nick to rename)"))
		return
	}
	a, err := bindHello(ev)
	if err != nil {
		c.fail(ev, err)
		return
	}
	if a.Nickname == nil && a.Token == "" && c.ident == nil {
		c.fail(ev, chat.Errorf(chat.CodeInvalidNickname, "hello: field \"nickname\" is missing"))
		return
	}
	ctx, cancel := c.g.ctx()
	defer cancel()
	// A token in hello is verified even when the handshake had one (it
	// takes precedence); without one, the handshake's identity holds.
	ident := c.ident
	if a.Token != "" {
		if ident, err = c.g.svc.Authenticate(ctx, a.Token); err != nil {
			c.fail(ev, err)
			return
		}
	}
	nickname := ""
	if a.Nickname != nil {
		nickname = *a.Nickname
	}
	// The dialect is set before Connect: events may reach the sink before
	// Connect returns.
	c.dialect.Store(int32(dialectV1))
	sess, err := c.g.svc.Connect(ctx, chat.ConnectParams{
		Nickname: nickname, Identity: ident, Sink: c, ResumeToken: a.Resume, WatchUsers: a.WatchUsers,
	})
	if err != nil {
		c.dialect.Store(int32(dialectNone))
		c.fail(ev, err)
		return
	}
	if !c.setSession(sess) {
		return
	}
	c.sock.Leave(roomClassic)
	since := make(map[string]int64, len(a.since))
	for _, s := range a.since {
		since[s.room] = s.seq
	}
	var results []any
	join := func(room string, opt chat.JoinOptions) {
		res, err := sess.Join(ctx, room, opt)
		if err != nil {
			results = append(results, joinFailure{Room: room, OK: false, Error: errorFor(err)})
			return
		}
		results = append(results, joinAck{OK: true, JoinResult: res})
	}
	inRooms := make(map[string]bool, len(a.Rooms))
	for _, r := range a.Rooms {
		inRooms[r] = true
		if seq, ok := since[r]; ok {
			join(r, chat.JoinOptions{CatchUp: true, After: seq})
		} else {
			join(r, chat.JoinOptions{})
		}
	}
	for _, s := range a.since {
		if !inRooms[s.room] {
			join(s.room, chat.JoinOptions{CatchUp: true, After: s.seq})
		}
	}
	if results == nil {
		results = []any{}
	}
	ack := helloAck{
		OK: true, Protocol: ProtocolVersion, ID: sess.ID(), Nickname: sess.Nickname(), Token: sess.Token(),
		Limits: c.g.svc.Limits(), DefaultRoom: c.g.svc.DefaultRoom(), Rooms: results,
	}
	if a.WatchUsers {
		ack.Users = c.g.svc.Users()
	}
	if !ev.HasAck() {
		return // nothing to report; the session is up
	}
	c.ok(ev, ack)
}

type nickAck struct {
	OK       bool   `json:"ok"`
	Nickname string `json:"nickname"`
}

func (c *conn) nick(ev *socketio.Event, sess *chat.Session) {
	name, err := stringArg(ev, 0, "nick: the nickname")
	if err != nil {
		c.fail(ev, err)
		return
	}
	ctx, cancel := c.g.ctx()
	defer cancel()
	if err := sess.Rename(ctx, name); err != nil {
		c.fail(ev, err)
		return
	}
	c.ok(ev, nickAck{OK: true, Nickname: sess.Nickname()})
}

func (c *conn) join(ev *socketio.Event, sess *chat.Session) {
	a, err := bindJoin(ev)
	if err != nil {
		c.fail(ev, err)
		return
	}
	opt := chat.JoinOptions{Limit: a.Limit}
	if a.After != nil {
		if *a.After < 0 {
			c.fail(ev, chat.Errorf(chat.CodeInvalidArgument, "join: \"after\" must not be negative"))
			return
		}
		opt.CatchUp, opt.After = true, *a.After
	}
	ctx, cancel := c.g.ctx()
	defer cancel()
	res, err := sess.Join(ctx, a.Room, opt)
	if err != nil {
		c.fail(ev, err)
		return
	}
	c.ok(ev, joinAck{OK: true, JoinResult: res})
}

type roomAck struct {
	OK   bool   `json:"ok"`
	Room string `json:"room"`
}

func (c *conn) leave(ev *socketio.Event, sess *chat.Session) {
	room, err := stringArg(ev, 0, "leave: the room")
	if err != nil {
		c.fail(ev, err)
		return
	}
	ctx, cancel := c.g.ctx()
	defer cancel()
	if err := sess.Leave(ctx, room); err != nil {
		c.fail(ev, err)
		return
	}
	canon, _ := chat.NormalizeRoom(room) // Leave succeeded: valid
	c.ok(ev, roomAck{OK: true, Room: canon})
}

type roomsAck struct {
	OK    bool            `json:"ok"`
	Rooms []chat.RoomInfo `json:"rooms"`
}

func (c *conn) rooms(ev *socketio.Event, sess *chat.Session) {
	ctx, cancel := c.g.ctx()
	defer cancel()
	rooms, err := sess.Rooms(ctx)
	if err != nil {
		c.fail(ev, err)
		return
	}
	if rooms == nil {
		rooms = []chat.RoomInfo{}
	}
	c.ok(ev, roomsAck{OK: true, Rooms: rooms})
}

type sendAck struct {
	OK        bool   `json:"ok"`
	ID        string `json:"id"`
	Room      string `json:"room"`
	Seq       int64  `json:"seq"`
	TS        int64  `json:"ts"`
	Duplicate bool   `json:"duplicate,omitempty"`
}

func (c *conn) sendMessage(ev *socketio.Event, sess *chat.Session, dm bool) {
	a, err := bindSend(ev, dm)
	if err != nil {
		c.fail(ev, err)
		return
	}
	ctx, cancel := c.g.ctx()
	defer cancel()
	var m chat.Message
	if dm {
		m, err = sess.DirectMessage(ctx, a.To, *a.Text, a.ClientID)
	} else {
		m, err = sess.Send(ctx, a.Room, *a.Text, a.ClientID)
	}
	if err != nil {
		c.fail(ev, err)
		return
	}
	if m.Room == c.g.svc.DefaultRoom() && !m.Duplicate {
		c.g.broadcastClassic(m.Sender, m.Text, false)
	}
	c.ok(ev, sendAck{OK: true, ID: m.ID, Room: m.Room, Seq: m.Seq, TS: m.TS, Duplicate: m.Duplicate})
}

type pageAck struct {
	OK       bool           `json:"ok"`
	Room     string         `json:"room"`
	Messages []chat.Message `json:"messages"`
}

func (c *conn) page(ev *socketio.Event, sess *chat.Session) {
	a, err := bindPage(ev, ev.Name)
	if err != nil {
		c.fail(ev, err)
		return
	}
	ctx, cancel := c.g.ctx()
	defer cancel()
	var msgs []chat.Message
	if ev.Name == "history" {
		msgs, err = sess.History(ctx, a.Room, a.Before, a.Limit)
	} else {
		msgs, err = sess.Since(ctx, a.Room, a.After, a.Limit)
	}
	if err != nil {
		c.fail(ev, err)
		return
	}
	canon, _ := chat.NormalizeRoom(a.Room)
	if msgs == nil {
		msgs = []chat.Message{}
	}
	c.ok(ev, pageAck{OK: true, Room: canon, Messages: msgs})
}

func (c *conn) typing(ev *socketio.Event, sess *chat.Session) {
	a, err := bindTyping(ev)
	if err == nil {
		ctx, cancel := c.g.ctx()
		err = sess.Typing(ctx, a.Room, *a.Typing)
		cancel()
	}
	switch {
	case err == nil:
		c.ok(ev, okAck{OK: true})
	case ev.HasAck():
		c.fail(ev, err)
	}
	// Without an ack, typing errors are not reported: typing is lossy.
}
