package rest

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/gateway/proto1"
)

// stream is one open event stream: the room's events, queued by Deliver
// and written by the stream's handler goroutine.
type stream struct {
	room string
	max  int
	wake chan struct{}

	mu       sync.Mutex
	evs      []*chat.Event
	bytes    int
	overflow bool
	closed   string // the reason, once closed
}

func newStream(room string, maxBytes int) *stream {
	return &stream{room: room, max: maxBytes, wake: make(chan struct{}, 1)}
}

type keySSE struct{}

// encodeSSE is the SSE wire format of a chat event, without its id: each
// stream writes the id line itself (sseCursor), the rest is encoded once
// per event for every stream.
func encodeSSE(ev *chat.Event) ([]byte, error) {
	if ev.Kind == chat.EventUser { // a room stream carries room events only
		return nil, nil
	}
	name, data, err := proto1.EventPayload(ev)
	if name == "" || err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(data)+32)
	out = append(out, "event: "...)
	out = append(out, name...)
	out = append(out, "\ndata: "...)
	out = append(out, data...) // JSON from Marshal has no raw newline
	return append(out, "\n\n"...), nil
}

// sseCursor is where a stream is: the last message seq written and the
// last change rev (edited, reaction, deleted). It is the event id of
// messages and changes, "<seq>" or "<seq>.<rev>" once a change was
// written, so that a reconnecting EventSource resumes both.
type sseCursor struct{ seq, rev int64 }

func (c sseCursor) idLine() []byte {
	b := append([]byte("id: "), strconv.FormatInt(c.seq, 10)...)
	if c.rev > 0 {
		b = append(append(b, '.'), strconv.FormatInt(c.rev, 10)...)
	}
	return append(b, '\n')
}

// changeRev is the rev of a change event; ok is false for other kinds.
func changeRev(ev *chat.Event) (int64, bool) {
	switch ev.Kind {
	case chat.EventEdited:
		return ev.Message.Rev, true
	case chat.EventReaction:
		return ev.Reaction.Rev, true
	case chat.EventDeleted:
		return ev.Deleted.Rev, true
	}
	return 0, false
}

func sseEvent(name string, v any) []byte {
	data, _ := json.Marshal(v)
	return []byte("event: " + name + "\ndata: " + string(data) + "\n\n")
}

// push queues ev; never blocks. Typing is dropped when events are waiting;
// anything else past the bound marks the stream overflowed.
func (st *stream) push(ev *chat.Event) {
	data, err := ev.Encoded(keySSE{}, encodeSSE)
	if err != nil || len(data) == 0 {
		return
	}
	st.mu.Lock()
	switch {
	case st.closed != "" || st.overflow:
	case ev.Kind == chat.EventTyping && len(st.evs) > 0:
	case st.bytes+len(data) > st.max && len(st.evs) > 0:
		st.overflow = true
		st.evs, st.bytes = nil, 0
	default:
		st.evs = append(st.evs, ev)
		st.bytes += len(data)
	}
	st.mu.Unlock()
	st.signal()
}

func (st *stream) signal() {
	select {
	case st.wake <- struct{}{}:
	default:
	}
}

func (st *stream) close(reason string) {
	st.mu.Lock()
	if st.closed == "" {
		st.closed = reason
	}
	st.mu.Unlock()
	st.signal()
}

func (st *stream) take() (evs []*chat.Event, closed string, overflow bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	evs, st.evs, st.bytes = st.evs, nil, 0
	return evs, st.closed, st.overflow
}

// lastEventID reads the resume point: the Last-Event-ID header (sent by a
// reconnecting EventSource: "<seq>" or "<seq>.<rev>"), else ?after= and
// ?rev=. seq -1 means none: start live; rev -1 means no changes to replay.
func lastEventID(r *http.Request) (seq, rev int64, err error) {
	v := strings.TrimSpace(r.Header.Get("Last-Event-ID"))
	what := "Last-Event-ID"
	revText := ""
	if v != "" {
		v, revText, _ = strings.Cut(v, ".")
	} else {
		v, what = r.URL.Query().Get("after"), "query parameter \"after\""
		revText = r.URL.Query().Get("rev")
	}
	seq, rev = -1, -1
	if v != "" {
		if seq, err = strconv.ParseInt(v, 10, 64); err != nil || seq < 0 {
			return 0, 0, chat.Errorf(chat.CodeInvalidArgument, "%s must be a message seq (a non-negative integer), optionally followed by \".\" and a rev", what)
		}
	}
	if revText != "" {
		if rev, err = strconv.ParseInt(revText, 10, 64); err != nil || rev < 0 {
			return 0, 0, chat.Errorf(chat.CodeInvalidArgument, "the rev of %s must be a non-negative integer", what)
		}
	}
	return seq, rev, nil
}

type readyEvent struct {
	Room    string   `json:"room"`
	LastSeq int64    `json:"lastSeq"`
	LastRev int64    `json:"lastRev"`
	Members []string `json:"members"`
}

type byeEvent struct {
	Reason string `json:"reason"`
}

// events streams a room's messages, presence and typing as Server-Sent
// Events. The session joins the room. With Last-Event-ID (or ?after=) the
// stream first replays every message after that seq: no loss across
// reconnects, no duplicates.
func (g *Gateway) events(w http.ResponseWriter, r *http.Request) {
	s, err := g.lookup(r, true)
	if err != nil {
		g.fail(w, r, err)
		return
	}
	room, err := chat.NormalizeRoom(r.PathValue("room"))
	if err != nil {
		g.fail(w, r, err)
		return
	}
	after, afterRev, err := lastEventID(r)
	if err != nil {
		g.fail(w, r, err)
		return
	}
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		g.fail(w, r, chat.ErrUnavailable)
		return
	}
	g.streams.Add(1)
	g.mu.Unlock()
	defer g.streams.Done()

	st := newStream(room, g.cfg.MaxStreamBytes)
	// Registered before joining: every live event after the snapshot
	// reaches the queue, and seq de-duplication below drops the overlap.
	if !s.addStream(st) {
		g.fail(w, r, chat.ErrNotConnected)
		return
	}
	defer s.removeStream(st)
	join := proto1.Command{Name: proto1.CmdJoin, Room: room}
	if after >= 0 {
		join.After = &after
	}
	v, err := s.Exec(r.Context(), join, s)
	if err != nil {
		g.fail(w, r, err)
		return
	}
	res := v.(chat.JoinResult)

	g.stats.streamsOpened.Add(1)
	g.stats.streams.Add(1)
	defer g.stats.streams.Add(-1)

	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	sw := &sseWriter{w: w, rc: rc, timeout: g.proto.Config().CallTimeout}
	sw.write([]byte("retry: 2000\n\n"))
	sw.write(sseEvent("ready", readyEvent{Room: room, LastSeq: res.LastSeq, LastRev: res.LastRev, Members: res.Members}))

	cur := sseCursor{seq: res.LastSeq, rev: res.LastRev} // what the client has
	if after >= 0 {
		cur.seq = min(after, res.LastSeq)
		if afterRev >= 0 {
			cur.rev = min(afterRev, res.LastRev)
		}
		for _, m := range res.Messages {
			cur = sw.message(m, cur)
		}
		for cur.seq < res.LastSeq && sw.err == nil {
			v, err := s.Exec(r.Context(), proto1.Command{Name: proto1.CmdSince, Room: room, After: new(cur.seq)}, s)
			if err != nil {
				g.log.Warn("rest: stream catch-up failed", "room", room, "err", err)
				return // the client reconnects with the same Last-Event-ID
			}
			msgs := v.(proto1.PageResult).Messages
			if len(msgs) == 0 {
				break
			}
			for _, m := range msgs {
				cur = sw.message(m, cur)
			}
		}
		// The changes the client missed, each message in its current
		// state ("changed"), up to the join's rev; later ones are live.
		for cur.rev < res.LastRev && sw.err == nil {
			v, err := s.Exec(r.Context(), proto1.Command{Name: proto1.CmdChanges, Room: room, After: new(cur.rev)}, s)
			if err != nil {
				g.log.Warn("rest: stream catch-up failed", "room", room, "err", err)
				return
			}
			msgs := v.(proto1.ChangesResult).Messages
			if len(msgs) == 0 {
				break
			}
			for _, m := range msgs {
				cur = sw.changed(m, cur)
			}
		}
	}
	sw.flush()

	beat := time.NewTicker(g.cfg.Heartbeat)
	defer beat.Stop()
	for sw.err == nil {
		select {
		case <-r.Context().Done():
			return
		case <-beat.C:
			sw.write([]byte(": ping\n\n"))
			sw.flush()
			continue
		case <-st.wake:
		}
		evs, closed, overflow := st.take()
		if overflow {
			g.stats.slow.Add(1)
			g.log.Info("rest: slow consumer stream closed", "room", room, "remote", r.RemoteAddr)
			sw.write(sseEvent("bye", byeEvent{Reason: "slow_consumer"}))
			sw.flush()
			return
		}
		for _, ev := range evs {
			data, _ := ev.Encoded(keySSE{}, encodeSSE)
			if ev.Kind == chat.EventMessage {
				if ev.Message.Seq <= cur.seq {
					continue
				}
				cur.seq = ev.Message.Seq
				sw.write(cur.idLine())
			} else if rev, ok := changeRev(ev); ok {
				cur.rev = max(cur.rev, rev)
				sw.write(cur.idLine())
			}
			sw.write(data)
		}
		if closed != "" {
			sw.write(sseEvent("bye", byeEvent{Reason: closed}))
			sw.flush()
			return
		}
		sw.flush()
	}
}

// sseWriter writes to the stream and remembers the first error (the
// client went away).
type sseWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	err     error
}

func (sw *sseWriter) write(b []byte) {
	if sw.err != nil {
		return
	}
	_ = sw.rc.SetWriteDeadline(time.Now().Add(sw.timeout))
	_, sw.err = sw.w.Write(b)
}

func (sw *sseWriter) flush() {
	if sw.err == nil {
		sw.err = sw.rc.Flush()
	}
}

// message writes m unless the client has it, and returns the new cursor.
func (sw *sseWriter) message(m chat.Message, cur sseCursor) sseCursor {
	if m.Seq <= cur.seq {
		return cur
	}
	cur.seq = m.Seq
	data, _ := encodeSSE(&chat.Event{Kind: chat.EventMessage, Room: m.Room, Message: &m})
	sw.write(cur.idLine())
	sw.write(data)
	return cur
}

// changed writes m, a message changed after the client's rev, in its
// current state, and returns the new cursor.
func (sw *sseWriter) changed(m chat.Message, cur sseCursor) sseCursor {
	cur.rev = max(cur.rev, m.Rev)
	sw.write(cur.idLine())
	sw.write(sseEvent("changed", m))
	return cur
}
