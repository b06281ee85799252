package xmppgw

import (
	"context"
	"math"
	"strconv"
	"time"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/gateway/xmpp/stanza"
)

// Multi-user chat (XEP-0045) on rooms.<domain>: a room is a Banter room
// (room@rooms.<domain>, the localpart its name). The occupant's nickname
// is the user's chat nickname whatever the client asked for (status 210
// tells it so); rooms are open, persistent and non-anonymous.

// joinState holds a room's events while its join is being answered.
type joinState struct{ held []*chat.Event }

// onMUCPresence joins, stays in or leaves a room.
func (s *session) onMUCPresence(el *stanza.Element, to stanza.JID) {
	typ := el.Get("type")
	room, err := chat.NormalizeRoom(to.Local)
	if err != nil || chat.IsDMRoom(room) {
		if typ == "" {
			s.sendError(el, to.String(), "modify", "jid-malformed", "room names are [a-z0-9][a-z0-9_-]*, at most 64 characters")
		}
		return
	}
	ctx, cancel := reqCtx()
	defer cancel()
	s.mu.Lock()
	joined := s.mucs[room]
	s.mu.Unlock()
	switch typ {
	case "unavailable":
		if !joined {
			return
		}
		err := s.chat.Leave(ctx, room)
		s.mu.Lock()
		delete(s.mucs, room)
		s.mu.Unlock()
		if err != nil && chat.ErrorCode(err) != chat.CodeNotMember {
			s.g.log.Debug("xmpp: leave failed", "room", room, "err", err)
		}
		var b stanza.Builder
		b.Raw("<presence").Attr("from", s.g.roomJID(room)+"/"+s.chat.Nickname()).Attr("type", "unavailable").Raw(">")
		b.Start("x", "xmlns", stanza.NSMUCUser).Empty("item", "affiliation", "member", "role", "none").
			Empty("status", "code", "110").End("x").End("presence")
		s.send(outItem{pre: b.B, stanza: true})
		return
	case "":
	default:
		return
	}
	if joined {
		return // a presence update: nothing to tell the room (chat has no status)
	}
	s.join(ctx, el, room, to.Resource)
}

// join runs a MUC join: the occupants, our self-presence, the history,
// the subject, then whatever happened in the room meanwhile, in order.
func (s *session) join(ctx context.Context, el *stanza.Element, room, askedNick string) {
	g := s.g
	opt := chat.JoinOptions{Limit: g.cfg.HistoryOnJoin}
	var since int64 // history since (Unix ms), 0: any
	if h := el.Child(stanza.NSMUC, "x").Child(stanza.NSMUC, "history"); h != nil {
		if v := h.Get("maxstanzas"); v != "" {
			n, err := strconv.Atoi(v)
			switch {
			case err != nil || n < 0:
			case n == 0:
				opt = chat.JoinOptions{CatchUp: true, After: math.MaxInt64}
			default:
				opt.Limit = n
			}
		}
		if v := h.Get("seconds"); v != "" {
			if n, err := strconv.Atoi(v); err == nil && n >= 0 {
				since = g.cfg.Now().Add(-time.Duration(n) * time.Second).UnixMilli()
			}
		}
		if v := h.Get("since"); v != "" {
			if t, err := time.Parse(time.RFC3339, v); err == nil {
				since = max(since, t.UnixMilli())
			}
		}
	}
	s.mu.Lock()
	if s.joining == nil {
		s.joining = make(map[string]*joinState)
	}
	s.joining[room] = &joinState{}
	s.mu.Unlock()
	res, err := s.chat.Join(ctx, room, opt)
	if err != nil {
		s.mu.Lock()
		delete(s.joining, room)
		if len(s.joining) == 0 {
			s.joining = nil
		}
		s.mu.Unlock()
		typ, cond, text := chatError(err)
		if chat.ErrorCode(err) == chat.CodeTooManyRooms {
			typ, cond = "cancel", "not-allowed"
		}
		s.sendError(el, g.roomJID(room)+"/"+askedNick, typ, cond, text)
		return
	}
	me := s.chat.Nickname()
	roomJID := g.roomJID(room)
	var items []outItem
	for _, n := range res.Members {
		if chat.NickKey(n) != s.key {
			items = append(items, g.occupantPresence(room, n, "", nil))
		}
	}
	// Self-presence: 100 non-anonymous, 110 self, 210 nick assigned.
	var b stanza.Builder
	b.Raw("<presence").Attr("from", roomJID+"/"+me).Raw(">").Start("x", "xmlns", stanza.NSMUCUser)
	role := "participant"
	if id := s.chat.Identity(); id != nil && id.Admin {
		role = "moderator"
	}
	b.Empty("item", "affiliation", "member", "role", role, "jid", s.jid.String())
	b.Empty("status", "code", "100").Empty("status", "code", "110")
	if askedNick != me {
		b.Empty("status", "code", "210")
	}
	b.End("x").End("presence")
	items = append(items, outItem{pre: b.B, stanza: true})
	for i := range res.Messages {
		m := &res.Messages[i]
		if since > 0 && m.TS < since {
			continue
		}
		items = append(items, outItem{pre: g.historyMessage(m), stanza: true})
	}
	b = stanza.Builder{}
	b.Raw("<message").Attr("from", roomJID).Attr("type", "groupchat").Attr("id", "subject-"+newID()[:8]).Raw("><subject/></message>")
	items = append(items, outItem{pre: b.B, stanza: true})
	s.mu.Lock()
	for _, it := range items {
		s.sendLocked(it)
	}
	held := s.joining[room].held
	delete(s.joining, room)
	if len(s.joining) == 0 {
		s.joining = nil // nothing kept while idle
	}
	if s.mucs == nil {
		s.mucs = make(map[string]bool)
	}
	s.mucs[room] = true
	for _, ev := range held {
		switch ev.Kind {
		case chat.EventMessage:
			if ev.Message.Seq > res.LastSeq {
				s.sendLocked(g.mucMessage(ev))
			}
		case chat.EventPresence:
			if p := ev.Presence; !(chat.NickKey(p.Nickname) == s.key && p.Action == chat.PresenceJoined) {
				for _, it := range g.mucPresence(ev) {
					s.sendLocked(it)
				}
			}
		case chat.EventTyping:
			for _, t := range g.typingItems(ev) {
				if t.key != s.key {
					s.sendLocked(t.item)
				}
			}
		case chat.EventDeleted:
			s.sendLocked(g.deletedItem(ev))
		}
	}
	s.mu.Unlock()
}

// historyMessage renders a stored room message for one recipient, with
// its original time (XEP-0203).
func (g *Gateway) historyMessage(m *chat.Message) []byte {
	var b stanza.Builder
	b.Raw("<message").Attr("from", g.roomJID(m.Room)+"/"+m.Sender).Attr("type", "groupchat").Attr("id", messageID(m)).Raw(">")
	g.appendMUCBody(&b, m)
	b.Empty("delay", "xmlns", stanza.NSDelay, "stamp", stamp(m.TS), "from", g.roomJID(m.Room))
	b.End("message")
	return b.B
}

// onGroupchat sends a message (or a chat state) to a room.
func (s *session) onGroupchat(el *stanza.Element, to stanza.JID) {
	room, err := chat.NormalizeRoom(to.Local)
	from := to.Bare().String()
	if err != nil || chat.IsDMRoom(room) {
		s.sendError(el, from, "modify", "jid-malformed", "no such room")
		return
	}
	if el.Get("type") != "groupchat" {
		s.sendError(el, from, "modify", "bad-request", "messages to a room are of type groupchat")
		return
	}
	if el.Child(stanza.NSClient, "subject") != nil {
		s.sendError(el, from, "auth", "forbidden", "rooms have no subject here")
		return
	}
	ctx, cancel := reqCtx()
	defer cancel()
	body := el.ChildText(stanza.NSClient, "body")
	if body == "" {
		if st := chatStateOf(el); st != "" {
			_ = s.chat.Typing(ctx, room, st == "composing")
		}
		return
	}
	if _, err := s.chat.Send(ctx, room, body, clientID(s.tag, el.Get("id"))); err != nil {
		typ, cond, text := chatError(err)
		s.sendError(el, from, typ, cond, text)
	}
}

// mucIQ answers iqs to the MUC service, a room or an occupant.
func (s *session) mucIQ(el, q *stanza.Element, typ string, to stanza.JID) {
	g := s.g
	if to.Local == "" { // the service
		switch {
		case q.Is(stanza.NSDiscoInfo, "query") && typ == "get":
			s.result(el, g.muc, g.caps.mucInfo())
		case q.Is(stanza.NSDiscoItem, "query") && typ == "get":
			s.roomList(el)
		case q.Is(stanza.NSPing, "ping"):
			s.result(el, g.muc, nil)
		default:
			s.sendError(el, g.muc, "cancel", "service-unavailable", "")
		}
		return
	}
	room, err := chat.NormalizeRoom(to.Local)
	if err != nil || chat.IsDMRoom(room) {
		s.sendError(el, to.String(), "cancel", "item-not-found", "no such room")
		return
	}
	s.mu.Lock()
	joined := s.mucs[room]
	s.mu.Unlock()
	if to.Resource != "" { // an occupant: only our own self-ping (XEP-0410)
		if q.Is(stanza.NSPing, "ping") && joined && to.Resource == s.chat.Nickname() {
			s.result(el, to.String(), nil)
			return
		}
		if q.Is(stanza.NSPing, "ping") && !joined {
			s.sendError(el, to.String(), "cancel", "not-acceptable", "not in the room")
			return
		}
		s.sendError(el, to.String(), "cancel", "service-unavailable", "")
		return
	}
	from := to.String()
	switch {
	case q.Is(stanza.NSDiscoInfo, "query") && typ == "get":
		if !s.chat.MayRead(room) {
			s.sendError(el, from, "auth", "forbidden", "your token does not allow this room")
			return
		}
		s.result(el, from, g.caps.roomInfo(room))
	case q.Is(stanza.NSDiscoItem, "query") && typ == "get":
		s.result(el, from, []byte("<query xmlns='"+stanza.NSDiscoItem+"'/>"))
	case q.Is(stanza.NSPing, "ping"):
		s.result(el, from, nil)
	case q.Is(stanza.NSMAM, "query") && typ == "set":
		s.roomMAM(el, q, room)
	case q.Is(stanza.NSMUCAdmin, "query") && typ == "set":
		s.mucAdmin(el, q, room)
	case q.Is(stanza.NSModerate, "moderate") && typ == "set":
		s.moderate(el, q, room)
	case q.Is(stanza.NSMUCOwner, "query"):
		if typ == "get" {
			// The room needs no configuration: an empty form.
			s.result(el, from, []byte("<query xmlns='"+stanza.NSMUCOwner+"'><x xmlns='"+stanza.NSData+"' type='form'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/muc#roomconfig</value></field></x></query>"))
			return
		}
		s.result(el, from, nil) // submitting (or cancelling) a form changes nothing
	default:
		s.sendError(el, from, "cancel", "service-unavailable", "")
	}
}

// roomList: disco#items of the service lists the rooms with messages.
func (s *session) roomList(el *stanza.Element) {
	ctx, cancel := reqCtx()
	defer cancel()
	rooms, err := s.chat.Rooms(ctx)
	if err != nil {
		typ, cond, text := chatError(err)
		s.sendError(el, s.g.muc, typ, cond, text)
		return
	}
	var b stanza.Builder
	b.Start("query", "xmlns", stanza.NSDiscoItem)
	for _, r := range rooms {
		if !chat.IsDMRoom(r.Name) {
			b.Empty("item", "jid", s.g.roomJID(r.Name), "name", r.Name)
		}
	}
	b.End("query")
	s.result(el, s.g.muc, b.B)
}

// mucAdmin: a moderator kicks an occupant (role none). A Banter kick ends
// every session of the user, not only its presence in this room.
func (s *session) mucAdmin(el, q *stanza.Element, room string) {
	item := q.Child(stanza.NSMUCAdmin, "item")
	from := s.g.roomJID(room)
	if item == nil || item.Get("role") != "none" || item.Get("nick") == "" {
		s.sendError(el, from, "cancel", "feature-not-implemented", "only kicking (role none, by nick) is supported")
		return
	}
	ctx, cancel := reqCtx()
	defer cancel()
	if err := s.chat.Kick(ctx, item.Get("nick"), item.ChildText(stanza.NSMUCAdmin, "reason")); err != nil {
		typ, cond, text := chatError(err)
		if chat.ErrorCode(err) == chat.CodeForbidden {
			typ, cond = "auth", "forbidden"
		}
		s.sendError(el, from, typ, cond, text)
		return
	}
	s.result(el, from, nil)
}

// moderate: a moderator retracts a message (XEP-0425): chat deletes it,
// a tombstone stays.
func (s *session) moderate(el, q *stanza.Element, room string) {
	from := s.g.roomJID(room)
	seq, err := strconv.ParseInt(q.Get("id"), 10, 64)
	if err != nil || q.Child(stanza.NSRetract, "retract") == nil {
		s.sendError(el, from, "modify", "bad-request", "moderate a message by its stanza id, with <retract/>")
		return
	}
	ctx, cancel := reqCtx()
	defer cancel()
	if _, err := s.chat.DeleteMessage(ctx, room, seq); err != nil {
		typ, cond, text := chatError(err)
		s.sendError(el, from, typ, cond, text)
		return
	}
	s.result(el, from, nil)
}
