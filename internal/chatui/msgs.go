package chatui

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/client/chatclient"
)

// Message state in `banter chat` (protocol 1.2): a terminal shows no seqs,
// so the commands act on the current room's last messages — /edit and
// /delete on one's own last one, /react and /reply on the last one — and
// /unread lists the rooms with unread messages. Edits, deletions,
// reactions and replies are shown in both UIs.

const msgHelp = `  /reply TEXT       answer the room's last message
  /react EMOJI      react to the room's last message (again: take it back)
  /edit TEXT        replace the text of your last message in the room
  /delete           delete your last message in the room
  /unread           rooms with unread messages (and mentions of you)`

// parseMsgCommand parses the commands on messages; ok is false for others.
func parseMsgCommand(c command) (command, bool, error) {
	switch c.name {
	case "reply", "react", "edit":
		if c.arg == "" {
			return c, true, fmt.Errorf("usage: /%s %s", c.name, map[string]string{"reply": "TEXT", "react": "EMOJI", "edit": "TEXT"}[c.name])
		}
	case "delete", "unsend":
		c.name = "delete"
	case "unread":
	default:
		return c, false, nil
	}
	return c, true, nil
}

// lastMessage finds the last message of room that is not deleted, the
// user's own if own.
func lastMessage(ctx context.Context, c *chatclient.Client, room string, own bool) (chatclient.Message, error) {
	if room == "" {
		return chatclient.Message{}, fmt.Errorf("no room: /join one first")
	}
	msgs, err := c.History(ctx, room, 0, 50)
	if err != nil {
		return chatclient.Message{}, err
	}
	me := chat.NickKey(c.Nickname())
	for i := len(msgs) - 1; i >= 0; i-- {
		if m := msgs[i]; !m.Deleted && (!own || chat.NickKey(m.From) == me) {
			return m, nil
		}
	}
	if own {
		return chatclient.Message{}, fmt.Errorf("you have no recent message in %s", room)
	}
	return chatclient.Message{}, fmt.Errorf("%s has no message yet", room)
}

// executeMsg runs a command on messages (execute).
func executeMsg(ctx context.Context, c *chatclient.Client, cmd command, room string) (notice string, sent chatclient.SendResult, err error) {
	if cmd.name == "unread" {
		return unreadNotice(ctx, c)
	}
	target, err := lastMessage(ctx, c, room, cmd.name == "edit" || cmd.name == "delete")
	if err != nil {
		return "", sent, err
	}
	switch cmd.name {
	case "reply":
		sent, err = c.Reply(ctx, room, target.ID, cmd.arg)
		if err == nil {
			_ = c.Mark(ctx, room, sent.Seq)
		}
		return "", sent, err
	case "edit":
		_, err = c.Edit(ctx, room, target.Seq, cmd.arg)
		return "", sent, err
	case "delete":
		if err = c.Delete(ctx, room, target.Seq); err != nil {
			return "", sent, err
		}
		return "your message was deleted", sent, nil
	default: // react: again takes it back
		mine := slices.ContainsFunc(target.Reactions, func(r chatclient.Reaction) bool {
			return r.Emoji == cmd.arg && slices.ContainsFunc(r.Users, func(u string) bool { return chat.NickKey(u) == chat.NickKey(c.Nickname()) })
		})
		_, err = c.React(ctx, room, target.Seq, cmd.arg, !mine)
		return "", sent, err
	}
}

// unreadNotice lists the rooms with unread messages.
func unreadNotice(ctx context.Context, c *chatclient.Client) (string, chatclient.SendResult, error) {
	rs, err := c.RoomList(ctx)
	if err != nil {
		return "", chatclient.SendResult{}, err
	}
	var parts []string
	for _, r := range rs {
		if r.Read == nil || r.Read.Unread == 0 {
			continue
		}
		s := r.Room + ": " + unreadCount(r.Read.Unread)
		if r.Read.Mentions > 0 {
			s += fmt.Sprintf(" (%d mentioning you)", r.Read.Mentions)
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return "nothing unread", chatclient.SendResult{}, nil
	}
	return "unread: " + strings.Join(parts, ", "), chatclient.SendResult{}, nil
}

func unreadCount(n int) string {
	if n >= chat.UnreadWindow {
		return strconv.Itoa(chat.UnreadWindow) + "+"
	}
	return strconv.Itoa(n)
}

// messageNote is what a message line shows between the sender and the
// text: the addressee of a reply, "(edited)"; and the text, "(deleted)"
// for a tombstone.
func messageNote(m chatclient.Message) (note, text string) {
	text = messageText(m) // with its file
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

// reactionsText is a message's reactions on one line: " [👍 2 🎉 1]".
func reactionsText(rs []chatclient.Reaction) string {
	if len(rs) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString(" [")
	for i, r := range rs {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(r.Emoji + " " + strconv.Itoa(r.Count))
	}
	return b.String() + "]"
}

// msgLinesFor renders the events of message state for line mode; ok is
// false for other events.
func msgLinesFor(e chatclient.Event) (string, bool) {
	line := chat.PrintableLine
	switch e := e.(type) {
	case chatclient.ChangedEvent:
		m := e.Message
		if m.Deleted {
			return fmt.Sprintf("* [%s] a message of %s was deleted\n", line(m.Room), line(m.From)), true
		}
		return fmt.Sprintf("* [%s] %s edited a message: %s%s\n", line(m.Room), line(m.From), line(m.Text), line(reactionsText(m.Reactions))), true
	case chatclient.DeletedEvent:
		return fmt.Sprintf("* [%s] message %d was deleted by %s\n", line(e.Room), e.Seq, line(e.By)), true
	case chatclient.ReactionEvent:
		verb := "reacted " + e.Emoji + " to"
		if !e.Added {
			verb = "took back " + e.Emoji + " from"
		}
		return fmt.Sprintf("* [%s] %s %s message %d%s\n", line(e.Room), line(e.Nickname), line(verb), e.Seq, line(reactionsText(e.Reactions))), true
	case chatclient.ReadEvent:
		return "", true // markers move all the time: not shown
	}
	return "", false
}

// applyMsg takes the events of message state into the full-screen model;
// false for other events.
func (m *model) applyMsg(ev chatclient.Event) bool {
	find := func(room string, seq int64) *line {
		r := m.rooms[room]
		if r == nil {
			return nil
		}
		for i := range r.lines {
			if r.lines[i].seq == seq {
				return &r.lines[i]
			}
		}
		return nil
	}
	switch e := ev.(type) {
	case chatclient.ChangedEvent:
		if l := find(e.Message.Room, e.Message.Seq); l != nil {
			l.msg = e.Message
			l.text = messageText(e.Message)
		}
	case chatclient.DeletedEvent:
		if l := find(e.Room, e.Seq); l != nil {
			l.msg.Deleted, l.msg.Reactions, l.text = true, nil, ""
		}
	case chatclient.ReactionEvent:
		if l := find(e.Room, e.Seq); l != nil {
			l.msg.Reactions = e.Reactions
		}
	case chatclient.ReadEvent:
		if r := m.rooms[e.Room]; r != nil && e.Room != m.cur {
			for _, mk := range e.Readers {
				if chat.NickKey(mk.Nickname) == chat.NickKey(m.c.Nickname()) && mk.Read >= r.lastSeq {
					r.unread, r.mentions = 0, 0 // read on another device
				}
			}
		}
	default:
		return false
	}
	return true
}

// markRead marks the current room read up to its last message, at most
// once every two seconds (the server keeps the marker for every device).
func (m *model) markRead() tea.Cmd {
	r := m.rooms[m.cur]
	if r == nil || r.lastSeq <= r.marked || time.Since(r.markedAt) < 2*time.Second {
		return nil
	}
	r.marked, r.markedAt = r.lastSeq, time.Now()
	c, ctx, room, seq := m.c, m.ctx, m.cur, r.lastSeq
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_ = c.Mark(ctx, room, seq)
		return nil
	}
}

// unreadMsg carries the server's unread counts to the model.
type unreadMsg struct{ rooms []chatclient.RoomInfo }

// loadUnread asks the server for the unread counts (at start).
func (m *model) loadUnread() tea.Cmd {
	c, ctx := m.c, m.ctx
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		rs, _ := c.RoomList(ctx)
		return unreadMsg{rooms: rs}
	}
}

func (m *model) applyUnread(msg unreadMsg) {
	for _, ri := range msg.rooms {
		r := m.rooms[ri.Room]
		if r == nil || ri.Read == nil || ri.Room == m.cur {
			continue
		}
		r.unread, r.mentions = ri.Read.Unread, ri.Read.Mentions
	}
}
