package sqlstore

import (
	"encoding/json"
	"fmt"

	"github.com/banter-chat/banter/chat"
)

// Row is what database/sql's and pgx's single-row results have in common.
type Row interface {
	Scan(dest ...any) error
}

// Rows is what database/sql's and pgx's result sets have in common.
type Rows interface {
	Row
	Next() bool
	Err() error
}

// MessageColumns are the columns ScanMessage reads, of the messages table
// aliased m and the message it replies to aliased q (MessageFrom). The
// attachments are their JSON (” for none); of the quoted message only the
// file's name is used.
const MessageColumns = `m.id, m.seq, m.sender, m.text, coalesce(m.client_id, ''), m.ts, m.deleted, ` +
	`coalesce(m.attachment, ''), m.rev, m.edited, coalesce(m.mentions, ''), coalesce(m.reactions, ''), ` +
	`coalesce(q.id, 0), coalesce(q.seq, 0), coalesce(q.sender, ''), coalesce(substr(q.text, 1, 200), ''), ` +
	`coalesce(q.deleted, false), coalesce(q.attachment, '')`

// MessageFrom is the FROM clause of MessageColumns: a message, its room
// (aliased r) and the message it replies to.
const MessageFrom = ` FROM messages m JOIN rooms r ON r.id = m.room_id LEFT JOIN messages q ON q.id = m.reply_to `

// ScanMessage reads one row of MessageColumns as a message of room.
func ScanMessage(row Row, room string) (chat.Message, error) {
	m, err := scanMessage(row, nil)
	if err != nil {
		return chat.Message{}, err
	}
	m.Room = room
	return m, nil
}

// EncodeAttachment is the attachment column's value for a (nil: NULL).
func EncodeAttachment(a *chat.Attachment) any {
	if a == nil {
		return nil
	}
	b, _ := json.Marshal(a) // strings and numbers: cannot fail
	return string(b)
}

// DecodeAttachment reads the attachment column (” for none).
func DecodeAttachment(s string) (*chat.Attachment, error) {
	if s == "" {
		return nil, nil
	}
	var a chat.Attachment
	if err := json.Unmarshal([]byte(s), &a); err != nil {
		return nil, fmt.Errorf("attachment column: %w", err)
	}
	return &a, nil
}

// ScanMessages reads every row of MessageColumns as messages of room. The
// caller closes rows.
func ScanMessages(rows Rows, room string) ([]chat.Message, error) {
	var out []chat.Message
	for rows.Next() {
		m, err := ScanMessage(rows, room)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// RoomColumns are the columns ScanRooms reads, of the rooms table.
const RoomColumns = `name, last_seq, msg_count, last_ts`

// ScanRooms reads every row of RoomColumns. The caller closes rows.
func ScanRooms(rows Rows) ([]chat.RoomInfo, error) {
	out := []chat.RoomInfo{}
	for rows.Next() {
		var ri chat.RoomInfo
		if err := rows.Scan(&ri.Name, &ri.LastSeq, &ri.Count, &ri.LastTS); err != nil {
			return nil, err
		}
		out = append(out, ri)
	}
	return out, rows.Err()
}

// NullIfEmpty is a client id as a query argument: NULL when there is none,
// so that the unique index on client ids ignores the row.
func NullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// ReplyArg is a draft's ReplyTo as a query argument: the id, or NULL.
func ReplyArg(id string) any {
	if n, ok := chat.ParseID(id); ok {
		return n
	}
	return nil
}
