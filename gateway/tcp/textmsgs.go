package tcp

import (
	"strconv"
	"strings"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/gateway/proto1"
)

// Text mode and message state. A terminal shows no seqs, so its commands
// act on the last messages of the current room: /edit TEXT and /unsend
// on one's own last message, /react EMOJI on the last message, /reply
// TEXT answers it; /unread lists the rooms with something unread. Posting
// in a room, or joining it, marks it read (the user is looking at it).
// Edits, reactions and replies are shown as lines of their own.

const textMsgHelp = `* on messages: /edit TEXT (your last one), /unsend (delete your last one), /react EMOJI (the last one), /reply TEXT, /unread`

// encodeMsgEvent renders the events on messages (encodeText).
func encodeMsgEvent(ev *chat.Event) (string, bool) {
	switch ev.Kind {
	case chat.EventEdited:
		m := ev.Message
		return "* " + m.Sender + " edited a message in " + m.Room + ": " + firstLine(m.Text), true
	case chat.EventReaction:
		r := ev.Reaction
		verb := " reacted " + r.Emoji + " to"
		if !r.Added {
			verb = " took back " + r.Emoji + " from"
		}
		return "* " + r.Nickname + verb + " message " + strconv.FormatInt(r.Seq, 10) + " of " + r.Room, true
	case chat.EventRead:
		return "", true // not shown: too chatty for a terminal
	}
	return "", false
}

// firstLine is what a one-line notice shows of a text.
func firstLine(text string) string {
	line, _, more := strings.Cut(text, "\n")
	if r := []rune(line); len(r) > 60 {
		line, more = string(r[:60]), true
	}
	if more {
		line += "…"
	}
	return line
}

// messageNote is what formatMessage shows between the sender and the
// text: a reply's addressee, an edit, a deletion.
func messageNote(m *chat.Message) (note, text string) {
	text = m.Text
	if m.ReplyTo != nil {
		note = " (replying to " + m.ReplyTo.From + ")"
	}
	switch {
	case m.Deleted:
		text = "(deleted)"
	case m.Edited > 0:
		note += " (edited)"
	}
	return note, text
}

// textMsgCommand runs the text-mode commands on messages; false for
// others.
func (c *conn) textMsgCommand(cmd, arg string) bool {
	switch cmd {
	case "edit", "unsend", "react", "reply":
	case "unread":
		c.unread()
		return true
	default:
		return false
	}
	if c.room == "" {
		c.line("! not_member: join a room first (/join ROOM)")
		return true
	}
	if (cmd == "edit" || cmd == "react" || cmd == "reply") && arg == "" {
		c.line("! invalid_argument: usage: /" + cmd + " " + map[string]string{"edit": "TEXT", "react": "EMOJI", "reply": "TEXT"}[cmd])
		return true
	}
	target, err := c.lastMessage(cmd == "edit" || cmd == "unsend")
	if err != nil {
		c.fail(err)
		return true
	}
	switch cmd {
	case "edit":
		_, err = c.proto.Run(proto1.Command{Name: proto1.CmdEdit, Room: c.room, Seq: target.Seq, Text: &arg})
	case "unsend":
		if _, err = c.proto.Run(proto1.Command{Name: proto1.CmdDelete, Room: c.room, Seq: target.Seq}); err == nil {
			c.say("your message %d of %s was deleted", target.Seq, c.room)
		}
	case "react":
		_, err = c.proto.Run(proto1.Command{Name: proto1.CmdReact, Room: c.room, Seq: target.Seq, Emoji: arg})
	case "reply":
		var res any
		res, err = c.proto.Run(proto1.Command{Name: proto1.CmdSend, Room: c.room, Text: &arg, ReplyTo: target.ID})
		if err == nil {
			c.markRead(c.room, res.(proto1.SendResult).Seq)
		}
	}
	if err != nil {
		c.fail(err)
	}
	return true
}

// lastMessage finds the last message of the current room that is not
// deleted, the user's own if own.
func (c *conn) lastMessage(own bool) (chat.Message, error) {
	res, err := c.proto.Run(proto1.Command{Name: proto1.CmdHistory, Room: c.room, Limit: 50})
	if err != nil {
		return chat.Message{}, err
	}
	me := chat.NickKey(c.proto.Session().Nickname())
	msgs := res.(proto1.PageResult).Messages
	for i := len(msgs) - 1; i >= 0; i-- {
		if m := msgs[i]; !m.Deleted && (!own || chat.NickKey(m.Sender) == me) {
			return m, nil
		}
	}
	if own {
		return chat.Message{}, chat.Errorf(chat.CodeNotFound, "you have no recent message in %s", c.room)
	}
	return chat.Message{}, chat.Errorf(chat.CodeNotFound, "%s has no message yet", c.room)
}

// markRead marks room read up to seq; a failure is not the user's
// concern (the marker only feeds unread counts).
func (c *conn) markRead(room string, seq int64) {
	if seq > 0 {
		_, _ = c.proto.Run(proto1.Command{Name: proto1.CmdMark, Room: room, Read: seq})
	}
}

// unread lists the rooms with unread messages.
func (c *conn) unread() {
	res, err := c.proto.Run(proto1.Command{Name: proto1.CmdRooms})
	if err != nil {
		c.fail(err)
		return
	}
	found := false
	for _, r := range res.(proto1.RoomsResult).Rooms {
		if r.Read == nil || r.Read.Unread == 0 {
			continue
		}
		found = true
		n := strconv.Itoa(r.Read.Unread)
		if r.Read.Unread >= chat.UnreadWindow {
			n = strconv.Itoa(chat.UnreadWindow) + "+"
		}
		line := r.Name + ": " + n + " unread"
		if r.Read.Mentions > 0 {
			line += " (" + strconv.Itoa(r.Read.Mentions) + " mentioning you)"
		}
		c.say("%s", line)
	}
	if !found {
		c.say("nothing unread")
	}
}
