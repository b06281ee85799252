package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/banter-chat/banter/chat"
)

// Backend is one database's connections and transaction body. Store
// calls it once arguments are checked and the Store is known to be open,
// with the SQL of Config.SQL. Errors are returned as the driver reports
// them; Store maps them (context errors stay recognisable, anything else
// becomes chat.ErrUnavailable with the cause attached).
type Backend interface {
	// NewWriter returns the state of one writer goroutine (prepared
	// statements, say). New calls it Config.Writers times.
	NewWriter() (Writer, error)
	// Read runs a read-only query on the read connections, hands its rows
	// to scan and closes them.
	Read(ctx context.Context, scan func(Rows) error, query string, args ...any) error
	// ReadRow runs a read-only query that returns at most one row.
	ReadRow(ctx context.Context, query string, args ...any) Row
	// WriteRow runs one autocommit statement that returns at most one row
	// on the write connections.
	WriteRow(ctx context.Context, query string, args ...any) Row
	// NoRows reports whether err is the driver's "no rows" error of
	// Row.Scan.
	NoRows(err error) bool
	// Close releases the connections. Store calls it once, after the
	// writers have stopped.
	Close() error
}

// Statements are a store's SQL for everything but appends, in its
// placeholder syntax.
type Statements struct {
	// History: args room, beforeSeq, limit; MessageColumns of the messages
	// with seq < beforeSeq, newest first.
	History string
	// Since: args room, afterSeq, limit; MessageColumns of the messages
	// with seq > afterSeq, oldest first.
	Since string
	// LastSeq: arg room; the room's last seq, no row for an unknown room.
	LastSeq string
	// Rooms: RoomColumns of the rooms with at least one message, ordered
	// by name (byte order).
	Rooms string
	// Delete: args room, seq; turns the message into a tombstone (deleted,
	// empty text) and returns its MessageColumns, no row if there is none.
	Delete string
}

// Writer commits batches for one writer goroutine.
type Writer interface {
	// Commit stores drafts in one transaction. On success out[i] is what
	// drafts[i] became: the stored message (ID, Seq, TS assigned), or the
	// original with Duplicate set when its client id was seen before (see
	// the package documentation). An error means nothing of the batch is
	// stored. Drafts have their TS set; ctx bounds the transaction
	// (Config.WriteTimeout) and belongs to no caller.
	Commit(ctx context.Context, drafts []chat.Draft, out []chat.Message) error
	// Close releases the writer's resources when its goroutine ends.
	Close()
}

// Config tunes a Store. The zero value of a field is its default.
type Config struct {
	// Name prefixes errors and log messages ("sqlite"). Required.
	Name string
	// SQL is the store's SQL. Required.
	SQL Statements
	// Logger receives failed batches. Default: slog.Default().
	Logger *slog.Logger
	// MaxBatch bounds how many appends one transaction commits, so that
	// one commit's latency stays bounded. Default 256.
	MaxBatch int
	// QueueSize is how many appends may wait for a writer. Default 4096.
	QueueSize int
	// Writers is the number of writer goroutines. Default 1.
	Writers int
	// WriteTimeout bounds one batch transaction, so that an unreachable
	// database fails appends instead of hanging them. Default: none.
	WriteTimeout time.Duration
}

// Store is a chat.Store over a Backend. See the package documentation.
type Store struct {
	name string
	what string // "name: append", prefixes Append's context errors
	cfg  Config
	log  *slog.Logger
	be   Backend

	mu       sync.RWMutex // guards closed and sends on reqs against Close
	closed   bool
	isClosed atomic.Bool // the read paths' check, without mu
	reqs     chan *request
	writers  sync.WaitGroup

	appends, duplicates, batches atomic.Int64 // for Stats
}

var _ chat.Store = (*Store)(nil)

// New starts cfg.Writers writers over be and returns the Store. On error
// nothing is running and be is not closed.
func New(be Backend, cfg Config) (*Store, error) {
	if cfg.Name == "" {
		return nil, errors.New("sqlstore: Config.Name is required")
	}
	q := cfg.SQL
	if q.History == "" || q.Since == "" || q.LastSeq == "" || q.Rooms == "" || q.Delete == "" {
		return nil, fmt.Errorf("%s: Config.SQL is incomplete", cfg.Name)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 256
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 4096
	}
	if cfg.Writers <= 0 {
		cfg.Writers = 1
	}
	ws := make([]Writer, 0, cfg.Writers)
	for range cfg.Writers {
		w, err := be.NewWriter()
		if err != nil {
			for _, w := range ws {
				w.Close()
			}
			return nil, fmt.Errorf("%s: writer: %w", cfg.Name, err)
		}
		ws = append(ws, w)
	}
	s := &Store{
		name: cfg.Name, what: cfg.Name + ": append", cfg: cfg, log: cfg.Logger, be: be,
		reqs: make(chan *request, cfg.QueueSize),
	}
	for _, w := range ws {
		s.writers.Go(func() { s.run(w) })
	}
	return s, nil
}

// Stats are counters since New.
type Stats struct {
	Appends    int64 // messages stored
	Duplicates int64 // appends answered with an existing message
	Batches    int64 // write transactions committed
}

// Stats returns the counters since New; Appends/Batches is the mean group
// commit size.
func (s *Store) Stats() Stats {
	return Stats{Appends: s.appends.Load(), Duplicates: s.duplicates.Load(), Batches: s.batches.Load()}
}

// Append implements chat.Store: it queues d for a writer and waits for its
// transaction (see the package documentation).
func (s *Store) Append(ctx context.Context, d chat.Draft) (chat.Message, error) {
	if err := chat.CheckDraft(d); err != nil {
		return chat.Message{}, err
	}
	if err := ctx.Err(); err != nil {
		return chat.Message{}, fmt.Errorf("%s: %w", s.what, err)
	}
	req := newRequest(d)
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return chat.Message{}, chat.ErrUnavailable
	}
	select {
	case s.reqs <- req:
		s.mu.RUnlock()
	case <-ctx.Done():
		s.mu.RUnlock()
		return chat.Message{}, fmt.Errorf("%s: %w", s.what, ctx.Err())
	}
	return req.wait(ctx, s.what)
}

// run is one writer: it commits queued appends until Close closes the
// queue, then finishes what is left in it (shared with the other writers).
func (s *Store) run(w Writer) {
	defer w.Close()
	batch := make([]*request, 0, s.cfg.MaxBatch)
	drafts := make([]chat.Draft, 0, s.cfg.MaxBatch)
	for first := range s.reqs {
		batch = append(batch[:0], first)
	fill:
		for len(batch) < s.cfg.MaxBatch {
			select {
			case r, ok := <-s.reqs:
				if !ok {
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		if claimed := claim(batch); len(claimed) > 0 {
			drafts = drafts[:0]
			now := chat.NowMillis()
			for _, r := range claimed {
				d := r.draft
				if d.TS == 0 {
					d.TS = now
				}
				drafts = append(drafts, d)
			}
			s.commit(w, claimed, drafts)
		}
		clear(batch) // drop references for the GC
		clear(drafts)
	}
}

// commit runs one batch transaction and answers every request of it.
func (s *Store) commit(w Writer, batch []*request, drafts []chat.Draft) {
	// Not any caller's context: the batch belongs to all of them, and a
	// claimed request is committed even if its caller stops waiting.
	ctx := context.Background()
	if s.cfg.WriteTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.WriteTimeout)
		defer cancel()
	}
	out := make([]chat.Message, len(batch))
	err := w.Commit(ctx, drafts, out)
	if err != nil {
		s.log.Error(s.name+": append batch failed", "batch", len(batch), "err", err)
		answer(batch, nil, s.storeErr("append", err))
		return
	}
	s.batches.Add(1)
	for _, m := range out {
		if m.Duplicate {
			s.duplicates.Add(1)
		} else {
			s.appends.Add(1)
		}
	}
	answer(batch, out, nil)
}

// Close implements chat.Store: appends already queued are committed, later
// ones fail with chat.ErrUnavailable; then the Backend is closed.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.isClosed.Store(true)
	close(s.reqs)
	s.mu.Unlock()
	s.writers.Wait()
	return s.be.Close()
}

// storeErr maps a Backend error: context errors stay recognisable
// (errors.Is), everything else is the client-facing CodeUnavailable
// carrying the cause for logs. nil stays nil.
func (s *Store) storeErr(op string, err error) error {
	if err == nil {
		return nil
	}
	err = fmt.Errorf("%s: %s: %w", s.name, op, err)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return chat.Wrap(chat.CodeUnavailable, chat.ErrUnavailable.Message, err)
}

// checkOpen refuses work after Close or with an ended context.
func (s *Store) checkOpen(ctx context.Context) error {
	if s.isClosed.Load() {
		return chat.ErrUnavailable
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", s.name, err)
	}
	return nil
}

// History implements chat.Store.
func (s *Store) History(ctx context.Context, room string, beforeSeq int64, limit int) ([]chat.Message, error) {
	if beforeSeq == 0 {
		beforeSeq = 1<<63 - 1
	}
	out, err := s.page(ctx, "history", s.cfg.SQL.History, room, beforeSeq, limit)
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, err
}

// Since implements chat.Store.
func (s *Store) Since(ctx context.Context, room string, afterSeq int64, limit int) ([]chat.Message, error) {
	return s.page(ctx, "since", s.cfg.SQL.Since, room, afterSeq, limit)
}

func (s *Store) page(ctx context.Context, op, query, room string, seq int64, limit int) ([]chat.Message, error) {
	if err := chat.CheckPage(seq, limit); err != nil {
		return nil, err
	}
	if err := chat.CheckRoomArg(room); err != nil {
		return nil, err
	}
	if err := s.checkOpen(ctx); err != nil {
		return nil, err
	}
	var out []chat.Message
	err := s.be.Read(ctx, func(rows Rows) (err error) {
		out, err = ScanMessages(rows, room)
		return err
	}, query, room, seq, limit)
	if err != nil {
		return nil, s.storeErr(op, err)
	}
	return out, nil
}

// LastSeq implements chat.Store.
func (s *Store) LastSeq(ctx context.Context, room string) (int64, error) {
	if err := chat.CheckRoomArg(room); err != nil {
		return 0, err
	}
	if err := s.checkOpen(ctx); err != nil {
		return 0, err
	}
	var seq int64
	err := s.be.ReadRow(ctx, s.cfg.SQL.LastSeq, room).Scan(&seq)
	if s.be.NoRows(err) {
		return 0, nil
	}
	return seq, s.storeErr("last seq", err)
}

// Rooms implements chat.Store.
func (s *Store) Rooms(ctx context.Context) ([]chat.RoomInfo, error) {
	if err := s.checkOpen(ctx); err != nil {
		return nil, err
	}
	var out []chat.RoomInfo
	err := s.be.Read(ctx, func(rows Rows) (err error) {
		out, err = ScanRooms(rows)
		return err
	}, s.cfg.SQL.Rooms)
	if err != nil {
		return nil, s.storeErr("rooms", err)
	}
	return out, nil
}

// Delete implements chat.Store: one autocommit statement on the write
// connections. Close waits for it.
func (s *Store) Delete(ctx context.Context, room string, seq int64) (chat.Message, error) {
	if err := chat.CheckRoomArg(room); err != nil {
		return chat.Message{}, err
	}
	if err := chat.CheckSeq(seq); err != nil {
		return chat.Message{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return chat.Message{}, chat.ErrUnavailable
	}
	if err := ctx.Err(); err != nil {
		return chat.Message{}, fmt.Errorf("%s: %w", s.name, err)
	}
	m, err := ScanMessage(s.be.WriteRow(ctx, s.cfg.SQL.Delete, room, seq), room)
	switch {
	case s.be.NoRows(err):
		return chat.Message{}, chat.Errorf(chat.CodeNotFound, "room %s has no message %d", room, seq)
	case err != nil:
		return chat.Message{}, s.storeErr("delete", err)
	}
	return m, nil
}
