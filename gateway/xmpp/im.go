package xmppgw

import (
	"context"
	"math"
	"slices"
	"time"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/gateway/xmpp/stanza"
)

// Instant messaging (RFC 6121) over the chat: 1:1 messages are DMs, the
// roster is the users one has DM rooms with, presence of contacts is
// their online status.

func reqCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 30*time.Second)
}

// onElement handles a top-level element of a bound stream.
func (s *session) onElement(c *conn, el *stanza.Element) {
	if el.Space == stanza.NSSM {
		s.onSM(c, el)
		return
	}
	if el.Space == stanza.NSCSI { // XEP-0352: an inactive client gets no typing
		s.mu.Lock()
		s.inactive = el.Local == "inactive"
		s.mu.Unlock()
		return
	}
	if el.Space != stanza.NSClient || (el.Local != "message" && el.Local != "presence" && el.Local != "iq") {
		c.streamError("unsupported-stanza-type", "expected message, presence or iq")
		return
	}
	s.mu.Lock()
	if s.sm {
		s.inH++
	}
	// Under the lock: after a resumption the old connection's processor
	// may still be finishing a stanza of this session.
	allowed := s.reqs.take(s.g.cfg.RequestBurst, s.g.cfg.RequestsPerSecond, s.g.cfg.Now())
	s.mu.Unlock()
	typ := el.Get("type")
	if !allowed {
		if el.Local != "presence" && typ != "error" && typ != "result" {
			s.sendError(el, "", "wait", "resource-constraint", "too many requests, slow down")
		}
		return
	}
	var to stanza.JID
	if t := el.Get("to"); t != "" {
		j, err := stanza.ParseJID(t)
		if err != nil {
			if typ != "error" {
				s.sendError(el, "", "modify", "jid-malformed", "invalid 'to' address")
			}
			return
		}
		to = j
	}
	switch el.Local {
	case "iq":
		s.onIQ(el, to)
	case "message":
		s.onMessage(el, to)
	case "presence":
		s.onPresence(el, to)
	}
}

// sendError answers el with a stanza error (RFC 6120 8.3). from is the
// entity that answers ("" for the server).
func (s *session) sendError(el *stanza.Element, from, typ, cond, text string) {
	var b stanza.Builder
	b.Raw("<"+el.Local).Attr("type", "error")
	if id := el.Get("id"); id != "" {
		b.Attr("id", id)
	}
	if from == "" {
		from = el.Get("to")
	}
	if from != "" {
		b.Attr("from", from)
	}
	b.Raw(">")
	appendStanzaError(&b, typ, cond, text)
	b.End(el.Local)
	s.send(outItem{pre: b.B, stanza: true})
}

func appendStanzaError(b *stanza.Builder, typ, cond, text string) {
	b.Start("error", "type", typ).Empty(cond, "xmlns", stanza.NSStanzas)
	if text != "" {
		b.Elem("text", text, "xmlns", stanza.NSStanzas, "xml:lang", "en")
	}
	b.End("error")
}

// iqError renders an iq error before a session exists.
func iqError(id, from, to, typ, cond, text string) []byte {
	var b stanza.Builder
	b.Raw("<iq").Attr("type", "error").Attr("id", id)
	if from != "" {
		b.Attr("from", from)
	}
	if to != "" {
		b.Attr("to", to)
	}
	b.Raw(">")
	appendStanzaError(&b, typ, cond, text)
	b.End("iq")
	return b.B
}

// chatError maps a chat error to a stanza error.
func chatError(err error) (typ, cond, text string) {
	code, msg := chat.ClientError(err)
	switch code {
	case chat.CodeInvalidNickname, chat.CodeInvalidRoom:
		return "modify", "jid-malformed", msg
	case chat.CodeInvalidMessage, chat.CodeEmptyMessage, chat.CodeInvalidArgument:
		return "modify", "bad-request", msg
	case chat.CodeMessageTooLarge:
		return "modify", "policy-violation", msg
	case chat.CodeNotMember:
		return "cancel", "not-acceptable", msg
	case chat.CodeForbidden:
		return "auth", "forbidden", msg
	case chat.CodeNotFound:
		return "cancel", "item-not-found", msg
	case chat.CodeRateLimited, chat.CodeTooManyRooms:
		return "wait", "resource-constraint", msg
	case chat.CodeUnauthenticated, chat.CodeTokenExpired, chat.CodeTokenInvalid:
		return "auth", "not-authorized", msg
	case chat.CodeNicknameTaken:
		return "cancel", "conflict", msg
	case chat.CodeUnavailable, chat.CodeNotConnected:
		return "wait", "internal-server-error", msg
	}
	return "cancel", "internal-server-error", msg
}

// result answers an iq with a result holding payload (may be nil), from
// the entity the iq was addressed to (RFC 6120 8.2.3: clients such as
// profanity rely on it).
func (s *session) result(el *stanza.Element, from string, payload []byte) {
	if from == "" {
		from = el.Get("to")
	}
	var b stanza.Builder
	b.Raw("<iq").Attr("type", "result").Attr("id", el.Get("id"))
	if from != "" {
		b.Attr("from", from)
	}
	if len(payload) == 0 {
		b.Raw("/>")
	} else {
		b.Raw(">").Raw(string(payload)).End("iq")
	}
	s.send(outItem{pre: b.B, stanza: true})
}

// onIQ routes an iq by its addressee.
func (s *session) onIQ(el *stanza.Element, to stanza.JID) {
	typ := el.Get("type")
	if typ == "result" || typ == "error" {
		return // answers to our roster pushes
	}
	if (typ != "get" && typ != "set") || el.Get("id") == "" || len(el.Children) != 1 {
		s.sendError(el, "", "modify", "bad-request", "an iq get or set has an id and one child")
		return
	}
	q := el.Children[0]
	g := s.g
	switch {
	case to.IsZero() || (to.Local == "" && to.Domain == g.domain && to.Resource == ""):
		s.serverIQ(el, q, typ)
	case to.Domain == g.domain && to.Local == s.jid.Local && (to.Resource == "" || to.Resource == s.jid.Resource):
		s.accountIQ(el, q, typ, to)
	case to.Domain == g.muc:
		s.mucIQ(el, q, typ, to)
	case to.Domain == g.domain && to.Local != "" && to.Resource == "":
		s.contactIQ(el, q, typ, to)
	case to.Domain == g.domain:
		s.sendError(el, "", "cancel", "service-unavailable", "iqs are not routed to other clients")
	default:
		s.sendError(el, "", "cancel", "remote-server-not-found", "this server does not federate")
	}
}

// serverIQ answers iqs to the server itself.
func (s *session) serverIQ(el, q *stanza.Element, typ string) {
	switch {
	case q.Is(stanza.NSPing, "ping"):
		s.result(el, "", nil)
	case q.Is(stanza.NSDiscoInfo, "query") && typ == "get":
		if node := q.Get("node"); node != "" && node != s.g.caps.node+"#"+s.g.caps.ver {
			s.sendError(el, "", "cancel", "item-not-found", "")
			return
		}
		s.result(el, "", s.g.caps.serverInfo(q.Get("node")))
	case q.Is(stanza.NSDiscoItem, "query") && typ == "get":
		var b stanza.Builder
		b.Start("query", "xmlns", stanza.NSDiscoItem).Empty("item", "jid", s.g.muc, "name", "Chat rooms").End("query")
		s.result(el, "", b.B)
	case q.Space == stanza.NSRoster:
		s.rosterIQ(el, q, typ)
	case q.Space == stanza.NSCarbons && typ == "set":
		s.mu.Lock()
		was := s.carbons
		s.carbons = q.Local == "enable"
		s.mu.Unlock()
		if s.carbons && !was {
			s.joinDMRooms()
		}
		s.result(el, "", nil)
	case q.Is(stanza.NSVersion, "query") && typ == "get":
		var b stanza.Builder
		b.Start("query", "xmlns", stanza.NSVersion).Elem("name", "Banter").Elem("version", "1").End("query")
		s.result(el, "", b.B)
	case q.Is(stanza.NSSession, "session"):
		s.result(el, "", nil)
	case q.Is(stanza.NSBind, "bind"):
		s.sendError(el, "", "cancel", "not-allowed", "a resource is already bound")
	case q.Is(stanza.NSMAM, "query") && typ == "set":
		s.userMAM(el, q)
	case q.Is(stanza.NSVCard, "vCard"):
		s.vcard(el, typ)
	default:
		s.sendError(el, "", "cancel", "service-unavailable", "")
	}
}

// accountIQ answers iqs to the user's own JID (the server answers for it).
func (s *session) accountIQ(el, q *stanza.Element, typ string, to stanza.JID) {
	switch {
	case q.Is(stanza.NSDiscoInfo, "query") && typ == "get":
		s.result(el, to.String(), s.g.caps.accountInfo())
	case q.Is(stanza.NSDiscoItem, "query") && typ == "get":
		s.result(el, to.String(), []byte("<query xmlns='"+stanza.NSDiscoItem+"'/>"))
	default:
		s.serverIQ(el, q, typ)
	}
}

// contactIQ answers iqs to another user's bare JID, as its server.
func (s *session) contactIQ(el, q *stanza.Element, typ string, to stanza.JID) {
	switch {
	case q.Is(stanza.NSDiscoInfo, "query") && typ == "get":
		s.result(el, to.String(), s.g.caps.accountInfo())
	case q.Is(stanza.NSVCard, "vCard") && typ == "get":
		s.result(el, to.String(), []byte("<vCard xmlns='"+stanza.NSVCard+"'/>"))
	case q.Is(stanza.NSPing, "ping"):
		s.sendError(el, to.String(), "cancel", "service-unavailable", "")
	default:
		s.sendError(el, to.String(), "cancel", "service-unavailable", "")
	}
}

// vcard: nobody has a vCard; setting one is not supported.
func (s *session) vcard(el *stanza.Element, typ string) {
	if typ == "get" {
		s.result(el, "", []byte("<vCard xmlns='"+stanza.NSVCard+"'/>"))
		return
	}
	s.sendError(el, "", "cancel", "feature-not-implemented", "vCards are not stored")
}

// loadRoster fills the roster with the peers of the user's DM rooms, on
// the first roster request (listing the rooms reads the Store: a client
// that never asks for its roster does not pay for it at login).
func (s *session) loadRoster(ctx context.Context) {
	s.mu.Lock()
	done := s.rosterOK
	s.rosterOK = true
	s.mu.Unlock()
	if done {
		return
	}
	rooms, err := s.chat.Rooms(ctx)
	if err != nil {
		s.g.log.Debug("xmpp: roster: cannot list rooms", "err", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range rooms {
		if !chat.IsDMRoom(r.Name) {
			continue
		}
		if s.roster == nil {
			s.roster = make(map[string]string)
		}
		p := dmPeer(r.Name, s.key)
		s.roster[p] = p
	}
}

func (s *session) appendRosterItem(b *stanza.Builder, key, nick, sub string) {
	b.Empty("item", "jid", stanza.EscapeLocal(key)+"@"+s.g.domain, "name", nick, "subscription", sub)
}

// rosterIQ: get lists the contacts; set adds or removes one for this
// session (the roster is derived from DMs, not stored).
func (s *session) rosterIQ(el, q *stanza.Element, typ string) {
	ctx, cancel := reqCtx()
	defer cancel()
	s.loadRoster(ctx)
	if typ == "get" {
		var b stanza.Builder
		b.Start("query", "xmlns", stanza.NSRoster)
		s.mu.Lock()
		for k, n := range s.roster {
			s.appendRosterItem(&b, k, n, "both")
		}
		s.mu.Unlock()
		b.End("query")
		s.result(el, "", b.B)
		return
	}
	item := q.Child(stanza.NSRoster, "item")
	var j stanza.JID
	var err error = stanza.ErrJID
	if item != nil {
		j, err = stanza.ParseJID(item.Get("jid"))
	}
	if err != nil || j.Local == "" || j.Domain != s.g.domain {
		s.sendError(el, "", "modify", "bad-request", "a roster item is a user of this server")
		return
	}
	key := chat.NickKey(stanza.UnescapeLocal(j.Local))
	s.result(el, "", nil)
	if item.Get("subscription") == "remove" {
		s.removeContact(key)
		return
	}
	name := item.Get("name")
	if name == "" {
		name = key
	}
	s.addContact(key, name)
}

// addContact adds a contact and pushes it to the client (RFC 6121 2.1.6).
func (s *session) addContact(key, nick string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.roster[key]; ok {
		return
	}
	if s.roster == nil {
		s.roster = make(map[string]string)
	}
	s.roster[key] = nick
	s.rosterPushLocked(key, nick, "both")
}

func (s *session) removeContact(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.roster[key]; !ok {
		return
	}
	delete(s.roster, key)
	s.rosterPushLocked(key, "", "remove")
}

func (s *session) rosterPushLocked(key, nick, sub string) {
	var b stanza.Builder
	b.Raw("<iq").Attr("type", "set").Attr("id", "push-"+newID()[:8]).Raw(">")
	b.Start("query", "xmlns", stanza.NSRoster)
	s.appendRosterItem(&b, key, nick, sub)
	b.End("query").End("iq")
	s.sendLocked(outItem{pre: b.B, stanza: true})
}

// deliverUser turns a contact's online status into presence.
func (s *session) deliverUser(u *chat.UserEvent) {
	key := chat.NickKey(u.Nickname)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.roster[key]; !ok || !s.available || key == s.key {
		return
	}
	switch u.Status {
	case chat.UserOnline:
		s.sendLocked(outItem{pre: s.contactPresence(key, ""), stanza: true})
	case chat.UserOffline:
		s.sendLocked(outItem{pre: s.contactPresence(key, "unavailable"), stanza: true})
	}
}

// contactPresence: a contact is online (one presence per user, resource
// "chat": chat does not tell devices apart).
func (s *session) contactPresence(key, typ string) []byte {
	var b stanza.Builder
	b.Raw("<presence").Attr("from", stanza.EscapeLocal(key)+"@"+s.g.domain+"/chat")
	if typ != "" {
		b.Attr("type", typ)
	}
	b.Raw("/>")
	return b.B
}

// onPresence handles presence: broadcast (availability), MUC (join,
// leave) and subscriptions.
func (s *session) onPresence(el *stanza.Element, to stanza.JID) {
	typ := el.Get("type")
	g := s.g
	switch {
	case to.IsZero():
		switch typ {
		case "":
			s.onAvailable()
		case "unavailable":
			s.mu.Lock()
			s.available = false
			s.mu.Unlock()
		}
	case to.Domain == g.muc && to.Local != "":
		s.onMUCPresence(el, to)
	case to.Domain == g.domain && to.Local != "" && to.Resource == "":
		key := chat.NickKey(stanza.UnescapeLocal(to.Local))
		switch typ {
		case "subscribe":
			s.addContact(key, key)
			var b stanza.Builder
			b.Raw("<presence").Attr("from", to.Bare().String()).Attr("type", "subscribed").Raw("/>")
			s.send(outItem{pre: b.B, stanza: true})
			s.probe(key)
		case "unsubscribe", "unsubscribed":
			s.removeContact(key)
		case "probe":
			s.probe(key)
		}
	}
}

// onAvailable: initial presence (RFC 6121 4.2): the user's own presence
// back, and its online contacts'.
func (s *session) onAvailable() {
	s.mu.Lock()
	first := !s.available
	s.available = true
	var keys []string
	for k := range s.roster {
		keys = append(keys, k)
	}
	s.mu.Unlock()
	var b stanza.Builder
	b.Raw("<presence").Attr("from", s.jid.String()).Raw("/>")
	s.send(outItem{pre: b.B, stanza: true})
	if !first || len(keys) == 0 {
		return
	}
	online := make(map[string]bool)
	for _, u := range s.g.svc.Users() {
		online[chat.NickKey(u.Nickname)] = true
	}
	s.mu.Lock()
	for _, k := range keys {
		if online[k] && k != s.key {
			s.sendLocked(outItem{pre: s.contactPresence(k, ""), stanza: true})
		}
	}
	s.mu.Unlock()
}

// probe answers for a contact's presence if it is online.
func (s *session) probe(key string) {
	if _, ok := s.g.svc.Lookup(key); ok {
		s.send(outItem{pre: s.contactPresence(key, ""), stanza: true})
	}
}

// onMessage routes a message.
func (s *session) onMessage(el *stanza.Element, to stanza.JID) {
	typ := el.Get("type")
	if typ == "error" {
		return
	}
	g := s.g
	switch {
	case to.Domain == g.muc && to.Local != "" && to.Resource == "":
		s.onGroupchat(el, to)
	case to.Domain == g.muc && to.Local != "":
		// A private message to an occupant: a DM to that user.
		s.onDirect(el, to.Resource, to.String())
	case to.Domain == g.domain && to.Local != "":
		s.onDirect(el, stanza.UnescapeLocal(to.Local), to.Bare().String())
	case to.IsZero() || to.Domain == g.domain:
		s.sendError(el, "", "cancel", "service-unavailable", "send messages to users or rooms")
	default:
		s.sendError(el, "", "cancel", "remote-server-not-found", "this server does not federate")
	}
}

// chatStateOf returns the XEP-0085 state in el, "" if none.
func chatStateOf(el *stanza.Element) string {
	for _, c := range el.Children {
		if c.Space == stanza.NSChatState {
			return c.Local
		}
	}
	return ""
}

// onDirect sends a 1:1 message (or a chat state) as a DM.
func (s *session) onDirect(el *stanza.Element, nick, from string) {
	ctx, cancel := reqCtx()
	defer cancel()
	body := el.ChildText(stanza.NSClient, "body")
	if body == "" {
		if st := chatStateOf(el); st != "" {
			s.dmTyping(ctx, nick, st == "composing")
		}
		return
	}
	m, err := s.chat.DirectMessage(ctx, nick, body, clientID(s.tag, el.Get("id")))
	if err != nil {
		typ, cond, text := chatError(err)
		s.sendError(el, from, typ, cond, text)
		return
	}
	if key := chat.NickKey(nick); key != s.key {
		s.addContact(key, nick)
	}
	s.carbonCopies(ctx, m)
}

// carbonCopies makes sure the user's other resources on this node that
// enabled carbons are in the DM room of m, so that they get its copy
// (chat tells a DM's recipient to join its room, not the sender's other
// devices): a resource that joins now gets the carbon of m directly.
func (s *session) carbonCopies(ctx context.Context, m chat.Message) {
	if m.Duplicate {
		return
	}
	s.g.mu.Lock()
	var others []*session
	for _, o := range s.g.resources[s.jid.Local] {
		if o != s {
			others = append(others, o)
		}
	}
	s.g.mu.Unlock()
	for _, o := range others {
		o.mu.Lock()
		carbons, cs := o.carbons, o.chat
		o.mu.Unlock()
		if !carbons || cs == nil || slices.Contains(cs.Joined(), m.Room) {
			continue
		}
		res, err := cs.Join(ctx, m.Room, chat.JoinOptions{CatchUp: true, After: math.MaxInt64})
		if err == nil && res.LastSeq >= m.Seq {
			o.push(s.g.dmSent(&chat.Event{Kind: chat.EventMessage, Room: m.Room, Message: &m}))
		}
	}
}

// joinDMRooms puts a session that enabled carbons in the user's DM rooms.
func (s *session) joinDMRooms() {
	ctx, cancel := reqCtx()
	defer cancel()
	rooms, err := s.chat.Rooms(ctx)
	if err != nil {
		return
	}
	for _, r := range rooms {
		if chat.IsDMRoom(r.Name) {
			_, _ = s.chat.Join(ctx, r.Name, chat.JoinOptions{CatchUp: true, After: math.MaxInt64})
		}
	}
}

// dmTyping sets typing in a DM room, joining it first if needed (a chat
// state may come before the first message).
func (s *session) dmTyping(ctx context.Context, nick string, active bool) {
	room, err := chat.DMRoom(s.chat.Nickname(), nick)
	if err != nil {
		return
	}
	err = s.chat.Typing(ctx, room, active)
	if active && chat.ErrorCode(err) == chat.CodeNotMember {
		if _, err := s.chat.Join(ctx, room, chat.JoinOptions{CatchUp: true, After: math.MaxInt64}); err == nil {
			// The peer joins a DM room with the first message; its
			// resources on this node join now, so that they see the
			// typing that comes before it (elsewhere they see it from
			// the first message on).
			s.g.joinLocal(ctx, stanza.EscapeLocal(nick), room)
			_ = s.chat.Typing(ctx, room, active)
		}
	}
}

// joinLocal makes the sessions of the user with JID node local join room
// where they are not in it yet.
func (g *Gateway) joinLocal(ctx context.Context, local, room string) {
	g.mu.Lock()
	var ss []*session
	for _, o := range g.resources[local] {
		ss = append(ss, o)
	}
	g.mu.Unlock()
	for _, o := range ss {
		o.mu.Lock()
		cs := o.chat
		o.mu.Unlock()
		if cs != nil && !slices.Contains(cs.Joined(), room) {
			_, _ = cs.Join(ctx, room, chat.JoinOptions{CatchUp: true, After: math.MaxInt64})
		}
	}
}
