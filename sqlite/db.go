// Package sqlite is the embedded chat.Store: one SQLite file, pure Go
// (modernc.org/sqlite, no cgo).
//
// Entry points: Open returns a *DB (a chat.Store); Close it when done.
//
// Concurrency: all methods are safe for concurrent use. Appends are
// group-committed (package chat/sqlstore holds the writers, the durability
// contract and everything else both SQL stores share): one writer goroutine
// owns the only write connection and commits whatever is queued (up to
// Config.MaxBatch messages) in one transaction, so N concurrent appenders
// pay for about one commit, not N. Reads run on a separate pool of
// read-only connections and, thanks to WAL, never wait for the writer.
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
	"time"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/chat/sqlstore"
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
	if c.ReadConns <= 0 {
		c.ReadConns = 4
	}
	if c.BusyTimeout <= 0 {
		c.BusyTimeout = 5 * time.Second
	}
	return c
}

// DB is a chat.Store in one SQLite file. Its chat.Store methods and Stats
// are those of the embedded sqlstore.Store.
type DB struct {
	path string // as given to Open
	*sqlstore.Store
}

var _ chat.Store = (*DB)(nil)

// Stats are counters since Open (Appends/Batches is the mean group commit
// size).
type Stats = sqlstore.Stats

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
	be := &backend{w: w, r: r}
	st, err := sqlstore.New(be, sqlstore.Config{
		Name: "sqlite", SQL: statements, Logger: cfg.Logger,
		MaxBatch: cfg.MaxBatch, QueueSize: cfg.QueueSize, Writers: 1,
	})
	if err != nil {
		_ = be.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return &DB{path: path, Store: st}, nil
}

// Path returns the file path given to Open.
func (db *DB) Path() string { return db.path }

var statements = sqlstore.Statements{
	History: `SELECT ` + sqlstore.MessageColumns + ` FROM messages m JOIN rooms r ON r.id = m.room_id
		WHERE r.name = ? AND m.seq < ? ORDER BY m.seq DESC LIMIT ?`,
	Since: `SELECT ` + sqlstore.MessageColumns + ` FROM messages m JOIN rooms r ON r.id = m.room_id
		WHERE r.name = ? AND m.seq > ? ORDER BY m.seq LIMIT ?`,
	LastSeq: `SELECT last_seq FROM rooms WHERE name = ?`,
	Rooms:   `SELECT ` + sqlstore.RoomColumns + ` FROM rooms WHERE msg_count > 0 ORDER BY name`,
	Delete: `UPDATE messages SET deleted = 1, text = ''
		WHERE room_id = (SELECT id FROM rooms WHERE name = ?) AND seq = ?
		RETURNING id, seq, sender, text, coalesce(client_id, ''), ts, deleted`,
}

// backend is the SQLite side of sqlstore.Backend.
type backend struct {
	// One connection: the writer's, and Delete's between its batches.
	w *sql.DB
	r *sql.DB // read-only pool
}

func (b *backend) Read(ctx context.Context, scan func(sqlstore.Rows) error, query string, args ...any) error {
	rows, err := b.r.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	return scan(rows)
}

func (b *backend) ReadRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return b.r.QueryRowContext(ctx, query, args...)
}

func (b *backend) WriteRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return b.w.QueryRowContext(ctx, query, args...)
}

func (b *backend) NoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

func (b *backend) Close() error { return errors.Join(b.r.Close(), b.w.Close()) }
