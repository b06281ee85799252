// Package sqlite is the embedded chat.Store: one SQLite file, pure Go
// (modernc.org/sqlite, no cgo).
//
// Entry points: Open returns a *DB (a chat.Store); Close it when done.
//
// Concurrency: all methods are safe for concurrent use. Appends are
// group-committed: Append hands its message to a single writer goroutine
// that owns the only write connection and commits whatever is queued (up to
// Config.MaxBatch messages) in one transaction, so N concurrent appenders pay
// for about one commit, not N. Reads run on a separate pool of read-only
// connections and, thanks to WAL, never wait for the writer.
//
// Durability: WAL with synchronous=NORMAL by default. A commit returns once
// its WAL frames are written to the OS (write(2)), without fsync: an
// acknowledged message survives a crash or SIGKILL of the server process, but
// the last transactions may be lost if the machine loses power or the kernel
// crashes before the OS flushes its cache. Config.FullSync selects
// synchronous=FULL (fsync of the WAL at every commit) for that case; group
// commit makes it one fsync per batch.
//
// Schema: SQL migrations embedded from migrations/*.sql, applied in order by
// Open; the version is kept in the schema_version table. Open refuses a
// database whose version is newer than the binary (ErrSchemaTooNew).
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/chat/storeq"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Config tunes a DB. The zero value is the documented default.
type Config struct {
	// Logger receives storage failures. Default: slog.Default().
	Logger *slog.Logger
	// MaxBatch bounds how many appends one transaction commits, so that
	// one commit's latency stays bounded. Default 256.
	MaxBatch int
	// QueueSize is how many appends may wait for the writer; Append blocks
	// (honouring its context) when the queue is full. Default 4096.
	QueueSize int
	// ReadConns is the size of the read-only connection pool. Default 4.
	ReadConns int
	// BusyTimeout is how long a connection waits for a lock held by another
	// process (a backup tool, a second server on the same file). Default 5s.
	BusyTimeout time.Duration
	// FullSync uses synchronous=FULL: every commit is fsynced, so
	// acknowledged messages also survive power loss. Default false
	// (synchronous=NORMAL, see the package documentation).
	FullSync bool
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = 256
	}
	if c.QueueSize <= 0 {
		c.QueueSize = 4096
	}
	if c.ReadConns <= 0 {
		c.ReadConns = 4
	}
	if c.BusyTimeout <= 0 {
		c.BusyTimeout = 5 * time.Second
	}
	return c
}

// DB is a chat.Store in one SQLite file.
type DB struct {
	path string
	cfg  Config
	log  *slog.Logger
	w    *sql.DB // one connection, used only by the writer goroutine and Open
	r    *sql.DB // read-only pool

	mu         sync.RWMutex // guards closed and sends on reqs against Close
	closed     bool
	isClosed   atomic.Bool // read path check without taking mu
	reqs       chan *storeq.Request
	writerDone chan struct{}

	appends, duplicates, batches atomic.Int64 // for Stats
}

// Stats are counters since Open.
type Stats struct {
	Appends    int64 // messages stored
	Duplicates int64 // appends answered with an existing message
	Batches    int64 // write transactions committed
}

// Stats returns the counters since Open; Appends/Batches is the mean group
// commit size.
func (db *DB) Stats() Stats {
	return Stats{Appends: db.appends.Load(), Duplicates: db.duplicates.Load(), Batches: db.batches.Load()}
}

var _ chat.Store = (*DB)(nil)

// Open opens (creating if needed) the database file at path and migrates its
// schema. path is a plain file path; SQLite URIs and ":memory:" are refused
// because the writer and the readers must share one file.
func Open(path string, cfg Config) (*DB, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") || strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("sqlite: Open(%q): want a plain file path", path)
	}
	cfg = cfg.withDefaults()
	syncMode := "NORMAL"
	if cfg.FullSync {
		syncMode = "FULL"
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(cfg.BusyTimeout.Milliseconds(), 10)+")")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous("+syncMode+")")
	q.Add("_pragma", "foreign_keys(1)")
	// IMMEDIATE takes the write lock at BEGIN, so a busy database is
	// detected (and waited for) before any work, never at COMMIT.
	w, err := sql.Open("sqlite", path+"?"+q.Encode()+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if _, err := migrate(context.Background(), w); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	q.Add("_pragma", "query_only(1)")
	r, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	r.SetMaxOpenConns(cfg.ReadConns)
	r.SetMaxIdleConns(cfg.ReadConns)
	r.SetConnMaxIdleTime(0)
	db := &DB{
		path:       path,
		cfg:        cfg,
		log:        cfg.Logger,
		w:          w,
		r:          r,
		reqs:       make(chan *storeq.Request, cfg.QueueSize),
		writerDone: make(chan struct{}),
	}
	wr, err := newWriter(db)
	if err != nil {
		_ = w.Close()
		_ = r.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	go wr.run()
	return db, nil
}

// Path returns the file path given to Open.
func (db *DB) Path() string { return db.path }

// Close implements chat.Store: appends already queued are committed, later
// ones fail with chat.ErrUnavailable.
func (db *DB) Close() error {
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return nil
	}
	db.closed = true
	db.isClosed.Store(true)
	close(db.reqs)
	db.mu.Unlock()
	<-db.writerDone
	return errors.Join(db.r.Close(), db.w.Close())
}

// storeErr classifies err from database/sql: context errors stay
// recognisable (errors.Is), everything else is the client-facing
// CodeUnavailable carrying the cause for logs.
func storeErr(op string, err error) error {
	err = fmt.Errorf("sqlite: %s: %w", op, err)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return chat.Wrap(chat.CodeUnavailable, chat.ErrUnavailable.Message, err)
}

// checkRead validates the room (unless it is "", for Rooms) and refuses
// work after Close or with an ended context, before touching the pool.
func (db *DB) checkRead(ctx context.Context, room string, hasRoom bool) error {
	if hasRoom {
		if err := chat.CheckRoomArg(room); err != nil {
			return err
		}
	}
	if db.isClosed.Load() {
		return chat.ErrUnavailable
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	return nil
}

const msgColumns = `m.id, m.seq, m.sender, m.text, coalesce(m.client_id, ''), m.ts, m.deleted`

func (db *DB) queryMessages(ctx context.Context, op, room, query string, args ...any) ([]chat.Message, error) {
	rows, err := db.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, storeErr(op, err)
	}
	defer rows.Close()
	var out []chat.Message
	for rows.Next() {
		m := chat.Message{Room: room}
		var id int64
		if err := rows.Scan(&id, &m.Seq, &m.Sender, &m.Text, &m.ClientID, &m.TS, &m.Deleted); err != nil {
			return nil, storeErr(op, err)
		}
		m.ID = strconv.FormatInt(id, 10)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, storeErr(op, err)
	}
	return out, nil
}

// History implements chat.Store.
func (db *DB) History(ctx context.Context, room string, beforeSeq int64, limit int) ([]chat.Message, error) {
	if err := chat.CheckPage(beforeSeq, limit); err != nil {
		return nil, err
	}
	if err := db.checkRead(ctx, room, true); err != nil {
		return nil, err
	}
	if beforeSeq == 0 {
		beforeSeq = 1<<63 - 1
	}
	out, err := db.queryMessages(ctx, "history", room, `SELECT `+msgColumns+`
		FROM messages m JOIN rooms r ON r.id = m.room_id
		WHERE r.name = ? AND m.seq < ? ORDER BY m.seq DESC LIMIT ?`, room, beforeSeq, limit)
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, err
}

// Since implements chat.Store.
func (db *DB) Since(ctx context.Context, room string, afterSeq int64, limit int) ([]chat.Message, error) {
	if err := chat.CheckPage(afterSeq, limit); err != nil {
		return nil, err
	}
	if err := db.checkRead(ctx, room, true); err != nil {
		return nil, err
	}
	return db.queryMessages(ctx, "since", room, `SELECT `+msgColumns+`
		FROM messages m JOIN rooms r ON r.id = m.room_id
		WHERE r.name = ? AND m.seq > ? ORDER BY m.seq LIMIT ?`, room, afterSeq, limit)
}

// Delete implements chat.Store. It runs on the writer's connection
// (between the writer's batches: the pool has one connection), as one
// autocommit statement.
func (db *DB) Delete(ctx context.Context, room string, seq int64) (chat.Message, error) {
	if err := chat.CheckRoomArg(room); err != nil {
		return chat.Message{}, err
	}
	if err := chat.CheckSeq(seq); err != nil {
		return chat.Message{}, err
	}
	db.mu.RLock() // Close waits for it
	defer db.mu.RUnlock()
	if db.closed {
		return chat.Message{}, chat.ErrUnavailable
	}
	if err := ctx.Err(); err != nil {
		return chat.Message{}, fmt.Errorf("sqlite: %w", err)
	}
	m := chat.Message{Room: room}
	var id int64
	err := db.w.QueryRowContext(ctx, `UPDATE messages SET deleted = 1, text = ''
		WHERE room_id = (SELECT id FROM rooms WHERE name = ?) AND seq = ?
		RETURNING id, seq, sender, text, coalesce(client_id, ''), ts, deleted`, room, seq).
		Scan(&id, &m.Seq, &m.Sender, &m.Text, &m.ClientID, &m.TS, &m.Deleted)
	if errors.Is(err, sql.ErrNoRows) {
		return chat.Message{}, chat.Errorf(chat.CodeNotFound, "room %s has no message %d", room, seq)
	}
	if err != nil {
		return chat.Message{}, storeErr("delete", err)
	}
	m.ID = strconv.FormatInt(id, 10)
	return m, nil
}

// LastSeq implements chat.Store.
func (db *DB) LastSeq(ctx context.Context, room string) (int64, error) {
	if err := db.checkRead(ctx, room, true); err != nil {
		return 0, err
	}
	var seq int64
	err := db.r.QueryRowContext(ctx, `SELECT last_seq FROM rooms WHERE name = ?`, room).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, storeErr("last seq", err)
	}
	return seq, nil
}

// Rooms implements chat.Store.
func (db *DB) Rooms(ctx context.Context) ([]chat.RoomInfo, error) {
	if err := db.checkRead(ctx, "", false); err != nil {
		return nil, err
	}
	rows, err := db.r.QueryContext(ctx, `SELECT name, last_seq, msg_count, last_ts FROM rooms
		WHERE msg_count > 0 ORDER BY name`)
	if err != nil {
		return nil, storeErr("rooms", err)
	}
	defer rows.Close()
	out := []chat.RoomInfo{}
	for rows.Next() {
		var ri chat.RoomInfo
		if err := rows.Scan(&ri.Name, &ri.LastSeq, &ri.Count, &ri.LastTS); err != nil {
			return nil, storeErr("rooms", err)
		}
		out = append(out, ri)
	}
	if err := rows.Err(); err != nil {
		return nil, storeErr("rooms", err)
	}
	return out, nil
}
