package postgres

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/chat/storeq"
	"github.com/jackc/pgx/v5"
)

// Append implements chat.Store.
func (db *DB) Append(ctx context.Context, d chat.Draft) (chat.Message, error) {
	if err := chat.CheckDraft(d); err != nil {
		return chat.Message{}, err
	}
	if err := ctx.Err(); err != nil {
		return chat.Message{}, fmt.Errorf("postgres: append: %w", err)
	}
	req := storeq.NewRequest(d)
	db.mu.RLock()
	if db.closed {
		db.mu.RUnlock()
		return chat.Message{}, chat.ErrUnavailable
	}
	select {
	case db.reqs <- req:
		db.mu.RUnlock()
	case <-ctx.Done():
		db.mu.RUnlock()
		return chat.Message{}, fmt.Errorf("postgres: append: %w", ctx.Err())
	}
	return req.Wait(ctx, "postgres: append")
}

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

// writer commits batches of queued appends on its own connection.
type writer struct {
	db    *DB
	batch []*storeq.Request
}

func newWriter(db *DB) *writer {
	return &writer{db: db, batch: make([]*storeq.Request, 0, db.cfg.MaxBatch)}
}

// run commits queued appends until Close closes the queue, then finishes
// what is left in it (shared with the other writers).
func (w *writer) run() {
	for first := range w.db.reqs {
		w.batch = append(w.batch[:0], first)
	fill:
		for len(w.batch) < w.db.cfg.MaxBatch {
			select {
			case r, ok := <-w.db.reqs:
				if !ok {
					break fill
				}
				w.batch = append(w.batch, r)
			default:
				break fill
			}
		}
		claimed := storeq.Claim(w.batch)
		if len(claimed) > 0 {
			w.commit(claimed)
		}
		clear(w.batch) // drop references for the GC
	}
}

// commit stores a batch in one transaction and answers every request. A
// failure fails the whole batch: nothing of it is stored (unless the
// failure hid a successful COMMIT, see the package documentation).
func (w *writer) commit(batch []*storeq.Request) {
	results := make([]storeq.Result, len(batch))
	err := w.tx(batch, results)
	storeq.Answer(batch, results, err)
}

func (w *writer) tx(batch []*storeq.Request, results []storeq.Result) error {
	// Not any caller's context: the batch belongs to all of them, and a
	// claimed request is committed even if its caller stops waiting.
	ctx, cancel := context.WithTimeout(context.Background(), w.db.cfg.WriteTimeout)
	defer cancel()
	rooms := make([]string, 0, 4)
	for _, r := range batch {
		rooms = append(rooms, r.Draft.Room)
	}
	slices.Sort(rooms) // one lock order for every node: no deadlock
	rooms = slices.Compact(rooms)

	// One pipeline: every lock, then every append, in a single round trip.
	var b pgx.Batch
	for _, room := range rooms {
		b.Queue(lockRoomSQL, room)
	}
	now := chat.NowMillis()
	for _, r := range batch {
		d := r.Draft
		var clientID any // NULL unless given, so the unique index ignores it
		if d.ClientID != "" {
			clientID = d.ClientID
		}
		ts := d.TS
		if ts == 0 {
			ts = now
		}
		b.Queue(appendSQL, d.Room, d.Sender, chat.NickKey(d.Sender), d.Text, clientID, ts)
	}
	tx, err := w.db.w.Begin(ctx)
	if err != nil {
		return w.fail("begin", err, len(batch))
	}
	defer func() { _ = tx.Rollback(context.Background()) }() // no-op after Commit
	br := tx.SendBatch(ctx, &b)
	for range rooms {
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			return w.fail("lock room", err, len(batch))
		}
	}
	for i, r := range batch {
		m := chat.Message{Room: r.Draft.Room, ClientID: r.Draft.ClientID}
		var id int64
		err := br.QueryRow().Scan(&id, &m.Seq, &m.Sender, &m.Text, &m.TS, &m.Duplicate, &m.Deleted)
		if err != nil {
			_ = br.Close()
			return w.fail("insert", err, len(batch))
		}
		m.ID = strconv.FormatInt(id, 10)
		results[i] = storeq.Result{Msg: m}
	}
	if err := br.Close(); err != nil {
		return w.fail("batch", err, len(batch))
	}
	if err := tx.Commit(ctx); err != nil {
		return w.fail("commit", err, len(batch))
	}
	w.db.batches.Add(1)
	for _, r := range results {
		if r.Msg.Duplicate {
			w.db.duplicates.Add(1)
		} else {
			w.db.appends.Add(1)
		}
	}
	return nil
}

func (w *writer) fail(op string, err error, n int) error {
	w.db.log.Error("postgres: append batch failed", "op", op, "batch", n, "err", err)
	return storeErr("append: "+op, err)
}
