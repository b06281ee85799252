package tcp

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/gateway/proto1"
)

// Text mode: lines for humans at a terminal (nc, telnet). Server lines
// start with "[room] " (messages), "* " (information) or "! " (errors).
// Every line passes chat.PrintableLine (message texts chat.Printable)
// before it is queued: control characters from peers never reach a
// terminal.

const textHelp = `* commands: /token JWT, /nick NAME, /join ROOM, /leave [ROOM], /rooms, /who [ROOM], /msg NICK TEXT, /history [N], /kick NICK [REASON], /delete ROOM SEQ, /quit, /help
* any other line is sent to the current room`

type keyText struct{}

var textFormat = &proto1.Format{Key: keyText{}, Event: encodeText, Bye: textDisconnect}

func textBye(reason string) []byte { return []byte("* bye (" + reason + ")") }

func textDisconnect(d *chat.Disconnect) []byte {
	if d.Reason == chat.ReasonKicked {
		line := "* bye (kicked by " + d.By
		if d.Message != "" {
			line += ": " + d.Message
		}
		return []byte(chat.PrintableLine(line + ")"))
	}
	return textBye(string(d.Reason))
}

// encodeText renders a chat event as one line (once per event for every
// text-mode client); typing and user events are not shown (too chatty for
// a terminal).
func encodeText(ev *chat.Event) ([]byte, error) {
	var line string
	switch ev.Kind {
	case chat.EventMessage:
		return []byte(formatMessage(ev.Message)), nil
	case chat.EventDeleted:
		d := ev.Deleted
		line = "* message " + strconv.FormatInt(d.Seq, 10) + " of " + d.Room + " was deleted by " + d.By
	case chat.EventMembers:
		m := ev.Members
		if m.Large {
			line = "* " + strconv.Itoa(m.Count) + " people in " + m.Room
		} else {
			line = "* in " + m.Room + ": " + strings.Join(m.Nicknames, ", ")
		}
	case chat.EventPresence:
		p := ev.Presence
		switch p.Action {
		case chat.PresenceJoined:
			line = "* " + p.Nickname + " joined " + p.Room
		case chat.PresenceLeft:
			line = "* " + p.Nickname + " left " + p.Room
		case chat.PresenceRenamed:
			line = "* " + p.From + " is now known as " + p.Nickname
		case chat.PresenceKicked:
			line = "* " + p.Nickname + " was kicked from " + p.Room + " by " + p.By
			if p.Reason != "" {
				line += " (" + p.Reason + ")"
			}
		}
	}
	if line == "" {
		return nil, nil
	}
	return []byte(chat.PrintableLine(line)), nil
}

// formatMessage is "[room] from: text"; line breaks in the text become
// indented continuation lines so one message never looks like two.
func formatMessage(m *chat.Message) string {
	text := strings.ReplaceAll(strings.ReplaceAll(m.Text, "\r\n", "\n"), "\n", "\n    ")
	return chat.PrintableLine("["+m.Room+"] "+m.Sender+": ") + chat.Printable(text)
}

// line queues one line for the client, made safe for its terminal.
func (c *conn) line(s string) { c.Send([]byte(chat.PrintableLine(s)), false) }

func (c *conn) say(format string, args ...any) { c.line("* " + fmt.Sprintf(format, args...)) }

func (c *conn) fail(err error) {
	code, msg := chat.ClientError(err)
	c.line("! " + string(code) + ": " + msg)
}

// textLine runs one line of text mode.
func (c *conn) textLine(line string) {
	sess := c.proto.Session()
	if !strings.HasPrefix(line, "/") {
		if sess == nil {
			c.nick(line) // the first plain line is the nickname
			return
		}
		if c.room == "" {
			c.line("! not_member: join a room first (/join ROOM)")
			return
		}
		if _, err := c.proto.Run(proto1.Command{Name: proto1.CmdSend, Room: c.room, Text: &line}); err != nil {
			c.fail(err)
		}
		return
	}
	cmd, arg, _ := strings.Cut(strings.TrimSpace(line[1:]), " ")
	arg = strings.TrimSpace(arg)
	switch strings.ToLower(cmd) {
	case "help":
		c.Send([]byte(textHelp), false)
		return
	case "quit":
		c.bye("quit")
		return
	case "nick":
		c.nick(arg)
		return
	case "token":
		c.token(arg)
		return
	}
	if sess == nil {
		c.line("! not_connected: choose a nickname first (/nick NAME)")
		return
	}
	switch strings.ToLower(cmd) {
	case "join":
		c.join(arg)
	case "leave":
		room := arg
		if room == "" {
			room = c.room
		}
		res, err := c.proto.Run(proto1.Command{Name: proto1.CmdLeave, Room: room})
		if err != nil {
			c.fail(err)
			return
		}
		left := res.(proto1.RoomResult).Room
		c.say("you left %s", left)
		if left == c.room {
			c.room = ""
			if joined := sess.Joined(); len(joined) > 0 {
				c.room = joined[0]
				c.say("you are now talking in %s", c.room)
			}
		}
	case "rooms":
		res, err := c.proto.Run(proto1.Command{Name: proto1.CmdRooms})
		if err != nil {
			c.fail(err)
			return
		}
		rooms := res.(proto1.RoomsResult).Rooms
		if len(rooms) == 0 {
			c.say("no rooms with messages yet")
		}
		for _, r := range rooms {
			c.say("%s (%d messages)", r.Name, r.Count)
		}
	case "who":
		room := arg
		if room == "" {
			room = c.room
		}
		members, err := c.g.proto.Service().Members(room)
		if err == nil && chat.IsDMRoom(room) {
			err = chat.ErrForbidden // DM membership is private
		}
		if err != nil {
			c.fail(err)
			return
		}
		c.say("in %s: %s", room, strings.Join(members, ", "))
	case "delete":
		room, seqText, _ := strings.Cut(arg, " ")
		seq, err := strconv.ParseInt(strings.TrimSpace(seqText), 10, 64)
		if room == "" || err != nil {
			c.line("! invalid_argument: usage: /delete ROOM SEQ")
			return
		}
		if _, err := c.proto.Run(proto1.Command{Name: proto1.CmdDelete, Room: room, Seq: seq}); err != nil {
			c.fail(err)
			return
		}
		c.say("message %d of %s deleted", seq, room)
	case "kick":
		nick, reason, _ := strings.Cut(arg, " ")
		if nick == "" {
			c.line("! invalid_argument: usage: /kick NICK [REASON]")
			return
		}
		if _, err := c.proto.Run(proto1.Command{Name: proto1.CmdKick, Nickname: &nick, Reason: strings.TrimSpace(reason)}); err != nil {
			c.fail(err)
			return
		}
		c.say("%s was kicked", nick)
	case "msg":
		to, text, _ := strings.Cut(arg, " ")
		if to == "" {
			c.line("! invalid_argument: usage: /msg NICK TEXT")
			return
		}
		if _, err := c.proto.Run(proto1.Command{Name: proto1.CmdDM, To: to, Text: &text}); err != nil {
			c.fail(err)
		}
	case "history":
		n := 10
		if arg != "" {
			v, err := strconv.Atoi(arg)
			if err != nil || v < 1 {
				c.line("! invalid_argument: usage: /history [N], N a positive number")
				return
			}
			n = v
		}
		if c.room == "" {
			c.line("! not_member: join a room first (/join ROOM)")
			return
		}
		res, err := c.proto.Run(proto1.Command{Name: proto1.CmdHistory, Room: c.room, Limit: n})
		if err != nil {
			c.fail(err)
			return
		}
		for _, m := range res.(proto1.PageResult).Messages {
			c.Send([]byte(formatMessage(&m)), false)
		}
	default:
		c.line("! invalid_argument: unknown command /" + cmd + " (/help lists them)")
	}
}

// nick starts the session (joining the default room) or renames it.
func (c *conn) nick(name string) {
	if c.proto.Session() != nil {
		res, err := c.proto.Run(proto1.Command{Name: proto1.CmdNick, Nickname: &name})
		if err != nil {
			c.fail(err)
			return
		}
		c.say("you are now known as %s", res.(proto1.NickResult).Nickname)
		return
	}
	c.hello(proto1.Command{Name: proto1.CmdHello, Nickname: &name})
}

// token starts the session with a JWT: the nickname is the token's.
func (c *conn) token(tok string) {
	if c.proto.Session() != nil {
		c.line("! invalid_argument: /token comes first, before the session starts")
		return
	}
	if tok == "" {
		c.line("! invalid_argument: usage: /token JWT")
		return
	}
	c.hello(proto1.Command{Name: proto1.CmdHello, Token: tok})
}

func (c *conn) hello(cmd proto1.Command) {
	res, err := c.proto.Run(cmd)
	if err != nil {
		c.fail(err)
		if proto1.IsAuthError(err) {
			if cmd.Token == "" {
				c.line("* this server needs a token: /token JWT")
			}
			c.bye(string(chat.ErrorCode(err)))
		}
		return
	}
	c.say("welcome, %s (/help for commands)", res.(proto1.HelloResult).Nickname)
	c.join(c.g.proto.Service().DefaultRoom())
}

// join joins room, makes it current and shows its last messages.
func (c *conn) join(room string) {
	if room == "" {
		c.line("! invalid_argument: usage: /join ROOM")
		return
	}
	res, err := c.proto.Run(proto1.Command{Name: proto1.CmdJoin, Room: room, Limit: 10})
	if err != nil {
		c.fail(err)
		return
	}
	jr := res.(chat.JoinResult)
	c.room = jr.Room
	c.say("you are now talking in %s (members: %s)", jr.Room, strings.Join(jr.Members, ", "))
	for _, m := range jr.Messages {
		c.Send([]byte(formatMessage(&m)), false)
	}
}
