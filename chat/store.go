package chat

import (
	"context"
	"time"
)

// Draft is a message to append: everything but what the Store assigns.
type Draft struct {
	Room     string // canonical room name (NormalizeRoom)
	Sender   string // the sender's nickname as displayed (NormalizeNickname)
	Text     string
	ClientID string // optional; de-duplication key, see Store.Append
	TS       int64  // server time in Unix milliseconds; 0 = the Store's clock
	// ReplyTo is the id of the message of the same room this one answers
	// ("" for none); the Service checks it, the Store keeps it.
	ReplyTo string
	// Mentions are the NickKeys of the users the text mentions
	// (ParseMentions).
	Mentions []string
	// File, if set, is stored with the message (its Attachment); Text
	// may then be empty (files.go).
	File *FileDraft
}

// Message is a stored chat message. Values are immutable once returned:
// a Message inside an Event is shared by every recipient.
type Message struct {
	ID       string `json:"id"`   // unique in the Store, opaque to clients
	Room     string `json:"room"` // canonical room name
	Seq      int64  `json:"seq"`  // 1, 2, 3… per room, gap-free
	Sender   string `json:"from"`
	Text     string `json:"text"`
	ClientID string `json:"clientId,omitempty"`
	TS       int64  `json:"ts"` // server time, Unix milliseconds
	// Deleted marks a tombstone: a moderator deleted the message
	// (Store.Delete). Text is empty; Seq, ID, Sender and TS stay, so that
	// sequence numbers remain gap-free.
	Deleted bool `json:"deleted,omitempty"`
	// Edited is when the sender last edited the text (Unix ms; 0: never).
	Edited int64 `json:"edited,omitempty"`
	// Rev is the room's change counter at the message's last edit,
	// deletion or reaction (0: unchanged since stored); see msgstore.go.
	Rev int64 `json:"rev,omitempty"`
	// ReplyTo is the message this one answers, as it is now.
	ReplyTo *Quote `json:"replyTo,omitempty"`
	// Reactions are the emoji reactions, each emoji in the order of its
	// oldest reaction.
	Reactions []Reaction `json:"reactions,omitempty"`
	// Mentions are the NickKeys of the users the text mentions.
	Mentions []string `json:"mentions,omitempty"`
	// Attachment is the message's file, nil for none (and for a
	// tombstone: the file is deleted with its message).
	Attachment *Attachment `json:"attachment,omitempty"`
	// Duplicate is set by Append when ClientID was seen before: the Message
	// is the original one and nothing was stored.
	Duplicate bool `json:"-"`
}

// RoomInfo summarizes one room of a Store.
type RoomInfo struct {
	Name    string `json:"room"`
	LastSeq int64  `json:"lastSeq"`
	Count   int64  `json:"count"`  // messages stored (LastSeq unless history was pruned)
	LastTS  int64  `json:"lastTs"` // time of the last message, Unix ms
	// Read is the caller's read state of the room (Session.Rooms), nil
	// when it never marked the room read (and it is not its DM room).
	Read *RoomRead `json:"read,omitempty"`
}

// RoomRead is a user's read state of a room in a room list.
type RoomRead struct {
	Seq       int64 `json:"seq"`       // the last message read
	Delivered int64 `json:"delivered"` // the last message delivered to a device
	Unread    int   `json:"unread"`    // messages of others after Seq (UnreadWindow: at least that many)
	Mentions  int   `json:"mentions"`  // of those, the ones mentioning the user
}

// Limits every Store enforces, whatever the Service is configured with.
const (
	// MaxPageLimit is the largest limit History and Since accept.
	MaxPageLimit = 1000
	// MaxStoredTextBytes bounds Draft.Text; Config.MaxMessageBytes may not
	// exceed it.
	MaxStoredTextBytes = 64 << 10
)

// Store is durable message history. Every implementation must pass the
// conformance suite in chat/storetest. All methods are safe for concurrent
// use and honour ctx; a method called after Close returns ErrUnavailable.
//
// Errors are *Error values: CodeInvalidRoom / CodeInvalidArgument /
// CodeInvalidNickname / CodeEmptyMessage / CodeInvalidMessage /
// CodeMessageTooLarge for bad input, CodeUnavailable when closed or when the
// storage fails; a context error is returned wrapped (errors.Is(err,
// context.Canceled) holds).
type Store interface {
	// Append stores d as the next message of d.Room and returns it with its
	// ID, Seq and TS. The room's next Seq is assigned inside the store's
	// transaction, so sequence numbers are gap-free even with many
	// concurrent appenders. The message is durable (survives a crash of the
	// process) before Append returns.
	//
	// If d.ClientID is not empty and a message with the same Room,
	// NickKey(Sender) and ClientID exists, Append stores nothing and returns
	// that original message with Duplicate set (the original text even if
	// d.Text differs). The de-duplication scope is therefore per room and
	// per user: a client may reuse its ids in other rooms.
	//
	// If Append returns an error, the message was not stored: a context
	// that ends while the append is already being committed is waited for.
	Append(ctx context.Context, d Draft) (Message, error)
	// History returns up to limit messages of room with Seq < beforeSeq, the
	// newest ones, in ascending Seq order. beforeSeq 0 means "from the
	// latest". limit must be 1..MaxPageLimit. An unknown room has no
	// messages (not an error).
	History(ctx context.Context, room string, beforeSeq int64, limit int) ([]Message, error)
	// Since returns up to limit messages of room with Seq > afterSeq, in
	// ascending order (catch-up). afterSeq must be >= 0.
	Since(ctx context.Context, room string, afterSeq int64, limit int) ([]Message, error)
	// LastSeq returns the Seq of the newest message of room, 0 if none.
	LastSeq(ctx context.Context, room string) (int64, error)
	// Rooms lists every room with at least one message, ordered by name.
	Rooms(ctx context.Context) ([]RoomInfo, error)
	// Delete turns message seq of room into a tombstone (Deleted set,
	// Text emptied, the Attachment and its file deleted, everything else
	// kept) and returns it. Deleting a
	// tombstone again changes nothing and returns it. A room or seq that
	// does not exist is ErrNotFound. The change is durable before Delete
	// returns; an Append retried with the deleted message's client id
	// still answers with the (deleted) original.
	//
	// Deleting takes the room's next rev (MessageStore) and removes the
	// message's reactions and mentions; deleting a tombstone takes none.
	Delete(ctx context.Context, room string, seq int64) (Message, error)
	// MessageStore: edits, reactions, changes and read markers.
	MessageStore
	// Close waits for appends in progress, then releases resources.
	// Calling it again returns nil.
	Close() error

	FileStore // files of messages (files.go)
	Searcher  // full-text search (search.go)
}

// CheckDraft validates a Draft the way every Store must before appending it.
// Room must already be canonical. Stores call it so that bad input gets the
// same error from every implementation.
func CheckDraft(d Draft) error {
	if room, err := NormalizeRoom(d.Room); err != nil {
		return err
	} else if room != d.Room {
		return Errorf(CodeInvalidRoom, "room name %q is not canonical (want %q)", d.Room, room)
	}
	if nick, err := NormalizeNickname(d.Sender); err != nil {
		return err
	} else if nick != d.Sender {
		return Errorf(CodeInvalidNickname, "sender nickname has surrounding white space")
	}
	if d.File == nil || d.Text != "" {
		if err := CheckText(d.Text, MaxStoredTextBytes); err != nil {
			return err
		}
	}
	if d.File != nil {
		if err := CheckFileDraft(d.File); err != nil {
			return err
		}
	}
	if err := CheckClientID(d.ClientID); err != nil {
		return err
	}
	if d.TS < 0 {
		return Errorf(CodeInvalidArgument, "negative timestamp")
	}
	if _, ok := ParseID(d.ReplyTo); d.ReplyTo != "" && !ok {
		return Errorf(CodeInvalidArgument, "replyTo %q is not a message id", d.ReplyTo)
	}
	return CheckMentions(d.Mentions)
}

// CheckRoomArg validates the room argument of a Store read method.
func CheckRoomArg(room string) error {
	canon, err := NormalizeRoom(room)
	if err != nil {
		return err
	}
	if canon != room {
		return Errorf(CodeInvalidRoom, "room name %q is not canonical (want %q)", room, canon)
	}
	return nil
}

// CheckSeq validates the seq argument of Delete.
func CheckSeq(seq int64) error {
	if seq < 1 {
		return Errorf(CodeInvalidArgument, "sequence number must be at least 1")
	}
	return nil
}

// CheckPage validates the seq and limit arguments of History and Since.
func CheckPage(seq int64, limit int) error {
	if seq < 0 {
		return Errorf(CodeInvalidArgument, "sequence number must not be negative")
	}
	if limit < 1 || limit > MaxPageLimit {
		return Errorf(CodeInvalidArgument, "limit must be between 1 and %d", MaxPageLimit)
	}
	return nil
}

// NowMillis is the Store clock: Unix time in milliseconds.
func NowMillis() int64 { return time.Now().UnixMilli() }
