package socketio_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/banter-chat/banter/internal/testutil"
	"github.com/banter-chat/banter/socketio"
)

// observed records what an Observer is told, one line per call.
type observed struct {
	mu    sync.Mutex
	lines []string
}

func (o *observed) add(format string, args ...any) {
	o.mu.Lock()
	o.lines = append(o.lines, fmt.Sprintf(format, args...))
	o.mu.Unlock()
}

func (o *observed) NamespaceCreated(n *socketio.Namespace) { o.add("nsp %s", n.Name()) }
func (o *observed) SocketConnected(s *socketio.Socket)     { o.add("connected %s", s.Namespace().Name()) }
func (o *observed) SocketDisconnected(s *socketio.Socket, r socketio.Reason) {
	o.add("disconnected %s %s", s.Namespace().Name(), r)
}
func (o *observed) RoomJoined(n *socketio.Namespace, room, id string) {
	o.add("joined %s %s", n.Name(), strings.ReplaceAll(room, id, "<own>"))
}
func (o *observed) RoomLeft(n *socketio.Namespace, room, id string) {
	o.add("left %s %s", n.Name(), strings.ReplaceAll(room, id, "<own>"))
}
func (o *observed) EventReceived(s *socketio.Socket, data json.RawMessage, att [][]byte) {
	o.add("received %s %d", data, len(att))
}
func (o *observed) EventSent(n *socketio.Namespace, ids []string, data json.RawMessage, att [][]byte) {
	o.add("sent %d %s %d", len(ids), data, len(att))
}
func (o *observed) EventSentTo(s *socketio.Socket, data json.RawMessage, att [][]byte) {
	o.add("sent 1 %s %d", data, len(att))
}
func (o *observed) Active() bool                   { return true }
func (o *observed) DataChanged(s *socketio.Socket) { o.add("data %v", s.Data()) }

func (o *observed) has(line string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Contains(o.lines, line)
}

// Every way of sending reports what it sent, once per emit or broadcast;
// sockets, rooms, data and received events are reported as they change.
func TestObserverSeesEverything(t *testing.T) {
	ts := startServer(t, socketio.Config{})
	obs := &observed{}
	ts.io.Observe(obs)
	if !ts.io.Observed() {
		t.Fatal("Observed is false after Observe")
	}
	root := ts.io.Of("/")
	ts.io.Of("/other")
	conns := sockets(root)
	c1 := ts.dial(t, 4, "")
	c1.mustConnect("/", nil)
	s1 := recv(t, conns, "socket 1")
	c2 := ts.dial(t, 4, "")
	c2.mustConnect("/", nil)
	s2 := recv(t, conns, "socket 2")

	s1.Join("r")
	s1.Join("r") // no change: not reported again
	s2.Join("r")
	s1.SetData(map[string]any{"k": 1})
	c1.emit("/", "hello", 1)
	_ = s1.Emit("one", "x")
	_ = root.To("r").Emit("both", []byte{1})
	p, err := root.PrepareEvent("prepared", 2)
	if err != nil {
		t.Fatal(err)
	}
	_ = s1.Send(p)
	_ = s2.Enqueue(p)
	s2.SendVolatile(p)
	s1.Leave("r")
	s2.Disconnect(false)
	want := []string{
		"nsp /other", "connected /", "joined / <own>", "joined / r", "data map[k:1]",
		`received ["hello",1] 0`, `sent 1 ["one","x"] 0`,
		`sent 2 ["both",{"_placeholder":true,"num":0}] 1`,
		`sent 1 ["prepared",2] 0`, "left / r", "disconnected / server namespace disconnect", "left / <own>",
	}
	testutil.Eventually(t, 5*time.Second, func() bool {
		for _, w := range want {
			if !obs.has(w) {
				return false
			}
		}
		return true
	}, "observer lines %q, want all of %q", obs.lines, want)
	obs.mu.Lock()
	counts := map[string]int{}
	for _, l := range obs.lines {
		counts[l]++
	}
	obs.mu.Unlock()
	if counts["joined / r"] != 2 || counts[`sent 1 ["prepared",2] 0`] != 3 || counts["connected /"] != 2 {
		t.Errorf("counts %v: want r joined twice (two sockets), the prepared packet 3 times, 2 connections", counts)
	}

	ts.io.Observe(nil)
	_ = root.Emit("unseen")
	if obs.has(`sent 1 ["unseen"] 0`) || ts.io.Observed() {
		t.Fatal("a removed observer is still called")
	}
}

// inactive is an Observer that records nothing now.
type inactive struct{ observed }

func (o *inactive) Active() bool { return false }

// A broadcast collects its recipients' ids for an active Observer only.
func TestObserverInactiveGetsNoBroadcast(t *testing.T) {
	ts := startServer(t, socketio.Config{})
	obs := &inactive{}
	ts.io.Observe(obs)
	root := ts.io.Of("/")
	conns := sockets(root)
	c := ts.dial(t, 4, "")
	c.mustConnect("/", nil)
	recv(t, conns, "socket")
	_ = root.Emit("all", 1)
	if name, _, _ := c.nextEvent("/"); name != "all" {
		t.Fatalf("got %q", name)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	for _, l := range obs.lines {
		if strings.HasPrefix(l, "sent") {
			t.Fatalf("an inactive observer was told %q", l)
		}
	}
}
