package engineio_test

import (
	"bytes"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/banter-chat/banter/engineio"
)

func TestPollingRoundTripV4(t *testing.T) {
	h := start(t, engineio.Config{})
	h.rec.echo = true
	op, sess := h.handshakeV4()
	q := pollQuery(4, op.SID)

	// Several packets in one POST arrive in order; the echo comes back in one GET.
	if st, body := h.post(q, "4hello\x1e4é😀\x1ebAQID"); st != http.StatusOK || string(body) != "ok" {
		t.Fatalf("POST: %d %q", st, body)
	}
	expectMsg(t, sess, "hello", false)
	expectMsg(t, sess, "é😀", false)
	expectMsg(t, sess, "\x01\x02\x03", true)
	st, body := h.get(q)
	if st != http.StatusOK || string(body) != "4hello\x1e4é😀\x1ebAQID" {
		t.Fatalf("GET: %d %q", st, body)
	}

	// A GET with nothing queued waits for the next Send. (Should the Send
	// win the race with the GET, the GET finds it queued: same bytes.)
	got := make(chan string, 1)
	background(t, func() {
		_, body := h.get(q)
		got <- string(body)
	})
	if err := sess.s.Send(engineio.TextMessage("later")); err != nil {
		t.Fatal(err)
	}
	if b := recv(t, got, "the pending GET"); b != "4later" {
		t.Fatalf("pending GET got %q", b)
	}

	// Close from the server: the next GET gets what is queued, then the close packet.
	_ = sess.s.Send(engineio.TextMessage("bye"))
	sess.s.Close(engineio.ReasonForcedClose)
	if _, body := h.get(q); string(body) != "4bye\x1e1" {
		t.Fatalf("GET after Close: %q", body)
	}
	expectClosed(t, sess, engineio.ReasonForcedClose)
	if st, body := h.get(q); st != http.StatusBadRequest || !strings.Contains(string(body), `"code":1`) {
		t.Fatalf("GET after the session ended: %d %s", st, body)
	}
	if err := sess.s.Send(engineio.TextMessage("x")); err != engineio.ErrClosed {
		t.Fatalf("Send on a closed session: %v", err)
	}
}

func TestPollingCloseFromClient(t *testing.T) {
	h := start(t, engineio.Config{})
	op, sess := h.handshakeV4()
	if st, _ := h.post(pollQuery(4, op.SID), "1"); st != http.StatusOK {
		t.Fatalf("POST close: %d", st)
	}
	expectClosed(t, sess, engineio.ReasonTransportClose)
}

func TestPollingV3TextAndBase64(t *testing.T) {
	h := start(t, engineio.Config{})
	h.rec.echo = true
	// b64=1: a client without XHR2 (old browsers, some native clients):
	// binary travels as base64 inside the text payload.
	st, body := h.get("EIO=3&transport=polling&b64=1")
	if st != http.StatusOK {
		t.Fatalf("handshake: %d %q", st, body)
	}
	sess := h.nextSession()
	q := pollQuery(3, sess.s.ID()) + "&b64=1"
	if st, body := h.post(q, "2:4é3:4😀6:b4AQID"); st != http.StatusOK {
		t.Fatalf("POST: %d %q", st, body)
	}
	expectMsg(t, sess, "é", false)
	expectMsg(t, sess, "😀", false)
	expectMsg(t, sess, "\x01\x02\x03", true)
	st, hdr, body := h.do(http.MethodGet, q, "", nil)
	if st != http.StatusOK || string(body) != "2:4é3:4😀6:b4AQID" || !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET: %d %q %q", st, hdr.Get("Content-Type"), body)
	}
}

func TestPollingV3Binary(t *testing.T) {
	h := start(t, engineio.Config{})
	h.rec.echo = true
	// An XHR2 client (socket.io-client 2 in a browser or Node): binary
	// payloads both ways.
	if st, body := h.get("EIO=3&transport=polling"); st != http.StatusOK {
		t.Fatalf("handshake: %d %q", st, body)
	}
	sess := h.nextSession()
	q := pollQuery(3, sess.s.ID())
	payload := []byte{0, 2, 0xff, '4', 'x', 1, 3, 0xff, 4, 0, 0xff}
	if st, _, body := h.do(http.MethodPost, q, "application/octet-stream", payload); st != http.StatusOK {
		t.Fatalf("POST: %d %q", st, body)
	}
	expectMsg(t, sess, "x", false)
	expectMsg(t, sess, "\x00\xff", true)
	st, hdr, body := h.do(http.MethodGet, q, "", nil)
	if st != http.StatusOK || !bytes.Equal(body, payload) || hdr.Get("Content-Type") != "application/octet-stream" {
		t.Fatalf("GET: %d %q %x", st, hdr.Get("Content-Type"), body)
	}
	// Without binary in the queue, the payload is text even for XHR2.
	_ = sess.s.Send(engineio.TextMessage("só texto"))
	st, hdr, body = h.do(http.MethodGet, q, "", nil)
	if st != http.StatusOK || string(body) != "9:4só texto" || !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET text: %d %q %q", st, hdr.Get("Content-Type"), body)
	}
}

func TestOverlappingGETs(t *testing.T) {
	h := start(t, engineio.Config{})
	op, sess := h.handshakeV4()
	q := pollQuery(4, op.SID)
	// Two GETs at once: Node closes the session; one GET gets 400, the
	// other the close packet. Which one arrives first is up to the network.
	var wg sync.WaitGroup
	results := make([]string, 2)
	statuses := make([]int, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i], results[i] = getRaw(h, q)
		}()
	}
	wg.Wait()
	ok, bad := 0, 0
	for i := range 2 {
		switch {
		case statuses[i] == http.StatusOK && results[i] == "1":
			ok++
		case statuses[i] == http.StatusBadRequest:
			bad++
		}
	}
	if ok != 1 || bad != 1 {
		t.Fatalf("overlapping GETs: %v %q; want one close packet and one 400", statuses, results)
	}
	expectClosed(t, sess, engineio.ReasonOverlappingPolls)
}

// getRaw is harness.get usable off the test goroutine.
func getRaw(h *harness, query string) (int, string) {
	resp, err := h.client.Get(h.base + "?" + query)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

func TestPOSTOverMaxPayload(t *testing.T) {
	h := start(t, engineio.Config{MaxPayload: 100})
	op, sess := h.handshakeV4()
	q := pollQuery(4, op.SID)
	// Exactly the limit is fine.
	if st, _ := h.post(q, "4"+strings.Repeat("a", 99)); st != http.StatusOK {
		t.Fatalf("POST of MaxPayload bytes: %d", st)
	}
	expectMsg(t, sess, strings.Repeat("a", 99), false)
	st, _ := h.post(q, "4"+strings.Repeat("a", 100))
	if st != http.StatusRequestEntityTooLarge {
		t.Fatalf("POST over MaxPayload: %d, want 413", st)
	}
	expectClosed(t, sess, engineio.ReasonPayloadTooLarge)
	if st, _ := h.get(q); st != http.StatusBadRequest {
		t.Fatalf("GET after the session closed: %d", st)
	}
}

func TestBadPackets(t *testing.T) {
	cases := []struct {
		name, body string
		delivered  []string // messages before the bad packet
	}{
		{"unknown type", "9", nil},
		{"valid then invalid", "4a\x1e4b\x1e8", []string{"a", "b"}},
		{"bad base64", "bA=A=", nil},
		{"empty element", "4a\x1e\x1e4b", []string{"a"}},
		{"open packet from client", "0{}", nil},
		{"ping from a v4 client", "2", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := start(t, engineio.Config{})
			op, sess := h.handshakeV4()
			st, _ := h.post(pollQuery(4, op.SID), c.body)
			for _, m := range c.delivered {
				expectMsg(t, sess, m, false)
			}
			r := recv(t, sess.closed, "OnClose")
			if r != engineio.ReasonParseError && r != engineio.ReasonTransportError {
				t.Fatalf("closed with %q, want parse or transport error", r)
			}
			if len(sess.msgs) != 0 {
				t.Fatalf("%d extra messages delivered", len(sess.msgs))
			}
			_ = st // Node answers 200 for some of these and 400 for others; the session ends either way.
		})
	}
}

func TestBinaryBodyFromV4ClientRefused(t *testing.T) {
	h := start(t, engineio.Config{})
	op, sess := h.handshakeV4()
	st, _, _ := h.do(http.MethodPost, pollQuery(4, op.SID), "application/octet-stream", []byte{1, 1, 0xff, 4})
	if st != http.StatusBadRequest {
		t.Fatalf("status %d", st)
	}
	expectClosed(t, sess, engineio.ReasonParseError)
}

func TestSlowConsumer(t *testing.T) {
	h := start(t, engineio.Config{MaxBufferedBytes: 1000})
	_, sess := h.handshakeV4()
	big := engineio.NewMessage(bytes.Repeat([]byte("x"), 600), false)
	if err := sess.s.Send(big); err != nil {
		t.Fatalf("first Send: %v", err)
	}
	if err := sess.s.Send(big); err != engineio.ErrClosed {
		t.Fatalf("Send past MaxBufferedBytes: %v, want ErrClosed", err)
	}
	// Volatile sends are dropped, never close the session, and do not block.
	h2 := start(t, engineio.Config{})
	_, s2 := h2.handshakeV4()
	n := 0
	for s2.s.SendVolatile(big) {
		n++
		if n > 1000 {
			t.Fatal("SendVolatile never drops")
		}
	}
	if s2.s.Closed() {
		t.Fatal("SendVolatile closed the session")
	}
	// The session that overflowed is closing; its client still gets the
	// queued message and the close packet.
	_, body := h.get(pollQuery(4, sess.s.ID()))
	if !strings.HasSuffix(string(body), "\x1e1") {
		t.Fatalf("GET after overflow: %q", body)
	}
	expectClosed(t, sess, engineio.ReasonSlowConsumer)
}
