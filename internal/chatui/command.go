// Package chatui is the user interface of `banter chat`: a full-screen
// terminal UI (Run, on bubbletea) and a plain line mode for pipes and
// scripts (RunLines), both over client/chatclient.
//
// Entry points: Run and RunLines take a connected *chatclient.Client whose
// events are fed through an Events channel (see NewEvents). Both return
// when the user quits (/quit, Ctrl-C, end of input) or ctx ends; neither
// closes the client. Not for concurrent use: one UI per client.
package chatui

import (
	"fmt"
	"strings"

	"github.com/banter-chat/banter/chat"
)

// command is a parsed input line.
type command struct {
	name string // "" for a plain message
	arg  string // the rest of the line
	arg2 string // /dm's text
}

// Help lists the commands.
const Help = `Commands:
  /join ROOM        join a room (and switch to it)
  /leave [ROOM]     leave a room (default: the current one)
  /dm NICK TEXT     send a direct message
  /nick NAME        change your nickname
  /rooms            list rooms with messages
  /quit             leave (also Ctrl-C)
  /help             this text
Anything else is sent to the current room. In the full-screen UI: Tab and
Shift-Tab switch rooms, PgUp/PgDn scroll (older history loads at the top).`

// parseCommand reads one input line. Lines starting with "//" send a
// message that starts with "/".
func parseCommand(line string) (command, error) {
	if !strings.HasPrefix(line, "/") || strings.HasPrefix(line, "//") {
		if strings.HasPrefix(line, "//") {
			line = line[1:]
		}
		return command{arg: line}, nil
	}
	name, rest, _ := strings.Cut(line[1:], " ")
	rest = strings.TrimSpace(rest)
	c := command{name: strings.ToLower(name), arg: rest}
	switch c.name {
	case "join", "nick":
		if rest == "" || strings.Contains(rest, " ") {
			return c, fmt.Errorf("usage: /%s %s", c.name, map[string]string{"join": "ROOM", "nick": "NAME"}[c.name])
		}
	case "dm", "msg":
		c.name = "dm"
		to, text, _ := strings.Cut(rest, " ")
		if to == "" || strings.TrimSpace(text) == "" {
			return c, fmt.Errorf("usage: /dm NICK TEXT")
		}
		c.arg, c.arg2 = to, text
	case "leave", "part":
		c.name = "leave"
	case "quit", "exit", "q":
		c.name = "quit"
	case "help", "?":
		c.name = "help"
	case "rooms":
	default:
		return c, fmt.Errorf("unknown command /%s (try /help)", name)
	}
	return c, nil
}

// dmPeer returns the other user of a DM room "dm:a:b" (nickname keys) as
// seen by me.
func dmPeer(room, me string) (string, bool) {
	a, b, ok := chat.DMParticipants(room)
	if !ok {
		return "", false
	}
	if a == chat.NickKey(me) {
		return b, true
	}
	return a, true
}
