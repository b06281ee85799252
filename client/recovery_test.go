package client_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/banter-chat/banter/client"
	"github.com/banter-chat/banter/internal/testutil"
)

// TestRecovery: connection state recovery. A client whose connection drops
// reconnects with its pid and last offset, keeps its id and rooms, and gets
// the room broadcasts it missed, from Banter and from Node.
func TestRecovery(t *testing.T) {
	servers := []target{
		{"banter", withRecovery},
		{"node", func(t *testing.T) string {
			testutil.RequireNode(t)
			return "http://127.0.0.1:" + testutil.StartNode(t, "testdata/recovery_server.js", "0")
		}},
	}
	for _, tg := range servers {
		t.Run(tg.name, func(t *testing.T) {
			testutil.CheckGoroutineLeaks(t)
			url := tg.start(t)
			p, purl := startProxy(t, url)
			m := newManager(t, purl, client.Config{ReconnectDelay: 10 * time.Millisecond, ReconnectDelayMax: 20 * time.Millisecond})
			s := m.Socket("/", client.SocketOptions{})
			got := make(chan string, 10)
			s.On("room-message", func(ev *client.Event) {
				v, _ := ev.String(1)
				// The offset rides as an extra last argument.
				if ev.Len() != 3 {
					t.Errorf("room-message with %d args, want room, text and offset", ev.Len())
				}
				got <- v
			})
			var rec recorder
			s.OnConnect(func() { rec.add("connect") })
			if err := s.Connect(ctxT(t)); err != nil {
				t.Fatal(err)
			}
			if s.Recovered() {
				t.Fatal("first connection Recovered")
			}
			if _, err := s.EmitWithAck(ctxT(t), "join", "r"); err != nil {
				t.Fatal(err)
			}
			other, err := client.Dial(ctxT(t), url, client.Config{}, client.SocketOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer other.Manager().Close()
			gone := make(chan string, 4)
			other.On("peer-disconnect", func(ev *client.Event) {
				var d struct{ ID string }
				_ = ev.Bind(0, &d)
				gone <- d.ID
			})
			if _, err := other.EmitWithAck(ctxT(t), "watch-disconnects"); err != nil {
				t.Fatal(err)
			}
			say := func(text string) {
				if err := other.Emit("room-message", "r", text); err != nil {
					t.Fatal(err)
				}
			}
			expect := func(want string) {
				t.Helper()
				select {
				case v := <-got:
					if v != want {
						t.Fatalf("got %q, want %q", v, want)
					}
				case <-time.After(waitTimeout):
					t.Fatalf("no %q", want)
				}
			}
			say("before")
			expect("before")
			id := s.ID()

			p.Down.Store(true)
			p.Cut()
			testutil.Eventually(t, waitTimeout, func() bool { return !s.Connected() }, "disconnected")
			// The server keeps the session for recovery once it has seen the
			// disconnect (a polling client is only noticed by the heartbeat).
			select {
			case g := <-gone:
				if g != id {
					t.Fatalf("peer-disconnect of %q, want %q", g, id)
				}
			case <-time.After(waitTimeout):
				t.Fatal("server did not notice the disconnect")
			}
			for i := range 3 {
				say(fmt.Sprint("missed ", i))
			}
			p.Down.Store(false)
			testutil.Eventually(t, waitTimeout, func() bool { return rec.count("connect") == 2 }, "reconnected")
			if !s.Recovered() || s.ID() != id {
				t.Fatalf("after reconnect: recovered %v id %q (was %q)", s.Recovered(), s.ID(), id)
			}
			for i := range 3 {
				expect(fmt.Sprint("missed ", i))
			}
			say("after")
			expect("after")
			_ = m.Close()
		})
	}
}
