package postgres

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/chat/sqlstore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// lockRoomSQL creates the room if needed and, either way, takes its row
// lock until the transaction ends. ON CONFLICT DO UPDATE waits for a
// concurrent transaction holding the row (or inserting the same name) and
// then locks the committed version.
const lockRoomSQL = `INSERT INTO rooms (name, last_seq, msg_count, last_ts) VALUES ($1, 0, 0, 0)
	ON CONFLICT (name) DO UPDATE SET last_seq = rooms.last_seq`

// appendSQL appends one message to a room whose row this transaction has
// locked, or returns the original if the client id was seen. It runs after
// the lock statement, so (READ COMMITTED: a new snapshot per statement) its
// duplicate check sees every message committed by other nodes to this room,
// and earlier statements of this batch. Parameters: room, sender,
// sender_key, text, client_id (NULL for none), ts. Returns id, seq, sender,
// text, ts, duplicate, deleted.
const appendSQL = `WITH rm AS (
	SELECT id FROM rooms WHERE name = $1
), dup AS (
	SELECT m.id, m.seq, m.sender, m.text, m.ts, m.deleted FROM messages m, rm
	WHERE m.room_id = rm.id AND m.sender_key = $3 AND m.client_id = $5::text
), upd AS (
	UPDATE rooms SET last_seq = last_seq + 1, msg_count = msg_count + 1, last_ts = $6
	WHERE name = $1 AND NOT EXISTS (SELECT 1 FROM dup)
	RETURNING id, last_seq
), ins AS (
	INSERT INTO messages (room_id, seq, sender, sender_key, text, client_id, ts)
	SELECT upd.id, upd.last_seq, $2, $3, $4, $5::text, $6 FROM upd
	RETURNING id, seq
)
SELECT id, seq, $2::text, $4::text, $6::bigint, false, false FROM ins
UNION ALL
SELECT id, seq, sender, text, ts, true, deleted FROM dup`

// writer is a sqlstore.Writer: the writers share the pool and keep no
// state of their own.
type writer struct{ w *pgxpool.Pool }

func (b *backend) NewWriter() (sqlstore.Writer, error) { return writer{w: b.w}, nil }

func (writer) Close() {}

// Commit stores a batch in one transaction, sent as one pipeline: first
// the lock of every room of the batch, in name order, then one append
// statement per message. A failure fails the whole batch: nothing of it is
// stored (unless the failure hid a successful COMMIT, see the package
// documentation).
func (w writer) Commit(ctx context.Context, drafts []chat.Draft, out []chat.Message) error {
	rooms := make([]string, 0, 4)
	for _, d := range drafts {
		rooms = append(rooms, d.Room)
	}
	slices.Sort(rooms) // one lock order for every node: no deadlock
	rooms = slices.Compact(rooms)

	// One pipeline: every lock, then every append, in a single round trip.
	var b pgx.Batch
	for _, room := range rooms {
		b.Queue(lockRoomSQL, room)
	}
	for _, d := range drafts {
		b.Queue(appendSQL, d.Room, d.Sender, chat.NickKey(d.Sender), d.Text, sqlstore.NullIfEmpty(d.ClientID), d.TS)
	}
	tx, err := w.w.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.Background()) }() // no-op after Commit
	br := tx.SendBatch(ctx, &b)
	for range rooms {
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			return fmt.Errorf("lock room: %w", err)
		}
	}
	for i, d := range drafts {
		m := chat.Message{Room: d.Room, ClientID: d.ClientID}
		var id int64
		err := br.QueryRow().Scan(&id, &m.Seq, &m.Sender, &m.Text, &m.TS, &m.Duplicate, &m.Deleted)
		if err != nil {
			_ = br.Close()
			return fmt.Errorf("insert: %w", err)
		}
		m.ID = strconv.FormatInt(id, 10)
		out[i] = m
	}
	if err := br.Close(); err != nil {
		return fmt.Errorf("batch: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
