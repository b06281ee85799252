// Package postgres is the chat.Store for clusters: message history in
// PostgreSQL (github.com/jackc/pgx/v5), shared by every Banter node.
//
// Entry points: Open(ctx, url, Config) returns a *DB (a chat.Store); Close
// it when done. The URL is a libpq/pgx connection string
// (postgres://user@host:5432/db?sslmode=disable); Config.Schema, or a plain
// search_path parameter in the URL, selects a schema, created if missing.
//
// Concurrency: all methods are safe for concurrent use, and any number of
// processes may share one database. Appends are group-committed: Append
// hands its message to one of Config.Writers writer goroutines, which sends
// whatever is queued (up to Config.MaxBatch messages) to the server as one
// pipeline in one transaction: one round trip and one commit for the batch.
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
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/chat/storeq"
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
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = 256
	}
	if c.QueueSize <= 0 {
		c.QueueSize = 4096
	}
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

// DB is a chat.Store in a PostgreSQL database.
type DB struct {
	cfg    Config
	log    *slog.Logger
	schema string
	w      *pgxpool.Pool // writers' connections
	r      *pgxpool.Pool // readers' connections

	mu       sync.RWMutex // guards closed and sends on reqs against Close
	closed   bool
	isClosed atomic.Bool // read path check without taking mu
	reqs     chan *storeq.Request
	writers  sync.WaitGroup

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
	wcfg.MaxConns, wcfg.MinConns = int32(cfg.Writers)+1, 0 // +1: Open's migration
	rcfg.MaxConns, rcfg.MinConns = int32(cfg.ReadConns), 0
	w, err := pgxpool.NewWithConfig(ctx, wcfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if _, err := migrate(ctx, w, schema); err != nil {
		w.Close()
		return nil, err
	}
	r, err := pgxpool.NewWithConfig(ctx, rcfg)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	db := &DB{
		cfg: cfg, log: cfg.Logger, schema: schema, w: w, r: r,
		reqs: make(chan *storeq.Request, cfg.QueueSize),
	}
	for range cfg.Writers {
		wr := newWriter(db)
		db.writers.Go(wr.run)
	}
	return db, nil
}

// Schema returns the schema holding the tables ("" for the server's
// default search_path).
func (db *DB) Schema() string { return db.schema }

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
	db.writers.Wait()
	db.r.Close()
	db.w.Close()
	return nil
}

// storeErr classifies err from pgx: context errors stay recognisable
// (errors.Is), everything else is the client-facing CodeUnavailable
// carrying the cause for logs.
func storeErr(op string, err error) error {
	err = fmt.Errorf("postgres: %s: %w", op, err)
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
		return fmt.Errorf("postgres: %w", err)
	}
	return nil
}

const msgColumns = `m.id, m.seq, m.sender, m.text, coalesce(m.client_id, ''), m.ts, m.deleted`

func (db *DB) queryMessages(ctx context.Context, op, room, query string, args ...any) ([]chat.Message, error) {
	rows, err := db.r.Query(ctx, query, args...)
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

// Delete implements chat.Store: one autocommit UPDATE on the writers'
// pool (the row lock it takes waits for an append batch holding it).
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
		return chat.Message{}, fmt.Errorf("postgres: %w", err)
	}
	m := chat.Message{Room: room}
	var id int64
	err := db.w.QueryRow(ctx, `UPDATE messages SET deleted = true, text = ''
		WHERE room_id = (SELECT id FROM rooms WHERE name = $1) AND seq = $2
		RETURNING id, seq, sender, text, coalesce(client_id, ''), ts, deleted`, room, seq).
		Scan(&id, &m.Seq, &m.Sender, &m.Text, &m.ClientID, &m.TS, &m.Deleted)
	if errors.Is(err, pgx.ErrNoRows) {
		return chat.Message{}, chat.Errorf(chat.CodeNotFound, "room %s has no message %d", room, seq)
	}
	if err != nil {
		return chat.Message{}, storeErr("delete", err)
	}
	m.ID = strconv.FormatInt(id, 10)
	return m, nil
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
		WHERE r.name = $1 AND m.seq < $2 ORDER BY m.seq DESC LIMIT $3`, room, beforeSeq, limit)
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
		WHERE r.name = $1 AND m.seq > $2 ORDER BY m.seq LIMIT $3`, room, afterSeq, limit)
}

// LastSeq implements chat.Store.
func (db *DB) LastSeq(ctx context.Context, room string) (int64, error) {
	if err := db.checkRead(ctx, room, true); err != nil {
		return 0, err
	}
	var seq int64
	err := db.r.QueryRow(ctx, `SELECT last_seq FROM rooms WHERE name = $1`, room).Scan(&seq)
	if errors.Is(err, pgx.ErrNoRows) {
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
	rows, err := db.r.Query(ctx, `SELECT name, last_seq, msg_count, last_ts FROM rooms
		WHERE msg_count > 0 ORDER BY name COLLATE "C"`)
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
