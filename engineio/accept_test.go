package engineio_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/banter-chat/banter/engineio"
	"github.com/coder/websocket"
)

// startLoop serves srv on a listener taken over by srv.Accept: WebSocket
// handshakes on the event loop, the rest through net/http.
func startLoop(t *testing.T, srv *engineio.Server) string {
	t.Helper()
	ln, err := engineio.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	mux := http.NewServeMux()
	mux.Handle("/engine.io/", srv)
	mux.HandleFunc("/other", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("net/http")) })
	hl, err := srv.Accept(ln, 2*time.Second, engineio.Route{Prefix: "/engine.io/", Handler: srv})
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: mux}
	go func() { _ = hs.Serve(hl) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = hs.Shutdown(ctx)
	})
	return "http://" + addr
}

func TestAcceptOnLoop(t *testing.T) {
	rec := &recorder{sessions: make(chan *session, 16)}
	srv := engineio.NewServer(engineio.Config{OnConnection: func(s *engineio.Socket) {
		sess := &session{s: s, msgs: make(chan received, 16), closed: make(chan engineio.Reason, 1)}
		s.SetHandler(recHandler{rec, sess})
		rec.sessions <- sess
	}})
	rec.echo = true
	base := startLoop(t, srv)
	h := &harness{t: t, srv: srv, base: base + "/engine.io/", rec: rec, client: &http.Client{Timeout: waitTimeout}}

	// A WebSocket session, handshake answered on the loop.
	c := h.dial("EIO=4&transport=websocket")
	if _, open, err := wsRead(t, c); err != nil || !strings.HasPrefix(open, "0{") {
		t.Fatalf("open: %q %v", open, err)
	}
	sess := h.nextSession()
	wsWrite(t, c, websocket.MessageText, "4hello")
	expectMsg(t, sess, "hello", false)
	wsExpect(t, c, "4hello")

	// Long-polling and its upgrade go through net/http.
	op, psess := h.handshakeV4()
	if psess.s.Transport() != "polling" {
		t.Fatalf("polling session on %s", psess.s.Transport())
	}
	u := h.dial("EIO=4&transport=websocket&sid=" + op.SID)
	wsWrite(t, u, websocket.MessageText, "2probe")
	wsExpect(t, u, "3probe")
	wsWrite(t, u, websocket.MessageText, "5")
	wsWrite(t, u, websocket.MessageText, "4after upgrade")
	expectMsg(t, psess, "after upgrade", false)

	// Other routes, and requests with a body.
	resp, err := http.Get(base + "/other")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "net/http" {
		t.Fatalf("/other: %q", body)
	}

	// A refused handshake is answered on the loop like net/http answers it.
	status, ebody := rawRequest(t, base, "GET /engine.io/?EIO=9&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	if status != http.StatusBadRequest || !strings.Contains(ebody, `"code":5`) {
		t.Fatalf("unsupported version on the loop: %d %q", status, ebody)
	}
}

// A connection that does not send its request head in time is closed.
func TestAcceptHeadTimeout(t *testing.T) {
	srv := engineio.NewServer(engineio.Config{})
	base := startLoop(t, srv)
	nc, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := io.WriteString(nc, "GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = nc.SetReadDeadline(time.Now().Add(waitTimeout))
	if n, err := nc.Read(make([]byte, 1)); n != 0 || err == nil || isTimeout(err) {
		t.Fatalf("slow head: read %d, %v (want the server to close)", n, err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// rawRequest sends req on a new connection and returns the status and body
// of the response.
func rawRequest(t *testing.T, base, req string) (int, string) {
	t.Helper()
	nc, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(waitTimeout))
	if _, err := io.WriteString(nc, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
