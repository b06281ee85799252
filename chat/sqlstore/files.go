package sqlstore

import (
	"context"
	"crypto/rand"
	"strconv"

	"github.com/banter-chat/banter/chat"
)

// SearchColumns are the columns Search reads: the room's name (rooms
// aliased r), then MessageColumns (the message it replies to aliased q).
const SearchColumns = `r.name, ` + MessageColumns

// File implements chat.Store.
func (s *Store) File(ctx context.Context, id string) (chat.StoredFile, error) {
	if err := chat.CheckFileID(id); err != nil {
		return chat.StoredFile{}, err
	}
	if err := s.checkOpen(ctx); err != nil {
		return chat.StoredFile{}, err
	}
	var att string
	var f chat.StoredFile
	err := s.be.ReadRow(ctx, s.cfg.SQL.File, id).Scan(&att, &f.Room, &f.Seq, &f.TS)
	switch {
	case s.be.NoRows(err):
		return chat.StoredFile{}, chat.Errorf(chat.CodeNotFound, "no such file")
	case err != nil:
		return chat.StoredFile{}, s.storeErr("file", err)
	}
	a, err := DecodeAttachment(att)
	if err != nil || a == nil || a.ID != id {
		return chat.StoredFile{}, chat.Errorf(chat.CodeNotFound, "no such file")
	}
	f.Attachment = *a
	return f, nil
}

// FileChunk implements chat.Store.
func (s *Store) FileChunk(ctx context.Context, id string, n int) ([]byte, error) {
	if err := chat.CheckFileID(id); err != nil {
		return nil, err
	}
	if n < 0 {
		return nil, chat.Errorf(chat.CodeNotFound, "no such part of the file")
	}
	if err := s.checkOpen(ctx); err != nil {
		return nil, err
	}
	var data []byte
	err := s.be.ReadRow(ctx, s.cfg.SQL.FileChunk, id, n).Scan(&data)
	switch {
	case s.be.NoRows(err):
		return nil, chat.Errorf(chat.CodeNotFound, "no such part of the file")
	case err != nil:
		return nil, s.storeErr("file chunk", err)
	}
	return data, nil
}

// Secret implements chat.Store: the first call on a database stores a
// random secret, every later one (any node) reads it.
func (s *Store) Secret(ctx context.Context) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, chat.ErrUnavailable
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	fresh := make([]byte, chat.SecretBytes)
	_, _ = rand.Read(fresh) // never fails (crypto/rand since Go 1.24)
	var out []byte
	if err := s.be.WriteRow(ctx, s.cfg.SQL.Secret, fresh).Scan(&out); err != nil {
		return nil, s.storeErr("secret", err)
	}
	return out, nil
}

// Search implements chat.Store.
func (s *Store) Search(ctx context.Context, q chat.SearchQuery) ([]chat.Message, error) {
	if err := chat.CheckSearchQuery(q); err != nil {
		return nil, err
	}
	before := int64(1<<63 - 1)
	if q.Before != "" {
		b, err := strconv.ParseInt(q.Before, 10, 64)
		if err != nil || b < 1 {
			return nil, chat.Errorf(chat.CodeInvalidArgument, "invalid search position %q", q.Before)
		}
		before = b
	}
	if err := s.checkOpen(ctx); err != nil {
		return nil, err
	}
	if len(q.Rooms) == 0 {
		return []chat.Message{}, nil
	}
	out := []chat.Message{}
	err := s.be.Read(ctx, func(rows Rows) error {
		for rows.Next() {
			var room string
			m, err := scanMessage(rows, &room)
			if err != nil {
				return err
			}
			out = append(out, m)
		}
		return rows.Err()
	}, s.cfg.SQL.Search, s.cfg.SQL.SearchArgs(q.Terms, q.Rooms, before, q.Limit)...)
	if err != nil {
		return nil, s.storeErr("search", err)
	}
	return out, nil
}
