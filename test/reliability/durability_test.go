package reliability_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/banter-chat/banter/internal/testutil"
)

// The kill test's shape: lean enough for a 2-core machine, yet every
// round kills the server while all writers have sends in flight.
const (
	killRounds     = 20
	killWriters    = 4
	killAcksPerRun = 8                     // new acks per writer before each kill
	sendEvery      = 25 * time.Millisecond // per writer: under the gateway's 50 requests/s
)

var killRooms = []string{"alpha", "beta"}

// TestAckedMessagesSurviveRepeatedSIGKILL kills the banter binary 20 times
// under continuous traffic from writers that reconnect, catch up and resend
// unacknowledged messages with the same client id. Each writer checks every
// message it sees, live or in catch-up, is the next seq of its room (no
// gap, no duplicate). At the end every writer's view of every room equals
// the store's history, and every ack is in it, unchanged.
func TestAckedMessagesSurviveRepeatedSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("kills the server 20 times")
	}
	addr := freePort(t)
	base := "http://" + addr
	args := []string{"--addr", addr, "--db", filepath.Join(t.TempDir(), "banter.db"),
		"--rate-burst", "1000000", "--rate-per-second", "1000000"}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sending := make(chan struct{})
	writers := make([]*writer, killWriters)
	var wg sync.WaitGroup
	for i := range writers {
		writers[i] = newWriter(fmt.Sprintf("w%d", i), sending)
		wg.Add(1)
		go func() { defer wg.Done(); writers[i].run(ctx, base) }()
	}
	started := time.Now()
	for round := range killRounds {
		p := startBanter(t, args...)
		before := make([]int64, len(writers))
		for i, w := range writers {
			before[i] = w.acks.Load()
		}
		testutil.Eventually(t, 30*time.Second, func() bool {
			for i, w := range writers {
				if w.acks.Load() < before[i]+killAcksPerRun {
					return false
				}
			}
			return true
		}, "round %d: writers did not get %d acks each", round, killAcksPerRun)
		if round%2 == 0 {
			// A random moment (not a wait for a condition): kills land
			// anywhere between sends.
			time.Sleep(time.Duration(rand.IntN(int(sendEvery))))
		} else {
			// Right as a writer sends: the kill lands between the append,
			// its commit and the ack, so some acks are lost and resent.
			select {
			case <-sending:
			case <-time.After(10 * time.Second):
				t.Fatalf("round %d: no writer sent within 10s", round)
			}
		}
		if err := p.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		if code := p.Wait(t, 10*time.Second); code != -int(syscall.SIGKILL) {
			t.Fatalf("round %d: banter exit %d, want killed by SIGKILL", round, code)
		}
	}
	killed := time.Since(started)

	// Last start: writers finish their in-flight sends and stop sending.
	startBanter(t, args...)
	for _, w := range writers {
		w.stopSending()
	}
	for _, w := range writers {
		select {
		case <-w.quiet:
		case <-time.After(30 * time.Second):
			t.Fatalf("%s did not settle its last send: %v", w.nick, w.failure())
		}
	}
	// The store's view, read by a fresh client from seq 0.
	store := readStore(t, base)
	for _, w := range writers {
		w.setTarget(store)
	}
	waitDone := make(chan struct{})
	go func() { wg.Wait(); close(waitDone) }()
	select {
	case <-waitDone:
	case <-time.After(30 * time.Second):
		cancel()
		<-waitDone
		t.Fatal("writers did not catch up with the store within 30s")
	}

	total := 0
	for _, room := range killRooms {
		total += len(store[room])
	}
	var acks int64
	for _, w := range writers {
		if err := w.failure(); err != nil {
			t.Errorf("%s: %v", w.nick, err)
			continue
		}
		acks += w.acks.Load()
		for _, room := range killRooms {
			if !slices.Equal(w.views[room].msgs, store[room]) {
				t.Errorf("%s's view of %s (%d messages) differs from the store's (%d)", w.nick, room, len(w.views[room].msgs), len(store[room]))
			}
		}
		for cid, a := range w.acked {
			msgs := store[a.Room]
			if a.Seq < 1 || a.Seq > int64(len(msgs)) {
				t.Errorf("%s: acked %s seq %d is not in the store", w.nick, cid, a.Seq)
				continue
			}
			m := msgs[a.Seq-1]
			if m.ID != a.ID || m.ClientID != cid || m.From != w.nick || m.TS != a.TS {
				t.Errorf("%s: acked %s %+v, store has %+v", w.nick, cid, a, m)
			}
		}
	}
	if int64(total) != acks {
		t.Errorf("store holds %d messages, writers hold %d distinct acks: every stored message was sent by a writer, so they must match", total, acks)
	}
	var reconnects, resent int64
	for _, w := range writers {
		reconnects += w.sessions.Load()
		resent += w.resent.Load()
	}
	t.Logf("%d SIGKILLs in %v: %d messages acked and stored (%d acked only on resend after a kill), %d sessions with catch-up, every view equal to the store",
		killRounds, killed.Round(time.Millisecond), acks, resent, reconnects)
}

// readStore returns every message of killRooms, from seq 1, as a fresh
// client sees them.
func readStore(t *testing.T, base string) map[string][]message {
	t.Helper()
	c := mustDial(t, base, dialOptions{})
	mustHello(t, c, "verifier")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := make(map[string][]message)
	for _, room := range killRooms {
		var all []message
		for {
			var page pageAck
			if err := c.ok(ctx, "since", map[string]any{"room": room, "after": len(all), "limit": 200}, &page); err != nil {
				t.Fatalf("since: %v", err)
			}
			if len(page.Messages) == 0 {
				break
			}
			for _, m := range page.Messages {
				if m.Seq != int64(len(all))+1 {
					t.Fatalf("store: %s seq %d after %d (gap or disorder)", room, m.Seq, len(all))
				}
				all = append(all, m)
			}
		}
		out[room] = all
	}
	return out
}

// view is what one writer has seen of one room, in seq order.
type view struct {
	msgs []message
}

func (v *view) lastSeq() int64 { return int64(len(v.msgs)) }

// apply adds m, which must be the next message of the room.
func (v *view) apply(m message) error {
	switch {
	case m.Seq <= v.lastSeq():
		return fmt.Errorf("duplicate: %s seq %d again (have up to %d)", m.Room, m.Seq, v.lastSeq())
	case m.Seq != v.lastSeq()+1:
		return fmt.Errorf("gap: %s seq %d after %d", m.Room, m.Seq, v.lastSeq())
	}
	v.msgs = append(v.msgs, m)
	return nil
}

// writer is one client of the kill test: it sends, reconnects and catches
// up forever until told to stop.
type writer struct {
	nick  string
	views map[string]*view
	acked map[string]sendAck // client id → ack (owned by run)

	sending  chan<- struct{} // told (if someone listens) right before each send
	pending  *pendingSend    // sent, not acked: resent with the same client id
	next     int
	acks     atomic.Int64
	resent   atomic.Int64 // acks with duplicate: stored before a kill, ack lost
	sessions atomic.Int64

	mu       sync.Mutex
	stop     bool
	quiet    chan struct{} // closed once stopped with nothing pending
	target   map[string][]message
	targeted chan struct{}
	err      error
}

type pendingSend struct {
	room, text, clientID string
}

func newWriter(nick string, sending chan<- struct{}) *writer {
	w := &writer{nick: nick, sending: sending, views: make(map[string]*view), acked: make(map[string]sendAck),
		quiet: make(chan struct{}), targeted: make(chan struct{})}
	for _, r := range killRooms {
		w.views[r] = &view{}
	}
	return w
}

func (w *writer) stopSending() {
	w.mu.Lock()
	w.stop = true
	w.mu.Unlock()
}

func (w *writer) stopping() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stop
}

func (w *writer) setTarget(store map[string][]message) {
	w.mu.Lock()
	w.target = store
	w.mu.Unlock()
	close(w.targeted)
}

func (w *writer) failure() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// errIntegrity marks a broken guarantee (as opposed to a dropped
// connection, which is expected here).
var errIntegrity = errors.New("integrity")

// run connects, runs sessions and reconnects until the writer has caught
// up with its target, an integrity error happens, or ctx ends.
func (w *writer) run(ctx context.Context, base string) {
	quietClosed := false
	for ctx.Err() == nil {
		dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		c, err := dial(dctx, base, dialOptions{})
		cancel()
		if err != nil {
			// The server is down (killed) or starting: retry soon.
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
			continue
		}
		done, err := w.session(ctx, c, &quietClosed)
		c.Close()
		if errors.Is(err, errIntegrity) {
			w.mu.Lock()
			w.err = err
			w.mu.Unlock()
			if !quietClosed {
				close(w.quiet)
			}
			return
		}
		if done {
			return
		}
	}
}

// session runs one connection: hello with catch-up of every room, then
// sends (one at a time, paced) while applying live messages. It returns
// done once the writer matches its target.
func (w *writer) session(ctx context.Context, c *client, quietClosed *bool) (bool, error) {
	w.sessions.Add(1)
	since := make(map[string]int64)
	for _, r := range killRooms {
		since[r] = w.views[r].lastSeq()
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var h helloAck
	if err := c.ok(cctx, "hello", map[string]any{"nickname": w.nick, "since": since}, &h); err != nil {
		return false, err
	}
	if len(h.Rooms) != len(killRooms) {
		return false, fmt.Errorf("%w: hello joined %d rooms, want %d", errIntegrity, len(h.Rooms), len(killRooms))
	}
	last := make(map[string]int64)
	for _, jr := range h.Rooms {
		v := w.views[jr.Room]
		if v == nil || !jr.OK {
			return false, fmt.Errorf("%w: hello room %+v", errIntegrity, jr)
		}
		last[jr.Room] = jr.LastSeq
		for _, m := range jr.Messages {
			if err := v.apply(m); err != nil {
				return false, fmt.Errorf("%w: catch-up: %v", errIntegrity, err)
			}
		}
		for v.lastSeq() < jr.LastSeq {
			var page pageAck
			if err := c.ok(cctx, "since", map[string]any{"room": jr.Room, "after": v.lastSeq(), "limit": 200}, &page); err != nil {
				return false, err
			}
			if len(page.Messages) == 0 {
				return false, fmt.Errorf("%w: %s: since %d returned nothing, lastSeq %d", errIntegrity, jr.Room, v.lastSeq(), jr.LastSeq)
			}
			for _, m := range page.Messages {
				if m.Seq > jr.LastSeq {
					break
				}
				if err := v.apply(m); err != nil {
					return false, fmt.Errorf("%w: since: %v", errIntegrity, err)
				}
			}
		}
	}
	seen := 0 // events of c applied so far
	live := func() error {
		evs := c.snapshot()
		for ; seen < len(evs); seen++ {
			e := evs[seen]
			if e.Name != "message" {
				continue
			}
			var m message
			if err := json.Unmarshal(e.Arg, &m); err != nil {
				return fmt.Errorf("%w: message event %s: %v", errIntegrity, e.Arg, err)
			}
			if m.Seq <= last[m.Room] {
				return fmt.Errorf("%w: live message %s seq %d at or below the join's lastSeq %d", errIntegrity, m.Room, m.Seq, last[m.Room])
			}
			if err := w.views[m.Room].apply(m); err != nil {
				return fmt.Errorf("%w: live: %v", errIntegrity, err)
			}
		}
		return nil
	}
	tick := time.NewTicker(sendEvery)
	defer tick.Stop()
	for {
		if err := live(); err != nil {
			return false, err
		}
		if w.stopping() && w.pending == nil {
			if !*quietClosed {
				*quietClosed = true
				close(w.quiet)
			}
			select {
			case <-w.targeted:
			case <-c.done():
				return false, c.Err()
			case <-tick.C:
				continue
			}
			w.mu.Lock()
			target := w.target
			w.mu.Unlock()
			caught := true
			for _, r := range killRooms {
				if w.views[r].lastSeq() < int64(len(target[r])) {
					caught = false
				}
			}
			if caught {
				return true, nil
			}
			select {
			case <-c.done():
				return false, c.Err()
			case <-tick.C:
			}
			continue
		}
		if w.pending == nil {
			room := killRooms[w.next%len(killRooms)]
			w.pending = &pendingSend{room: room, text: fmt.Sprintf("%s says %d", w.nick, w.next), clientID: fmt.Sprintf("%s-%d", w.nick, w.next)}
			w.next++
		}
		p := w.pending
		select {
		case w.sending <- struct{}{}:
		default:
		}
		sctx, scancel := context.WithTimeout(ctx, 5*time.Second)
		var a sendAck
		err := c.ok(sctx, "send", map[string]any{"room": p.room, "text": p.text, "clientId": p.clientID}, &a)
		scancel()
		var ae *ackError
		switch {
		case errors.As(err, &ae) && ae.Code == "rate_limited":
			// Not stored: send the same message again on the next tick.
		case err != nil:
			return false, err // connection lost: resend after reconnecting
		default:
			if prev, ok := w.acked[p.clientID]; ok {
				return false, fmt.Errorf("%w: %s acked twice: %+v then %+v", errIntegrity, p.clientID, prev, a)
			}
			if a.Room != p.room || a.Seq < 1 || a.ID == "" {
				return false, fmt.Errorf("%w: bad ack %+v for %+v", errIntegrity, a, p)
			}
			w.acked[p.clientID] = a
			if a.Duplicate {
				w.resent.Add(1)
			}
			w.acks.Add(1)
			w.pending = nil
		}
		select {
		case <-c.done():
			return false, c.Err()
		case <-tick.C:
		}
	}
}
