package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/chat/sqlstore"
)

// writer is the sqlstore.Writer of the one write connection: its prepared
// statements and the batch transaction.
type writer struct {
	db                                        *sql.DB
	selRoom, insRoom, updRoom, selDup, insMsg *sql.Stmt
}

func (b *backend) NewWriter() (sqlstore.Writer, error) {
	w := &writer{db: b.w}
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
		s, err := b.w.Prepare(p.sql)
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("prepare: %w", err)
		}
		*p.stmt = s
	}
	return w, nil
}

func (w *writer) Close() {
	for _, s := range []*sql.Stmt{w.selRoom, w.insRoom, w.updRoom, w.selDup, w.insMsg} {
		if s != nil {
			_ = s.Close()
		}
	}
}

// roomRow is a room's counters as this transaction sees them; rows are
// written back once per room per batch.
type roomRow struct {
	id, lastSeq, count, lastTS int64
	dirty                      bool
}

// Commit stores a batch in one transaction (BEGIN IMMEDIATE): each room's
// counters are read once, every message is inserted with the room's next
// seq, and the counters are written back.
func (w *writer) Commit(ctx context.Context, drafts []chat.Draft, out []chat.Message) (err error) {
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	selRoom, insRoom, updRoom := tx.Stmt(w.selRoom), tx.Stmt(w.insRoom), tx.Stmt(w.updRoom)
	selDup, insMsg := tx.Stmt(w.selDup), tx.Stmt(w.insMsg)
	rooms := make(map[string]*roomRow)
	for i, d := range drafts {
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
				return fmt.Errorf("room: %w", err)
			}
			rooms[d.Room] = rr
		}
		key := chat.NickKey(d.Sender)
		seq := rr.lastSeq + 1
		// The insert itself detects a reused client id (ON CONFLICT on the
		// client-id index, which also sees rows inserted earlier in this
		// transaction): the common, new-message case costs one statement.
		res, err := insMsg.ExecContext(ctx, rr.id, seq, d.Sender, key, d.Text, sqlstore.NullIfEmpty(d.ClientID), d.TS)
		var inserted, id int64
		if err == nil {
			inserted, err = res.RowsAffected()
		}
		if err == nil && inserted == 1 {
			id, err = res.LastInsertId()
		}
		if err != nil {
			return fmt.Errorf("insert: %w", err)
		}
		if inserted == 0 {
			m := chat.Message{Room: d.Room, ClientID: d.ClientID, Duplicate: true}
			if err := selDup.QueryRowContext(ctx, rr.id, key, d.ClientID).Scan(&id, &m.Seq, &m.Sender, &m.Text, &m.TS, &m.Deleted); err != nil {
				return fmt.Errorf("duplicate: %w", err)
			}
			m.ID = strconv.FormatInt(id, 10)
			out[i] = m
			continue
		}
		rr.lastSeq, rr.count, rr.lastTS, rr.dirty = seq, rr.count+1, d.TS, true
		out[i] = chat.Message{
			ID: strconv.FormatInt(id, 10), Room: d.Room, Seq: seq, Sender: d.Sender,
			Text: d.Text, ClientID: d.ClientID, TS: d.TS,
		}
	}
	for _, rr := range rooms {
		if !rr.dirty {
			continue
		}
		if _, err := updRoom.ExecContext(ctx, rr.lastSeq, rr.count, rr.lastTS, rr.id); err != nil {
			return fmt.Errorf("room update: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
