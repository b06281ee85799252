package engineio_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/banter-chat/banter/engineio"
	"github.com/coder/websocket"
)

// TestStats drives each transport, an upgrade, a slow consumer and a
// refused request, and checks every counter moved by what was done.
func TestStats(t *testing.T) {
	h := start(t, engineio.Config{MaxBufferedBytes: 1000})
	h.rec.echo = true
	if st := h.srv.Stats(); st.Polling != (engineio.TransportStats{}) || st.WebSocket != (engineio.TransportStats{}) {
		t.Fatalf("fresh server: %+v", st)
	}

	// Polling: a session, one message each way.
	op, psess := h.handshakeV4()
	if st, body := h.post(pollQuery(4, op.SID), "4hello"); st != 200 {
		t.Fatalf("POST: %d %q", st, body)
	}
	expectMsg(t, psess, "hello", false)
	if got := h.collectV4(op.SID, 1); got[0] != "hello" {
		t.Fatalf("echo %q", got)
	}
	st := h.srv.Stats()
	if p := st.Polling; p.Open != 1 || p.Handshakes != 1 || p.PacketsReceived != 1 || p.BytesReceived != 6 ||
		p.PacketsSent < 2 || p.BytesSent == 0 {
		t.Errorf("polling after one round trip: %+v", p)
	}

	// Its backlog: a queued message waits for the next GET.
	if err := psess.s.Send(engineio.TextMessage("queued")); err != nil {
		t.Fatal(err)
	}
	if total, largest := h.srv.Backlog(); total != largest || total < 6 {
		t.Errorf("Backlog = %d, %d; want one queue holding the message", total, largest)
	}

	// The upgrade moves the session to the WebSocket count.
	c := h.dial("EIO=4&transport=websocket&sid=" + op.SID)
	wsWrite(t, c, websocket.MessageText, "2probe")
	wsExpect(t, c, "3probe")
	h.pollV4(op.SID) // the queued message, or the noop releasing the poll
	wsWrite(t, c, websocket.MessageText, "5")
	wsWrite(t, c, websocket.MessageText, "4on ws")
	expectMsg(t, psess, "on ws", false)
	for {
		_, got, err := wsRead(t, c)
		if err != nil {
			t.Fatalf("echo over the upgraded transport: %v", err)
		}
		if got == "4on ws" {
			break
		}
	}
	// The flush workers publish their tallies when they go idle: wait for it.
	for deadline := time.Now().Add(5 * time.Second); ; {
		if st = h.srv.Stats(); st.WebSocket.PacketsSent != 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if st.Upgrades != 1 || st.Polling.Open != 0 || st.WebSocket.Open != 1 || st.WebSocket.Handshakes != 0 ||
		st.WebSocket.PacketsReceived != 3 || st.WebSocket.PacketsSent == 0 {
		t.Errorf("after the upgrade: %+v", st)
	}
	_ = c.Close(websocket.StatusNormalClosure, "")
	expectClosed(t, psess, engineio.ReasonTransportClose)

	// A direct WebSocket session overflowing its queue: a slow consumer.
	wc := h.dial("EIO=4&transport=websocket")
	_, _, _ = wsRead(t, wc)
	wsess := h.nextSession()
	big := engineio.NewMessage(bytes.Repeat([]byte("x"), 600), false)
	if err := wsess.s.Enqueue(big, big); err != engineio.ErrClosed { // 2×616 bytes > 1000
		t.Fatalf("Enqueue past MaxBufferedBytes: %v, want ErrClosed", err)
	}
	expectClosed(t, wsess, engineio.ReasonSlowConsumer)

	// A refused request.
	if code, _ := h.get("EIO=4&transport=polling&sid=nosuchsession"); code != 400 {
		t.Fatalf("unknown sid: %d", code)
	}

	st = h.srv.Stats()
	if st.WebSocket.Handshakes != 1 || st.WebSocket.Open != 0 || st.Polling.Open != 0 {
		t.Errorf("at the end: polling %+v, websocket %+v", st.Polling, st.WebSocket)
	}
	want := map[engineio.Reason]uint64{engineio.ReasonTransportClose: 1, engineio.ReasonSlowConsumer: 1}
	for _, r := range engineio.Reasons {
		got, ok := st.Closes[r]
		if !ok || got != want[r] {
			t.Errorf("Closes[%q] = %d (present %v), want %d", r, got, ok, want[r])
		}
	}
	if st.Refused[engineio.ErrUnknownSID] != 1 || len(st.Refused) != len(engineio.ErrorCodes) {
		t.Errorf("Refused = %v", st.Refused)
	}
	if total, _ := h.srv.Backlog(); total != 0 {
		t.Errorf("Backlog with no session = %d", total)
	}
}

// TestShutdownDoesNotWaitForClosingPoll: a polling session closed as a
// slow consumer waits for its client to fetch the close packet, but not
// when the server shuts down (it used to hold Shutdown for a heartbeat).
func TestShutdownDoesNotWaitForClosingPoll(t *testing.T) {
	h := start(t, engineio.Config{MaxBufferedBytes: 1000, PingInterval: time.Minute, PingTimeout: time.Minute})
	_, sess := h.handshakeV4()
	big := engineio.NewMessage(bytes.Repeat([]byte("x"), 600), false)
	_ = sess.s.Send(big)
	if err := sess.s.Send(big); err != engineio.ErrClosed {
		t.Fatalf("Send past MaxBufferedBytes: %v, want ErrClosed", err)
	}
	if st := h.srv.Stats(); st.Closes[engineio.ReasonSlowConsumer] != 1 || st.Polling.Open != 1 {
		t.Fatalf("slow consumer waiting for its GET: closes %v, polling %+v", st.Closes, st.Polling)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second) // a hang guard: the wait is two minutes otherwise
	defer cancel()
	if err := h.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	expectClosed(t, sess, engineio.ReasonSlowConsumer)
	if st := h.srv.Stats(); st.Polling.Open != 0 {
		t.Errorf("after Shutdown: %+v", st.Polling)
	}
}
