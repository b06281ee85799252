// Package postgres is the chat.Store for clusters: message history in
// PostgreSQL (github.com/jackc/pgx/v5), shared by every Banter node.
//
// Entry points: Open(ctx, url, Config) returns a *DB (a chat.Store); Close
// it when done. The URL is a libpq/pgx connection string
// (postgres://user@host:5432/db?sslmode=disable); Config.Schema, or a plain
// search_path parameter in the URL, selects a schema, created if missing.
//
// Concurrency: all methods are safe for concurrent use, and any number of
// processes may share one database. Appends are group-committed (package
// chat/sqlstore holds the writers, the durability contract and everything
// else both SQL stores share): Append hands its message to one of
// Config.Writers writer goroutines, which sends whatever is queued (up to
// Config.MaxBatch messages) to the server as one pipeline in one
// transaction: one round trip and one commit for the batch.
// The transaction first locks the rows of its rooms, in name order, and
// only then assigns each message the room's next seq: appends to a room
// from every node are serialized by that lock, so seq is gap-free, and the
// fixed order means two nodes' batches never deadlock.
//
// Durability: Append returns after PostgreSQL committed the transaction
// (with the server's default synchronous_commit=on, after the WAL is
// flushed). A batch whose commit outcome is unknown (the connection broke
// during COMMIT) is reported as failed although it may be stored; a client
// retry with the same client id then gets the original, not a copy.
//
// Schema: SQL migrations embedded from migrations/*.sql, applied by Open in
// one transaction under an advisory lock (nodes starting together migrate
// once); the version is kept in schema_version. Open refuses a database
// whose version is newer than the binary (ErrSchemaTooNew).
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/chat/sqlstore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Config tunes a DB. The zero value is the documented default.
type Config struct {
	// Logger receives storage failures. Default: slog.Default().
	Logger *slog.Logger
	// Schema holds Banter's tables; created if missing. Default: the
	// search_path parameter of the URL if it names one plain schema, else
	// the server's default (usually "public").
	Schema string
	// MaxBatch bounds how many appends one transaction commits. Default 256.
	MaxBatch int
	// QueueSize is how many appends may wait for a writer; Append blocks
	// (honouring its context) when the queue is full. Default 4096.
	QueueSize int
	// Writers is the number of writer goroutines (and connections), so
	// that a batch waiting on a busy room's lock does not hold up the
	// others. Default 2.
	Writers int
	// ReadConns is the number of connections for reads. Default 4.
	ReadConns int
	// WriteTimeout bounds one batch transaction, so that an unreachable
	// server fails appends instead of hanging them. Default 10s.
	WriteTimeout time.Duration
	// ConnectTimeout bounds Open. Default 10s.
	ConnectTimeout time.Duration
}

func (c Config) withDefaults() Config {
	if c.Writers <= 0 {
		c.Writers = 2
	}
	if c.ReadConns <= 0 {
		c.ReadConns = 4
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 10 * time.Second
	}
	return c
}

// DB is a chat.Store in a PostgreSQL database. Its chat.Store methods and
// Stats are those of the embedded sqlstore.Store.
type DB struct {
	*sqlstore.Store
	schema string
}

// Stats are counters since Open (Appends/Batches is the mean group commit
// size).
type Stats = sqlstore.Stats

var _ chat.Store = (*DB)(nil)

// plainIdent is what Schema may be: no quoting games in a search_path.
var plainIdent = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// Open connects to the database at url, creates the schema if needed and
// migrates it. It fails if the server cannot be reached within
// Config.ConnectTimeout.
func Open(ctx context.Context, url string, cfg Config) (*DB, error) {
	cfg = cfg.withDefaults()
	pcfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse url: %w", err)
	}
	schema := cfg.Schema
	if schema == "" {
		if sp := pcfg.ConnConfig.RuntimeParams["search_path"]; plainIdent.MatchString(sp) {
			schema = sp
		}
	}
	if schema != "" {
		if !plainIdent.MatchString(schema) {
			return nil, fmt.Errorf("postgres: schema %q: want letters, digits and '_'", schema)
		}
		pcfg.ConnConfig.RuntimeParams["search_path"] = schema
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	wcfg, rcfg := pcfg.Copy(), pcfg.Copy()
	wcfg.MaxConns, wcfg.MinConns = int32(cfg.Writers)+1, 0 // +1: Open's migration, then Delete
	rcfg.MaxConns, rcfg.MinConns = int32(cfg.ReadConns), 0
	w, err := pgxpool.NewWithConfig(ctx, wcfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if _, err := migrate(ctx, w, schema); err != nil {
		w.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	r, err := pgxpool.NewWithConfig(ctx, rcfg)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	be := &backend{w: w, r: r}
	st, err := sqlstore.New(be, sqlstore.Config{
		Name: "postgres", SQL: statements, Logger: cfg.Logger, MaxBatch: cfg.MaxBatch,
		QueueSize: cfg.QueueSize, Writers: cfg.Writers, WriteTimeout: cfg.WriteTimeout,
	})
	if err != nil {
		_ = be.Close()
		return nil, err
	}
	return &DB{Store: st, schema: schema}, nil
}

// Schema returns the schema holding the tables ("" for the server's
// default search_path).
func (db *DB) Schema() string { return db.schema }

var statements = sqlstore.Statements{
	History: `SELECT ` + sqlstore.MessageColumns + ` FROM messages m JOIN rooms r ON r.id = m.room_id
		WHERE r.name = $1 AND m.seq < $2 ORDER BY m.seq DESC LIMIT $3`,
	Since: `SELECT ` + sqlstore.MessageColumns + ` FROM messages m JOIN rooms r ON r.id = m.room_id
		WHERE r.name = $1 AND m.seq > $2 ORDER BY m.seq LIMIT $3`,
	LastSeq: `SELECT last_seq FROM rooms WHERE name = $1`,
	Rooms:   `SELECT ` + sqlstore.RoomColumns + ` FROM rooms WHERE msg_count > 0 ORDER BY name COLLATE "C"`,
	// On the writers' pool: the row lock it takes waits for an append
	// batch holding it.
	Delete: `UPDATE messages SET deleted = true, text = ''
		WHERE room_id = (SELECT id FROM rooms WHERE name = $1) AND seq = $2
		RETURNING id, seq, sender, text, coalesce(client_id, ''), ts, deleted`,
}

// backend is the PostgreSQL side of sqlstore.Backend.
type backend struct {
	w *pgxpool.Pool // writers' connections (and Delete's)
	r *pgxpool.Pool // readers' connections
}

func (b *backend) Read(ctx context.Context, scan func(sqlstore.Rows) error, query string, args ...any) error {
	rows, err := b.r.Query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	return scan(rows)
}

func (b *backend) ReadRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return b.r.QueryRow(ctx, query, args...)
}

func (b *backend) WriteRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return b.w.QueryRow(ctx, query, args...)
}

func (b *backend) NoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }

func (b *backend) Close() error {
	b.r.Close()
	b.w.Close()
	return nil
}
