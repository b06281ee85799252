package sqlstore

import (
	"strconv"

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
// aliased m.
const MessageColumns = `m.id, m.seq, m.sender, m.text, coalesce(m.client_id, ''), m.ts, m.deleted`

// ScanMessage reads one row of MessageColumns as a message of room.
func ScanMessage(row Row, room string) (chat.Message, error) {
	m := chat.Message{Room: room}
	var id int64
	if err := row.Scan(&id, &m.Seq, &m.Sender, &m.Text, &m.ClientID, &m.TS, &m.Deleted); err != nil {
		return chat.Message{}, err
	}
	m.ID = strconv.FormatInt(id, 10)
	return m, nil
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
