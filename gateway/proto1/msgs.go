package proto1

import (
	"context"

	"github.com/banter-chat/banter/chat"
)

// The commands on messages and read state (protocol 1.2, docs/protocol.md
// "Message state"): edit, react, changes, mark, seen; send and dm take
// replyTo, and delete deletes one's own messages too.
const (
	CmdEdit    = "edit"
	CmdReact   = "react"
	CmdChanges = "changes"
	CmdMark    = "mark"
	CmdSeen    = "seen"
)

func isMsgCommand(name string) bool {
	switch name {
	case CmdEdit, CmdReact, CmdChanges, CmdMark, CmdSeen:
		return true
	}
	return false
}

// The results of the commands on messages.
type (
	// MessageResult answers edit: the message as it is now.
	MessageResult struct {
		Message chat.Message `json:"message"`
	}
	// ReactResult answers react: the message's reactions now.
	ReactResult struct {
		Room      string          `json:"room"`
		Seq       int64           `json:"seq"`
		Rev       int64           `json:"rev"`
		Reactions []chat.Reaction `json:"reactions"`
	}
	// ChangesResult answers changes: messages changed after the rev asked
	// for, in rev order; More says a next page follows (ask again after
	// the last rev).
	ChangesResult struct {
		Room     string         `json:"room"`
		Messages []chat.Message `json:"messages"`
		More     bool           `json:"more"`
	}
	// SeenResult answers seen.
	SeenResult struct {
		Room      string   `json:"room"`
		Seq       int64    `json:"seq"`
		Count     int      `json:"count"`
		Nicknames []string `json:"nicknames"`
	}
)

// The argument objects of the commands on messages.
type (
	editArgs struct {
		Room string  `json:"room"`
		Seq  int64   `json:"seq"`
		Text *string `json:"text"`
	}
	reactArgs struct {
		Room   string `json:"room"`
		Seq    int64  `json:"seq"`
		Emoji  string `json:"emoji"`
		Remove bool   `json:"remove"`
	}
	changesArgs struct {
		Room  string `json:"room"`
		After *int64 `json:"after"`
		Limit int    `json:"limit"`
	}
	markArgs struct {
		Room      string `json:"room"`
		Read      int64  `json:"read"`
		Delivered int64  `json:"delivered"`
	}
	seenArgs struct {
		Room string `json:"room"`
		Seq  int64  `json:"seq"`
	}
)

// parseMsg reads the fields of a command on messages.
func parseMsg(cmd *Command, obj func(any) error) error {
	switch cmd.Name {
	case CmdEdit:
		var a editArgs
		if err := obj(&a); err != nil {
			return err
		}
		cmd.Room, cmd.Seq, cmd.Text = a.Room, a.Seq, a.Text
	case CmdReact:
		var a reactArgs
		if err := obj(&a); err != nil {
			return err
		}
		cmd.Room, cmd.Seq, cmd.Emoji, cmd.Remove = a.Room, a.Seq, a.Emoji, a.Remove
	case CmdChanges:
		var a changesArgs
		if err := obj(&a); err != nil {
			return err
		}
		cmd.Room, cmd.After, cmd.Limit = a.Room, a.After, a.Limit
	case CmdMark:
		var a markArgs
		if err := obj(&a); err != nil {
			return err
		}
		cmd.Room, cmd.Read, cmd.Delivered = a.Room, a.Read, a.Delivered
	case CmdSeen:
		var a seenArgs
		if err := obj(&a); err != nil {
			return err
		}
		cmd.Room, cmd.Seq = a.Room, a.Seq
	}
	return nil
}

// validateMsg checks that a command on messages has what it needs.
func validateMsg(cmd Command, label string) error {
	if !isMsgCommand(cmd.Name) {
		return nil
	}
	if cmd.Room == "" {
		return missing(chat.CodeInvalidRoom, label, "room")
	}
	switch cmd.Name {
	case CmdEdit:
		if cmd.Text == nil {
			return missing(chat.CodeInvalidArgument, label, "text")
		}
		if cmd.Seq == 0 {
			return missing(chat.CodeInvalidArgument, label, "seq")
		}
	case CmdReact:
		if cmd.Emoji == "" {
			return missing(chat.CodeInvalidArgument, label, "emoji")
		}
		if cmd.Seq == 0 {
			return missing(chat.CodeInvalidArgument, label, "seq")
		}
	case CmdSeen:
		if cmd.Seq == 0 {
			return missing(chat.CodeInvalidArgument, label, "seq")
		}
	case CmdMark:
		if cmd.Read == 0 && cmd.Delivered == 0 {
			return chat.Errorf(chat.CodeInvalidArgument, "%sgive \"read\" or \"delivered\" (a message seq)", prefix(label))
		}
	}
	return nil
}

// execMsg runs a command on messages; ok is false for other commands.
func (c *Conn) execMsg(ctx context.Context, cmd Command, sess *chat.Session) (res any, ok bool, err error) {
	canon := func() string {
		name, _ := chat.NormalizeRoom(cmd.Room) // the call succeeded: valid
		return name
	}
	switch cmd.Name {
	case CmdEdit:
		if cmd.Text == nil {
			return nil, true, missing(chat.CodeInvalidArgument, CmdEdit, "text")
		}
		m, err := sess.Edit(ctx, cmd.Room, cmd.Seq, *cmd.Text)
		if err != nil {
			return nil, true, err
		}
		return MessageResult{Message: m}, true, nil
	case CmdReact:
		m, err := sess.React(ctx, cmd.Room, cmd.Seq, cmd.Emoji, !cmd.Remove)
		if err != nil {
			return nil, true, err
		}
		rs := m.Reactions
		if rs == nil {
			rs = []chat.Reaction{}
		}
		return ReactResult{Room: m.Room, Seq: m.Seq, Rev: m.Rev, Reactions: rs}, true, nil
	case CmdChanges:
		var after int64
		if cmd.After != nil {
			after = *cmd.After
		}
		limit, err := c.srv.svc.PageLimit(cmd.Limit)
		if err != nil {
			return nil, true, err
		}
		msgs, err := sess.Changes(ctx, cmd.Room, after, limit)
		if err != nil {
			return nil, true, err
		}
		return ChangesResult{Room: canon(), Messages: msgs, More: len(msgs) == limit}, true, nil
	case CmdMark:
		m, err := sess.Mark(ctx, cmd.Room, cmd.Read, cmd.Delivered)
		if err != nil {
			return nil, true, err
		}
		return m, true, nil
	case CmdSeen:
		seen, err := sess.Seen(ctx, cmd.Room, cmd.Seq)
		if err != nil {
			return nil, true, err
		}
		return SeenResult{Room: canon(), Seq: cmd.Seq, Count: seen.Count, Nicknames: seen.Nicknames}, true, nil
	}
	return nil, false, nil
}
