package chat

import (
	"context"
	"slices"
	"strings"
)

// MemStore's MessageStore: edits, reactions, replies and read markers.

// memRef is where a message is.
type memRef struct {
	room string
	seq  int64
}

// memState is the message state of a MemStore room.
type memState struct {
	rev       int64
	replyTo   map[int64]int64         // seq → id of the message it answers
	reactions map[int64][]memReaction // seq → its reactions, oldest first
	reads     map[string]*ReadMark    // user (NickKey) → marker
}

type memReaction struct {
	emoji, user, nick string
}

func (r *memRoom) setReply(seq int64, id string) {
	n, ok := ParseID(id)
	if !ok {
		return
	}
	if r.replyTo == nil {
		r.replyTo = make(map[int64]int64)
	}
	r.replyTo[seq] = n
}

// message returns message seq as read: with the quote of the message it
// answers in that message's current state. Slices in stored messages are
// replaced, never modified, so sharing them is safe.
func (r *memRoom) message(s *MemStore, seq int64) Message {
	m := r.msgs[seq-1]
	if id, ok := r.replyTo[seq]; ok {
		if ref, ok := s.byID[id]; ok {
			q := s.rooms[ref.room].msgs[ref.seq-1]
			m.ReplyTo = &Quote{ID: q.ID, Seq: q.Seq, From: q.Sender, Text: quoteText(q.Text), Deleted: q.Deleted}
			if q.Attachment != nil {
				m.ReplyTo.File = q.Attachment.Name
			}
		}
	}
	return m
}

// messages returns messages from..to (seqs, inclusive) as read.
func (r *memRoom) messages(s *MemStore, from, to int64) []Message {
	if from > to {
		return nil
	}
	out := make([]Message, 0, to-from+1)
	for seq := from; seq <= to; seq++ {
		out = append(out, r.message(s, seq))
	}
	return out
}

// quoteText is the part of a text a Quote carries.
func quoteText(text string) string {
	n := 0
	for i := range text {
		if n == QuoteRunes {
			return text[:i]
		}
		n++
	}
	return text
}

// change gives message seq the room's next rev.
func (r *memRoom) change(seq int64) *Message {
	r.rev++
	m := &r.msgs[seq-1]
	m.Rev = r.rev
	return m
}

// delete makes message seq a tombstone; a tombstone stays as it is.
func (r *memRoom) delete(s *MemStore, seq int64) {
	if r.msgs[seq-1].Deleted {
		return
	}
	m := r.change(seq)
	if m.Attachment != nil {
		delete(s.files, m.Attachment.ID)
	}
	m.Deleted, m.Text, m.Attachment, m.Mentions, m.Reactions = true, "", nil, nil, nil
	delete(r.reactions, seq)
}

// lookup returns the room and message seq of room under s.mu, or
// ErrNotFound.
func (s *MemStore) lookup(room string, seq int64) (*memRoom, error) {
	r := s.rooms[room]
	if r == nil || seq > int64(len(r.msgs)) {
		return nil, Errorf(CodeNotFound, "room %s has no message %d", room, seq)
	}
	return r, nil
}

// lockWrite takes s.mu for a change after checking ctx.
func (s *MemStore) lockWrite(ctx context.Context) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrUnavailable
	}
	return nil
}

// lockRead is lockWrite for reads.
func (s *MemStore) lockRead(ctx context.Context) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return ErrUnavailable
	}
	return nil
}

// MessageByID implements Store.
func (s *MemStore) MessageByID(ctx context.Context, id string) (Message, error) {
	n, ok := ParseID(id)
	if err := s.lockRead(ctx); err != nil {
		return Message{}, err
	}
	defer s.mu.RUnlock()
	ref, found := s.byID[n]
	if !ok || !found {
		return Message{}, Errorf(CodeNotFound, "no message has id %q", id)
	}
	return s.rooms[ref.room].message(s, ref.seq), nil
}

// Edit implements Store.
func (s *MemStore) Edit(ctx context.Context, e Edit) (Message, error) {
	if err := CheckEdit(e); err != nil {
		return Message{}, err
	}
	if err := s.lockWrite(ctx); err != nil {
		return Message{}, err
	}
	defer s.mu.Unlock()
	r, err := s.lookup(e.Room, e.Seq)
	if err != nil {
		return Message{}, err
	}
	if r.msgs[e.Seq-1].Deleted {
		return Message{}, errDeletedMessage(e.Seq)
	}
	if e.TS == 0 {
		e.TS = NowMillis()
	}
	m := r.change(e.Seq)
	m.Text, m.Mentions, m.Edited = e.Text, slices.Clone(e.Mentions), e.TS
	return r.message(s, e.Seq), nil
}

func errDeletedMessage(seq int64) error {
	return Errorf(CodeInvalidArgument, "message %d was deleted", seq)
}

// React implements Store.
func (s *MemStore) React(ctx context.Context, c ReactionChange) (Message, bool, error) {
	if err := CheckReactionChange(c); err != nil {
		return Message{}, false, err
	}
	if err := s.lockWrite(ctx); err != nil {
		return Message{}, false, err
	}
	defer s.mu.Unlock()
	r, err := s.lookup(c.Room, c.Seq)
	if err != nil {
		return Message{}, false, err
	}
	if r.msgs[c.Seq-1].Deleted {
		return Message{}, false, errDeletedMessage(c.Seq)
	}
	list := r.reactions[c.Seq]
	i := slices.IndexFunc(list, func(x memReaction) bool { return x.emoji == c.Emoji && x.user == c.User })
	switch {
	case c.Add && i >= 0, !c.Add && i < 0:
		return r.message(s, c.Seq), false, nil
	case c.Add:
		emojis := make(map[string]bool)
		for _, x := range list {
			emojis[x.emoji] = true
		}
		if err := checkNewEmoji(len(emojis), c.Emoji, emojis[c.Emoji]); err != nil {
			return Message{}, false, err
		}
		list = append(slices.Clip(list), memReaction{emoji: c.Emoji, user: c.User, nick: c.Nickname})
	default:
		list = slices.Delete(slices.Clone(list), i, i+1)
	}
	if r.reactions == nil {
		r.reactions = make(map[int64][]memReaction)
	}
	r.reactions[c.Seq] = list
	m := r.change(c.Seq)
	m.Reactions = SummarizeReactions(len(list), func(i int) (string, string) { return list[i].emoji, list[i].nick })
	return r.message(s, c.Seq), true, nil
}

// checkNewEmoji refuses a reaction that would give a message more than
// MaxReactionEmojis distinct emojis.
func checkNewEmoji(distinct int, emoji string, present bool) error {
	if !present && distinct >= MaxReactionEmojis {
		return Errorf(CodeInvalidArgument, "a message may have at most %d different reactions; %s would be one more", MaxReactionEmojis, emoji)
	}
	return nil
}

// SummarizeReactions turns a message's reactions, oldest first (at(i)
// returns the emoji and nickname of the i-th of n), into Message.Reactions:
// per emoji in the order of its oldest reaction, the count and the first
// MaxReactionNames nicknames. nil when n is 0.
func SummarizeReactions(n int, at func(i int) (emoji, nick string)) []Reaction {
	if n == 0 {
		return nil
	}
	var out []Reaction
	for i := range n {
		e, nick := at(i)
		j := slices.IndexFunc(out, func(r Reaction) bool { return r.Emoji == e })
		if j < 0 {
			out = append(out, Reaction{Emoji: e})
			j = len(out) - 1
		}
		out[j].Count++
		if len(out[j].Users) < MaxReactionNames {
			out[j].Users = append(out[j].Users, nick)
		}
	}
	return out
}

// Changes implements Store.
func (s *MemStore) Changes(ctx context.Context, room string, afterRev int64, limit int) ([]Message, error) {
	if err := CheckChangesPage(room, afterRev, limit); err != nil {
		return nil, err
	}
	if err := s.lockRead(ctx); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	r := s.rooms[room]
	if r == nil {
		return nil, nil
	}
	var out []Message
	for i := range r.msgs {
		if r.msgs[i].Rev > afterRev {
			out = append(out, r.message(s, r.msgs[i].Seq))
		}
	}
	slices.SortFunc(out, func(a, b Message) int { return int(a.Rev - b.Rev) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// errMarkPast refuses a marker past the room's last message.
func errMarkPast(room string, seq int64) error {
	return Errorf(CodeInvalidArgument, "room %s has no message %d to mark", room, seq)
}

// Mark implements Store.
func (s *MemStore) Mark(ctx context.Context, room, user, nickname string, read, delivered int64) (ReadMark, bool, error) {
	if err := CheckMark(room, user, nickname, read, delivered); err != nil {
		return ReadMark{}, false, err
	}
	if err := s.lockWrite(ctx); err != nil {
		return ReadMark{}, false, err
	}
	defer s.mu.Unlock()
	r := s.rooms[room]
	last := int64(0)
	if r != nil {
		last = int64(len(r.msgs))
	}
	if top := max(read, delivered); top > last {
		return ReadMark{}, false, errMarkPast(room, top)
	}
	if r.reads == nil {
		r.reads = make(map[string]*ReadMark)
	}
	m := r.reads[user]
	if m == nil {
		m = &ReadMark{Room: room}
		r.reads[user] = m
	}
	nr := max(m.Read, read)
	nd := max(m.Delivered, delivered, nr)
	changed := nr != m.Read || nd != m.Delivered
	if changed || m.Nickname != nickname {
		m.Read, m.Delivered, m.Nickname, m.TS = nr, nd, nickname, NowMillis()
	}
	return *m, changed, nil
}

// RoomState implements Store.
func (s *MemStore) RoomState(ctx context.Context, room, user string, readers int) (RoomState, error) {
	if err := CheckRoomArg(room); err != nil {
		return RoomState{}, err
	}
	if readers < 0 {
		return RoomState{}, Errorf(CodeInvalidArgument, "readers must not be negative")
	}
	if err := s.lockRead(ctx); err != nil {
		return RoomState{}, err
	}
	defer s.mu.RUnlock()
	st := RoomState{Mine: ReadMark{Room: room}}
	r := s.rooms[room]
	if r == nil {
		return st, nil
	}
	st.LastRev = r.rev
	var others []ReadMark
	for u, m := range r.reads {
		if u == user {
			st.Mine = *m
		} else if readers > 0 {
			others = append(others, *m)
		}
	}
	slices.SortFunc(others, func(a, b ReadMark) int {
		if a.TS != b.TS {
			return int(b.TS - a.TS)
		}
		return strings.Compare(a.Nickname, b.Nickname)
	})
	if len(others) > readers {
		others, st.More = others[:readers], true
	}
	st.Readers = others
	return st, nil
}

// Unread implements Store.
func (s *MemStore) Unread(ctx context.Context, user string, rooms []string) ([]Unread, error) {
	if err := CheckUserKey(user); err != nil {
		return nil, err
	}
	for _, room := range rooms {
		if err := CheckRoomArg(room); err != nil {
			return nil, err
		}
	}
	if err := s.lockRead(ctx); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	var out []Unread
	for _, room := range rooms {
		r := s.rooms[room]
		if r == nil {
			continue
		}
		u := Unread{Room: room}
		if m := r.reads[user]; m != nil {
			u.Read, u.Delivered = m.Read, m.Delivered
		} else if !IsDMRoom(room) {
			continue
		}
		last := int64(len(r.msgs))
		for seq := u.Read + 1; seq <= min(last, u.Read+UnreadWindow); seq++ {
			m := &r.msgs[seq-1]
			if m.Deleted || NickKey(m.Sender) == user {
				continue
			}
			u.Unread++
			if slices.Contains(m.Mentions, user) {
				u.Mentions++
			}
		}
		if last > u.Read+UnreadWindow {
			u.Unread = UnreadWindow
		}
		out = append(out, u)
	}
	return out, nil
}

// SeenBy implements Store.
func (s *MemStore) SeenBy(ctx context.Context, room string, seq int64, limit int) (Seen, error) {
	if err := CheckRoomArg(room); err != nil {
		return Seen{}, err
	}
	if err := CheckSeq(seq); err != nil {
		return Seen{}, err
	}
	if limit < 0 {
		return Seen{}, Errorf(CodeInvalidArgument, "limit must not be negative")
	}
	if err := s.lockRead(ctx); err != nil {
		return Seen{}, err
	}
	defer s.mu.RUnlock()
	r, err := s.lookup(room, seq)
	if err != nil {
		return Seen{}, err
	}
	sender := NickKey(r.msgs[seq-1].Sender)
	var marks []ReadMark
	for u, m := range r.reads {
		if u != sender && m.Read >= seq {
			marks = append(marks, *m)
		}
	}
	slices.SortFunc(marks, func(a, b ReadMark) int {
		if a.TS != b.TS {
			return int(a.TS - b.TS)
		}
		return strings.Compare(a.Nickname, b.Nickname)
	})
	out := Seen{Count: len(marks), Nicknames: []string{}}
	for _, m := range marks[:min(limit, len(marks))] {
		out.Nicknames = append(out.Nicknames, m.Nickname)
	}
	return out, nil
}
