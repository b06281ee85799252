package xmppgw

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/gateway/xmpp/stanza"
	"github.com/banter-chat/banter/internal/wsframe"
)

// outItem is one element queued for a client. A stanza rendered once for
// many recipients is pre + the recipient's full JID + post (the 'to'
// attribute is all that differs); otherwise post is nil and pre is the
// whole element. pre and post are shared: never modified.
type outItem struct {
	pre, post []byte
	stanza    bool // message, presence or iq: counted by stream management
	last      bool // a final stream error: close after writing it
}

// session is a bound resource: one chat session and its XMPP state. It
// is the chat session's Sink. With stream management (XEP-0198) it
// outlives its connection until the client resumes it on another one or
// ResumeTimeout passes.
type session struct {
	g     *Gateway
	chat  *chat.Session
	who   *principal
	jid   stanza.JID
	to    []byte // the full JID, escaped for an attribute
	bare  string
	key   string    // chat.NickKey of the nickname
	tag   string    // marks the client ids of this session's messages (own-echo detection)
	reqs  reqBucket // guarded by mu
	start time.Time

	mu       sync.Mutex
	c        *conn // nil while hibernating
	queue    []outItem
	queued   int // bytes in queue
	flushing bool
	inProc   bool // the connection's processor is running: it flushes when its batch ends
	ended    bool // nothing more is queued (the final stream error aside)
	done     bool // end ran
	// Stream management (XEP-0198).
	sm       bool
	smID     string    // resumption id; "" once the session may not be resumed (clean close, ended by chat)
	regID    string    // the key of this session in Gateway.resumable
	inH      uint32    // stanzas handled from the client
	outH     uint32    // stanzas sent to the client (queued)
	unacked  []outItem // the last len(unacked) of them, not acknowledged
	sinceReq int       // stanzas since our last <r/>
	hibTimer *time.Timer
	// IM state.
	carbons   bool
	inactive  bool // XEP-0352 client state: typing is not sent
	available bool
	roster    map[string]string     // NickKey → nickname of the contacts
	rosterOK  bool                  // roster loaded (on the first roster request)
	joining   map[string]*joinState // MUC joins in progress (muc.go)
	mucs      map[string]bool       // public rooms joined through MUC
}

func (s *session) attached() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.c != nil
}

// onBind binds a resource: the chat session starts here.
func (c *conn) onBind(el *stanza.Element) {
	id := el.Get("id")
	if el.Get("type") != "set" {
		c.writeRaw(iqError(id, "", "", "modify", "bad-request", "bind is a set"))
		return
	}
	res := el.Child(stanza.NSBind, "bind").ChildText(stanza.NSBind, "resource")
	if res == "" {
		res = "banter-" + newID()[:8]
	}
	if _, err := stanza.ParseJID("x@y/" + res); err != nil {
		c.writeRaw(iqError(id, "", "", "modify", "bad-request", "invalid resource"))
		return
	}
	p := c.who
	g := c.g
	s := &session{g: g, who: p, start: time.Now(), tag: newID()[:8]}
	s.reqs.init(g.cfg.RequestBurst, g.cfg.Now())
	s.jid = stanza.JID{Local: p.local(), Domain: g.domain, Resource: res}
	s.bare = s.jid.Bare().String()
	s.to = stanza.AppendEscaped(nil, s.jid.String())
	s.key = chat.NickKey(p.nick)
	s.c = c
	s.inProc = true // created by the processor, which flushes after this job
	// A verified user binding a resource it already has replaces that
	// session (RFC 6120 7.7.2.2); an anonymous nickname is held by
	// whoever has it.
	var resume string
	g.mu.Lock()
	old := g.resources[s.jid.Local][res]
	g.mu.Unlock()
	if old != nil && p.ident != nil && old.who.same(p) {
		resume = old.chat.Token()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, err := g.svc.Connect(ctx, chat.ConnectParams{
		Nickname: p.nick, Identity: p.ident, Sink: s, WatchUsers: true, ResumeToken: resume,
	})
	if err != nil {
		code, msg := chat.ClientError(err)
		switch code {
		case chat.CodeNicknameTaken:
			c.writeRaw(iqError(id, "", "", "cancel", "conflict", msg))
		case chat.CodeUnavailable, chat.CodeInternal:
			c.writeRaw(iqError(id, "", "", "wait", "internal-server-error", msg))
		default:
			c.writeRaw(iqError(id, "", "", "auth", "not-authorized", msg))
		}
		return
	}
	s.chat = cs
	if cs.Nickname() != p.nick { // the token's nickname, normalized
		p.nick = cs.Nickname()
	}
	g.mu.Lock()
	rs := g.resources[s.jid.Local]
	if rs == nil {
		rs = make(map[string]*session)
		g.resources[s.jid.Local] = rs
	}
	rs[res] = s
	g.mu.Unlock()
	c.sess = s
	c.state = stateBound
	c.bound.Store(s) // the sweeper's auth timeout no longer applies
	var b stanza.Builder
	b.Start("iq", "type", "result", "id", id).Start("bind", "xmlns", stanza.NSBind).Elem("jid", s.jid.String()).End("bind").End("iq")
	s.send(outItem{pre: b.B, stanza: true})
}

// onResume resumes a hibernating (or still attached) session on this
// connection (XEP-0198 5).
func (c *conn) onResume(el *stanza.Element) {
	g := c.g
	prev := el.Get("previd")
	h, err := strconv.ParseUint(el.Get("h"), 10, 32)
	g.mu.Lock()
	s := g.resumable[prev]
	g.mu.Unlock()
	if s == nil || err != nil || !s.who.same(c.who) {
		c.writeRaw(smFailed("item-not-found", "no session to resume: bind a new one"))
		return
	}
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		c.writeRaw(smFailed("item-not-found", "the session has ended"))
		return
	}
	// A connection still attached (the client changed networks before
	// the server noticed) is closed below; when it finishes, connLost
	// sees that the session has moved on.
	old := s.c
	if s.hibTimer != nil {
		s.hibTimer.Stop()
		s.hibTimer = nil
	}
	if !s.ackLocked(uint32(h)) {
		s.mu.Unlock()
		c.writeRaw(smFailed("unexpected-request", "h is more than the server sent"))
		return
	}
	s.c = c
	inH := s.inH
	// Resend what the client did not get, in order, then the rest.
	s.queue = append(append([]outItem(nil), s.unacked...), nonStanzas(s.queue)...)
	s.queued = itemsBytes(s.queue)
	wasHib := old == nil
	s.mu.Unlock()
	if old != nil {
		old.closeNow()
	} else if wasHib {
		g.bg.Done() // the hibernation's hold
	}
	c.sess = s
	c.state = stateBound
	c.bound.Store(s) // the sweeper's auth timeout no longer applies
	g.stats.resumed.Add(1)
	c.writeRaw([]byte("<resumed xmlns='" + stanza.NSSM + "' previd='" + prev + "' h='" + strconv.FormatUint(uint64(inH), 10) + "'/>"))
	s.kick()
}

func nonStanzas(q []outItem) []outItem {
	var out []outItem
	for _, it := range q {
		if !it.stanza {
			out = append(out, it)
		}
	}
	return out
}

func itemsBytes(q []outItem) int {
	n := 0
	for _, it := range q {
		n += len(it.pre) + len(it.post)
	}
	return n
}

func smFailed(cond, text string) []byte {
	var b stanza.Builder
	b.Start("failed", "xmlns", stanza.NSSM).Empty(cond, "xmlns", stanza.NSStanzas)
	if text != "" {
		b.Elem("text", text, "xmlns", stanza.NSStanzas, "xml:lang", "en")
	}
	b.End("failed")
	return b.B
}

// send queues an item and schedules a flush. Safe from any goroutine;
// never blocks.
func (s *session) send(it outItem) {
	s.mu.Lock()
	s.sendLocked(it)
	s.mu.Unlock()
}

// sendLocked queues it (s.mu held) and schedules the flush.
func (s *session) sendLocked(it outItem) {
	if s.ended && !it.last {
		return
	}
	if it.stanza {
		s.outH++
		if s.sm {
			if len(s.unacked) >= s.g.cfg.MaxUnacked {
				s.overflowLocked("too many unacknowledged stanzas")
				return
			}
			s.unacked = append(s.unacked, it)
			s.sinceReq++
		}
	}
	if s.c == nil {
		return // hibernating: unacked holds it for the resumption
	}
	s.queue = append(s.queue, it)
	s.queued += len(it.pre) + len(it.post) + len(s.to)
	if s.queued > s.g.cfg.MaxQueuedBytes {
		s.overflowLocked("slow consumer")
		return
	}
	s.kickLocked()
}

// overflowLocked ends a session whose client cannot keep up.
func (s *session) overflowLocked(why string) {
	s.g.stats.slow.Add(1)
	s.queue = nil
	s.queued = 0
	s.unacked = nil
	if c := s.c; c != nil {
		go c.streamError("policy-violation", why)
	}
	s.ended = true
	s.g.goBackground(func() { s.end(why) })
}

func (s *session) kick() {
	s.mu.Lock()
	s.kickLocked()
	s.mu.Unlock()
}

func (s *session) kickLocked() {
	if s.flushing || s.inProc || s.c == nil || len(s.queue) == 0 {
		return
	}
	s.flushing = true
	if s.c.Blocking() { // a blocking connection flushes on its own goroutine
		go s.flush(nil)
		return
	}
	s.g.hub.Flusher.Schedule(s)
}

// Flush writes what is queued (conns.Flushable, on a flush worker).
func (s *session) Flush() {
	bp := flushBufs.Get().(*[]byte)
	*bp = s.flush((*bp)[:0])
	if cap(*bp) > 64<<10 {
		*bp = nil // do not keep a burst's buffer
	}
	flushBufs.Put(bp)
}

// flush writes everything queued, one write per batch, until the queue
// is empty. buf is scratch space, returned for reuse.
func (s *session) flush(buf []byte) []byte {
	for {
		s.mu.Lock()
		c, q := s.c, s.queue
		if c == nil || len(q) == 0 {
			s.flushing = false
			s.mu.Unlock()
			return buf
		}
		s.queue, s.queued = nil, 0
		var reqAck bool
		if s.sm && s.sinceReq >= 8 {
			reqAck, s.sinceReq = true, 0
		}
		s.mu.Unlock()
		buf = c.appendItems(buf[:0], q, s.to)
		if reqAck {
			buf = c.appendElem(buf, []byte("<r xmlns='"+stanza.NSSM+"'/>"))
		}
		err := c.writeBytes(buf)
		if q[len(q)-1].last || err != nil {
			c.closeNow()
		}
	}
}

// appendItems renders queued items for this connection's framing.
func (c *conn) appendItems(dst []byte, q []outItem, to []byte) []byte {
	for _, it := range q {
		if it.post == nil {
			dst = c.appendElem(dst, it.pre)
			continue
		}
		if c.kind != transportWebSocket {
			dst = append(dst, it.pre...)
			dst = append(dst, to...)
			dst = append(dst, it.post...)
			continue
		}
		// RFC 7395: every element declares its namespace.
		k := tagEnd(it.pre)
		dst = wsframe.AppendHeader(dst, wsframe.OpText, len(it.pre)+len(xmlnsClient)+len(to)+len(it.post))
		dst = append(append(append(append(dst, it.pre[:k]...), xmlnsClient...), it.pre[k:]...), to...)
		dst = append(dst, it.post...)
	}
	return dst
}

var xmlnsClient = []byte(" xmlns='jabber:client'")

// appendElem appends one whole element with this connection's framing.
func (c *conn) appendElem(dst, el []byte) []byte {
	if c.kind != transportWebSocket {
		return append(dst, el...)
	}
	if len(el) > 1 && el[0] == '<' && isStanzaName(el) && !hasXmlns(el) {
		k := tagEnd(el)
		dst = wsframe.AppendHeader(dst, wsframe.OpText, len(el)+len(xmlnsClient))
		return append(append(append(dst, el[:k]...), xmlnsClient...), el[k:]...)
	}
	return wsframe.AppendFrame(dst, wsframe.OpText, el)
}

// tagEnd is the end of the element name at the start of el.
func tagEnd(el []byte) int {
	for i := 1; i < len(el); i++ {
		switch el[i] {
		case ' ', '>', '/':
			return i
		}
	}
	return len(el)
}

func isStanzaName(el []byte) bool {
	name := string(el[1:tagEnd(el)])
	return name == "message" || name == "presence" || name == "iq"
}

func hasXmlns(el []byte) bool {
	k := tagEnd(el)
	end := k
	for end < len(el) && el[end] != '>' {
		end++
	}
	return containsBytes(el[k:end], " xmlns=")
}

func containsBytes(b []byte, s string) bool {
	for i := 0; i+len(s) <= len(b); i++ {
		if string(b[i:i+len(s)]) == s {
			return true
		}
	}
	return false
}

// ackLocked drops the stanzas the client acknowledged (h: how many it
// has handled since the start). False if h is more than was sent.
func (s *session) ackLocked(h uint32) bool {
	first := s.outH - uint32(len(s.unacked)) // stanzas acknowledged before
	d := int32(h - first)
	switch {
	case d < 0:
		return true // an older acknowledgement: nothing to drop
	case int(d) > len(s.unacked):
		return false
	}
	clear(s.unacked[:d])
	s.unacked = s.unacked[d:]
	if len(s.unacked) == 0 {
		s.unacked = nil
	}
	return true
}

// connLost runs when the session's connection is gone: it hibernates
// (stream management with resumption) or ends.
func (s *session) connLost(c *conn) {
	s.g.mu.Lock()
	closing := s.g.closed // no hibernation while the gateway shuts down
	s.g.mu.Unlock()
	s.mu.Lock()
	if s.c != c || s.ended {
		s.mu.Unlock()
		return
	}
	s.c = nil
	s.queue, s.queued, s.flushing = nil, 0, false
	if s.smID != "" && !closing {
		s.g.bg.Add(1) // released by the resumption or the end (Close waits for c first: no race with Wait)
		s.hibTimer = time.AfterFunc(s.g.cfg.ResumeTimeout, func() { s.end("resumption timed out") })
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	s.end("connection lost")
}

// detachForEnd: the connection ends the session itself (clean close).
func (s *session) detachForEnd(c *conn) {
	s.mu.Lock()
	if s.c == c {
		s.smID = "" // no resumption after a clean close
	}
	s.mu.Unlock()
}

// end ends the session for good: the chat session ends (its rooms see it
// leave), the gateway forgets it.
func (s *session) end(reason string) {
	s.mu.Lock()
	if s.done {
		s.mu.Unlock()
		return
	}
	s.done, s.ended = true, true
	hib := s.c == nil && s.hibTimer != nil
	if s.hibTimer != nil {
		s.hibTimer.Stop()
		s.hibTimer = nil
	}
	id := s.regID
	s.unacked = nil
	s.mu.Unlock()
	g := s.g
	g.mu.Lock()
	if rs := g.resources[s.jid.Local]; rs != nil && rs[s.jid.Resource] == s {
		delete(rs, s.jid.Resource)
		if len(rs) == 0 {
			delete(g.resources, s.jid.Local)
		}
	}
	if id != "" && g.resumable[id] == s {
		delete(g.resumable, id)
	}
	g.mu.Unlock()
	// s.chat never changes after binding: a stanza still being handled
	// gets chat's ErrNotConnected from now on.
	s.chat.Disconnect("xmpp: " + reason)
	if hib {
		g.bg.Done()
	}
}

// terminate ends the session because chat ended it: the client gets a
// stream error after what is queued.
func (s *session) terminate(cond, text string) {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.smID = ""
	if c := s.c; c != nil {
		var b stanza.Builder
		if c.kind == transportWebSocket {
			b.Start("stream:error", "xmlns:stream", stanza.NSStream)
		} else {
			b.Start("stream:error")
		}
		b.Empty(cond, "xmlns", stanza.NSStreams)
		if text != "" {
			b.Elem("text", text, "xmlns", stanza.NSStreams, "xml:lang", "en")
		}
		b.End("stream:error")
		s.sendLocked(outItem{pre: b.B})
		s.sendLocked(outItem{pre: c.closeTag(), last: true})
	}
	s.ended = true
	s.mu.Unlock()
	s.g.goBackground(func() { s.end(text) })
}

// onSM handles stream management elements of a bound session.
func (s *session) onSM(c *conn, el *stanza.Element) {
	switch el.Local {
	case "enable":
		s.mu.Lock()
		if s.sm {
			s.mu.Unlock()
			s.send(outItem{pre: smFailed("unexpected-request", "already enabled")})
			return
		}
		s.sm = true
		s.outH, s.inH = 0, 0
		resume := el.Get("resume") == "true" || el.Get("resume") == "1"
		var b stanza.Builder
		if resume {
			s.smID = newID() + newID()
			s.regID = s.smID
			b.Empty("enabled", "xmlns", stanza.NSSM, "id", s.smID, "resume", "true",
				"max", strconv.Itoa(int(s.g.cfg.ResumeTimeout/time.Second)))
		} else {
			b.Empty("enabled", "xmlns", stanza.NSSM)
		}
		id := s.smID
		s.sendLocked(outItem{pre: b.B})
		s.mu.Unlock()
		if id != "" {
			s.g.mu.Lock()
			s.g.resumable[id] = s
			s.g.mu.Unlock()
		}
	case "r":
		s.mu.Lock()
		if s.sm {
			s.sendLocked(outItem{pre: []byte("<a xmlns='" + stanza.NSSM + "' h='" + strconv.FormatUint(uint64(s.inH), 10) + "'/>")})
		}
		s.mu.Unlock()
	case "a":
		h, err := strconv.ParseUint(el.Get("h"), 10, 32)
		s.mu.Lock()
		ok := err == nil && s.sm && s.ackLocked(uint32(h))
		s.mu.Unlock()
		if !ok {
			c.streamError("undefined-condition", "bad acknowledgement")
		}
	default:
		c.streamError("unsupported-stanza-type", "unknown stream management element")
	}
}

// reqBucket is the per-connection token bucket over stanzas: a
// chat.Bucket without its lock and clock (only the connection's processor
// takes from it), 16 bytes in the session instead of an allocation of its
// own.
type reqBucket struct {
	tokens float64
	last   int64 // Unix ns
}

func (b *reqBucket) init(burst int, now time.Time) {
	b.tokens, b.last = float64(burst), now.UnixNano()
}

func (b *reqBucket) take(burst int, rate float64, now time.Time) bool {
	t := now.UnixNano()
	if el := float64(t-b.last) / 1e9; el > 0 {
		b.tokens = min(float64(burst), b.tokens+el*rate)
	}
	b.last = t
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

var flushBufs = sync.Pool{New: func() any { return new([]byte) }}

// procStart marks the connection's processor as running: what it queues
// (answers) and what arrives meanwhile is written when its batch ends, in
// one write on its own goroutine, instead of waking a flush worker.
func (s *session) procStart() {
	s.mu.Lock()
	s.inProc = true
	s.mu.Unlock()
}

// procEnd writes what the batch queued.
func (s *session) procEnd() {
	s.mu.Lock()
	s.inProc = false
	if s.flushing || s.c == nil || len(s.queue) == 0 {
		s.mu.Unlock()
		return
	}
	s.flushing = true
	blocking := s.c.Blocking()
	s.mu.Unlock()
	if blocking {
		go s.flush(nil)
		return
	}
	s.Flush()
}
