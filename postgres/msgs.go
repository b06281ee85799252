package postgres

import (
	"context"

	"github.com/banter-chat/banter/chat/sqlstore"
	"github.com/jackc/pgx/v5"
)

// msgStatements is the SQL of chat.MessageStore (chat/sqlstore/msgs.go).
// BumpRev's UPDATE takes the room's row lock, the lock appends take: a
// room's changes and appends are serialized across nodes.
var msgStatements = sqlstore.MsgStatements{
	MessageByID:     `SELECT r.name, ` + sqlstore.MessageColumns + sqlstore.MessageFrom + `WHERE m.id = $1`,
	Message:         `SELECT ` + sqlstore.MessageColumns + sqlstore.MessageFrom + `WHERE r.name = $1 AND m.seq = $2`,
	BumpRev:         `UPDATE rooms SET last_rev = last_rev + 1 WHERE name = $1 RETURNING id, last_rev`,
	MessageState:    `SELECT deleted FROM messages WHERE room_id = $1 AND seq = $2`,
	Edit:            `UPDATE messages SET text = $1, mentions = $2, edited = $3, rev = $4 WHERE room_id = $5 AND seq = $6`,
	Delete:          `UPDATE messages SET deleted = true, text = '', attachment = NULL, mentions = NULL, reactions = NULL, rev = $1 WHERE room_id = $2 AND seq = $3`,
	DeleteReactions: `DELETE FROM reactions WHERE room_id = $1 AND seq = $2`,
	ReactionEmojis:  `SELECT count(DISTINCT emoji), coalesce(max((emoji = $3)::int), 0) FROM reactions WHERE room_id = $1 AND seq = $2`,
	AddReaction: `INSERT INTO reactions (room_id, seq, emoji, user_key, nickname, ts) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (room_id, seq, emoji, user_key) DO NOTHING`,
	RemoveReaction: `DELETE FROM reactions WHERE room_id = $1 AND seq = $2 AND emoji = $3 AND user_key = $4`,
	Reactions:      `SELECT emoji, nickname FROM reactions WHERE room_id = $1 AND seq = $2 ORDER BY id`,
	SetReactions:   `UPDATE messages SET reactions = $1, rev = $2 WHERE room_id = $3 AND seq = $4`,
	Changes: `SELECT ` + sqlstore.MessageColumns + sqlstore.MessageFrom +
		`WHERE r.name = $1 AND m.rev > 0 AND m.rev > $2 ORDER BY m.rev LIMIT $3`,
	RoomMark:   `SELECT id, last_seq FROM rooms WHERE name = $1`,
	SelectMark: `SELECT read_seq, delivered_seq, nickname FROM reads WHERE room_id = $1 AND user_key = $2`,
	UpsertMark: `INSERT INTO reads (user_key, room_id, nickname, read_seq, delivered_seq, ts) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (user_key, room_id) DO UPDATE SET nickname = excluded.nickname,
			read_seq = greatest(reads.read_seq, excluded.read_seq),
			delivered_seq = greatest(reads.delivered_seq, excluded.delivered_seq),
			ts = excluded.ts
		RETURNING read_seq, delivered_seq, ts`,
	RoomRev: `SELECT id, last_rev FROM rooms WHERE name = $1`,
	Mine:    `SELECT nickname, read_seq, delivered_seq, ts FROM reads WHERE room_id = $1 AND user_key = $2`,
	Readers: `SELECT nickname, read_seq, delivered_seq, ts FROM reads WHERE room_id = $1 AND user_key <> $2
		ORDER BY ts DESC, nickname COLLATE "C" LIMIT $3`,
	UserMarks: `SELECT r.name, rd.read_seq, rd.delivered_seq FROM reads rd JOIN rooms r ON r.id = rd.room_id WHERE rd.user_key = $1`,
	Unread: `SELECT r.last_seq,
		(SELECT count(*) FROM messages m WHERE m.room_id = r.id AND m.seq > $1 AND m.seq <= $2 AND m.sender_key <> $3 AND NOT m.deleted),
		(SELECT count(*) FROM messages m WHERE m.room_id = r.id AND m.seq > $1 AND m.seq <= $2 AND m.sender_key <> $3 AND NOT m.deleted
			AND strpos(m.mentions, $4) > 0)
		FROM rooms r WHERE r.name = $5`,
	SeenMessage: `SELECT r.id, m.sender_key FROM messages m JOIN rooms r ON r.id = m.room_id WHERE r.name = $1 AND m.seq = $2`,
	SeenCount:   `SELECT count(*) FROM reads WHERE room_id = $1 AND read_seq >= $2 AND user_key <> $3`,
	SeenNames: `SELECT nickname FROM reads WHERE room_id = $1 AND read_seq >= $2 AND user_key <> $3
		ORDER BY ts, nickname COLLATE "C" LIMIT $4`,
}

// WriteTx implements sqlstore.Backend: a transaction on the writers' pool
// (READ COMMITTED: each statement sees what committed before it, the row
// locks taken earlier in the transaction included).
func (b *backend) WriteTx(ctx context.Context, f func(sqlstore.Tx) error) error {
	tx, err := b.w.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.Background()) }() // no-op after Commit
	if err := f(pgTx{tx}); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// pgTx is a sqlstore.Tx over pgx.
type pgTx struct{ tx pgx.Tx }

func (t pgTx) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return t.tx.QueryRow(ctx, query, args...)
}

func (t pgTx) Query(ctx context.Context, scan func(sqlstore.Rows) error, query string, args ...any) error {
	rows, err := t.tx.Query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if err := scan(rows); err != nil {
		return err
	}
	return rows.Err()
}

func (t pgTx) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := t.tx.Exec(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}
