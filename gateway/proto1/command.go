package proto1

import (
	"bytes"
	"encoding/json"

	"github.com/banter-chat/banter/chat"
)

// The commands of protocol 1 (docs/protocol.md).
const (
	CmdHello   = "hello"
	CmdNick    = "nick"
	CmdJoin    = "join"
	CmdLeave   = "leave"
	CmdRooms   = "rooms"
	CmdSend    = "send"
	CmdDM      = "dm"
	CmdHistory = "history"
	CmdSince   = "since"
	CmdTyping  = "typing"
	CmdKick    = "kick"
	CmdDelete  = "delete"
	CmdMembers = "members"
)

// IsCommand reports whether name is a command of protocol 1.
func IsCommand(name string) bool {
	switch name {
	case CmdHello, CmdNick, CmdJoin, CmdLeave, CmdRooms, CmdSend, CmdDM, CmdHistory, CmdSince, CmdTyping, CmdKick, CmdDelete, CmdMembers:
		return true
	}
	return false
}

// MaxHelloRooms bounds rooms plus since of one hello.
const MaxHelloRooms = 50

// Command is one decoded request of protocol 1. Name selects which of the
// other fields matter; a gateway builds it with a Decode function from its
// framing, or directly (the TCP text mode, REST paths).
type Command struct {
	Name string

	// hello
	Nickname   *string   // hello (nil: not given; a token names the user), nick, kick
	Rooms      []string  // rooms to join
	Since      []RoomSeq // rooms to join in catch-up mode, in the order sent
	WatchUsers bool
	Resume     string // the token of a previous session to take over
	Token      string // a JWT

	Room     string  // join, leave, send, history, since, typing, delete, members
	To       string  // dm
	Text     *string // send, dm
	ClientID string  // send, dm
	After    *int64  // join (catch-up), since
	Before   int64   // history
	Limit    int     // join, history, since, members
	Typing   *bool   // typing
	Reason   string  // kick
	Seq      int64   // delete
	From     string  // members: the nickname the page starts after
}

// RoomSeq is one entry of hello's "since": the last seq the client has of
// a room.
type RoomSeq struct {
	Room string
	Seq  int64
}

// The decoding forms: Socket.IO passes a command's argument (a string for
// nick and leave, a string or an object for join, an object otherwise),
// the JSON framings and REST pass an object of fields.
type form uint8

const (
	formArg form = iota
	formObject
)

// DecodeArg decodes command name from its Socket.IO argument: arg is the
// event's first argument, nil when it has none. Errors are *chat.Errors
// naming the command and the culprit.
func DecodeArg(name string, arg json.RawMessage) (Command, error) {
	return decode(name, arg, formArg, name, nil)
}

// DecodeObject decodes command name from obj, a JSON object of its fields
// (a /ws frame or a TCP line: their "type" and "ref" are not fields and
// are ignored, like every unknown field).
func DecodeObject(name string, obj json.RawMessage) (Command, error) {
	return decode(name, obj, formObject, name, nil)
}

// DecodeBody is DecodeObject for an HTTP request body: an empty body is
// {}, error messages do not name the command (a route is not one), and
// path, if not nil, sets the fields the route's path carries (the room,
// the nickname) before the command is checked.
func DecodeBody(name string, body []byte, path func(*Command)) (Command, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		body = []byte("{}")
	}
	if !ValidText(body) {
		return Command{Name: name}, textError("", isTextCommand(name))
	}
	if body[0] != '{' {
		return Command{Name: name}, chat.Errorf(chat.CodeInvalidArgument, "the request body must be a JSON object")
	}
	return decode(name, body, formObject, "", path)
}

// isTextCommand: commands whose input carries message text.
func isTextCommand(name string) bool { return name == CmdSend || name == CmdDM }

func isNull(b json.RawMessage) bool {
	t := bytes.TrimSpace(b)
	return len(t) == 0 || string(t) == "null"
}

// stringArg decodes a Socket.IO argument that must be a string.
func stringArg(raw json.RawMessage, absent bool, what string, s *string) error {
	if absent {
		return chat.Errorf(chat.CodeInvalidArgument, "%s is missing", what)
	}
	return Unmarshal(raw, what, false, s)
}

func missing(code chat.Code, label, field string) error {
	return chat.Errorf(code, "%sfield %q is missing", prefix(label), field)
}

// The argument objects, per command (unknown fields are ignored, so a
// field of another command is never a type error).
type (
	helloArgs struct {
		Nickname   *string         `json:"nickname"`
		Rooms      []string        `json:"rooms"`
		Since      json.RawMessage `json:"since"`
		WatchUsers bool            `json:"watchUsers"`
		Resume     string          `json:"resume"`
		Token      string          `json:"token"`
	}
	nickArgs struct {
		Nickname *string `json:"nickname"`
	}
	roomArgs struct {
		Room string `json:"room"`
	}
	joinArgs struct {
		Room  string `json:"room"`
		After *int64 `json:"after"`
		Limit int    `json:"limit"`
	}
	sendArgs struct {
		Room     string  `json:"room"`
		Text     *string `json:"text"`
		ClientID string  `json:"clientId"`
	}
	dmArgs struct {
		To       string  `json:"to"`
		Text     *string `json:"text"`
		ClientID string  `json:"clientId"`
	}
	historyArgs struct {
		Room   string `json:"room"`
		Before int64  `json:"before"`
		Limit  int    `json:"limit"`
	}
	sinceArgs struct {
		Room  string `json:"room"`
		After *int64 `json:"after"`
		Limit int    `json:"limit"`
	}
	typingArgs struct {
		Room   string `json:"room"`
		Typing *bool  `json:"typing"`
	}
	kickArgs struct {
		Nickname *string `json:"nickname"`
		Reason   string  `json:"reason"`
	}
	deleteArgs struct {
		Room string `json:"room"`
		Seq  int64  `json:"seq"`
	}
	membersArgs struct {
		Room  string `json:"room"`
		After string `json:"after"`
		Limit int    `json:"limit"`
	}
)

func decode(name string, raw json.RawMessage, f form, label string, fill func(*Command)) (Command, error) {
	cmd := Command{Name: name}
	if !IsCommand(name) {
		return cmd, chat.Errorf(chat.CodeInvalidArgument, "unknown command %q", name)
	}
	absent := isNull(raw)
	if f == formArg {
		// Socket.IO's string forms: chat judges the value.
		switch name {
		case CmdNick:
			var nick string
			err := stringArg(raw, absent, "nick: the nickname", &nick)
			cmd.Nickname = &nick
			return cmd, err
		case CmdLeave:
			return cmd, stringArg(raw, absent, "leave: the room", &cmd.Room)
		case CmdJoin:
			if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '"' {
				return cmd, Unmarshal(raw, "join: the room", false, &cmd.Room)
			}
		case CmdMembers:
			if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '"' {
				return cmd, Unmarshal(raw, "members: the room", false, &cmd.Room)
			}
		}
		if absent && name != CmdRooms {
			return cmd, chat.Errorf(chat.CodeInvalidArgument, "%s: the argument is missing (an object)", name)
		}
	}
	if name != CmdRooms && !absent {
		if err := parse(&cmd, raw, label); err != nil {
			return cmd, err
		}
	}
	if fill != nil {
		fill(&cmd)
	}
	return cmd, validate(cmd, label)
}

// parse reads the fields of cmd.Name from the object raw.
func parse(cmd *Command, raw json.RawMessage, label string) error {
	obj := func(v any) error { return Unmarshal(raw, label, isTextCommand(cmd.Name), v) }
	switch cmd.Name {
	case CmdHello:
		var a helloArgs
		if err := obj(&a); err != nil {
			return err
		}
		since, err := orderedSince(a.Since, label)
		if err != nil {
			return err
		}
		cmd.Nickname, cmd.Rooms, cmd.Since = a.Nickname, a.Rooms, since
		cmd.WatchUsers, cmd.Resume, cmd.Token = a.WatchUsers, a.Resume, a.Token
	case CmdNick:
		var a nickArgs
		if err := obj(&a); err != nil {
			return err
		}
		cmd.Nickname = a.Nickname
	case CmdLeave:
		var a roomArgs
		if err := obj(&a); err != nil {
			return err
		}
		cmd.Room = a.Room
	case CmdJoin:
		var a joinArgs
		if err := obj(&a); err != nil {
			return err
		}
		cmd.Room, cmd.After, cmd.Limit = a.Room, a.After, a.Limit
	case CmdSend:
		var a sendArgs
		if err := obj(&a); err != nil {
			return err
		}
		cmd.Room, cmd.Text, cmd.ClientID = a.Room, a.Text, a.ClientID
	case CmdDM:
		var a dmArgs
		if err := obj(&a); err != nil {
			return err
		}
		cmd.To, cmd.Text, cmd.ClientID = a.To, a.Text, a.ClientID
	case CmdHistory:
		var a historyArgs
		if err := obj(&a); err != nil {
			return err
		}
		cmd.Room, cmd.Before, cmd.Limit = a.Room, a.Before, a.Limit
	case CmdSince:
		var a sinceArgs
		if err := obj(&a); err != nil {
			return err
		}
		cmd.Room, cmd.After, cmd.Limit = a.Room, a.After, a.Limit
	case CmdTyping:
		var a typingArgs
		if err := obj(&a); err != nil {
			return err
		}
		cmd.Room, cmd.Typing = a.Room, a.Typing
	case CmdKick:
		var a kickArgs
		if err := obj(&a); err != nil {
			return err
		}
		cmd.Nickname, cmd.Reason = a.Nickname, a.Reason
	case CmdDelete:
		var a deleteArgs
		if err := obj(&a); err != nil {
			return err
		}
		cmd.Room, cmd.Seq = a.Room, a.Seq
	case CmdMembers:
		var a membersArgs
		if err := obj(&a); err != nil {
			return err
		}
		cmd.Room, cmd.From, cmd.Limit = a.Room, a.After, a.Limit
	}
	return nil
}

// validate checks that cmd has what its command needs. A missing name is
// refused with the code of a bad one (invalid_room, invalid_nickname),
// anything else missing with invalid_argument; the values themselves are
// chat's to judge.
func validate(cmd Command, label string) error {
	switch cmd.Name {
	case CmdHello:
		if len(cmd.Rooms)+len(cmd.Since) > MaxHelloRooms {
			return chat.Errorf(chat.CodeInvalidArgument, "%sat most %d rooms in rooms and since", prefix(label), MaxHelloRooms)
		}
	case CmdNick:
		if cmd.Nickname == nil {
			return missing(chat.CodeInvalidNickname, label, "nickname")
		}
	case CmdKick:
		if cmd.Nickname == nil || *cmd.Nickname == "" {
			return missing(chat.CodeInvalidNickname, label, "nickname")
		}
	case CmdSend, CmdDM:
		switch {
		case cmd.Text == nil:
			return missing(chat.CodeInvalidArgument, label, "text")
		case cmd.Name == CmdDM && cmd.To == "":
			return missing(chat.CodeInvalidNickname, label, "to")
		case cmd.Name == CmdSend && cmd.Room == "":
			return missing(chat.CodeInvalidRoom, label, "room")
		}
	case CmdTyping:
		switch {
		case cmd.Room == "":
			return missing(chat.CodeInvalidRoom, label, "room")
		case cmd.Typing == nil:
			return missing(chat.CodeInvalidArgument, label, "typing")
		}
	case CmdJoin, CmdLeave, CmdHistory, CmdSince, CmdDelete, CmdMembers:
		if cmd.Room == "" {
			return missing(chat.CodeInvalidRoom, label, "room")
		}
	}
	return nil
}

// orderedSince decodes {"room": seq, ...} keeping the order of the keys:
// the hello answer lists join results in the order given.
func orderedSince(raw json.RawMessage, label string) ([]RoomSeq, error) {
	if isNull(raw) {
		return nil, nil
	}
	bad := chat.Errorf(chat.CodeInvalidArgument, "%s\"since\" must be an object of room: non-negative integer", prefix(label))
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, bad
	}
	var out []RoomSeq
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, bad
		}
		room, _ := tok.(string)
		if tok, err = dec.Token(); err != nil {
			return nil, bad
		}
		n, ok := tok.(json.Number)
		if !ok {
			return nil, bad
		}
		seq, err := n.Int64()
		if err != nil || seq < 0 {
			return nil, bad
		}
		out = append(out, RoomSeq{Room: room, Seq: seq})
		if len(out) > MaxHelloRooms {
			return nil, chat.Errorf(chat.CodeInvalidArgument, "%sat most %d rooms in rooms and since", prefix(label), MaxHelloRooms)
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, bad
	}
	return out, nil
}
