package chatclient

import (
	"context"

	"github.com/banter-chat/banter/client"
)

// Message state (protocol 1.2, docs/protocol.md "Message state"): replies,
// edits, deletions, reactions, read markers. The client keeps, per room,
// the highest change rev it has seen; after a reconnect a room it held
// catches up with the changes it missed (ChangedEvent for each, in its
// current state) right after its messages.

// Quote is what a reply shows of the message it answers, as it is now.
type Quote struct {
	ID      string `json:"id"`
	Seq     int64  `json:"seq"`
	From    string `json:"from"`
	Text    string `json:"text"`
	File    string `json:"file,omitempty"` // the name of the original's file
	Deleted bool   `json:"deleted,omitempty"`
}

// Reaction is one emoji's reactions to a message.
type Reaction struct {
	Emoji string   `json:"emoji"`
	Count int      `json:"count"`
	Users []string `json:"users"`
}

// ReadMark is a user's position in a room.
type ReadMark struct {
	Room      string `json:"room"`
	Nickname  string `json:"nickname"`
	Read      int64  `json:"read"`
	Delivered int64  `json:"delivered"`
	TS        int64  `json:"ts"`
}

// RoomRead is the user's read state of a room in RoomList.
type RoomRead struct {
	Seq       int64 `json:"seq"`
	Delivered int64 `json:"delivered"`
	Unread    int   `json:"unread"`
	Mentions  int   `json:"mentions"`
}

// Events of message state.
type (
	// ChangedEvent: a message changed, in its current state: edited live,
	// or changed (edited, deleted, reacted to) while the client was away.
	ChangedEvent struct{ Message Message }
	// DeletedEvent: message Seq of Room was deleted by By.
	DeletedEvent struct {
		Room string
		Seq  int64
		By   string
		Rev  int64
	}
	// ReactionEvent: Nickname added (Added) or took back Emoji on message
	// Seq, which now has Reactions.
	ReactionEvent struct {
		Room      string
		Seq, Rev  int64
		Emoji     string
		Nickname  string
		Added     bool
		Reactions []Reaction
	}
	// ReadEvent: read markers moved (the user's own, on every device; or
	// others', in rooms that are not large).
	ReadEvent struct {
		Room    string
		Readers []ReadMark
	}
)

// noteRev records a change's rev for its room.
func (c *Client) noteRev(room string, rev int64) {
	c.mu.Lock()
	if rm := c.rooms[room]; rm != nil && rev > rm.lastRev {
		rm.lastRev = rev
	}
	c.mu.Unlock()
}

// onStateEvents registers the handlers of the message-state events.
func (c *Client) onStateEvents() {
	c.sock.On("edited", func(ev *client.Event) {
		var m Message
		if ev.Bind(0, &m) == nil {
			c.noteRev(m.Room, m.Rev)
			c.emit(ChangedEvent{Message: m})
		}
	})
	c.sock.On("deleted", func(ev *client.Event) {
		var d DeletedEvent
		if ev.Bind(0, &struct {
			Room *string `json:"room"`
			Seq  *int64  `json:"seq"`
			By   *string `json:"by"`
			Rev  *int64  `json:"rev"`
		}{&d.Room, &d.Seq, &d.By, &d.Rev}) == nil {
			c.noteRev(d.Room, d.Rev)
			c.emit(d)
		}
	})
	c.sock.On("reaction", func(ev *client.Event) {
		var r ReactionEvent
		if ev.Bind(0, &struct {
			Room      *string     `json:"room"`
			Seq       *int64      `json:"seq"`
			Rev       *int64      `json:"rev"`
			Emoji     *string     `json:"emoji"`
			Nickname  *string     `json:"nickname"`
			Added     *bool       `json:"added"`
			Reactions *[]Reaction `json:"reactions"`
		}{&r.Room, &r.Seq, &r.Rev, &r.Emoji, &r.Nickname, &r.Added, &r.Reactions}) == nil {
			c.noteRev(r.Room, r.Rev)
			c.emit(r)
		}
	})
	c.sock.On("read", func(ev *client.Event) {
		var r ReadEvent
		if ev.Bind(0, &struct {
			Room    *string     `json:"room"`
			Readers *[]ReadMark `json:"readers"`
		}{&r.Room, &r.Readers}) == nil {
			c.emit(r)
		}
	})
}

// catchUpChanges delivers the changes of room after rev after, each
// message in its current state, and records the room's rev.
func (c *Client) catchUpChanges(ctx context.Context, room string, after int64) error {
	for {
		// c.call, not retry: this runs inside hello, before the session
		// counts as established.
		var r struct {
			Messages []Message
			More     bool
		}
		if err := c.call(ctx, "changes", &r, map[string]any{"room": room, "after": after, "limit": 200}); err != nil {
			return err
		}
		msgs, more := r.Messages, r.More
		for _, m := range msgs {
			after = max(after, m.Rev)
			c.emit(ChangedEvent{Message: m})
		}
		c.noteRev(room, after)
		if !more || len(msgs) == 0 {
			return nil
		}
	}
}

// Changes returns the messages of room changed after rev after, in rev
// order and their current state, and whether more follow.
func (c *Client) Changes(ctx context.Context, room string, after int64) ([]Message, bool, error) {
	var r struct {
		Messages []Message
		More     bool
	}
	err := c.retry(ctx, "changes", &r, map[string]any{"room": room, "after": after, "limit": 200})
	return r.Messages, r.More, err
}

// Reply posts text to room as an answer to the message whose id is
// replyTo (of the same room). Retried like Send.
func (c *Client) Reply(ctx context.Context, room, replyTo, text string) (SendResult, error) {
	var r SendResult
	err := c.retry(ctx, "send", &r, map[string]any{"room": room, "text": text, "replyTo": replyTo, "clientId": c.clientID()})
	return r, err
}

// Edit replaces the text of the user's own message seq of room (within
// the server's edit window) and returns it as it is now.
func (c *Client) Edit(ctx context.Context, room string, seq int64, text string) (Message, error) {
	var r struct{ Message Message }
	err := c.call(ctx, "edit", &r, map[string]any{"room": room, "seq": seq, "text": text})
	if err == nil {
		c.noteRev(r.Message.Room, r.Message.Rev)
	}
	return r.Message, err
}

// Delete deletes message seq of room: the user's own (within the edit
// window), or any for admins.
func (c *Client) Delete(ctx context.Context, room string, seq int64) error {
	return c.call(ctx, "delete", nil, map[string]any{"room": room, "seq": seq})
}

// React adds (or, add false, takes back) the user's emoji reaction to
// message seq of room and returns the message's reactions now.
func (c *Client) React(ctx context.Context, room string, seq int64, emoji string, add bool) ([]Reaction, error) {
	var r struct{ Reactions []Reaction }
	err := c.call(ctx, "react", &r, map[string]any{"room": room, "seq": seq, "emoji": emoji, "remove": !add})
	return r.Reactions, err
}

// Mark tells the server the user has read room up to seq.
func (c *Client) Mark(ctx context.Context, room string, seq int64) error {
	return c.call(ctx, "mark", nil, map[string]any{"room": room, "read": seq})
}

// Seen returns how many users other than its sender have read message seq
// of room, and who (none listed in large rooms).
func (c *Client) Seen(ctx context.Context, room string, seq int64) (int, []string, error) {
	var r struct {
		Count     int
		Nicknames []string
	}
	err := c.call(ctx, "seen", &r, map[string]any{"room": room, "seq": seq})
	return r.Count, r.Nicknames, err
}
