package chat

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// MemStore is a Store in memory: nothing survives the process. It is the
// Service's default when Config.Store is nil, and is handy in tests. It
// passes chat/storetest except the persistence tests.
type MemStore struct {
	mu     sync.RWMutex
	closed bool
	nextID int64
	rooms  map[string]*memRoom
	byID   map[int64]memRef   // message id → where it is (msgstore_mem.go)
	files  map[string]memFile // by Attachment.ID
	secret []byte
}

// memFile is a stored file and where its message is.
type memFile struct {
	room string
	seq  int64
	data []byte
}

type memRoom struct {
	msgs     []Message        // msgs[i].Seq == i+1
	byCliID  map[string]int64 // NickKey(sender) + "\x00" + clientID → seq
	memState                  // rev, replies, reactions, read markers (msgstore_mem.go)
}

var _ Store = (*MemStore)(nil)

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore {
	secret := make([]byte, SecretBytes)
	_, _ = rand.Read(secret) // never fails (crypto/rand since Go 1.24)
	return &MemStore{rooms: make(map[string]*memRoom), byID: make(map[int64]memRef), files: make(map[string]memFile), secret: secret}
}

func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("chat: store: %w", err)
	}
	return nil
}

// Append implements Store.
func (s *MemStore) Append(ctx context.Context, d Draft) (Message, error) {
	if err := CheckDraft(d); err != nil {
		return Message{}, err
	}
	if err := ctxErr(ctx); err != nil {
		return Message{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Message{}, ErrUnavailable
	}
	r := s.rooms[d.Room]
	if r == nil {
		r = &memRoom{byCliID: make(map[string]int64)}
		s.rooms[d.Room] = r
	}
	key := ""
	if d.ClientID != "" {
		key = NickKey(d.Sender) + "\x00" + d.ClientID
		if seq, ok := r.byCliID[key]; ok {
			m := r.message(s, seq)
			m.Duplicate = true
			return m, nil
		}
	}
	if d.TS == 0 {
		d.TS = NowMillis()
	}
	s.nextID++
	m := Message{
		ID:       strconv.FormatInt(s.nextID, 10),
		Room:     d.Room,
		Seq:      int64(len(r.msgs)) + 1,
		Sender:   d.Sender,
		Text:     d.Text,
		ClientID: d.ClientID,
		TS:       d.TS,
		Mentions: slices.Clone(d.Mentions),
	}
	if f := d.File; f != nil {
		a := f.Attachment
		m.Attachment = &a
		s.files[a.ID] = memFile{room: d.Room, seq: m.Seq, data: slices.Clone(f.Data)}
	}
	r.msgs = append(r.msgs, m)
	if key != "" {
		r.byCliID[key] = m.Seq
	}
	s.byID[s.nextID] = memRef{room: d.Room, seq: m.Seq}
	r.setReply(m.Seq, d.ReplyTo)
	return r.message(s, m.Seq), nil
}

func (s *MemStore) read(ctx context.Context, room string, f func(r *memRoom)) error {
	if err := CheckRoomArg(room); err != nil {
		return err
	}
	if err := ctxErr(ctx); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrUnavailable
	}
	if r := s.rooms[room]; r != nil {
		f(r)
	}
	return nil
}

// History implements Store.
func (s *MemStore) History(ctx context.Context, room string, beforeSeq int64, limit int) ([]Message, error) {
	if err := CheckPage(beforeSeq, limit); err != nil {
		return nil, err
	}
	var out []Message
	err := s.read(ctx, room, func(r *memRoom) {
		end := int64(len(r.msgs)) // exclusive index
		if beforeSeq > 0 && beforeSeq-1 < end {
			end = beforeSeq - 1
		}
		start := max(end-int64(limit), 0)
		out = r.messages(s, start+1, end)
	})
	return out, err
}

// Since implements Store.
func (s *MemStore) Since(ctx context.Context, room string, afterSeq int64, limit int) ([]Message, error) {
	if err := CheckPage(afterSeq, limit); err != nil {
		return nil, err
	}
	var out []Message
	err := s.read(ctx, room, func(r *memRoom) {
		n := int64(len(r.msgs))
		if afterSeq >= n {
			return
		}
		end := min(afterSeq+int64(limit), n)
		out = r.messages(s, afterSeq+1, end)
	})
	return out, err
}

// LastSeq implements Store.
func (s *MemStore) LastSeq(ctx context.Context, room string) (int64, error) {
	var seq int64
	err := s.read(ctx, room, func(r *memRoom) { seq = int64(len(r.msgs)) })
	return seq, err
}

// Rooms implements Store.
func (s *MemStore) Rooms(ctx context.Context) ([]RoomInfo, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, ErrUnavailable
	}
	out := make([]RoomInfo, 0, len(s.rooms))
	for name, r := range s.rooms {
		n := int64(len(r.msgs))
		out = append(out, RoomInfo{Name: name, LastSeq: n, Count: n, LastTS: r.msgs[n-1].TS})
	}
	slices.SortFunc(out, func(a, b RoomInfo) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Delete implements Store.
func (s *MemStore) Delete(ctx context.Context, room string, seq int64) (Message, error) {
	if err := CheckRoomArg(room); err != nil {
		return Message{}, err
	}
	if err := CheckSeq(seq); err != nil {
		return Message{}, err
	}
	if err := ctxErr(ctx); err != nil {
		return Message{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Message{}, ErrUnavailable
	}
	r := s.rooms[room]
	if r == nil || seq > int64(len(r.msgs)) {
		return Message{}, Errorf(CodeNotFound, "room %s has no message %d", room, seq)
	}
	r.delete(s, seq)
	return r.message(s, seq), nil
}

// Close implements Store. The messages are dropped.
func (s *MemStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.rooms, s.byID, s.files = nil, nil, nil
	return nil
}

// File implements Store.
func (s *MemStore) File(ctx context.Context, id string) (StoredFile, error) {
	if err := CheckFileID(id); err != nil {
		return StoredFile{}, err
	}
	if err := ctxErr(ctx); err != nil {
		return StoredFile{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return StoredFile{}, ErrUnavailable
	}
	f, ok := s.files[id]
	if !ok {
		return StoredFile{}, Errorf(CodeNotFound, "no such file")
	}
	m := s.rooms[f.room].msgs[f.seq-1]
	return StoredFile{Attachment: *m.Attachment, Room: f.room, Seq: f.seq, TS: m.TS}, nil
}

// FileChunk implements Store.
func (s *MemStore) FileChunk(ctx context.Context, id string, n int) ([]byte, error) {
	if err := CheckFileID(id); err != nil {
		return nil, err
	}
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, ErrUnavailable
	}
	f, ok := s.files[id]
	if !ok || n < 0 || n*FileChunkBytes >= len(f.data) {
		return nil, Errorf(CodeNotFound, "no such part of the file")
	}
	return slices.Clone(f.data[n*FileChunkBytes : min(len(f.data), (n+1)*FileChunkBytes)]), nil
}

// Secret implements Store: random per MemStore.
func (s *MemStore) Secret(ctx context.Context) ([]byte, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, ErrUnavailable
	}
	return slices.Clone(s.secret), nil
}

// Search implements Store by scanning every message of q.Rooms.
func (s *MemStore) Search(ctx context.Context, q SearchQuery) ([]Message, error) {
	if err := CheckSearchQuery(q); err != nil {
		return nil, err
	}
	before := int64(1<<63 - 1)
	if q.Before != "" {
		b, err := strconv.ParseInt(q.Before, 10, 64)
		if err != nil || b < 1 {
			return nil, Errorf(CodeInvalidArgument, "invalid search position %q", q.Before)
		}
		before = b
	}
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, ErrUnavailable
	}
	var out []Message
	for _, room := range q.Rooms {
		r := s.rooms[room]
		if r == nil {
			continue
		}
		for _, m := range r.msgs {
			id, _ := strconv.ParseInt(m.ID, 10, 64)
			name := ""
			if m.Attachment != nil {
				name = m.Attachment.Name
			}
			if id < before && !m.Deleted && MatchesTerms(q.Terms, m.Text, name) {
				out = append(out, r.message(s, m.Seq)) // with its quote
			}
		}
	}
	slices.SortFunc(out, func(a, b Message) int {
		x, _ := strconv.ParseInt(a.ID, 10, 64)
		y, _ := strconv.ParseInt(b.ID, 10, 64)
		return int(y - x)
	})
	return out[:min(len(out), q.Limit)], nil
}
