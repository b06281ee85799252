package chatui

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/banter-chat/banter/client/chatclient"
)

// Events carries a client's events to a UI. Pass Events.Push as
// chatclient.Config.OnEvent.
type Events struct{ ch chan chatclient.Event }

// NewEvents returns an event channel; Push blocks when the UI is 4096
// events behind (the client's queue then holds the rest).
func NewEvents() *Events { return &Events{ch: make(chan chatclient.Event, 4096)} }

// Push delivers an event to the UI.
func (e *Events) Push(ev chatclient.Event) { e.ch <- ev }

// LineOptions configures RunLines.
type LineOptions struct {
	Room string // the current room for plain lines
	// Follow keeps printing messages after the input ends, until ctx ends
	// (for `banter chat < /dev/null` as a room monitor). Default: exit once
	// every line is sent.
	Follow bool
}

// RunLines is the line mode: every input line is a message to the current
// room or a command; every message received is printed as
// "[room] nick: text". It returns at the end of input once every message is
// stored (an error if one could not be), at /quit, or when ctx ends.
func RunLines(ctx context.Context, c *chatclient.Client, ev *Events, in io.Reader, out io.Writer, o LineOptions) error {
	var mu sync.Mutex // out
	printf := func(format string, args ...any) {
		mu.Lock()
		fmt.Fprintf(out, format, args...)
		mu.Unlock()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	printed := make(chan struct{})
	// seen is the highest seq printed per room, so the end of input can
	// wait for the echo of the last message sent.
	var seenMu sync.Mutex
	seen := map[string]int64{}
	seenCh := make(chan struct{}, 1)
	go func() {
		defer close(printed)
		for {
			select {
			case <-ctx.Done():
				return
			case e := <-ev.ch:
				if line := lineFor(e, c.Nickname()); line != "" {
					printf("%s\n", line)
				}
				if m, ok := e.(chatclient.MessageEvent); ok {
					seenMu.Lock()
					seen[m.Message.Room] = max(seen[m.Message.Room], m.Message.Seq)
					seenMu.Unlock()
					select {
					case seenCh <- struct{}{}:
					default:
					}
				}
			}
		}
	}()
	defer func() { cancel(); <-printed }()

	room := o.Room
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	lines := make(chan string)
	go func() {
		defer close(lines)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	var failed error
	var lastRoom string
	var lastSeq int64
	for {
		var line string
		var ok bool
		select {
		case <-ctx.Done():
			return failed
		case line, ok = <-lines:
		}
		if !ok {
			break
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		cmd, err := parseCommand(line)
		if err != nil {
			printf("! %v\n", err)
			continue
		}
		if cmd.name == "quit" {
			return failed
		}
		if cmd.name == "help" {
			printf("%s\n", Help)
			continue
		}
		next, out, sent, err := execute(ctx, c, cmd, room)
		if err != nil {
			printf("! %v\n", err)
			failed = fmt.Errorf("chat: %s: %w", strings.TrimSpace(line), err)
			continue
		}
		room = next
		if sent.Seq > 0 {
			lastRoom, lastSeq = sent.Room, sent.Seq
		}
		if out != "" {
			printf("* %s\n", out)
		}
	}
	if o.Follow {
		<-ctx.Done()
	}
	// Print the echo of the last message sent (the server sends every
	// message to its sender too, right after the ack) before leaving, so
	// the output shows it was posted. Bounded: a DM to oneself is refused,
	// but a server that lost the echo must not hang a script.
	if lastSeq > 0 {
		limit := time.NewTimer(5 * time.Second)
		defer limit.Stop()
		for {
			seenMu.Lock()
			done := seen[lastRoom] >= lastSeq
			seenMu.Unlock()
			if done {
				break
			}
			select {
			case <-seenCh:
			case <-limit.C:
				return failed
			case <-ctx.Done():
				return failed
			}
		}
	}
	return failed
}

// execute runs a command and returns the new current room, a notice, and
// what was stored if it sent a message.
func execute(ctx context.Context, c *chatclient.Client, cmd command, room string) (newRoom, notice string, sent chatclient.SendResult, err error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	switch cmd.name {
	case "":
		if room == "" {
			return room, "", sent, fmt.Errorf("no room: /join one first")
		}
		sent, err = c.Send(ctx, room, cmd.arg)
		return room, "", sent, err
	case "join":
		jr, err := c.Join(ctx, cmd.arg)
		if err != nil {
			return room, "", sent, err
		}
		return jr.Room, fmt.Sprintf("joined %s (%d online)", jr.Room, len(jr.Members)), sent, nil
	case "leave":
		r := cmd.arg
		if r == "" {
			r = room
		}
		if err := c.Leave(ctx, r); err != nil {
			return room, "", sent, err
		}
		if r == room {
			room = ""
			if j := c.Joined(); len(j) > 0 {
				room = j[0]
			}
		}
		return room, "left " + r, sent, nil
	case "dm":
		sent, err = c.DM(ctx, cmd.arg, cmd.arg2)
		return room, "", sent, err
	case "nick":
		if err := c.Nick(ctx, cmd.arg); err != nil {
			return room, "", sent, err
		}
		return room, "you are now " + c.Nickname(), sent, nil
	case "rooms":
		rs, err := c.RoomList(ctx)
		if err != nil {
			return room, "", sent, err
		}
		var b strings.Builder
		for i, r := range rs {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s (%d)", r.Room, r.Count)
		}
		if len(rs) == 0 {
			b.WriteString("no rooms with messages")
		}
		return room, b.String(), sent, nil
	}
	return room, "", sent, fmt.Errorf("unknown command %q", cmd.name)
}

// lineFor renders an event for line mode; "" for events it does not show.
func lineFor(e chatclient.Event, me string) string {
	switch e := e.(type) {
	case chatclient.MessageEvent:
		m := e.Message
		return fmt.Sprintf("[%s] %s: %s", m.Room, m.From, m.Text)
	case chatclient.PresenceEvent:
		if e.Action == "renamed" {
			return fmt.Sprintf("* [%s] %s is now %s", e.Room, e.From, e.Nickname)
		}
		return fmt.Sprintf("* [%s] %s %s", e.Room, e.Nickname, e.Action)
	case chatclient.StateEvent:
		if e.Connected {
			return "* connected as " + e.Nickname
		}
		if e.Attempt > 0 {
			return fmt.Sprintf("* reconnecting (attempt %d, in %v)", e.Attempt, e.Delay.Round(time.Millisecond))
		}
		return "* disconnected: " + e.Reason
	case chatclient.ByeEvent:
		return "* server closing the connection: " + e.Reason
	case chatclient.ErrorEvent:
		return "! " + e.Err.Error()
	}
	return ""
}
