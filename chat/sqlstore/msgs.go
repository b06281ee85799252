package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/banter-chat/banter/chat"
)

// chat.MessageStore over a Backend: edits, deletions, reactions, changes
// and read markers. A change runs in one write transaction that first
// takes the room's next rev (UPDATE of the room's row: in PostgreSQL its
// row lock, the one appends take, serializes the changes of a room across
// nodes, so revs are gap-free like seqs), then checks and changes the
// message, and reads it back.

// Tx is one write transaction (Backend.WriteTx).
type Tx interface {
	// QueryRow runs a statement that returns at most one row.
	QueryRow(ctx context.Context, query string, args ...any) Row
	// Query runs a statement, hands its rows to scan and closes them.
	Query(ctx context.Context, scan func(Rows) error, query string, args ...any) error
	// Exec runs a statement and returns the number of rows it changed.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
}

// MsgStatements are a store's SQL for chat.MessageStore, in its
// placeholder syntax. Statements marked (tx) run inside WriteTx.
type MsgStatements struct {
	// MessageByID: arg id; the room's name, then MessageColumns.
	MessageByID string
	// Message (tx): args room, seq; MessageColumns.
	Message string
	// BumpRev (tx): arg room; increments the room's last_rev and returns
	// the room's id and new last_rev; no row for an unknown room.
	BumpRev string
	// MessageState (tx): args room id, seq; the message's deleted flag;
	// no row if there is none.
	MessageState string
	// Edit (tx): args text, mentions (NULL for none), edited, rev, room
	// id, seq.
	Edit string
	// Delete (tx): args rev, room id, seq; makes the message a tombstone
	// without reactions or mentions.
	Delete string
	// DeleteReactions (tx): args room id, seq.
	DeleteReactions string
	// ReactionEmojis (tx): args room id, seq, emoji; the number of
	// distinct emojis of the message, and whether emoji is one of them
	// (0 or 1).
	ReactionEmojis string
	// AddReaction (tx): args room id, seq, emoji, user key, nickname, ts;
	// changes no row when the user has that reaction already.
	AddReaction string
	// RemoveReaction (tx): args room id, seq, emoji, user key.
	RemoveReaction string
	// Reactions (tx): args room id, seq; emoji and nickname of every
	// reaction of the message, oldest first.
	Reactions string
	// SetReactions (tx): args reactions (JSON, NULL for none), rev, room
	// id, seq.
	SetReactions string
	// Changes: args room, afterRev, limit; MessageColumns by rev.
	Changes string
	// RoomMark (tx): args room; the room's id and last_seq.
	RoomMark string
	// SelectMark (tx): args room id, user; read, delivered, nickname.
	SelectMark string
	// UpsertMark (tx): args user, room id, nickname, read, delivered, ts;
	// never lowers read or delivered; returns read, delivered, ts.
	UpsertMark string
	// RoomRev: arg room; the room's id and last_rev.
	RoomRev string
	// Mine: args room id, user; nickname, read, delivered, ts.
	Mine string
	// Readers: args room id, user, limit; nickname, read, delivered, ts
	// of the others, most recent first.
	Readers string
	// UserMarks: arg user; room name, read, delivered of every marker.
	UserMarks string
	// Unread: args from (exclusive), to (inclusive), user, mention
	// needle (chat.MentionNeedle), room; last_seq, then the count of
	// others' messages in the range not deleted, then those mentioning
	// the user. No row for an unknown room.
	Unread string
	// SeenMessage: args room, seq; the room's id and the sender's key.
	SeenMessage string
	// SeenCount: args room id, seq, sender key.
	SeenCount string
	// SeenNames: args room id, seq, sender key, limit; nicknames, first
	// readers first.
	SeenNames string
}

func (q *MsgStatements) complete() bool {
	for _, s := range []string{q.MessageByID, q.Message, q.BumpRev, q.MessageState, q.Edit, q.Delete,
		q.DeleteReactions, q.ReactionEmojis, q.AddReaction, q.RemoveReaction, q.Reactions, q.SetReactions,
		q.Changes, q.RoomMark, q.SelectMark, q.UpsertMark, q.RoomRev, q.Mine, q.Readers, q.UserMarks,
		q.Unread, q.SeenMessage, q.SeenCount, q.SeenNames} {
		if s == "" {
			return false
		}
	}
	return true
}

// errNoChange rolls back a transaction that found nothing to change.
var errNoChange = errors.New("no change")

// write runs f in a write transaction, after the checks every change
// makes. Close waits for it.
func (s *Store) write(ctx context.Context, op string, f func(Tx) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return chat.ErrUnavailable
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", s.name, err)
	}
	err := s.be.WriteTx(ctx, f)
	var ce *chat.Error
	if err == nil || errors.Is(err, errNoChange) || errors.As(err, &ce) {
		return err
	}
	return s.storeErr(op, err)
}

// bump takes the room's next rev, or ErrNotFound for a room without
// messages.
func (s *Store) bump(ctx context.Context, tx Tx, room string, seq int64) (roomID, rev int64, err error) {
	err = tx.QueryRow(ctx, s.cfg.Msgs.BumpRev, room).Scan(&roomID, &rev)
	if s.be.NoRows(err) {
		return 0, 0, chat.Errorf(chat.CodeNotFound, "room %s has no message %d", room, seq)
	}
	return roomID, rev, err
}

// state reads whether the message is deleted, or ErrNotFound.
func (s *Store) state(ctx context.Context, tx Tx, room string, roomID, seq int64) (deleted bool, err error) {
	err = tx.QueryRow(ctx, s.cfg.Msgs.MessageState, roomID, seq).Scan(&deleted)
	if s.be.NoRows(err) {
		return false, chat.Errorf(chat.CodeNotFound, "room %s has no message %d", room, seq)
	}
	return deleted, err
}

// readMessage reads message seq of room inside tx.
func (s *Store) readMessage(ctx context.Context, tx Tx, room string, seq int64) (chat.Message, error) {
	return ScanMessage(tx.QueryRow(ctx, s.cfg.Msgs.Message, room, seq), room)
}

// MessageByID implements chat.Store.
func (s *Store) MessageByID(ctx context.Context, id string) (chat.Message, error) {
	if err := s.checkOpen(ctx); err != nil {
		return chat.Message{}, err
	}
	n, ok := chat.ParseID(id)
	if !ok {
		return chat.Message{}, chat.Errorf(chat.CodeNotFound, "no message has id %q", id)
	}
	var m chat.Message
	err := s.be.Read(ctx, func(rows Rows) error {
		if !rows.Next() {
			return errNoChange
		}
		var room string
		m0, err := scanMessage(rows, &room)
		m = m0
		return err
	}, s.cfg.Msgs.MessageByID, n)
	switch {
	case errors.Is(err, errNoChange):
		return chat.Message{}, chat.Errorf(chat.CodeNotFound, "no message has id %q", id)
	case err != nil:
		return chat.Message{}, s.storeErr("message by id", err)
	}
	return m, nil
}

// Delete implements chat.Store.
func (s *Store) Delete(ctx context.Context, room string, seq int64) (chat.Message, error) {
	if err := chat.CheckRoomArg(room); err != nil {
		return chat.Message{}, err
	}
	if err := chat.CheckSeq(seq); err != nil {
		return chat.Message{}, err
	}
	var m chat.Message
	err := s.write(ctx, "delete", func(tx Tx) error {
		roomID, rev, err := s.bump(ctx, tx, room, seq)
		if err != nil {
			return err
		}
		deleted, err := s.state(ctx, tx, room, roomID, seq)
		if err != nil {
			return err
		}
		if deleted {
			return errNoChange
		}
		if _, err := tx.Exec(ctx, s.cfg.Msgs.Delete, rev, roomID, seq); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, s.cfg.Msgs.DeleteReactions, roomID, seq); err != nil {
			return err
		}
		m, err = s.readMessage(ctx, tx, room, seq)
		return err
	})
	if errors.Is(err, errNoChange) {
		return s.current(ctx, "delete", room, seq)
	}
	return m, err
}

// current reads message seq of room (it exists) after a change that
// changed nothing.
func (s *Store) current(ctx context.Context, op, room string, seq int64) (chat.Message, error) {
	msgs, err := s.page(ctx, op, s.cfg.SQL.Since, room, seq-1, 1)
	if err != nil {
		return chat.Message{}, err
	}
	if len(msgs) != 1 {
		return chat.Message{}, chat.Errorf(chat.CodeNotFound, "room %s has no message %d", room, seq)
	}
	return msgs[0], nil
}

// Edit implements chat.Store.
func (s *Store) Edit(ctx context.Context, e chat.Edit) (chat.Message, error) {
	if err := chat.CheckEdit(e); err != nil {
		return chat.Message{}, err
	}
	if e.TS == 0 {
		e.TS = chat.NowMillis()
	}
	var m chat.Message
	err := s.write(ctx, "edit", func(tx Tx) error {
		roomID, rev, err := s.bump(ctx, tx, e.Room, e.Seq)
		if err != nil {
			return err
		}
		deleted, err := s.state(ctx, tx, e.Room, roomID, e.Seq)
		if err != nil {
			return err
		}
		if deleted {
			return chat.Errorf(chat.CodeInvalidArgument, "message %d was deleted", e.Seq)
		}
		if _, err := tx.Exec(ctx, s.cfg.Msgs.Edit, e.Text, NullIfEmpty(chat.EncodeMentions(e.Mentions)), e.TS, rev, roomID, e.Seq); err != nil {
			return err
		}
		m, err = s.readMessage(ctx, tx, e.Room, e.Seq)
		return err
	})
	return m, err
}

// React implements chat.Store.
func (s *Store) React(ctx context.Context, c chat.ReactionChange) (chat.Message, bool, error) {
	if err := chat.CheckReactionChange(c); err != nil {
		return chat.Message{}, false, err
	}
	if c.TS == 0 {
		c.TS = chat.NowMillis()
	}
	var m chat.Message
	err := s.write(ctx, "react", func(tx Tx) error {
		roomID, rev, err := s.bump(ctx, tx, c.Room, c.Seq)
		if err != nil {
			return err
		}
		deleted, err := s.state(ctx, tx, c.Room, roomID, c.Seq)
		if err != nil {
			return err
		}
		if deleted {
			return chat.Errorf(chat.CodeInvalidArgument, "message %d was deleted", c.Seq)
		}
		var n int64
		if c.Add {
			var distinct, present int64
			if err := tx.QueryRow(ctx, s.cfg.Msgs.ReactionEmojis, roomID, c.Seq, c.Emoji).Scan(&distinct, &present); err != nil {
				return err
			}
			if present == 0 && distinct >= chat.MaxReactionEmojis {
				return chat.Errorf(chat.CodeInvalidArgument, "a message may have at most %d different reactions; %s would be one more", chat.MaxReactionEmojis, c.Emoji)
			}
			n, err = tx.Exec(ctx, s.cfg.Msgs.AddReaction, roomID, c.Seq, c.Emoji, c.User, c.Nickname, c.TS)
		} else {
			n, err = tx.Exec(ctx, s.cfg.Msgs.RemoveReaction, roomID, c.Seq, c.Emoji, c.User)
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return errNoChange
		}
		type row struct{ emoji, nick string }
		var all []row
		if err := tx.Query(ctx, func(rows Rows) error {
			for rows.Next() {
				var r row
				if err := rows.Scan(&r.emoji, &r.nick); err != nil {
					return err
				}
				all = append(all, r)
			}
			return rows.Err()
		}, s.cfg.Msgs.Reactions, roomID, c.Seq); err != nil {
			return err
		}
		sum := chat.SummarizeReactions(len(all), func(i int) (string, string) { return all[i].emoji, all[i].nick })
		var enc any
		if sum != nil {
			b, err := json.Marshal(sum)
			if err != nil {
				return err
			}
			enc = string(b)
		}
		if _, err := tx.Exec(ctx, s.cfg.Msgs.SetReactions, enc, rev, roomID, c.Seq); err != nil {
			return err
		}
		m, err = s.readMessage(ctx, tx, c.Room, c.Seq)
		return err
	})
	if errors.Is(err, errNoChange) {
		m, err = s.current(ctx, "react", c.Room, c.Seq)
		return m, false, err
	}
	return m, err == nil, err
}

// Changes implements chat.Store.
func (s *Store) Changes(ctx context.Context, room string, afterRev int64, limit int) ([]chat.Message, error) {
	if err := chat.CheckChangesPage(room, afterRev, limit); err != nil {
		return nil, err
	}
	if err := s.checkOpen(ctx); err != nil {
		return nil, err
	}
	var out []chat.Message
	err := s.be.Read(ctx, func(rows Rows) (err error) {
		out, err = ScanMessages(rows, room)
		return err
	}, s.cfg.Msgs.Changes, room, afterRev, limit)
	if err != nil {
		return nil, s.storeErr("changes", err)
	}
	return out, nil
}

// Mark implements chat.Store.
func (s *Store) Mark(ctx context.Context, room, user, nickname string, read, delivered int64) (chat.ReadMark, bool, error) {
	if err := chat.CheckMark(room, user, nickname, read, delivered); err != nil {
		return chat.ReadMark{}, false, err
	}
	m := chat.ReadMark{Room: room, Nickname: nickname}
	changed := false
	err := s.write(ctx, "mark", func(tx Tx) error {
		var roomID, last int64
		err := tx.QueryRow(ctx, s.cfg.Msgs.RoomMark, room).Scan(&roomID, &last)
		if s.be.NoRows(err) {
			return chat.Errorf(chat.CodeInvalidArgument, "room %s has no message %d to mark", room, max(read, delivered))
		}
		if err != nil {
			return err
		}
		if top := max(read, delivered); top > last {
			return chat.Errorf(chat.CodeInvalidArgument, "room %s has no message %d to mark", room, top)
		}
		var oldRead, oldDelivered int64
		var oldNick string
		err = tx.QueryRow(ctx, s.cfg.Msgs.SelectMark, roomID, user).Scan(&oldRead, &oldDelivered, &oldNick)
		if err != nil && !s.be.NoRows(err) {
			return err
		}
		nr := max(oldRead, read)
		nd := max(oldDelivered, delivered, nr)
		changed = nr != oldRead || nd != oldDelivered
		if !changed && oldNick == nickname {
			m.Read, m.Delivered = oldRead, oldDelivered
			return errNoChange
		}
		return tx.QueryRow(ctx, s.cfg.Msgs.UpsertMark, user, roomID, nickname, nr, nd, chat.NowMillis()).Scan(&m.Read, &m.Delivered, &m.TS)
	})
	if errors.Is(err, errNoChange) {
		// Unchanged: read the stamp too.
		st, err := s.RoomState(ctx, room, user, 0)
		return st.Mine, false, err
	}
	if err != nil {
		return chat.ReadMark{}, false, err
	}
	return m, changed, nil
}

// RoomState implements chat.Store.
func (s *Store) RoomState(ctx context.Context, room, user string, readers int) (chat.RoomState, error) {
	if err := chat.CheckRoomArg(room); err != nil {
		return chat.RoomState{}, err
	}
	if readers < 0 {
		return chat.RoomState{}, chat.Errorf(chat.CodeInvalidArgument, "readers must not be negative")
	}
	if err := s.checkOpen(ctx); err != nil {
		return chat.RoomState{}, err
	}
	st := chat.RoomState{Mine: chat.ReadMark{Room: room}}
	var roomID int64
	err := s.be.ReadRow(ctx, s.cfg.Msgs.RoomRev, room).Scan(&roomID, &st.LastRev)
	if s.be.NoRows(err) {
		return st, nil
	}
	if err != nil {
		return chat.RoomState{}, s.storeErr("room state", err)
	}
	err = s.be.ReadRow(ctx, s.cfg.Msgs.Mine, roomID, user).Scan(&st.Mine.Nickname, &st.Mine.Read, &st.Mine.Delivered, &st.Mine.TS)
	if err != nil && !s.be.NoRows(err) {
		return chat.RoomState{}, s.storeErr("room state", err)
	}
	if readers == 0 {
		return st, nil
	}
	err = s.be.Read(ctx, func(rows Rows) error {
		for rows.Next() {
			m := chat.ReadMark{Room: room}
			if err := rows.Scan(&m.Nickname, &m.Read, &m.Delivered, &m.TS); err != nil {
				return err
			}
			st.Readers = append(st.Readers, m)
		}
		return rows.Err()
	}, s.cfg.Msgs.Readers, roomID, user, readers+1)
	if err != nil {
		return chat.RoomState{}, s.storeErr("room state", err)
	}
	if len(st.Readers) > readers {
		st.Readers, st.More = st.Readers[:readers], true
	}
	return st, nil
}

// Unread implements chat.Store.
func (s *Store) Unread(ctx context.Context, user string, rooms []string) ([]chat.Unread, error) {
	if err := chat.CheckUserKey(user); err != nil {
		return nil, err
	}
	for _, room := range rooms {
		if err := chat.CheckRoomArg(room); err != nil {
			return nil, err
		}
	}
	if err := s.checkOpen(ctx); err != nil {
		return nil, err
	}
	if len(rooms) == 0 {
		return nil, nil
	}
	type mark struct{ read, delivered int64 }
	marks := make(map[string]mark)
	err := s.be.Read(ctx, func(rows Rows) error {
		for rows.Next() {
			var name string
			var m mark
			if err := rows.Scan(&name, &m.read, &m.delivered); err != nil {
				return err
			}
			marks[name] = m
		}
		return rows.Err()
	}, s.cfg.Msgs.UserMarks, user)
	if err != nil {
		return nil, s.storeErr("unread", err)
	}
	var out []chat.Unread
	needle := chat.MentionNeedle(user)
	for _, room := range rooms {
		m, ok := marks[room]
		if !ok && !chat.IsDMRoom(room) {
			continue
		}
		u := chat.Unread{Room: room, Read: m.read, Delivered: m.delivered}
		var last int64
		err := s.be.ReadRow(ctx, s.cfg.Msgs.Unread, m.read, m.read+chat.UnreadWindow, user, needle, room).Scan(&last, &u.Unread, &u.Mentions)
		if s.be.NoRows(err) {
			continue
		}
		if err != nil {
			return nil, s.storeErr("unread", err)
		}
		if last > m.read+chat.UnreadWindow {
			u.Unread = chat.UnreadWindow
		}
		out = append(out, u)
	}
	return out, nil
}

// SeenBy implements chat.Store.
func (s *Store) SeenBy(ctx context.Context, room string, seq int64, limit int) (chat.Seen, error) {
	if err := chat.CheckRoomArg(room); err != nil {
		return chat.Seen{}, err
	}
	if err := chat.CheckSeq(seq); err != nil {
		return chat.Seen{}, err
	}
	if limit < 0 {
		return chat.Seen{}, chat.Errorf(chat.CodeInvalidArgument, "limit must not be negative")
	}
	if err := s.checkOpen(ctx); err != nil {
		return chat.Seen{}, err
	}
	var roomID int64
	var sender string
	err := s.be.ReadRow(ctx, s.cfg.Msgs.SeenMessage, room, seq).Scan(&roomID, &sender)
	if s.be.NoRows(err) {
		return chat.Seen{}, chat.Errorf(chat.CodeNotFound, "room %s has no message %d", room, seq)
	}
	if err != nil {
		return chat.Seen{}, s.storeErr("seen by", err)
	}
	out := chat.Seen{Nicknames: []string{}}
	if err := s.be.ReadRow(ctx, s.cfg.Msgs.SeenCount, roomID, seq, sender).Scan(&out.Count); err != nil {
		return chat.Seen{}, s.storeErr("seen by", err)
	}
	if limit == 0 || out.Count == 0 {
		return out, nil
	}
	err = s.be.Read(ctx, func(rows Rows) error {
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				return err
			}
			out.Nicknames = append(out.Nicknames, n)
		}
		return rows.Err()
	}, s.cfg.Msgs.SeenNames, roomID, seq, sender, limit)
	if err != nil {
		return chat.Seen{}, s.storeErr("seen by", err)
	}
	return out, nil
}

// completeAppend fills in what the writers do not read back: the quote of
// a reply, and a duplicate's current state.
func (s *Store) completeAppend(ctx context.Context, d chat.Draft, m chat.Message) (chat.Message, error) {
	switch {
	case m.Duplicate:
		cur, err := s.current(context.WithoutCancel(ctx), "append", d.Room, m.Seq)
		if err != nil {
			return chat.Message{}, err
		}
		cur.Duplicate = true
		return cur, nil
	case d.ReplyTo != "":
		q, err := s.MessageByID(context.WithoutCancel(ctx), d.ReplyTo)
		if err == nil {
			m.ReplyTo = QuoteOf(q)
		}
	}
	return m, nil
}

// QuoteOf returns the quote of m.
func QuoteOf(m chat.Message) *chat.Quote {
	q := &chat.Quote{ID: m.ID, Seq: m.Seq, From: m.Sender, Text: m.Text, Deleted: m.Deleted}
	if m.Attachment != nil {
		q.File = m.Attachment.Name
	}
	n := 0
	for i := range q.Text {
		if n == chat.QuoteRunes {
			q.Text = q.Text[:i]
			break
		}
		n++
	}
	return q
}

// scanMessage reads one row of MessageColumns, preceded by the room's
// name when room points to a string to fill.
func scanMessage(row Row, room *string) (chat.Message, error) {
	var m chat.Message
	var id, qID, qSeq int64
	var att, mentions, reactions, qFrom, qText, qAtt string
	var qDeleted bool
	dest := []any{&id, &m.Seq, &m.Sender, &m.Text, &m.ClientID, &m.TS, &m.Deleted,
		&att, &m.Rev, &m.Edited, &mentions, &reactions, &qID, &qSeq, &qFrom, &qText, &qDeleted, &qAtt}
	if room != nil {
		dest = append([]any{room}, dest...)
	}
	if err := row.Scan(dest...); err != nil {
		return chat.Message{}, err
	}
	if room != nil {
		m.Room = *room
	}
	m.ID = strconv.FormatInt(id, 10)
	var err error
	if m.Attachment, err = DecodeAttachment(att); err != nil {
		return chat.Message{}, fmt.Errorf("message %d: %w", id, err)
	}
	m.Mentions = chat.DecodeMentions(mentions)
	if reactions != "" {
		if err := json.Unmarshal([]byte(reactions), &m.Reactions); err != nil {
			return chat.Message{}, fmt.Errorf("message %d: reactions: %w", id, err)
		}
	}
	if qID != 0 {
		m.ReplyTo = &chat.Quote{ID: strconv.FormatInt(qID, 10), Seq: qSeq, From: qFrom, Text: qText, Deleted: qDeleted}
		qa, err := DecodeAttachment(qAtt)
		if err != nil {
			return chat.Message{}, fmt.Errorf("message %d: quote: %w", id, err)
		}
		if qa != nil {
			m.ReplyTo.File = qa.Name
		}
	}
	return m, nil
}
