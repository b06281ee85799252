package xmppgw

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/gateway/xmpp/stanza"
)

// Message archive management (XEP-0313) over the durable history. A
// room's archive is the room; a user's archive is its DM rooms. Archive
// ids are the messages' seqs in a room archive and room/seq in a user's
// (the same ids as the stanza-ids of live messages, XEP-0359), so paging
// is a seq range read from the Store; time filters find their seqs by
// binary search over the room's seqs (a room's timestamps grow with its
// seqs).

type mamQuery struct {
	queryID    string
	with       string
	start, end int64 // Unix ms; end 0: none
	max        int
	after      string
	before     string
	hasBefore  bool // <before/> present (empty: the last page)
}

var errBadQuery = errors.New("bad query")

func parseMAM(q *stanza.Element, defMax, maxMax int) (mamQuery, error) {
	mq := mamQuery{queryID: q.Get("queryid"), max: defMax}
	if x := q.Child(stanza.NSData, "x"); x != nil {
		for _, f := range x.Children {
			if f.Local != "field" {
				continue
			}
			v := f.ChildText(stanza.NSData, "value")
			switch f.Get("var") {
			case "FORM_TYPE":
				if v != stanza.NSMAM {
					return mq, errBadQuery
				}
			case "with":
				mq.with = v
			case "start", "end":
				t, err := time.Parse(time.RFC3339Nano, v)
				if err != nil {
					return mq, errBadQuery
				}
				if f.Get("var") == "start" {
					mq.start = t.UnixMilli()
				} else {
					mq.end = t.UnixMilli()
				}
			case "after-id":
				mq.after = v
			case "before-id":
				mq.before, mq.hasBefore = v, true
			}
		}
	}
	if set := q.Child(stanza.NSRSM, "set"); set != nil {
		if v := set.ChildText(stanza.NSRSM, "max"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return mq, errBadQuery
			}
			mq.max = n
		}
		if a := set.Child(stanza.NSRSM, "after"); a != nil {
			mq.after = a.Text
		}
		if b := set.Child(stanza.NSRSM, "before"); b != nil {
			mq.before, mq.hasBefore = b.Text, true
		}
	}
	mq.max = min(mq.max, maxMax)
	return mq, nil
}

// roomMAM answers a query to a room's archive.
func (s *session) roomMAM(el, q *stanza.Element, room string) {
	s.mam(el, q, s.g.roomJID(room), func(context.Context, mamQuery) ([]string, error) { return []string{room}, nil })
}

// userMAM answers a query to the user's own archive: its DMs, with one
// peer or all of them.
func (s *session) userMAM(el, q *stanza.Element) {
	s.mam(el, q, "", func(ctx context.Context, mq mamQuery) ([]string, error) {
		if mq.with != "" {
			j, err := stanza.ParseJID(mq.with)
			if err != nil || j.Local == "" || j.Domain != s.g.domain {
				return nil, errBadQuery
			}
			room, err := chat.DMRoom(s.chat.Nickname(), stanza.UnescapeLocal(j.Local))
			if err != nil {
				return nil, errBadQuery
			}
			return []string{room}, nil
		}
		rooms, err := s.chat.Rooms(ctx)
		if err != nil {
			return nil, err
		}
		var out []string
		for _, r := range rooms {
			if chat.IsDMRoom(r.Name) {
				out = append(out, r.Name)
			}
		}
		return out, nil
	})
}

func less(a, b *chat.Message) int {
	return cmp.Or(cmp.Compare(a.TS, b.TS), cmp.Compare(a.Room, b.Room), cmp.Compare(a.Seq, b.Seq))
}

// mam runs a query over the rooms roomsOf returns; archive is the room's
// JID for a room archive, "" for the user's.
func (s *session) mam(el, q *stanza.Element, archive string, roomsOf func(context.Context, mamQuery) ([]string, error)) {
	lim := s.g.svc.Limits()
	mq, err := parseMAM(q, lim.PageLimit, lim.MaxPageLimit-1)
	if err != nil {
		s.sendError(el, archive, "modify", "bad-request", "malformed archive query")
		return
	}
	ctx, cancel := reqCtx()
	defer cancel()
	rooms, err := roomsOf(ctx, mq)
	if err != nil {
		if errors.Is(err, errBadQuery) {
			s.sendError(el, archive, "modify", "bad-request", "'with' must be a user of this server")
			return
		}
		typ, cond, text := chatError(err)
		s.sendError(el, archive, typ, cond, text)
		return
	}
	msgs, complete, err := s.archivePage(ctx, rooms, mq, archive == "")
	if err != nil {
		if errors.Is(err, errBadQuery) {
			s.sendError(el, archive, "cancel", "item-not-found", "no such archive id")
			return
		}
		typ, cond, text := chatError(err)
		s.sendError(el, archive, typ, cond, text)
		return
	}
	from := archive
	if from == "" {
		from = s.bare
	}
	g := s.g
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range msgs {
		m := &msgs[i]
		var b stanza.Builder
		b.Raw("<message").Attr("from", from).Raw(">")
		b.Start("result", "xmlns", stanza.NSMAM, "queryid", mq.queryID, "id", archiveID(m))
		b.Start("forwarded", "xmlns", stanza.NSForward).Empty("delay", "xmlns", stanza.NSDelay, "stamp", stamp(m.TS))
		if chat.IsDMRoom(m.Room) {
			g.appendDM(&b, m, true)
		} else {
			b.Raw("<message xmlns='jabber:client'").Attr("from", g.roomJID(m.Room)+"/"+m.Sender).Attr("type", "groupchat").Attr("id", messageID(m)).Raw(">")
			g.appendMUCBody(&b, m)
			b.End("message")
		}
		b.End("forwarded").End("result").End("message")
		s.sendLocked(outItem{pre: b.B, stanza: true})
	}
	var b stanza.Builder
	b.Raw("<iq").Attr("type", "result").Attr("id", el.Get("id"))
	if archive != "" {
		b.Attr("from", archive)
	}
	b.Raw(">")
	if complete {
		b.Start("fin", "xmlns", stanza.NSMAM, "complete", "true")
	} else {
		b.Start("fin", "xmlns", stanza.NSMAM)
	}
	b.Start("set", "xmlns", stanza.NSRSM)
	if len(msgs) > 0 {
		b.Elem("first", archiveID(&msgs[0])).Elem("last", archiveID(&msgs[len(msgs)-1]))
	} else {
		b.Elem("count", "0")
	}
	b.End("set").End("fin").End("iq")
	s.sendLocked(outItem{pre: b.B, stanza: true})
}

// anchor is a position in an archive: a message's sort key.
type anchor struct {
	ts   int64
	room string
	seq  int64
}

// parseAnchor reads an archive id; for a user archive it is room/seq.
func (s *session) parseAnchor(ctx context.Context, id string, rooms []string, user bool) (anchor, error) {
	room := rooms[0]
	seqStr := id
	if user {
		i := strings.LastIndexByte(id, '/')
		if i < 0 {
			return anchor{}, errBadQuery
		}
		room, seqStr = id[:i], id[i+1:]
		if !slices.Contains(rooms, room) {
			return anchor{}, errBadQuery
		}
	}
	seq, err := strconv.ParseInt(seqStr, 10, 64)
	if err != nil || seq < 1 {
		return anchor{}, errBadQuery
	}
	m, ok, err := s.msgAt(ctx, room, seq)
	if err != nil {
		return anchor{}, err
	}
	if !ok {
		return anchor{}, errBadQuery
	}
	return anchor{m.TS, room, seq}, nil
}

// msgAt reads message seq of room.
func (s *session) msgAt(ctx context.Context, room string, seq int64) (chat.Message, bool, error) {
	ms, err := s.chat.History(ctx, room, seq+1, 1)
	if err != nil || len(ms) == 0 || ms[0].Seq != seq {
		return chat.Message{}, false, err
	}
	return ms[0], true, nil
}

// lastSeq is the room's newest seq.
func (s *session) lastSeq(ctx context.Context, room string) (int64, error) {
	ms, err := s.chat.History(ctx, room, 0, 1)
	if err != nil || len(ms) == 0 {
		return 0, err
	}
	return ms[0].Seq, nil
}

// firstAtOrAfter is the first seq of room whose time is >= ts (last+1
// if none), by binary search.
func (s *session) firstAtOrAfter(ctx context.Context, room string, ts int64, last int64) (int64, error) {
	lo, hi := int64(1), last+1
	for lo < hi {
		mid := lo + (hi-lo)/2
		m, ok, err := s.msgAt(ctx, room, mid)
		if err != nil {
			return 0, err
		}
		if !ok || m.TS >= ts {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo, nil
}

// archivePage reads one page of the query over rooms, merged in (time,
// room, seq) order. complete: nothing more in the paging direction.
func (s *session) archivePage(ctx context.Context, rooms []string, mq mamQuery, user bool) ([]chat.Message, bool, error) {
	if len(rooms) == 0 {
		return nil, true, nil
	}
	backward := mq.hasBefore
	var anc *anchor
	if id := mq.after; id != "" && !backward {
		a, err := s.parseAnchor(ctx, id, rooms, user)
		if err != nil {
			return nil, false, err
		}
		anc = &a
	}
	if id := mq.before; id != "" && backward {
		a, err := s.parseAnchor(ctx, id, rooms, user)
		if err != nil {
			return nil, false, err
		}
		anc = &a
	}
	var all []chat.Message
	for _, room := range rooms {
		last, err := s.lastSeq(ctx, room)
		if err != nil {
			return nil, false, err
		}
		lo, hi := int64(0), last+1 // exclusive bounds
		if mq.start > 0 {
			f, err := s.firstAtOrAfter(ctx, room, mq.start, last)
			if err != nil {
				return nil, false, err
			}
			lo = max(lo, f-1)
		}
		if mq.end > 0 {
			f, err := s.firstAtOrAfter(ctx, room, mq.end+1, last)
			if err != nil {
				return nil, false, err
			}
			hi = min(hi, f)
		}
		if anc != nil {
			var bound int64
			switch {
			case room == anc.room:
				bound = anc.seq
				if backward {
					hi = min(hi, bound)
				} else {
					lo = max(lo, bound)
				}
			case backward:
				// Before the anchor: time < ts, or = ts in an earlier room.
				ts := anc.ts
				if room < anc.room {
					ts++
				}
				f, err := s.firstAtOrAfter(ctx, room, ts, last)
				if err != nil {
					return nil, false, err
				}
				hi = min(hi, f)
			default:
				ts := anc.ts
				if room < anc.room {
					ts++
				}
				f, err := s.firstAtOrAfter(ctx, room, ts, last)
				if err != nil {
					return nil, false, err
				}
				lo = max(lo, f-1)
			}
		}
		if hi-lo <= 1 || mq.max == 0 {
			if mq.max == 0 && hi-lo > 1 {
				all = append(all, chat.Message{}) // something exists: not complete
			}
			continue
		}
		var ms []chat.Message
		if backward {
			ms, err = s.chat.History(ctx, room, hi, mq.max+1)
			ms = slices.DeleteFunc(ms, func(m chat.Message) bool { return m.Seq <= lo })
		} else {
			ms, err = s.chat.Since(ctx, room, lo, mq.max+1)
			ms = slices.DeleteFunc(ms, func(m chat.Message) bool { return m.Seq >= hi })
		}
		if err != nil {
			return nil, false, err
		}
		all = append(all, ms...)
	}
	if mq.max == 0 {
		return nil, len(all) == 0, nil
	}
	slices.SortFunc(all, func(a, b chat.Message) int { return less(&a, &b) })
	complete := len(all) <= mq.max
	if !complete {
		if backward {
			all = all[len(all)-mq.max:]
		} else {
			all = all[:mq.max]
		}
	}
	return all, complete, nil
}
