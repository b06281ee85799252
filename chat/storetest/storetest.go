// Package storetest is the conformance suite every chat.Store must pass.
//
// Entry point: Run, from a test of the implementation's package:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) chat.Store { return openFresh(t) },
//			storetest.WithReopen(reopen))
//	}
//
// newStore must return an empty store and register its cleanup (Close must
// be idempotent, the suite closes stores itself too). Subtests run
// sequentially; each gets its own store.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/banter-chat/banter/chat"
)

// Option configures Run.
type Option func(*options)

type options struct {
	reopen func(t *testing.T, s chat.Store) chat.Store
}

// WithReopen enables the persistence tests: reopen must close s and return
// a new Store over the same data, as after a process restart.
func WithReopen(reopen func(t *testing.T, s chat.Store) chat.Store) Option {
	return func(o *options) { o.reopen = reopen }
}

// Run runs the conformance suite as subtests of t.
func Run(t *testing.T, newStore func(t *testing.T) chat.Store, opts ...Option) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, s chat.Store)
	}{
		{"AppendAssignsSeq", testAppendAssignsSeq},
		{"TextRoundTrip", testTextRoundTrip},
		{"ConcurrentAppendsGapFree", testConcurrentAppends},
		{"ClientIDDeduplication", testClientID},
		{"ConcurrentDuplicates", testConcurrentDuplicates},
		{"HistoryPaging", testHistory},
		{"Since", testSince},
		{"Rooms", testRooms},
		{"BadInput", testBadInput},
		{"ContextCanceled", testContext},
		{"Delete", testDelete},
		{"Closed", testClosed},
		{"Files", testFiles},
		{"FileBadInput", testFileBadInput},
		{"Secret", testSecret},
		{"Search", testSearch},
		{"FileMessageState", testFileMessageState},
	}
	tests = append(tests, msgTests...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
	t.Run("Persistence", func(t *testing.T) {
		if o.reopen == nil {
			t.Skip("store is not persistent (no WithReopen)")
		}
		testPersistence(t, newStore(t), o.reopen)
	})
	t.Run("MessageStatePersistence", func(t *testing.T) {
		if o.reopen == nil {
			t.Skip("store is not persistent (no WithReopen)")
		}
		testMessageStatePersistence(t, newStore(t), o.reopen)
	})
	t.Run("FilesPersist", func(t *testing.T) {
		if o.reopen == nil {
			t.Skip("store is not persistent (no WithReopen)")
		}
		testFilesPersist(t, newStore(t), o.reopen)
	})
}

func draft(room, sender, text, clientID string) chat.Draft {
	return chat.Draft{Room: room, Sender: sender, Text: text, ClientID: clientID}
}

func mustAppend(t *testing.T, s chat.Store, d chat.Draft) chat.Message {
	t.Helper()
	m, err := s.Append(context.Background(), d)
	if err != nil {
		t.Fatalf("Append(%+v): %v", d, err)
	}
	return m
}

// fill appends n messages "m1".."mn" to room and returns them.
func fill(t *testing.T, s chat.Store, room string, n int) []chat.Message {
	t.Helper()
	out := make([]chat.Message, n)
	for i := range n {
		out[i] = mustAppend(t, s, draft(room, "alice", fmt.Sprintf("m%d", i+1), ""))
	}
	return out
}

func seqs(ms []chat.Message) []int64 {
	out := make([]int64, len(ms))
	for i, m := range ms {
		out[i] = m.Seq
	}
	return out
}

func seqRange(from, to int64) []int64 {
	out := []int64{}
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func wantSeqs(t *testing.T, what string, got []chat.Message, want []int64) {
	t.Helper()
	if g := seqs(got); !slices.Equal(g, want) && !(len(g) == 0 && len(want) == 0) {
		t.Fatalf("%s: seqs %v, want %v", what, g, want)
	}
}

func wantCode(t *testing.T, what string, err error, code chat.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error, want %s", what, code)
	}
	var ce *chat.Error
	if !errors.As(err, &ce) || ce.Code != code {
		t.Fatalf("%s: error %v, want code %s", what, err, code)
	}
	if ce.Message == "" {
		t.Fatalf("%s: error %v has no human message", what, err)
	}
}

func lastSeq(t *testing.T, s chat.Store, room string) int64 {
	t.Helper()
	n, err := s.LastSeq(context.Background(), room)
	if err != nil {
		t.Fatalf("LastSeq(%q): %v", room, err)
	}
	return n
}

func testAppendAssignsSeq(t *testing.T, s chat.Store) {
	if n := lastSeq(t, s, "lobby"); n != 0 {
		t.Fatalf("LastSeq of an empty room = %d, want 0", n)
	}
	a1 := mustAppend(t, s, draft("lobby", "alice", "one", ""))
	b1 := mustAppend(t, s, draft("dm:alice:bob", "Bob", "psst", ""))
	a2 := mustAppend(t, s, chat.Draft{Room: "lobby", Sender: "Bob", Text: "two", TS: 1234})
	if a1.Seq != 1 || a2.Seq != 2 || b1.Seq != 1 {
		t.Fatalf("seqs %d %d %d, want 1 2 1 (per room)", a1.Seq, a2.Seq, b1.Seq)
	}
	ids := map[string]bool{a1.ID: true, a2.ID: true, b1.ID: true}
	if len(ids) != 3 || ids[""] {
		t.Fatalf("ids %q %q %q: want three distinct non-empty ids", a1.ID, a2.ID, b1.ID)
	}
	if a1.TS <= 0 {
		t.Fatalf("TS %d: the store must stamp a Draft without TS", a1.TS)
	}
	if a2.TS != 1234 {
		t.Fatalf("TS %d, want the Draft's 1234", a2.TS)
	}
	if a1.Room != "lobby" || a1.Sender != "alice" || a1.Text != "one" || a1.Duplicate {
		t.Fatalf("Append returned %+v", a1)
	}
	if n := lastSeq(t, s, "lobby"); n != 2 {
		t.Fatalf("LastSeq = %d, want 2", n)
	}
	got, err := s.Since(context.Background(), "lobby", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if !equalMsgs(got, []chat.Message{a1, a2}) {
		t.Fatalf("Since = %+v, want %+v", got, []chat.Message{a1, a2})
	}
}

func testTextRoundTrip(t *testing.T, s chat.Store) {
	texts := []string{
		"héllo wörld ✓ 🎉",
		"  leading and trailing spaces kept  ",
		"line one\nline two\ttab",
		`quotes " ' \ and <b>html</b> and 'sql'); DROP TABLE messages;--`,
		strings.Repeat("é", chat.MaxStoredTextBytes/2),
	}
	for i, text := range texts {
		m := mustAppend(t, s, chat.Draft{Room: "r", Sender: "Zoë", Text: text, ClientID: fmt.Sprintf("id-%d", i)})
		got, err := s.Since(context.Background(), "r", m.Seq-1, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || !equalMsg(got[0], m) || got[0].Text != text || got[0].Sender != "Zoë" {
			t.Fatalf("text %d: read back %+v, appended %+v", i, got, m)
		}
	}
}

func testConcurrentAppends(t *testing.T, s chat.Store) {
	const workers, perWorker = 32, 40
	rooms := []string{"alpha", "beta"}
	var mu sync.Mutex
	got := map[string][]chat.Message{}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				room := rooms[(w+i)%len(rooms)]
				m, err := s.Append(context.Background(), draft(room, fmt.Sprintf("u%d", w), fmt.Sprintf("%d/%d", w, i), fmt.Sprintf("c%d", i)))
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				got[room] = append(got[room], m)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent Append: %v", err)
	}
	ids := map[string]bool{}
	for _, room := range rooms {
		ms := got[room]
		slices.SortFunc(ms, func(a, b chat.Message) int { return int(a.Seq - b.Seq) })
		wantSeqs(t, room+" appends", ms, seqRange(1, int64(len(ms))))
		for _, m := range ms {
			if ids[m.ID] {
				t.Fatalf("id %q assigned twice", m.ID)
			}
			ids[m.ID] = true
		}
		if n := lastSeq(t, s, room); n != int64(len(ms)) {
			t.Fatalf("LastSeq(%s) = %d, want %d", room, n, len(ms))
		}
		stored, err := s.Since(context.Background(), room, 0, chat.MaxPageLimit)
		if err != nil {
			t.Fatal(err)
		}
		if !equalMsgs(stored, ms) {
			t.Fatalf("%s: stored messages differ from what Append returned", room)
		}
	}
	if len(ids) != workers*perWorker {
		t.Fatalf("%d messages, want %d", len(ids), workers*perWorker)
	}
}

func testClientID(t *testing.T, s chat.Store) {
	orig := mustAppend(t, s, draft("r", "alice", "hello", "c1"))
	dup := mustAppend(t, s, draft("r", "alice", "hello again", "c1"))
	if !dup.Duplicate {
		t.Fatalf("second append with the same client id: Duplicate not set: %+v", dup)
	}
	dup.Duplicate = false
	if !equalMsg(dup, orig) {
		t.Fatalf("duplicate returned %+v, want the original %+v", dup, orig)
	}
	// The scope is case-insensitive on the sender, like nicknames.
	if m := mustAppend(t, s, draft("r", "ALICE", "x", "c1")); !m.Duplicate || m.Seq != orig.Seq {
		t.Fatalf("same client id from ALICE: %+v, want duplicate of seq %d", m, orig.Seq)
	}
	// Other senders and other rooms have their own id space.
	if m := mustAppend(t, s, draft("r", "bob", "hi", "c1")); m.Duplicate || m.Seq != 2 {
		t.Fatalf("same client id from another sender: %+v, want new message seq 2", m)
	}
	if m := mustAppend(t, s, draft("other", "alice", "hi", "c1")); m.Duplicate || m.Seq != 1 {
		t.Fatalf("same client id in another room: %+v, want new message seq 1", m)
	}
	// Without a client id there is no de-duplication.
	a := mustAppend(t, s, draft("r", "alice", "same", ""))
	b := mustAppend(t, s, draft("r", "alice", "same", ""))
	if a.Duplicate || b.Duplicate || a.Seq == b.Seq {
		t.Fatalf("messages without client id were de-duplicated: %+v %+v", a, b)
	}
	if n := lastSeq(t, s, "r"); n != 4 {
		t.Fatalf("LastSeq = %d, want 4 (duplicates store nothing)", n)
	}
}

func testConcurrentDuplicates(t *testing.T, s chat.Store) {
	const n = 16
	res := make([]chat.Message, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { res[i], errs[i] = s.Append(context.Background(), draft("r", "alice", "retry", "same-id")) })
	}
	wg.Wait()
	originals := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if res[i].Seq != 1 || res[i].ID != res[0].ID {
			t.Fatalf("result %d: %+v, want seq 1 id %s", i, res[i], res[0].ID)
		}
		if !res[i].Duplicate {
			originals++
		}
	}
	if originals != 1 {
		t.Fatalf("%d appends reported a new message, want exactly 1", originals)
	}
	if n := lastSeq(t, s, "r"); n != 1 {
		t.Fatalf("LastSeq = %d, want 1", n)
	}
}

func testHistory(t *testing.T, s chat.Store) {
	ctx := context.Background()
	all := fill(t, s, "r", 25)
	cases := []struct {
		before int64
		limit  int
		want   []int64
	}{
		{0, 10, seqRange(16, 25)},
		{16, 10, seqRange(6, 15)},
		{6, 10, seqRange(1, 5)},
		{1, 10, nil},
		{1000, 5, seqRange(21, 25)},
		{0, chat.MaxPageLimit, seqRange(1, 25)},
		{25, 1, []int64{24}},
	}
	for _, c := range cases {
		got, err := s.History(ctx, "r", c.before, c.limit)
		if err != nil {
			t.Fatalf("History(before %d, limit %d): %v", c.before, c.limit, err)
		}
		wantSeqs(t, fmt.Sprintf("History(before %d, limit %d)", c.before, c.limit), got, c.want)
		for _, m := range got {
			if !equalMsg(m, all[m.Seq-1]) {
				t.Fatalf("History returned %+v, appended %+v", m, all[m.Seq-1])
			}
		}
	}
	got, err := s.History(ctx, "empty-room", 0, 10)
	if err != nil || len(got) != 0 {
		t.Fatalf("History of an unknown room = %v, %v; want empty, nil", got, err)
	}
}

func testSince(t *testing.T, s chat.Store) {
	ctx := context.Background()
	fill(t, s, "r", 25)
	cases := []struct {
		after int64
		limit int
		want  []int64
	}{
		{0, 10, seqRange(1, 10)},
		{10, 10, seqRange(11, 20)},
		{20, 10, seqRange(21, 25)},
		{25, 10, nil},
		{1000, 10, nil},
		{24, 1, []int64{25}},
	}
	for _, c := range cases {
		got, err := s.Since(ctx, "r", c.after, c.limit)
		if err != nil {
			t.Fatalf("Since(after %d, limit %d): %v", c.after, c.limit, err)
		}
		wantSeqs(t, fmt.Sprintf("Since(after %d, limit %d)", c.after, c.limit), got, c.want)
	}
	got, err := s.Since(ctx, "empty-room", 0, 10)
	if err != nil || len(got) != 0 {
		t.Fatalf("Since of an unknown room = %v, %v; want empty, nil", got, err)
	}
}

func testRooms(t *testing.T, s chat.Store) {
	rooms, err := s.Rooms(context.Background())
	if err != nil || len(rooms) != 0 {
		t.Fatalf("Rooms of an empty store = %v, %v", rooms, err)
	}
	fill(t, s, "zeta", 3)
	last := mustAppend(t, s, chat.Draft{Room: "alpha", Sender: "bob", Text: "x", TS: 777})
	fill(t, s, "dm:alice:bob", 2)
	rooms, err = s.Rooms(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []chat.RoomInfo{
		{Name: "alpha", LastSeq: 1, Count: 1, LastTS: last.TS},
		{Name: "dm:alice:bob", LastSeq: 2, Count: 2},
		{Name: "zeta", LastSeq: 3, Count: 3},
	}
	if len(rooms) != len(want) {
		t.Fatalf("Rooms = %+v, want %+v", rooms, want)
	}
	for i := range want {
		if i > 0 {
			want[i].LastTS = rooms[i].LastTS // stamped by the store
		}
		if rooms[i] != want[i] || rooms[i].LastTS <= 0 {
			t.Fatalf("Rooms[%d] = %+v, want %+v", i, rooms[i], want[i])
		}
	}
}

func testBadInput(t *testing.T, s chat.Store) {
	ctx := context.Background()
	appends := []struct {
		name string
		d    chat.Draft
		code chat.Code
	}{
		{"empty room", draft("", "alice", "x", ""), chat.CodeInvalidRoom},
		{"room with space", draft("a room", "alice", "x", ""), chat.CodeInvalidRoom},
		{"room not canonical", draft("General", "alice", "x", ""), chat.CodeInvalidRoom},
		{"room too long", draft(strings.Repeat("r", chat.MaxRoomBytes+1), "alice", "x", ""), chat.CodeInvalidRoom},
		{"dm room not sorted", draft("dm:bob:alice", "alice", "x", ""), chat.CodeInvalidRoom},
		{"dm room with one user", draft("dm:alice:alice", "alice", "x", ""), chat.CodeInvalidRoom},
		{"empty sender", draft("r", "", "x", ""), chat.CodeInvalidNickname},
		{"sender with control char", draft("r", "al\x00ice", "x", ""), chat.CodeInvalidNickname},
		{"empty text", draft("r", "alice", "", ""), chat.CodeEmptyMessage},
		{"blank text", draft("r", "alice", " \n\t ", ""), chat.CodeEmptyMessage},
		{"invalid utf-8", draft("r", "alice", "bad \xff", ""), chat.CodeInvalidMessage},
		{"text too large", draft("r", "alice", strings.Repeat("x", chat.MaxStoredTextBytes+1), ""), chat.CodeMessageTooLarge},
		{"client id with space", draft("r", "alice", "x", "a b"), chat.CodeInvalidArgument},
		{"client id too long", draft("r", "alice", "x", strings.Repeat("c", chat.MaxClientIDBytes+1)), chat.CodeInvalidArgument},
		{"negative ts", chat.Draft{Room: "r", Sender: "alice", Text: "x", TS: -1}, chat.CodeInvalidArgument},
	}
	for _, c := range appends {
		_, err := s.Append(ctx, c.d)
		wantCode(t, "Append "+c.name, err, c.code)
	}
	if rooms, err := s.Rooms(ctx); err != nil || len(rooms) != 0 {
		t.Fatalf("after rejected appends Rooms = %v, %v; want nothing stored", rooms, err)
	}
	_, err := s.History(ctx, "r", 0, 0)
	wantCode(t, "History limit 0", err, chat.CodeInvalidArgument)
	_, err = s.History(ctx, "r", 0, chat.MaxPageLimit+1)
	wantCode(t, "History limit too large", err, chat.CodeInvalidArgument)
	_, err = s.History(ctx, "r", -1, 10)
	wantCode(t, "History negative before", err, chat.CodeInvalidArgument)
	_, err = s.History(ctx, "Bad Room", 0, 10)
	wantCode(t, "History bad room", err, chat.CodeInvalidRoom)
	_, err = s.Since(ctx, "r", -1, 10)
	wantCode(t, "Since negative after", err, chat.CodeInvalidArgument)
	_, err = s.Since(ctx, "r", 0, -5)
	wantCode(t, "Since negative limit", err, chat.CodeInvalidArgument)
	_, err = s.Since(ctx, "", 0, 10)
	wantCode(t, "Since empty room", err, chat.CodeInvalidRoom)
	_, err = s.LastSeq(ctx, "UPPER")
	wantCode(t, "LastSeq non-canonical room", err, chat.CodeInvalidRoom)
}

func testContext(t *testing.T, s chat.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Append(ctx, draft("r", "alice", "x", ""))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Append with a canceled context: %v, want context.Canceled", err)
	}
	if n := lastSeq(t, s, "r"); n != 0 {
		t.Fatalf("Append with a canceled context stored a message (LastSeq %d)", n)
	}
	mustAppend(t, s, draft("r", "alice", "x", ""))
	if _, err := s.History(ctx, "r", 0, 10); !errors.Is(err, context.Canceled) {
		t.Fatalf("History with a canceled context: %v", err)
	}
	if _, err := s.Since(ctx, "r", 0, 10); !errors.Is(err, context.Canceled) {
		t.Fatalf("Since with a canceled context: %v", err)
	}
	if _, err := s.LastSeq(ctx, "r"); !errors.Is(err, context.Canceled) {
		t.Fatalf("LastSeq with a canceled context: %v", err)
	}
	if _, err := s.Rooms(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Rooms with a canceled context: %v", err)
	}
}

func testClosed(t *testing.T, s chat.Store) {
	mustAppend(t, s, draft("r", "alice", "x", ""))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	ctx := context.Background()
	_, err := s.Append(ctx, draft("r", "alice", "x", ""))
	wantCode(t, "Append after Close", err, chat.CodeUnavailable)
	_, err = s.History(ctx, "r", 0, 10)
	wantCode(t, "History after Close", err, chat.CodeUnavailable)
	_, err = s.Since(ctx, "r", 0, 10)
	wantCode(t, "Since after Close", err, chat.CodeUnavailable)
	_, err = s.LastSeq(ctx, "r")
	wantCode(t, "LastSeq after Close", err, chat.CodeUnavailable)
	_, err = s.Rooms(ctx)
	wantCode(t, "Rooms after Close", err, chat.CodeUnavailable)
	_, err = s.Delete(ctx, "r", 1)
	wantCode(t, "Delete after Close", err, chat.CodeUnavailable)
}

// testDelete: a deleted message is a tombstone in place (seqs stay
// gap-free), deleting twice is harmless, and its client id still
// de-duplicates.
func testDelete(t *testing.T, s chat.Store) {
	ctx := context.Background()
	m1 := mustAppend(t, s, draft("r", "alice", "one", ""))
	m2 := mustAppend(t, s, draft("r", "bob", "two", "c2"))
	m3 := mustAppend(t, s, draft("r", "alice", "three", ""))
	other := mustAppend(t, s, draft("r2", "bob", "two", ""))
	for range 2 { // the second time changes nothing
		d, err := s.Delete(ctx, "r", 2)
		if err != nil {
			t.Fatalf("Delete: %v", err)
		}
		want := m2
		want.Text, want.Deleted, want.Rev = "", true, 1 // the room's first change
		if !equalMsg(d, want) {
			t.Fatalf("Delete returned %+v, want %+v", d, want)
		}
	}
	m2.Text, m2.Deleted, m2.Rev = "", true, 1
	got, err := s.Since(ctx, "r", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if want := []chat.Message{m1, m2, m3}; !equalMsgs(got, want) {
		t.Fatalf("Since after Delete = %+v, want %+v", got, want)
	}
	got, err = s.History(ctx, "r", 0, 10)
	if err != nil || !equalMsgs(got, []chat.Message{m1, m2, m3}) {
		t.Fatalf("History after Delete = %+v, %v", got, err)
	}
	if got, _ := s.Since(ctx, "r2", 0, 10); !equalMsgs(got, []chat.Message{other}) {
		t.Fatalf("another room changed: %+v", got)
	}
	if d := mustAppend(t, s, draft("r", "bob", "two again", "c2")); !d.Duplicate || !d.Deleted || d.Text != "" || d.Seq != 2 {
		t.Fatalf("retry of the deleted message's client id: %+v", d)
	}
	if n := lastSeq(t, s, "r"); n != 3 {
		t.Fatalf("LastSeq after Delete = %d, want 3", n)
	}
	if m := mustAppend(t, s, draft("r", "alice", "four", "")); m.Seq != 4 {
		t.Fatalf("append after Delete has seq %d, want 4", m.Seq)
	}
	_, err = s.Delete(ctx, "r", 9)
	wantCode(t, "Delete of a seq not stored", err, chat.CodeNotFound)
	_, err = s.Delete(ctx, "nowhere", 1)
	wantCode(t, "Delete in an unknown room", err, chat.CodeNotFound)
	_, err = s.Delete(ctx, "r", 0)
	wantCode(t, "Delete of seq 0", err, chat.CodeInvalidArgument)
	_, err = s.Delete(ctx, "Not Canonical", 1)
	wantCode(t, "Delete in a non-canonical room", err, chat.CodeInvalidRoom)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Delete(cctx, "r", 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("Delete with a canceled context: %v", err)
	}
}

func testPersistence(t *testing.T, s chat.Store, reopen func(*testing.T, chat.Store) chat.Store) {
	ctx := context.Background()
	before := fill(t, s, "r", 5)
	withID := mustAppend(t, s, draft("r", "bob", "keep me", "k1"))
	deleted, err := s.Delete(ctx, "r", 3)
	if err != nil {
		t.Fatal(err)
	}
	before[2] = deleted
	s = reopen(t, s)
	got, err := s.Since(ctx, "r", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if !got[2].Deleted || got[2].Text != "" {
		t.Fatalf("a deleted message after reopen: %+v", got[2])
	}
	if want := append(before, withID); !equalMsgs(got, want) {
		t.Fatalf("after reopen Since = %+v, want %+v", got, want)
	}
	if m := mustAppend(t, s, draft("r", "bob", "other text", "k1")); !m.Duplicate || m.ID != withID.ID {
		t.Fatalf("client id after reopen: %+v, want duplicate of %+v", m, withID)
	}
	if m := mustAppend(t, s, draft("r", "alice", "next", "")); m.Seq != 7 {
		t.Fatalf("first append after reopen has seq %d, want 7", m.Seq)
	}
	if m := mustAppend(t, s, draft("r2", "alice", "new room", "")); m.Seq != 1 || m.ID == withID.ID {
		t.Fatalf("append to a new room after reopen: %+v", m)
	}
}
