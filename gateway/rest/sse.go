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

// encodeSSE is the SSE wire format of a chat event: messages carry their
// seq as the event id, so a reconnecting EventSource resumes from it.
func encodeSSE(ev *chat.Event) ([]byte, error) {
	if ev.Kind == chat.EventUser { // a room stream carries room events only
		return nil, nil
	}
	name, data, err := proto1.EventPayload(ev)
	if name == "" || err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(data)+48)
	if ev.Kind == chat.EventMessage {
		out = append(out, "id: "...)
		out = strconv.AppendInt(out, ev.Message.Seq, 10)
		out = append(out, '\n')
	}
	out = append(out, "event: "...)
	out = append(out, name...)
	out = append(out, "\ndata: "...)
	out = append(out, data...) // JSON from Marshal has no raw newline
	return append(out, "\n\n"...), nil
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
// reconnecting EventSource), else ?after=. -1 means none: start live.
func lastEventID(r *http.Request) (int64, error) {
	v := strings.TrimSpace(r.Header.Get("Last-Event-ID"))
	what := "Last-Event-ID"
	if v == "" {
		v, what = r.URL.Query().Get("after"), "query parameter \"after\""
	}
	if v == "" {
		return -1, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, chat.Errorf(chat.CodeInvalidArgument, "%s must be a message seq (a non-negative integer)", what)
	}
	return n, nil
}

type readyEvent struct {
	Room    string   `json:"room"`
	LastSeq int64    `json:"lastSeq"`
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
	after, err := lastEventID(r)
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
	sw.write(sseEvent("ready", readyEvent{Room: room, LastSeq: res.LastSeq, Members: res.Members}))

	written := res.LastSeq // the last seq the client has
	if after >= 0 {
		written = min(after, res.LastSeq)
		for _, m := range res.Messages {
			written = sw.message(m, written)
		}
		for written < res.LastSeq && sw.err == nil {
			v, err := s.Exec(r.Context(), proto1.Command{Name: proto1.CmdSince, Room: room, After: new(written)}, s)
			if err != nil {
				g.log.Warn("rest: stream catch-up failed", "room", room, "err", err)
				return // the client reconnects with the same Last-Event-ID
			}
			msgs := v.(proto1.PageResult).Messages
			if len(msgs) == 0 {
				break
			}
			for _, m := range msgs {
				written = sw.message(m, written)
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
			if ev.Kind == chat.EventMessage {
				if ev.Message.Seq <= written {
					continue
				}
				written = ev.Message.Seq
			}
			data, _ := ev.Encoded(keySSE{}, encodeSSE)
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

// message writes m unless the client has it, and returns the new last seq.
func (sw *sseWriter) message(m chat.Message, written int64) int64 {
	if m.Seq <= written {
		return written
	}
	data, _ := encodeSSE(&chat.Event{Kind: chat.EventMessage, Room: m.Room, Message: &m})
	sw.write(data)
	return m.Seq
}
