package chat

import (
	"context"
	"strconv"
	"strings"
)

// Message state: what changes about a message after it is stored, and a
// user's position in a room.
//
// Edits, deletions and reactions change a stored message in place: its
// Seq never changes and no Seq is added (clients that predate them see the
// same gap-free sequence). Each change takes the next value of the room's
// change counter (its rev, 1, 2, 3… per room, gap-free, assigned by the
// Store like Seq) and the message records the rev of its last change. A
// client that remembers the highest rev it has seen of a room asks
// Changes for the messages changed since: that is catch-up for changes,
// as Since is for new messages (docs/protocol.md, "Edits, deletions and
// reactions").

// Quote is what a reply shows of the message it answers: read from the
// Store with the reply, so that an edit or a deletion of the original
// shows in every quote of it.
type Quote struct {
	ID   string `json:"id"`
	Seq  int64  `json:"seq"`
	From string `json:"from"`
	Text string `json:"text"` // the first QuoteRunes characters; "" when deleted
	// File is the name of the original's file ("" for none), so that a
	// reply to a file without a caption quotes something.
	File    string `json:"file,omitempty"`
	Deleted bool   `json:"deleted,omitempty"`
}

// QuoteRunes is how much of the original text a Quote carries.
const QuoteRunes = 200

// Reaction is one emoji's reactions to a message: how many users, and the
// first MaxReactionNames of them (by time).
type Reaction struct {
	Emoji string   `json:"emoji"`
	Count int      `json:"count"`
	Users []string `json:"users"`
}

// Limits on reactions and mentions. They are part of protocol version 1.
const (
	MaxEmojiBytes       = 32 // one emoji, ZWJ sequences and flags included
	MaxReactionEmojis   = 20 // distinct emojis on one message
	MaxReactionNames    = 20 // nicknames listed per emoji (Count has them all)
	MaxMentions         = 20 // distinct @nicknames one message counts
	UnreadWindow        = 1000
	DefaultEditWindowMS = 24 * 60 * 60 * 1000
)

// Edit is a change of a message's text (Store.Edit).
type Edit struct {
	Room     string
	Seq      int64
	Text     string
	Mentions []string // NickKeys (ParseMentions of Text)
	TS       int64    // the edit's time, Unix ms; 0 = the Store's clock
}

// ReactionChange adds or removes one user's reaction (Store.React).
type ReactionChange struct {
	Room     string
	Seq      int64
	Emoji    string
	User     string // NickKey of the reacting user: one reaction per user and emoji
	Nickname string // as displayed
	Add      bool
	TS       int64 // 0 = the Store's clock
}

// ReadMark is one user's position in a room: the last message read and
// the last one delivered to one of its devices (Delivered >= Read).
type ReadMark struct {
	Room      string `json:"room"`
	Nickname  string `json:"nickname"`
	Read      int64  `json:"read"`
	Delivered int64  `json:"delivered"`
	TS        int64  `json:"ts"` // last change, Unix ms
}

// RoomState is what a joiner learns about a room besides its messages
// (Store.RoomState).
type RoomState struct {
	LastRev int64      // the room's change counter
	Mine    ReadMark   // the user's own marker (zero Read and Delivered: none)
	Readers []ReadMark // the other users' markers, most recent first
	More    bool       // more readers than asked for
}

// Unread counts what a user has not read in a room (Store.Unread).
type Unread struct {
	Room      string
	Read      int64 // the user's marker (0: none)
	Delivered int64
	Unread    int // others' messages after Read, not deleted; UnreadWindow means at least that
	Mentions  int // of those, the ones that mention the user
}

// Seen answers "who has read message Seq" (Store.SeenBy).
type Seen struct {
	Count     int
	Nicknames []string // the first of them, by time; empty when not asked
}

// MessageStore is the part of Store that changes messages after they are
// stored and keeps each user's read state. Its methods follow the Store
// contract (errors, Close, ctx); chat/storetest checks them.
type MessageStore interface {
	// MessageByID returns the message with server id id, in any room.
	// ErrNotFound if there is none (an id that is not one of the Store's
	// is not found either).
	MessageByID(ctx context.Context, id string) (Message, error)
	// Edit replaces the text (and mentions) of message e.Seq of e.Room,
	// sets its Edited time and gives it the room's next rev. A deleted
	// message cannot be edited (CodeInvalidArgument); a room or seq that
	// does not exist is ErrNotFound. Who may edit is the Service's rule.
	Edit(ctx context.Context, e Edit) (Message, error)
	// React adds or removes c.User's c.Emoji reaction to a message and
	// returns the message with its reactions. changed is false when there
	// was nothing to do (the reaction existed, or did not); only a change
	// takes a rev. Reacting to a deleted message is CodeInvalidArgument,
	// and so is a new emoji past MaxReactionEmojis.
	React(ctx context.Context, c ReactionChange) (m Message, changed bool, err error)
	// Changes returns up to limit messages of room whose rev is greater
	// than afterRev, in ascending rev order, in their current state.
	Changes(ctx context.Context, room string, afterRev int64, limit int) ([]Message, error)
	// Mark moves user's read marker in room forward: to read and
	// delivered when they are greater (0 leaves one as it is; Delivered
	// is raised to Read). nickname is recorded for "seen by" lists.
	// Marking past the room's last seq is CodeInvalidArgument. changed
	// is false when nothing moved.
	Mark(ctx context.Context, room, user, nickname string, read, delivered int64) (m ReadMark, changed bool, err error)
	// RoomState returns room's rev, user's marker and up to readers
	// markers of the other users (0: none asked).
	RoomState(ctx context.Context, room, user string, readers int) (RoomState, error)
	// Unread counts, for each room of rooms (canonical) in which user has
	// a marker, and for each DM room of rooms whatever its marker, the
	// messages after the marker (at most the UnreadWindow ones right
	// after it) that others sent and are not deleted, and those of them
	// that mention user. Other rooms are left out.
	Unread(ctx context.Context, user string, rooms []string) ([]Unread, error)
	// SeenBy counts the users other than its sender whose marker in room
	// has reached seq, and lists up to limit of them (0: count only).
	SeenBy(ctx context.Context, room string, seq int64, limit int) (Seen, error)
}

// CheckEdit validates an Edit the way every Store must.
func CheckEdit(e Edit) error {
	if err := CheckRoomArg(e.Room); err != nil {
		return err
	}
	if err := CheckSeq(e.Seq); err != nil {
		return err
	}
	if err := CheckText(e.Text, MaxStoredTextBytes); err != nil {
		return err
	}
	if e.TS < 0 {
		return Errorf(CodeInvalidArgument, "negative timestamp")
	}
	return CheckMentions(e.Mentions)
}

// CheckReactionChange validates a ReactionChange the way every Store must.
func CheckReactionChange(c ReactionChange) error {
	if err := CheckRoomArg(c.Room); err != nil {
		return err
	}
	if err := CheckSeq(c.Seq); err != nil {
		return err
	}
	if err := CheckEmoji(c.Emoji); err != nil {
		return err
	}
	if err := CheckUserKey(c.User); err != nil {
		return err
	}
	if _, err := NormalizeNickname(c.Nickname); err != nil {
		return err
	}
	if c.TS < 0 {
		return Errorf(CodeInvalidArgument, "negative timestamp")
	}
	return nil
}

// CheckMark validates the arguments of Store.Mark.
func CheckMark(room, user, nickname string, read, delivered int64) error {
	if err := CheckRoomArg(room); err != nil {
		return err
	}
	if err := CheckUserKey(user); err != nil {
		return err
	}
	if _, err := NormalizeNickname(nickname); err != nil {
		return err
	}
	if read < 0 || delivered < 0 {
		return Errorf(CodeInvalidArgument, "sequence number must not be negative")
	}
	if read == 0 && delivered == 0 {
		return Errorf(CodeInvalidArgument, "give the seq read or delivered")
	}
	return nil
}

// CheckChangesPage validates the arguments of Store.Changes.
func CheckChangesPage(room string, afterRev int64, limit int) error {
	if err := CheckRoomArg(room); err != nil {
		return err
	}
	if afterRev < 0 {
		return Errorf(CodeInvalidArgument, "rev must not be negative")
	}
	if limit < 1 || limit > MaxPageLimit {
		return Errorf(CodeInvalidArgument, "limit must be between 1 and %d", MaxPageLimit)
	}
	return nil
}

// CheckUserKey validates a NickKey given as a user of a Store method.
func CheckUserKey(user string) error {
	if user == "" || strings.ContainsAny(user, ":\n") || strings.IndexFunc(user, isControl) >= 0 {
		return Errorf(CodeInvalidNickname, "not a nickname key: %q", user)
	}
	return nil
}

// CheckMentions validates mention keys: at most MaxMentions NickKeys.
func CheckMentions(keys []string) error {
	if len(keys) > MaxMentions {
		return Errorf(CodeInvalidArgument, "at most %d mentions", MaxMentions)
	}
	for _, k := range keys {
		if err := CheckUserKey(k); err != nil {
			return err
		}
	}
	return nil
}

// ParseID reads a message id as the Stores make them (a positive decimal
// integer); ok is false for anything else.
func ParseID(id string) (int64, bool) {
	n, err := strconv.ParseInt(id, 10, 64)
	return n, err == nil && n > 0 && strconv.FormatInt(n, 10) == id
}

// EncodeMentions is how Stores keep mention keys in one text column:
// "\nkey\nkey\n" (keys hold no control character), "" for none, so that a
// user's mentions are found with a substring search for "\n"+key+"\n".
func EncodeMentions(keys []string) string {
	if len(keys) == 0 {
		return ""
	}
	return "\n" + strings.Join(keys, "\n") + "\n"
}

// DecodeMentions reverses EncodeMentions.
func DecodeMentions(s string) []string {
	s = strings.Trim(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// MentionNeedle is what a Store searches the encoded mentions for.
func MentionNeedle(user string) string { return "\n" + user + "\n" }
