package engineio_test

// Black-box tests of the Engine.IO server: a real HTTP server on a loopback
// port, spoken to with raw HTTP requests (long-polling) and a WebSocket
// client library, checking the bytes on the wire.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/banter-chat/banter/engineio"
	"github.com/banter-chat/banter/engineio/parser"
	"github.com/banter-chat/banter/internal/testutil"
	"github.com/coder/websocket"
)

// waitTimeout bounds every wait for something the server must do; generous
// because the machine is shared and tests run with -race.
const waitTimeout = 10 * time.Second

type received struct {
	data   string
	binary bool
}

// session records what the server reports for one Engine.IO session.
type session struct {
	s      *engineio.Socket
	msgs   chan received
	closed chan engineio.Reason
}

// recorder is the application side of the server under test.
type recorder struct {
	echo     bool // send every message back
	sessions chan *session
}

type recHandler struct {
	r    *recorder
	sess *session
}

func (h recHandler) OnMessage(s *engineio.Socket, data []byte, binary bool) {
	d := string(data) // data is only valid during the call
	h.sess.msgs <- received{d, binary}
	if h.r.echo {
		_ = s.Send(engineio.NewMessage([]byte(d), binary))
	}
}

func (h recHandler) OnClose(_ *engineio.Socket, reason engineio.Reason) {
	h.sess.closed <- reason
}

// harness is a running server and a client for it.
type harness struct {
	t      *testing.T
	srv    *engineio.Server
	base   string // http://127.0.0.1:port/engine.io/
	rec    *recorder
	client *http.Client
}

// start serves an engineio.Server configured by cfg (OnConnection is
// replaced by the recorder's) at /engine.io/. Cleanup shuts it down before
// the HTTP server closes, so pending long-polls end.
func start(t *testing.T, cfg engineio.Config) *harness {
	t.Helper()
	rec := &recorder{sessions: make(chan *session, 256)}
	cfg.OnConnection = func(s *engineio.Socket) {
		sess := &session{s: s, msgs: make(chan received, 4096), closed: make(chan engineio.Reason, 1)}
		s.SetHandler(recHandler{rec, sess})
		rec.sessions <- sess
	}
	srv := engineio.NewServer(cfg)
	mux := http.NewServeMux()
	mux.Handle("/engine.io/", srv)
	base := testutil.StartHTTP(t, mux) + "/engine.io/"
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	h := &harness{t: t, srv: srv, base: base, rec: rec, client: &http.Client{Transport: tr, Timeout: waitTimeout}}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		tr.CloseIdleConnections()
	})
	return h
}

func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitTimeout):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

func (h *harness) nextSession() *session {
	h.t.Helper()
	return recv(h.t, h.rec.sessions, "a new session")
}

func (h *harness) do(method, query, ctype string, body []byte) (int, http.Header, []byte) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.base+"?"+query, bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, query, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatalf("%s %s: read body: %v", method, query, err)
	}
	return resp.StatusCode, resp.Header, b
}

func (h *harness) get(query string) (int, []byte) {
	h.t.Helper()
	st, _, b := h.do(http.MethodGet, query, "", nil)
	return st, b
}

func (h *harness) post(query, body string) (int, []byte) {
	h.t.Helper()
	st, _, b := h.do(http.MethodPost, query, "text/plain;charset=UTF-8", []byte(body))
	return st, b
}

type openPacket struct {
	SID          string   `json:"sid"`
	Upgrades     []string `json:"upgrades"`
	PingInterval int      `json:"pingInterval"`
	PingTimeout  int      `json:"pingTimeout"`
	MaxPayload   int      `json:"maxPayload"`
}

// handshakeV4 opens a v4 polling session and returns its OPEN packet and
// the server's view of it.
func (h *harness) handshakeV4() (openPacket, *session) {
	h.t.Helper()
	st, body := h.get("EIO=4&transport=polling")
	if st != http.StatusOK || len(body) == 0 || body[0] != '0' {
		h.t.Fatalf("v4 handshake: %d %q", st, body)
	}
	var op openPacket
	if err := json.Unmarshal(body[1:], &op); err != nil {
		h.t.Fatalf("v4 handshake: OPEN data %q: %v", body[1:], err)
	}
	return op, h.nextSession()
}

func pollQuery(proto int, sid string) string {
	q := "EIO=4&transport=polling&sid=" + sid
	if proto == 3 {
		q = "EIO=3&transport=polling&sid=" + sid
	}
	return q
}

// pollV4 does one GET and decodes its v4 payload.
func (h *harness) pollV4(sid string) []parser.Packet {
	h.t.Helper()
	st, body := h.get(pollQuery(4, sid))
	if st != http.StatusOK {
		h.t.Fatalf("GET: %d %q", st, body)
	}
	pkts, err := parser.DecodePayloadV4(body)
	if err != nil {
		h.t.Fatalf("GET payload %q: %v", body, err)
	}
	return pkts
}

// collectV4 polls until n message packets arrived (other packets skipped)
// and returns their data.
func (h *harness) collectV4(sid string, n int) []string {
	h.t.Helper()
	var out []string
	for len(out) < n {
		for _, p := range h.pollV4(sid) {
			switch p.Type {
			case parser.Message:
				out = append(out, string(p.Data))
			case parser.Close:
				h.t.Fatalf("session closed after %d of %d messages", len(out), n)
			}
		}
	}
	return out
}

func wsURL(base, query string) string {
	return "ws" + strings.TrimPrefix(base, "http") + "?" + query
}

// dial opens a WebSocket to the server.
func (h *harness) dial(query string) *websocket.Conn {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, wsURL(h.base, query), &websocket.DialOptions{HTTPClient: h.client})
	if err != nil {
		h.t.Fatalf("websocket dial %s: %v (response %v)", query, err, resp)
	}
	c.SetReadLimit(16 << 20)
	h.t.Cleanup(func() { _ = c.CloseNow() })
	return c
}

func wsRead(t *testing.T, c *websocket.Conn) (websocket.MessageType, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	typ, b, err := c.Read(ctx)
	return typ, string(b), err
}

// wsExpect reads one frame and fails unless it is the given text.
func wsExpect(t *testing.T, c *websocket.Conn, want string) {
	t.Helper()
	typ, got, err := wsRead(t, c)
	if err != nil || typ != websocket.MessageText || got != want {
		t.Fatalf("read %v %q, %v; want text %q", typ, got, err, want)
	}
}

func wsWrite(t *testing.T, c *websocket.Conn, typ websocket.MessageType, data string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := c.Write(ctx, typ, []byte(data)); err != nil {
		t.Fatalf("websocket write %q: %v", data, err)
	}
}

// expectClosed waits for the session's OnClose and checks its reason.
func expectClosed(t *testing.T, s *session, want engineio.Reason) {
	t.Helper()
	if got := recv(t, s.closed, "OnClose ("+string(want)+")"); got != want {
		t.Fatalf("closed with reason %q, want %q", got, want)
	}
}

func expectMsg(t *testing.T, s *session, data string, binary bool) {
	t.Helper()
	got := recv(t, s.msgs, "message "+data)
	if got.data != data || got.binary != binary {
		t.Fatalf("received %q (binary %v), want %q (binary %v)", got.data, got.binary, data, binary)
	}
}

// background runs f on a goroutine and waits for it at cleanup.
func background(t *testing.T, f func()) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); f() }()
	t.Cleanup(wg.Wait)
}
