package xmppgw

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"sync"
	"time"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/gateway/xmpp/stanza"
)

// Rendering chat events as stanzas. A room event is rendered once per
// node and kind of recipient (chat.Event.Cached) into outItems whose only
// per-recipient part is the 'to' attribute, filled in when a connection's
// queue is written: the fan-out does no per-recipient encoding.

type cacheKey uint8

const (
	keyMUCMessage cacheKey = iota + 1
	keyMUCPresence
	keyTyping
	keyDMReceived
	keyDMSent
	keyDeleted
)

// Deliver implements chat.Sink. It runs under chat's locks: it renders
// (cached per event), queues and returns.
func (s *session) Deliver(ev *chat.Event) {
	switch ev.Kind {
	case chat.EventMessage:
		s.deliverMessage(ev)
	case chat.EventPresence:
		if s.hold(ev) || chat.IsDMRoom(ev.Room) {
			return
		}
		p := ev.Presence
		if chat.NickKey(p.Nickname) == s.key && p.Action == chat.PresenceJoined {
			return // our self-presence goes out with the join (muc.go)
		}
		s.push(s.g.mucPresence(ev)...)
	case chat.EventTyping:
		if s.hold(ev) {
			return
		}
		items := s.g.typingItems(ev) // computed even when not sent: the room's typing state moves on
		s.mu.Lock()
		inactive := s.inactive
		s.mu.Unlock()
		if inactive {
			return
		}
		for _, t := range items {
			if t.key != s.key {
				s.push(t.item)
			}
		}
	case chat.EventDeleted:
		if s.hold(ev) || chat.IsDMRoom(ev.Room) {
			return
		}
		s.push(s.g.deletedItem(ev))
	case chat.EventUser:
		s.deliverUser(ev.User)
	case chat.EventDisconnect:
		d := ev.Disconnect
		switch d.Reason {
		case chat.ReasonReplaced:
			s.terminate("conflict", "replaced by a new connection of the same user")
		case chat.ReasonShutdown:
			s.terminate("system-shutdown", "the server is shutting down")
		case chat.ReasonKicked:
			text := "kicked by " + d.By
			if d.Message != "" {
				text += ": " + d.Message
			}
			s.terminate("policy-violation", text)
		case chat.ReasonExpired:
			s.terminate("not-authorized", "your token expired: log in with a new one")
		default:
			s.terminate("reset", string(d.Reason))
		}
	}
}

// push queues items.
func (s *session) push(items ...outItem) {
	if len(items) == 0 {
		return
	}
	s.mu.Lock()
	for _, it := range items {
		s.sendLocked(it)
	}
	s.mu.Unlock()
}

// hold keeps events of a room whose MUC join is in progress, for after
// the join's history (muc.go). It reports whether it held ev.
func (s *session) hold(ev *chat.Event) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if j := s.joining[ev.Room]; j != nil {
		j.held = append(j.held, ev)
		return true
	}
	return false
}

func (s *session) deliverMessage(ev *chat.Event) {
	if s.hold(ev) {
		return
	}
	m := ev.Message
	if !chat.IsDMRoom(ev.Room) {
		s.push(s.g.mucMessage(ev))
		return
	}
	if chat.NickKey(m.Sender) != s.key {
		s.addContact(dmPeer(ev.Room, s.key), m.Sender)
		s.push(s.g.dmReceived(ev))
		return
	}
	// Our own message: from this very session (no echo in 1:1 chat), or
	// from another device (a carbon, XEP-0280, if enabled).
	if tag, _, ok := splitClientID(m.ClientID); ok && tag == s.tag {
		return
	}
	s.mu.Lock()
	carbons := s.carbons
	s.mu.Unlock()
	if carbons {
		s.push(s.g.dmSent(ev))
	}
}

// dmPeer returns the other user's key of a DM room.
func dmPeer(room, me string) string {
	a, b, _ := chat.DMParticipants(room)
	if a == me {
		return b
	}
	return a
}

func (g *Gateway) roomJID(room string) string { return room + "@" + g.muc }

func (g *Gateway) userJID(nick string) string { return stanza.EscapeLocal(nick) + "@" + g.domain }

// Client ids of messages sent through this gateway: "x" + the sending
// session's tag + "." + the stanza's id (hashed when it is not a short
// printable ASCII string), so the id goes back out with the message (a
// client matches its MUC reflection by it) and a session knows its own
// DMs.
func clientID(tag, id string) string {
	if id == "" {
		id = newID()
	}
	ok := len(id) <= 100
	for i := 0; ok && i < len(id); i++ {
		ok = id[i] > ' ' && id[i] <= '~'
	}
	if !ok {
		sum := sha256.Sum256([]byte(id))
		id = "h" + hex.EncodeToString(sum[:16])
	}
	return "x" + tag + "." + id
}

func splitClientID(cid string) (tag, id string, ok bool) {
	if len(cid) < 11 || cid[0] != 'x' || cid[9] != '.' {
		return "", "", false
	}
	return cid[1:9], cid[10:], true
}

// messageID is the id attribute of a rendered message: the sender's own
// stanza id, another gateway's client id, or the server id.
func messageID(m *chat.Message) string {
	if _, id, ok := splitClientID(m.ClientID); ok {
		return id
	}
	if m.ClientID != "" {
		return m.ClientID
	}
	return m.ID
}

// archiveID is a message's stanza id (XEP-0359) and MAM id: its seq in a
// room's archive, room/seq in a user's (DMs).
func archiveID(m *chat.Message) string {
	if chat.IsDMRoom(m.Room) {
		return m.Room + "/" + strconv.FormatInt(m.Seq, 10)
	}
	return strconv.FormatInt(m.Seq, 10)
}

// appendMUCBody writes a room message's children.
func (g *Gateway) appendMUCBody(b *stanza.Builder, m *chat.Message) {
	if m.Deleted {
		b.Empty("retracted", "xmlns", stanza.NSRetract, "stamp", stamp(m.TS))
	} else {
		b.Elem("body", m.Text)
	}
	b.Empty("stanza-id", "xmlns", stanza.NSSID, "id", archiveID(m), "by", g.roomJID(m.Room))
	if _, id, ok := splitClientID(m.ClientID); ok {
		b.Empty("origin-id", "xmlns", stanza.NSSID, "id", id)
	}
}

// mucMessage: <message from='room@rooms/nick' type='groupchat'>.
func (g *Gateway) mucMessage(ev *chat.Event) outItem {
	v, _ := ev.Cached(keyMUCMessage, func(ev *chat.Event) (any, error) {
		m := ev.Message
		var b stanza.Builder
		b.Raw("<message").Attr("from", g.roomJID(m.Room)+"/"+m.Sender).Attr("type", "groupchat").Attr("id", messageID(m)).Raw(" to='")
		pre := b.B
		b = stanza.Builder{}
		b.Raw("'>")
		g.appendMUCBody(&b, m)
		b.End("message")
		return outItem{pre: pre, post: b.B, stanza: true}, nil
	})
	return v.(outItem)
}

// mucPresence: occupant presence for joined, left, kicked and renamed.
func (g *Gateway) mucPresence(ev *chat.Event) []outItem {
	v, _ := ev.Cached(keyMUCPresence, func(ev *chat.Event) (any, error) {
		p := ev.Presence
		switch p.Action {
		case chat.PresenceJoined:
			return []outItem{g.occupantPresence(p.Room, p.Nickname, "", nil)}, nil
		case chat.PresenceLeft:
			return []outItem{g.occupantPresence(p.Room, p.Nickname, "unavailable", nil)}, nil
		case chat.PresenceKicked:
			return []outItem{g.occupantPresence(p.Room, p.Nickname, "unavailable", func(b *stanza.Builder) {
				b.Start("item", "affiliation", "member", "role", "none")
				if p.By != "" {
					b.Empty("actor", "nick", p.By)
				}
				if p.Reason != "" {
					b.Elem("reason", p.Reason)
				}
				b.End("item").Empty("status", "code", "307")
			})}, nil
		case chat.PresenceRenamed:
			return []outItem{
				g.occupantPresence(p.Room, p.From, "unavailable", func(b *stanza.Builder) {
					b.Empty("item", "affiliation", "member", "role", "participant", "nick", p.Nickname).Empty("status", "code", "303")
				}),
				g.occupantPresence(p.Room, p.Nickname, "", nil),
			}, nil
		}
		return []outItem(nil), nil
	})
	return v.([]outItem)
}

// occupantPresence renders a room occupant's presence; x writes the
// muc#user children (default: the occupant's item).
func (g *Gateway) occupantPresence(room, nick, typ string, x func(*stanza.Builder)) outItem {
	var b stanza.Builder
	b.Raw("<presence").Attr("from", g.roomJID(room)+"/"+nick)
	if typ != "" {
		b.Attr("type", typ)
	}
	b.Raw(" to='")
	pre := b.B
	b = stanza.Builder{}
	b.Raw("'>").Start("x", "xmlns", stanza.NSMUCUser)
	if x != nil {
		x(&b)
	} else {
		role := "participant"
		if typ == "unavailable" {
			role = "none"
		}
		b.Empty("item", "affiliation", "member", "role", role, "jid", g.userJID(nick))
	}
	b.End("x").End("presence")
	return outItem{pre: pre, post: b.B, stanza: true}
}

// deletedItem: a moderator's retraction (XEP-0425 over XEP-0424).
func (g *Gateway) deletedItem(ev *chat.Event) outItem {
	v, _ := ev.Cached(keyDeleted, func(ev *chat.Event) (any, error) {
		d := ev.Deleted
		var b stanza.Builder
		b.Raw("<message").Attr("from", g.roomJID(d.Room)).Attr("type", "groupchat").Attr("id", "retract-"+strconv.FormatInt(d.Seq, 10)).Raw(" to='")
		pre := b.B
		b = stanza.Builder{}
		b.Raw("'>").Start("retract", "xmlns", stanza.NSRetract, "id", strconv.FormatInt(d.Seq, 10))
		b.Empty("moderated", "xmlns", stanza.NSModerate, "by", g.roomJID(d.Room)+"/"+d.By)
		b.End("retract").Empty("store", "xmlns", stanza.NSHints).End("message")
		return outItem{pre: pre, post: b.B, stanza: true}, nil
	})
	return v.(outItem)
}

// appendDM writes a 1:1 message from the sender to the peer (the
// payload of a received message and of a sent carbon).
func (g *Gateway) appendDM(b *stanza.Builder, m *chat.Message, withTo bool) {
	me := g.userJID(m.Sender)
	peer := stanza.EscapeLocal(dmPeer(m.Room, chat.NickKey(m.Sender))) + "@" + g.domain
	if withTo {
		b.Raw("<message xmlns='jabber:client'").Attr("from", me).Attr("to", peer)
	} else {
		b.Raw("<message").Attr("from", me)
	}
	b.Attr("type", "chat").Attr("id", messageID(m))
	if !withTo {
		b.Raw(" to='")
		return
	}
	b.Raw(">")
	g.appendDMBody(b, m, peer)
	b.End("message")
}

func (g *Gateway) appendDMBody(b *stanza.Builder, m *chat.Message, by string) {
	if m.Deleted {
		b.Empty("retracted", "xmlns", stanza.NSRetract, "stamp", stamp(m.TS))
	} else {
		b.Elem("body", m.Text)
	}
	b.Empty("stanza-id", "xmlns", stanza.NSSID, "id", archiveID(m), "by", by)
	if _, id, ok := splitClientID(m.ClientID); ok {
		b.Empty("origin-id", "xmlns", stanza.NSSID, "id", id)
	}
}

// dmReceived: the DM as its recipient gets it.
func (g *Gateway) dmReceived(ev *chat.Event) outItem {
	v, _ := ev.Cached(keyDMReceived, func(ev *chat.Event) (any, error) {
		m := ev.Message
		var b stanza.Builder
		g.appendDM(&b, m, false)
		pre := b.B
		b = stanza.Builder{}
		b.Raw("'>")
		g.appendDMBody(&b, m, stanza.EscapeLocal(dmPeer(m.Room, chat.NickKey(m.Sender)))+"@"+g.domain)
		b.End("message")
		return outItem{pre: pre, post: b.B, stanza: true}, nil
	})
	return v.(outItem)
}

// dmSent: a sent carbon for the sender's other resources.
func (g *Gateway) dmSent(ev *chat.Event) outItem {
	v, _ := ev.Cached(keyDMSent, func(ev *chat.Event) (any, error) {
		m := ev.Message
		var b stanza.Builder
		b.Raw("<message").Attr("from", g.userJID(m.Sender)).Attr("type", "chat").Raw(" to='")
		pre := b.B
		b = stanza.Builder{}
		b.Raw("'>").Start("sent", "xmlns", stanza.NSCarbons).Start("forwarded", "xmlns", stanza.NSForward)
		g.appendDM(&b, m, true)
		b.End("forwarded").End("sent").Empty("private", "xmlns", stanza.NSCarbons).End("message")
		return outItem{pre: pre, post: b.B, stanza: true}, nil
	})
	return v.(outItem)
}

// typingItem is one user's chat state change, rendered.
type typingItem struct {
	key  string // the typist's NickKey (not sent back to its own sessions)
	item outItem
}

// typingItems turns a room's typing list into XEP-0085 chat states: the
// change since the previous list of the room, computed once per event
// (events of a room reach every recipient in the same order).
func (g *Gateway) typingItems(ev *chat.Event) []typingItem {
	v, _ := ev.Cached(keyTyping, func(ev *chat.Event) (any, error) {
		t := ev.Typing
		g.typMu.Lock()
		prev := g.typing[t.Room]
		if len(t.Nicknames) == 0 {
			delete(g.typing, t.Room)
		} else {
			g.typing[t.Room] = t.Nicknames
		}
		g.typMu.Unlock()
		var out []typingItem
		was := make(map[string]bool, len(prev))
		for _, n := range prev {
			was[chat.NickKey(n)] = true
		}
		now := make(map[string]bool, len(t.Nicknames))
		for _, n := range t.Nicknames {
			now[chat.NickKey(n)] = true
			if !was[chat.NickKey(n)] {
				out = append(out, typingItem{chat.NickKey(n), g.chatState(t.Room, n, "composing")})
			}
		}
		for _, n := range prev {
			if !now[chat.NickKey(n)] {
				out = append(out, typingItem{chat.NickKey(n), g.chatState(t.Room, n, "paused")})
			}
		}
		return out, nil
	})
	return v.([]typingItem)
}

func (g *Gateway) chatState(room, nick, state string) outItem {
	var b stanza.Builder
	if chat.IsDMRoom(room) {
		b.Raw("<message").Attr("from", g.userJID(nick)).Attr("type", "chat").Raw(" to='")
	} else {
		b.Raw("<message").Attr("from", g.roomJID(room)+"/"+nick).Attr("type", "groupchat").Raw(" to='")
	}
	pre := b.B
	b = stanza.Builder{}
	b.Raw("'>").Empty(state, "xmlns", stanza.NSChatState).Empty("no-store", "xmlns", stanza.NSHints).End("message")
	return outItem{pre: pre, post: b.B, stanza: true}
}

// stamp formats a Unix-ms time as XEP-0082 (UTC, milliseconds).
func stamp(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z")
}

// typing state shared by typingItems.
type typingState struct {
	typMu  sync.Mutex
	typing map[string][]string
}
