package sqlite

import (
	"context"
	"database/sql"

	"github.com/banter-chat/banter/chat/sqlstore"
)

// msgStatements is the SQL of chat.MessageStore (chat/sqlstore/msgs.go).
var msgStatements = sqlstore.MsgStatements{
	MessageByID:     `SELECT r.name, ` + sqlstore.MessageColumns + sqlstore.MessageFrom + `WHERE m.id = ?`,
	Message:         `SELECT ` + sqlstore.MessageColumns + sqlstore.MessageFrom + `WHERE r.name = ? AND m.seq = ?`,
	BumpRev:         `UPDATE rooms SET last_rev = last_rev + 1 WHERE name = ? RETURNING id, last_rev`,
	MessageState:    `SELECT deleted FROM messages WHERE room_id = ? AND seq = ?`,
	Edit:            `UPDATE messages SET text = ?, mentions = ?, edited = ?, rev = ? WHERE room_id = ? AND seq = ?`,
	Delete:          `UPDATE messages SET deleted = 1, text = '', attachment = NULL, mentions = NULL, reactions = NULL, rev = ? WHERE room_id = ? AND seq = ?`,
	DeleteReactions: `DELETE FROM reactions WHERE room_id = ? AND seq = ?`,
	ReactionEmojis:  `SELECT count(DISTINCT emoji), coalesce(max(emoji = ?3), 0) FROM reactions WHERE room_id = ?1 AND seq = ?2`,
	AddReaction: `INSERT INTO reactions (room_id, seq, emoji, user_key, nickname, ts) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (room_id, seq, emoji, user_key) DO NOTHING`,
	RemoveReaction: `DELETE FROM reactions WHERE room_id = ? AND seq = ? AND emoji = ? AND user_key = ?`,
	Reactions:      `SELECT emoji, nickname FROM reactions WHERE room_id = ? AND seq = ? ORDER BY id`,
	SetReactions:   `UPDATE messages SET reactions = ?, rev = ? WHERE room_id = ? AND seq = ?`,
	Changes: `SELECT ` + sqlstore.MessageColumns + sqlstore.MessageFrom +
		`WHERE r.name = ? AND m.rev > 0 AND m.rev > ? ORDER BY m.rev LIMIT ?`,
	RoomMark:   `SELECT id, last_seq FROM rooms WHERE name = ?`,
	SelectMark: `SELECT read_seq, delivered_seq, nickname FROM reads WHERE room_id = ? AND user_key = ?`,
	UpsertMark: `INSERT INTO reads (user_key, room_id, nickname, read_seq, delivered_seq, ts) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (user_key, room_id) DO UPDATE SET nickname = excluded.nickname,
			read_seq = max(read_seq, excluded.read_seq), delivered_seq = max(delivered_seq, excluded.delivered_seq),
			ts = excluded.ts
		RETURNING read_seq, delivered_seq, ts`,
	RoomRev:   `SELECT id, last_rev FROM rooms WHERE name = ?`,
	Mine:      `SELECT nickname, read_seq, delivered_seq, ts FROM reads WHERE room_id = ? AND user_key = ?`,
	Readers:   `SELECT nickname, read_seq, delivered_seq, ts FROM reads WHERE room_id = ? AND user_key <> ? ORDER BY ts DESC, nickname LIMIT ?`,
	UserMarks: `SELECT r.name, rd.read_seq, rd.delivered_seq FROM reads rd JOIN rooms r ON r.id = rd.room_id WHERE rd.user_key = ?`,
	Unread: `SELECT r.last_seq,
		(SELECT count(*) FROM messages m WHERE m.room_id = r.id AND m.seq > ?1 AND m.seq <= ?2 AND m.sender_key <> ?3 AND m.deleted = 0),
		(SELECT count(*) FROM messages m WHERE m.room_id = r.id AND m.seq > ?1 AND m.seq <= ?2 AND m.sender_key <> ?3 AND m.deleted = 0
			AND instr(m.mentions, ?4) > 0)
		FROM rooms r WHERE r.name = ?5`,
	SeenMessage: `SELECT r.id, m.sender_key FROM messages m JOIN rooms r ON r.id = m.room_id WHERE r.name = ? AND m.seq = ?`,
	SeenCount:   `SELECT count(*) FROM reads WHERE room_id = ? AND read_seq >= ? AND user_key <> ?`,
	SeenNames:   `SELECT nickname FROM reads WHERE room_id = ? AND read_seq >= ? AND user_key <> ? ORDER BY ts, nickname LIMIT ?`,
}

// WriteTx implements sqlstore.Backend: a transaction on the one write
// connection (BEGIN IMMEDIATE), between the writer's batches.
func (b *backend) WriteTx(ctx context.Context, f func(sqlstore.Tx) error) error {
	tx, err := b.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(sqlTx{tx}); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// sqlTx is a sqlstore.Tx over database/sql.
type sqlTx struct{ tx *sql.Tx }

func (t sqlTx) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return t.tx.QueryRowContext(ctx, query, args...)
}

func (t sqlTx) Query(ctx context.Context, scan func(sqlstore.Rows) error, query string, args ...any) error {
	rows, err := t.tx.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	return scan(rows)
}

func (t sqlTx) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := t.tx.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
