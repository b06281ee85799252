package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/chat/storeq"
)

// Append implements chat.Store.
func (db *DB) Append(ctx context.Context, d chat.Draft) (chat.Message, error) {
	if err := chat.CheckDraft(d); err != nil {
		return chat.Message{}, err
	}
	if err := ctx.Err(); err != nil {
		return chat.Message{}, fmt.Errorf("sqlite: append: %w", err)
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
		return chat.Message{}, fmt.Errorf("sqlite: append: %w", ctx.Err())
	}
	return req.Wait(ctx, "sqlite: append")
}

// writer owns the write connection and its prepared statements.
type writer struct {
	db                                        *DB
	selRoom, insRoom, updRoom, selDup, insMsg *sql.Stmt
	batch                                     []*storeq.Request
}

func newWriter(db *DB) (*writer, error) {
	w := &writer{db: db, batch: make([]*storeq.Request, 0, db.cfg.MaxBatch)}
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&w.selRoom, `SELECT id, last_seq, msg_count, last_ts FROM rooms WHERE name = ?`},
		{&w.insRoom, `INSERT INTO rooms (name, last_seq, msg_count, last_ts) VALUES (?, 0, 0, 0)`},
		{&w.updRoom, `UPDATE rooms SET last_seq = ?, msg_count = ?, last_ts = ? WHERE id = ?`},
		{&w.selDup, `SELECT id, seq, sender, text, ts, deleted FROM messages
			WHERE room_id = ? AND sender_key = ? AND client_id = ?`},
		{&w.insMsg, `INSERT INTO messages (room_id, seq, sender, sender_key, text, client_id, ts)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (room_id, sender_key, client_id) WHERE client_id IS NOT NULL DO NOTHING`},
	} {
		s, err := db.w.Prepare(p.sql)
		if err != nil {
			return nil, fmt.Errorf("prepare: %w", err)
		}
		*p.stmt = s
	}
	return w, nil
}

// run commits queued appends until Close closes the queue, then finishes
// what is left in it.
func (w *writer) run() {
	defer close(w.db.writerDone)
	defer func() {
		for _, s := range []*sql.Stmt{w.selRoom, w.insRoom, w.updRoom, w.selDup, w.insMsg} {
			_ = s.Close()
		}
	}()
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

// roomRow is a room's counters as this transaction sees them; rows are
// written back once per room per batch.
type roomRow struct {
	id, lastSeq, count, lastTS int64
	dirty                      bool
}

// commit stores a batch in one transaction and answers every request. A
// failure fails the whole batch: nothing of it is stored.
func (w *writer) commit(batch []*storeq.Request) {
	results := make([]storeq.Result, len(batch))
	err := w.tx(batch, results)
	storeq.Answer(batch, results, err)
}

func (w *writer) tx(batch []*storeq.Request, results []storeq.Result) (err error) {
	// Not any caller's context: the batch belongs to all of them, and a
	// claimed request is committed even if its caller stops waiting.
	ctx := context.Background()
	tx, err := w.db.w.BeginTx(ctx, nil)
	if err != nil {
		return w.fail("begin", err, len(batch))
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	selRoom, insRoom, updRoom := tx.Stmt(w.selRoom), tx.Stmt(w.insRoom), tx.Stmt(w.updRoom)
	selDup, insMsg := tx.Stmt(w.selDup), tx.Stmt(w.insMsg)
	rooms := make(map[string]*roomRow)
	now := chat.NowMillis()
	for i, r := range batch {
		d := r.Draft
		rr := rooms[d.Room]
		if rr == nil {
			rr = &roomRow{}
			err := selRoom.QueryRowContext(ctx, d.Room).Scan(&rr.id, &rr.lastSeq, &rr.count, &rr.lastTS)
			if errors.Is(err, sql.ErrNoRows) {
				var res sql.Result
				if res, err = insRoom.ExecContext(ctx, d.Room); err == nil {
					rr.id, err = res.LastInsertId()
				}
			}
			if err != nil {
				return w.fail("room", err, len(batch))
			}
			rooms[d.Room] = rr
		}
		key := chat.NickKey(d.Sender)
		var clientID any // NULL unless given, so the unique index ignores it
		if d.ClientID != "" {
			clientID = d.ClientID
		}
		ts := d.TS
		if ts == 0 {
			ts = now
		}
		seq := rr.lastSeq + 1
		// The insert itself detects a reused client id (ON CONFLICT on the
		// client-id index, which also sees rows inserted earlier in this
		// transaction): the common, new-message case costs one statement.
		res, err := insMsg.ExecContext(ctx, rr.id, seq, d.Sender, key, d.Text, clientID, ts)
		var inserted, id int64
		if err == nil {
			inserted, err = res.RowsAffected()
		}
		if err == nil && inserted == 1 {
			id, err = res.LastInsertId()
		}
		if err != nil {
			return w.fail("insert", err, len(batch))
		}
		if inserted == 0 {
			m := chat.Message{Room: d.Room, ClientID: d.ClientID, Duplicate: true}
			if err := selDup.QueryRowContext(ctx, rr.id, key, d.ClientID).Scan(&id, &m.Seq, &m.Sender, &m.Text, &m.TS, &m.Deleted); err != nil {
				return w.fail("duplicate", err, len(batch))
			}
			m.ID = strconv.FormatInt(id, 10)
			results[i] = storeq.Result{Msg: m}
			continue
		}
		rr.lastSeq, rr.count, rr.lastTS, rr.dirty = seq, rr.count+1, ts, true
		results[i] = storeq.Result{Msg: chat.Message{
			ID: strconv.FormatInt(id, 10), Room: d.Room, Seq: seq, Sender: d.Sender,
			Text: d.Text, ClientID: d.ClientID, TS: ts,
		}}
	}
	for _, rr := range rooms {
		if !rr.dirty {
			continue
		}
		if _, err := updRoom.ExecContext(ctx, rr.lastSeq, rr.count, rr.lastTS, rr.id); err != nil {
			return w.fail("room update", err, len(batch))
		}
	}
	if err := tx.Commit(); err != nil {
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
	w.db.log.Error("sqlite: append batch failed", "op", op, "batch", n, "err", err)
	return storeErr("append: "+op, err)
}
