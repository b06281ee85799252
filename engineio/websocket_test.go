package engineio_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/banter-chat/banter/engineio"
	"github.com/banter-chat/banter/internal/testutil"
	"github.com/coder/websocket"
)

func TestWebSocketSessionV4(t *testing.T) {
	h := start(t, engineio.Config{MaxPayload: 1000})
	h.rec.echo = true
	c := h.dial("EIO=4&transport=websocket")
	_, open, err := wsRead(t, c)
	if err != nil || !strings.HasPrefix(open, "0{") {
		t.Fatalf("first frame %q, %v", open, err)
	}
	var op openPacket
	if err := json.Unmarshal([]byte(open[1:]), &op); err != nil || len(op.Upgrades) != 0 || op.MaxPayload != 1000 {
		t.Fatalf("OPEN %q: %+v %v", open, op, err)
	}
	sess := h.nextSession()
	if sess.s.Transport() != "websocket" || sess.s.ID() != op.SID {
		t.Fatalf("server session %q on %q", sess.s.ID(), sess.s.Transport())
	}

	wsWrite(t, c, websocket.MessageText, "4hé😀")
	expectMsg(t, sess, "hé😀", false)
	wsExpect(t, c, "4hé😀")
	// v4 binary frames are the raw data, no type byte.
	wsWrite(t, c, websocket.MessageBinary, "\x00\x01\xff")
	expectMsg(t, sess, "\x00\x01\xff", true)
	typ, got, err := wsRead(t, c)
	if err != nil || typ != websocket.MessageBinary || got != "\x00\x01\xff" {
		t.Fatalf("binary echo: %v %q %v", typ, got, err)
	}

	// Many sends in a row arrive in order (they may share one TCP write).
	for i := range 200 {
		_ = sess.s.Send(engineio.TextMessage(strconv.Itoa(i)))
	}
	for i := range 200 {
		wsExpect(t, c, "4"+strconv.Itoa(i))
	}

	// A message over MaxPayload closes the session.
	wsWrite(t, c, websocket.MessageText, "4"+strings.Repeat("x", 2000))
	expectClosed(t, sess, engineio.ReasonPayloadTooLarge)
}

func TestWebSocketSessionV3(t *testing.T) {
	h := start(t, engineio.Config{})
	h.rec.echo = true
	c := h.dial("EIO=3&transport=websocket")
	if _, open, err := wsRead(t, c); err != nil || !strings.HasPrefix(open, "0{") {
		t.Fatalf("first frame %q, %v", open, err)
	}
	sess := h.nextSession()
	// v3 binary frames carry the packet type in their first byte.
	wsWrite(t, c, websocket.MessageBinary, "\x04\x00\xff")
	expectMsg(t, sess, "\x00\xff", true)
	typ, got, err := wsRead(t, c)
	if err != nil || typ != websocket.MessageBinary || got != "\x04\x00\xff" {
		t.Fatalf("binary echo: %v %q %v", typ, got, err)
	}
	// The client pings, the server answers.
	wsWrite(t, c, websocket.MessageText, "2")
	wsExpect(t, c, "3")
}

func TestWebSocketBadPacket(t *testing.T) {
	for _, frame := range []string{"9", "bAQID" /* base64 only in polling */, "0{}"} {
		t.Run(fmt.Sprintf("%q", frame), func(t *testing.T) {
			h := start(t, engineio.Config{})
			c := h.dial("EIO=4&transport=websocket")
			_, _, _ = wsRead(t, c)
			sess := h.nextSession()
			wsWrite(t, c, websocket.MessageText, frame)
			expectClosed(t, sess, engineio.ReasonParseError)
			if _, _, err := wsRead(t, c); err == nil {
				t.Fatal("connection still open after a bad packet")
			}
		})
	}
}

// TestWebSocketEmptyFrames: an empty binary frame is a valid v4 message
// (engine.io-client sends one for socket.send(new ArrayBuffer(0)), and
// socket.io-client for an empty Buffer attachment); an empty text frame is a
// parse error in Node.
func TestWebSocketEmptyFrames(t *testing.T) {
	h := start(t, engineio.Config{})
	c := h.dial("EIO=4&transport=websocket")
	_, _, _ = wsRead(t, c)
	sess := h.nextSession()
	wsWrite(t, c, websocket.MessageBinary, "")
	wsWrite(t, c, websocket.MessageText, "4next")
	expectMsg(t, sess, "", true)
	expectMsg(t, sess, "next", false)
	wsWrite(t, c, websocket.MessageText, "")
	expectClosed(t, sess, engineio.ReasonParseError)
}

func TestWebSocketClientClose(t *testing.T) {
	h := start(t, engineio.Config{})
	c := h.dial("EIO=4&transport=websocket")
	_, _, _ = wsRead(t, c)
	sess := h.nextSession()
	_ = c.Close(websocket.StatusNormalClosure, "")
	expectClosed(t, sess, engineio.ReasonTransportClose)

	// Any close frame is a "transport close", whatever its code (browsers
	// and the ws module send 1005 "no status" or 1001 "going away").
	c1 := h.dial("EIO=4&transport=websocket")
	_, _, _ = wsRead(t, c1)
	sess1 := h.nextSession()
	_ = c1.Close(websocket.StatusGoingAway, "page left")
	expectClosed(t, sess1, engineio.ReasonTransportClose)

	c2 := h.dial("EIO=4&transport=websocket")
	_, _, _ = wsRead(t, c2)
	sess2 := h.nextSession()
	wsWrite(t, c2, websocket.MessageText, "1") // close packet
	expectClosed(t, sess2, engineio.ReasonTransportClose)
}

// upgrade runs the polling → WebSocket upgrade of a v4 session and returns
// the WebSocket once the upgrade packet has been sent.
func TestUpgradeNoLossNoDuplicate(t *testing.T) {
	h := start(t, engineio.Config{})
	op, sess := h.handshakeV4()
	q := pollQuery(4, op.SID)

	// A background stream from the server runs through the whole upgrade,
	// next to numbered messages sent at each step of it.
	var stop atomic.Bool
	bgSent := make(chan int, 1)
	background(t, func() {
		// Bounded, so a failing test cannot flood the queue forever.
		i := 0
		for ; !stop.Load() && i < 20000; i++ {
			if sess.s.Send(engineio.TextMessage("bg"+strconv.Itoa(i))) != nil {
				break
			}
			runtime.Gosched()
		}
		bgSent <- i
	})
	t.Cleanup(func() { stop.Store(true) })
	step := 0
	send := func(n int) {
		for range n {
			if err := sess.s.Send(engineio.TextMessage("m" + strconv.Itoa(step))); err != nil {
				t.Fatalf("Send m%d: %v", step, err)
			}
			step++
		}
	}
	var got []string
	var pollDone chan []string
	poll := func() {
		pollDone = make(chan []string, 1)
		background(t, func() {
			_, body := getRaw(h, q)
			var msgs []string
			for el := range strings.SplitSeq(body, "\x1e") {
				msgs = append(msgs, el)
			}
			pollDone <- msgs
		})
	}
	addPolled := func(els []string) {
		for _, el := range els {
			switch {
			case strings.HasPrefix(el, "4"):
				got = append(got, el[1:])
			case el == "6": // noop that releases the poll
			case el == "2": // ping
			default:
				t.Fatalf("unexpected polled packet %q", el)
			}
		}
	}

	// Client → server before the upgrade, over polling.
	if st, _ := h.post(q, "4c0"); st != 200 {
		t.Fatalf("POST: %d", st)
	}
	send(10)
	poll()
	addPolled(recv(t, pollDone, "first poll"))

	// The probe: the server must release the pending poll (with a noop or
	// with what is queued).
	poll()
	c := h.dial("EIO=4&transport=websocket&sid=" + op.SID)
	wsWrite(t, c, websocket.MessageText, "2probe")
	send(10)
	wsExpect(t, c, "3probe")
	send(10)
	addPolled(recv(t, pollDone, "the poll released by the probe"))
	send(10)
	// Upgrade: from now on everything goes over the WebSocket.
	wsWrite(t, c, websocket.MessageText, "5")
	send(10)
	wsWrite(t, c, websocket.MessageText, "4c1")
	expectMsg(t, sess, "c0", false)
	expectMsg(t, sess, "c1", false)
	stop.Store(true)
	nbg := recv(t, bgSent, "the background sender")
	total := step + nbg
	for len(got) < total {
		typ, f, err := wsRead(t, c)
		if err != nil {
			t.Fatalf("after %d of %d messages: %v", len(got), total, err)
		}
		if typ != websocket.MessageText || len(f) == 0 {
			t.Fatalf("unexpected frame %v %q", typ, f)
		}
		switch f[0] {
		case '4':
			got = append(got, f[1:])
		case '2':
		default:
			t.Fatalf("unexpected frame %q", f)
		}
	}
	// Each stream arrived exactly once and in order.
	nextM, nextBG := 0, 0
	for _, m := range got {
		switch {
		case m == "m"+strconv.Itoa(nextM):
			nextM++
		case m == "bg"+strconv.Itoa(nextBG):
			nextBG++
		default:
			t.Fatalf("message %q out of order (next m%d, bg%d)", m, nextM, nextBG)
		}
	}
	if nextM != step || nextBG != nbg {
		t.Fatalf("got m0..m%d and bg0..bg%d, want %d and %d", nextM, nextBG, step, nbg)
	}
	if sess.s.Transport() != "websocket" {
		t.Fatalf("transport %q after upgrade", sess.s.Transport())
	}
	// Polling requests are refused once upgraded.
	if st, _ := h.get(q); st != 400 {
		t.Fatalf("GET after upgrade: %d", st)
	}

	// A duplicate upgrade is accepted, then closed; the session lives on.
	dup := h.dial("EIO=4&transport=websocket&sid=" + op.SID)
	if _, f, err := wsRead(t, dup); err == nil {
		t.Fatalf("duplicate upgrade got frame %q", f)
	}
	_ = sess.s.Send(engineio.TextMessage("still here"))
	wsExpect(t, c, "4still here")
	if sess.s.Closed() {
		t.Fatal("duplicate upgrade closed the session")
	}
}

func TestUpgradeV3(t *testing.T) {
	h := start(t, engineio.Config{})
	h.rec.echo = true
	if st, _ := h.get("EIO=3&transport=polling"); st != 200 {
		t.Fatal("handshake")
	}
	sess := h.nextSession()
	c := h.dial("EIO=3&transport=websocket&sid=" + sess.s.ID())
	wsWrite(t, c, websocket.MessageText, "2probe")
	wsExpect(t, c, "3probe")
	wsWrite(t, c, websocket.MessageText, "5")
	wsWrite(t, c, websocket.MessageText, "4after")
	expectMsg(t, sess, "after", false)
	wsExpect(t, c, "4after")
}

func TestUpgradeBadProbe(t *testing.T) {
	h := start(t, engineio.Config{})
	op, sess := h.handshakeV4()
	c := h.dial("EIO=4&transport=websocket&sid=" + op.SID)
	// An upgrade packet before the probe is a protocol error for the probe
	// only: the polling session goes on.
	wsWrite(t, c, websocket.MessageText, "5")
	if _, f, err := wsRead(t, c); err == nil {
		t.Fatalf("probe connection got %q, want it closed", f)
	}
	_ = sess.s.Send(engineio.TextMessage("polling"))
	if got := h.collectV4(op.SID, 1); got[0] != "polling" {
		t.Fatalf("polling after a failed upgrade: %q", got)
	}
	if sess.s.Transport() != "polling" || sess.s.Closed() {
		t.Fatalf("session %q closed=%v", sess.s.Transport(), sess.s.Closed())
	}
}

func TestUpgradeUnknownSID(t *testing.T) {
	h := start(t, engineio.Config{})
	_, resp, err := websocket.Dial(t.Context(), wsURL(h.base, "EIO=4&transport=websocket&sid=nope"), &websocket.DialOptions{HTTPClient: h.client})
	if err == nil || resp == nil || resp.StatusCode != 400 {
		t.Fatalf("upgrade with an unknown sid: %v %v", resp, err)
	}
}

func TestDisableWebSocket(t *testing.T) {
	h := start(t, engineio.Config{DisableWebSocket: true})
	op, _ := h.handshakeV4()
	if len(op.Upgrades) != 0 {
		t.Errorf("upgrades %v with WebSocket disabled", op.Upgrades)
	}
	st, body := h.get("EIO=4&transport=websocket")
	if st != 400 || string(body) != `{"code":0,"message":"Transport unknown"}` {
		t.Errorf("websocket with WebSocket disabled: %d %s", st, body)
	}
	h2 := start(t, engineio.Config{DisablePolling: true})
	st, body = h2.get("EIO=4&transport=polling")
	if st != 400 || string(body) != `{"code":0,"message":"Transport unknown"}` {
		t.Errorf("polling with polling disabled: %d %s", st, body)
	}
}

// Over WebSocket our queue is flushed into the connection at once, so a
// client that stopped reading shows its backlog in the kernel: volatile
// sends are dropped then too, before the session nears its buffer limit.
func TestSendVolatileDropsForStalledWebSocket(t *testing.T) {
	h := start(t, engineio.Config{MaxBufferedBytes: 64 << 20})
	c, _, err := websocket.Dial(t.Context(), wsURL(h.base, "EIO=4&transport=websocket"), &websocket.DialOptions{HTTPClient: h.client})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	sess := h.nextSession()
	small := engineio.TextMessage(`42["typing",{"nick":"a"}]`)
	if !sess.s.SendVolatile(small) {
		t.Fatal("volatile send to a reading client dropped")
	}
	// The client never reads again: fill its receive window and our send
	// buffer.
	chunk := engineio.NewMessage(bytes.Repeat([]byte("x"), 16<<10), false)
	dropped := false
	for i := 0; i < 2000 && !dropped; i++ { // at most 32 MiB, below the 64 MiB limit
		if err := sess.s.Send(chunk); err != nil {
			t.Fatalf("Send %d: %v", i, err)
		}
		if i%16 == 15 {
			// Our queue is empty: what is left is in the connection.
			testutil.Eventually(t, 5*time.Second, func() bool { return sess.s.Queued() == 0 }, "queue flushed")
			dropped = !sess.s.SendVolatile(small)
		}
	}
	if !dropped {
		t.Fatal("volatile sends still queued for a client that stopped reading 32 MiB ago")
	}
	if sess.s.Closed() {
		t.Fatal("the session closed")
	}
}

// Under pacing a session with a steady stream of frames gets them in
// fewer writes than frames, every frame once and in order; a close flushes
// what is held.
func TestWebSocketPacedWrites(t *testing.T) {
	h := start(t, engineio.Config{})
	engineio.PinWriteDelay(h.srv, 20*time.Millisecond)
	c := h.dial("EIO=4&transport=websocket")
	if _, open, err := wsRead(t, c); err != nil || !strings.HasPrefix(open, "0{") {
		t.Fatalf("first frame %q, %v", open, err)
	}
	sess := h.nextSession()
	w0 := h.srv.Stats().WebSocket.Writes
	const n = 600
	done := make(chan struct{})
	go func() {
		defer close(done)
		// One frame every 2 ms: alone, each would be a write of its own.
		for i := range n {
			if err := sess.s.Enqueue(engineio.TextMessage(strconv.Itoa(i))); err != nil {
				t.Errorf("Enqueue %d: %v", i, err)
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	for i := range n {
		wsExpect(t, c, "4"+strconv.Itoa(i))
	}
	<-done
	if w := h.srv.Stats().WebSocket.Writes - w0; w > n/3 {
		t.Errorf("%d frames took %d writes: not paced", n, w)
	}
	// Frames held at the moment of a close still go out before it.
	for i := range 50 {
		_ = sess.s.Enqueue(engineio.TextMessage("last" + strconv.Itoa(i)))
	}
	sess.s.Close(engineio.ReasonForcedClose)
	for i := range 50 {
		wsExpect(t, c, "4last"+strconv.Itoa(i))
	}
}

// Frames that break RFC 6455 close the connection with the status the RFC
// gives (an unmasked client frame: 1002) and end the session.
func TestWebSocketProtocolErrors(t *testing.T) {
	h := start(t, engineio.Config{MaxPayload: 100})
	for _, tc := range []struct {
		name   string
		frame  []byte
		code   int
		reason engineio.Reason
	}{
		{"unmasked", []byte{0x81, 0x02, '4', 'x'}, 1002, engineio.ReasonTransportError},
		{"reserved bits", []byte{0xf1, 0x80, 0, 0, 0, 0}, 1002, engineio.ReasonTransportError},
		{"invalid UTF-8", maskedFrame(0x1, "4\xff"), 1007, engineio.ReasonTransportError},
		{"too large", maskedFrame(0x1, "4"+strings.Repeat("x", 200)), 1009, engineio.ReasonPayloadTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nc := rawWebSocket(t, h)
			sess := h.nextSession()
			if _, err := nc.Write(tc.frame); err != nil {
				t.Fatal(err)
			}
			expectClosed(t, sess, tc.reason)
			// The server's close frame carries the status; then EOF.
			got, err := io.ReadAll(nc)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			i := bytes.Index(got, []byte{0x88})
			if i < 0 || len(got) < i+4 || int(got[i+2])<<8|int(got[i+3]) != tc.code {
				t.Fatalf("no close frame with %d in % x", tc.code, got)
			}
		})
	}
}

// rawWebSocket opens a v4 WebSocket session over a plain TCP connection
// and reads the 101 and the OPEN packet.
func rawWebSocket(t *testing.T, h *harness) net.Conn {
	t.Helper()
	u, _ := url.Parse(h.base)
	nc, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(waitTimeout))
	req := "GET " + u.Path + "?EIO=4&transport=websocket HTTP/1.1\r\nHost: " + u.Host +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(nc, req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	// The OPEN packet: a text frame.
	hdr := make([]byte, 2)
	if _, err := io.ReadFull(br, hdr); err != nil || hdr[0] != 0x81 {
		t.Fatalf("open frame % x %v", hdr, err)
	}
	n := int(hdr[1])
	if n == 126 {
		var l [2]byte
		io.ReadFull(br, l[:])
		n = int(l[0])<<8 | int(l[1])
	}
	if _, err := io.ReadFull(br, make([]byte, n)); err != nil {
		t.Fatal(err)
	}
	if br.Buffered() > 0 {
		t.Fatalf("%d unexpected bytes after OPEN", br.Buffered())
	}
	return nc
}

func maskedFrame(op byte, payload string) []byte {
	b := []byte{0x80 | op}
	if len(payload) < 126 {
		b = append(b, 0x80|byte(len(payload)))
	} else {
		b = append(b, 0x80|126, byte(len(payload)>>8), byte(len(payload)))
	}
	mask := []byte{1, 2, 3, 4}
	b = append(b, mask...)
	for i := range len(payload) {
		b = append(b, payload[i]^mask[i%4])
	}
	return b
}

// Thousands of WebSocket sessions opened and closed at once, by either
// side, while others open: none of the new ones is lost (an event loop that
// applied a closed connection's pending hang-up to a new connection with
// the same descriptor number closed new sessions during mass disconnects).
func TestWebSocketChurnLosesNoSession(t *testing.T) {
	h := start(t, engineio.Config{})
	h.rec.echo = true
	// Every session gets a steady stream of messages, so that sessions
	// whose client vanished fail their writes (the server then closes them
	// from a flush worker) while new ones open.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		var live []*session
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case s := <-h.rec.sessions:
				live = append(live, s)
			case <-tick.C:
				n := 0
				for _, s := range live {
					if s.s.Enqueue(engineio.TextMessage("noise")) == nil {
						live[n] = s
						n++
					}
				}
				live = live[:n]
			case <-stop:
				return
			}
		}
	}()
	const workers, rounds = 32, 60
	var broken atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
				c, _, err := websocket.Dial(ctx, wsURL(h.base, "EIO=4&transport=websocket"), nil)
				if err != nil {
					broken.Add(1)
					cancel()
					continue
				}
				ok := func() bool {
					if _, open, err := c.Read(ctx); err != nil || !strings.HasPrefix(string(open), "0{") {
						return false
					}
					for k := range 3 {
						msg := fmt.Sprintf("4%d-%d-%d", w, i, k)
						if c.Write(ctx, websocket.MessageText, []byte(msg)) != nil {
							return false
						}
						for {
							_, got, err := c.Read(ctx)
							if err != nil {
								return false
							}
							if string(got) == msg {
								break
							}
						}
					}
					return true
				}()
				if !ok {
					broken.Add(1)
				}
				switch i % 3 {
				case 0:
					_ = c.Close(websocket.StatusNormalClosure, "")
				case 1:
					_ = c.CloseNow() // vanish: no close frame
				default:
					// An Engine.IO close packet, then vanish: the server
					// closes the connection while its hang-up is pending.
					_ = c.Write(ctx, websocket.MessageText, []byte("1"))
					_ = c.CloseNow()
				}
				cancel()
			}
		}()
	}
	wg.Wait()
	if n := broken.Load(); n > 0 {
		t.Fatalf("%d of %d sessions broke while open", n, workers*rounds)
	}
}
