package engineio

import (
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/banter-chat/banter/engineio/parser"
)

// servePolling answers a long-polling GET or POST for the session.
func (s *Socket) servePolling(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	transport := s.transport
	s.mu.Unlock()
	if transport != transportPolling {
		// Node answers 400 to polling requests once the session has upgraded.
		writeError(w, ErrBadRequest, "")
		return
	}
	switch r.Method {
	case http.MethodGet:
		s.serveGet(w, r)
	case http.MethodPost:
		s.servePost(w, r)
	default:
		writeError(w, ErrBadRequest, "")
	}
}

func (s *Socket) serveGet(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.state == stateClosed {
		s.mu.Unlock()
		writeError(w, ErrUnknownSID, "")
		return
	}
	if s.state == stateOpen && s.heartbeatExpiredLocked() {
		s.mu.Unlock()
		s.Close(ReasonPingTimeout)
		writeError(w, ErrUnknownSID, "")
		return
	}
	if s.poll != nil {
		s.mu.Unlock()
		// Two pending GETs: Node closes the session (the first GET receives
		// the close packet) and fails the second.
		s.Close(ReasonOverlappingPolls)
		writeError(w, ErrBadRequest, "")
		return
	}
	var q []*Message
	switch {
	case len(s.queue) > 0 && !s.corked || s.state != stateOpen:
		q = s.takeQueueLocked()
		s.mu.Unlock()
	default:
		ch := make(chan []*Message, 1)
		s.poll = ch
		if s.upgrading {
			// A probe succeeded and the client is about to switch. Frames it
			// sent on the WebSocket before this GET may still be in flight
			// on another goroutine: give them a moment (Node's upgrade check
			// interval), then release the poll with a noop. If the upgrade
			// completes first, the GET gets 400 as it would have in order.
			s.releasePollLaterLocked()
		}
		s.mu.Unlock()
		select {
		case q = <-ch:
			if q == nil {
				writeError(w, ErrBadRequest, "")
				return
			}
		case <-r.Context().Done():
			s.mu.Lock()
			if s.poll == ch {
				s.poll = nil
			}
			s.mu.Unlock()
			// "poll connection closed prematurely"
			s.Close(ReasonTransportClose)
			return
		}
	}
	s.writePayload(w, q)
	if len(q) > 0 && (q[len(q)-1] == msgClose || q[len(q)-1] == msgNoop && s.Closed()) {
		s.finishClose()
	}
}

// writePayload encodes queued messages as one polling payload.
func (s *Socket) writePayload(w http.ResponseWriter, q []*Message) {
	pkts := make([]parser.Packet, len(q))
	binary := false
	for i, m := range q {
		pkts[i] = m.pkt
		binary = binary || m.pkt.Binary
	}
	var body []byte
	ctype := "text/plain; charset=UTF-8"
	switch {
	case s.protocol == 4:
		body = parser.AppendPayloadV4(nil, pkts)
	case binary && s.supportsBinary:
		body = parser.AppendPayloadV3Binary(nil, pkts)
		ctype = "application/octet-stream"
	default:
		body = parser.AppendPayloadV3Text(nil, pkts)
	}
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.srv.cfg.WriteTimeout))
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(body); err != nil {
		s.Close(ReasonTransportError)
		return
	}
	tc := s.srv.stats.of(transportPolling)
	tc.pktsOut.Add(uint64(len(q)))
	tc.bytesOut.Add(uint64(len(body)))
	tc.writes.Add(1)
}

// upgradeCheckInterval is how long a GET that arrives during an upgrade
// waits before it is released with a noop.
const upgradeCheckInterval = 100 * time.Millisecond

var errTooLarge = errors.New("payload too large")

func (s *Socket) servePost(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.state != stateOpen {
		s.mu.Unlock()
		writeError(w, ErrBadRequest, "")
		return
	}
	if s.posting {
		s.mu.Unlock()
		s.Close(ReasonOverlappingPolls)
		writeError(w, ErrBadRequest, "")
		return
	}
	s.posting = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.posting = false
		s.mu.Unlock()
	}()

	body, err := readBody(r.Body, s.srv.cfg.MaxPayload)
	if err != nil {
		if errors.Is(err, errTooLarge) {
			w.Header().Set("Connection", "close")
			http.Error(w, "payload too large", http.StatusRequestEntityTooLarge)
			s.Close(ReasonPayloadTooLarge)
			return
		}
		s.Close(ReasonTransportError)
		writeError(w, ErrBadRequest, "")
		return
	}
	var pkts []parser.Packet
	switch {
	case s.protocol == 4:
		if r.Header.Get("Content-Type") == "application/octet-stream" {
			err = parser.ErrInvalid // v4 clients never send binary bodies
		} else {
			pkts, err = parser.DecodePayloadV4(body)
		}
	case r.Header.Get("Content-Type") == "application/octet-stream":
		pkts, err = parser.DecodePayloadV3Binary(body)
	default:
		pkts, err = parser.DecodePayloadV3Text(body)
	}
	tc := s.srv.stats.of(transportPolling)
	tc.pktsIn.Add(uint64(len(pkts)))
	tc.bytesIn.Add(uint64(len(body)))
	// Deliver the valid packets before an invalid one, as Node does.
	for _, p := range pkts {
		s.onPacket(p)
	}
	if err != nil {
		s.srv.log.Debug("engine.io bad payload", "sid", s.id, "err", err)
		s.Close(ReasonParseError)
		writeError(w, ErrBadRequest, "")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, "ok")
}

// readBody reads at most limit bytes; a longer body is errTooLarge.
func readBody(body io.Reader, limit int) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(body, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if len(b) > limit {
		return nil, errTooLarge
	}
	return b, nil
}
