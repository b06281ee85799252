package chatui

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/banter-chat/banter/chat"
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
// "[room] nick: text", each line of a multi-line message with that prefix,
// with control characters made visible (chat.Printable). It returns at the
// end of input once every message is stored, at /quit, or when ctx ends;
// the error says which lines could not be sent and why (never their text).
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
	// wait for the echo of the last message sent; joined the rooms whose
	// join (and with it the history page) was printed.
	var seenMu sync.Mutex
	seen := map[string]int64{}
	joined := map[string]bool{}
	seenCh := make(chan struct{}, 1)
	startRooms := c.Joined()
	go func() {
		defer close(printed)
		for {
			select {
			case <-ctx.Done():
				return
			case e := <-ev.ch:
				if text := linesFor(e); text != "" {
					printf("%s", text)
				}
				seenMu.Lock()
				switch e := e.(type) {
				case chatclient.MessageEvent:
					seen[e.Message.Room] = max(seen[e.Message.Room], e.Message.Seq)
				case chatclient.JoinedEvent:
					joined[e.Room] = true
				}
				seenMu.Unlock()
				select {
				case seenCh <- struct{}{}:
				default:
				}
			}
		}
	}()
	defer func() { cancel(); <-printed }()

	room := o.Room
	limit := c.Hello().Limits.MaxMessageBytes
	lines := make(chan inputLine)
	readErr := make(chan error, 1)
	go func() {
		defer close(lines)
		readErr <- readLines(ctx, in, keepBytes(limit), lines)
	}()
	var fails failures
	var lastRoom string
	var lastSeq int64
	read := 0
	for {
		var l inputLine
		var ok bool
		select {
		case <-ctx.Done():
			return fails.err()
		case l, ok = <-lines:
		}
		if !ok {
			break
		}
		read++
		if l.size > len(l.text) { // longer than anything the server accepts
			err := tooLarge(l.size, limit)
			printf("! line %d not sent: %s\n", l.n, Describe(err))
			fails.add(l.n, err)
			continue
		}
		if strings.TrimSpace(l.text) == "" {
			continue
		}
		cmd, err := parseCommand(l.text)
		if err != nil {
			printf("! %s\n", Describe(err))
			continue
		}
		if cmd.name == "quit" {
			return fails.err()
		}
		if cmd.name == "help" {
			printf("%s\n", Help)
			continue
		}
		next, notice, sent, err := execute(ctx, c, cmd, room)
		if err != nil {
			printf("! line %d not sent: %s\n", l.n, Describe(err))
			fails.add(l.n, err)
			continue
		}
		room = next
		if sent.Seq > 0 {
			lastRoom, lastSeq = sent.Room, sent.Seq
		}
		if notice != "" {
			printf("* %s\n", chat.PrintableLine(notice))
		}
	}
	if err := <-readErr; err != nil {
		printf("! reading the input: %s\n", Describe(err))
		fails.add(0, fmt.Errorf("reading the input: %w", err))
	}
	if o.Follow {
		<-ctx.Done()
	}
	// Before leaving, print the history of the rooms joined at the start
	// and the echo of the last message sent (the server sends every message
	// to its sender too, right after the ack), so the output shows it was
	// posted. Bounded: a server that lost the echo must not hang a script.
	limitT := time.NewTimer(5 * time.Second)
	defer limitT.Stop()
	for {
		seenMu.Lock()
		done := seen[lastRoom] >= lastSeq
		for _, r := range startRooms {
			done = done && joined[r]
		}
		seenMu.Unlock()
		if done {
			break
		}
		select {
		case <-seenCh:
		case <-limitT.C:
			return fails.err()
		case <-ctx.Done():
			return fails.err()
		}
	}
	if read == 0 {
		printf("* end of input: nothing was sent (pipe lines in to post them, or use --follow to keep printing messages)\n")
	}
	return fails.err()
}

// failures are the input lines that could not be sent.
type failures struct {
	n     int
	first string
}

func (f *failures) add(line int, err error) {
	f.n++
	if f.first == "" {
		f.first = Describe(err)
		if line > 0 {
			f.first = fmt.Sprintf("line %d: %s", line, f.first)
		}
	}
}

func (f *failures) err() error {
	switch f.n {
	case 0:
		return nil
	case 1:
		return fmt.Errorf("1 line not sent: %s", f.first)
	}
	return fmt.Errorf("%d lines not sent; the first: %s", f.n, f.first)
}

// tooLarge is the local refusal of a message over the server's limit, worded
// like the server's.
func tooLarge(size, limit int) error {
	if limit <= 0 { // a server that announced no limit: line mode's own bound
		return &chatclient.Error{Code: "message_too_large",
			Message: fmt.Sprintf("the line is %d bytes; line mode reads at most %d", size, keepBytes(0))}
	}
	return &chatclient.Error{Code: "message_too_large",
		Message: fmt.Sprintf("the message is %d bytes; the server accepts at most %d", size, limit)}
}

// checkSize refuses a command whose message text is over the limit before
// it is sent.
func checkSize(cmd command, limit int) error {
	text := cmd.arg
	if cmd.name == "dm" {
		text = cmd.arg2
	} else if cmd.name != "" {
		return nil
	}
	if limit > 0 && len(text) > limit {
		return tooLarge(len(text), limit)
	}
	return nil
}

// keepBytes is how much of an input line line mode keeps: a message at the
// limit plus room for a command ("/dm NICK "). Longer lines are only
// measured.
func keepBytes(limit int) int {
	if limit <= 0 {
		return 1 << 20
	}
	return limit + 1024
}

// inputLine is one line of input: its number (from 1), its text without
// the line end, and its size in bytes; size > len(text) when the line was
// longer than the reader keeps.
type inputLine struct {
	n    int
	text string
	size int
}

// readLines reads lines of any length from in: it keeps the first keep
// bytes of each and measures the rest, so that a huge line is reported and
// the lines after it are still read. A final line without "\n" counts;
// "\r\n" ends a line like "\n".
func readLines(ctx context.Context, in io.Reader, keep int, out chan<- inputLine) error {
	r := bufio.NewReaderSize(in, 64<<10)
	for n := 1; ; n++ {
		var buf []byte
		size := 0
		var err error
		for {
			var chunk []byte
			chunk, err = r.ReadSlice('\n')
			size += len(chunk)
			if room := keep - len(buf); room > 0 {
				buf = append(buf, chunk[:min(len(chunk), room)]...)
			}
			if err != bufio.ErrBufferFull {
				break
			}
		}
		if err != nil && err != io.EOF {
			return err
		}
		if size == 0 {
			return nil // end of input
		}
		if err == nil { // the line ends with "\n": not part of the text
			if len(buf) == size {
				buf = buf[:len(buf)-1]
			}
			size--
		}
		if len(buf) == size && size > 0 && buf[size-1] == '\r' {
			buf, size = buf[:size-1], size-1
		}
		select {
		case out <- inputLine{n: n, text: string(buf), size: size}:
		case <-ctx.Done():
			return nil
		}
		if err == io.EOF {
			return nil
		}
	}
}

// execute runs a command and returns the new current room, a notice, and
// what was stored if it sent a message.
func execute(ctx context.Context, c *chatclient.Client, cmd command, room string) (newRoom, notice string, sent chatclient.SendResult, err error) {
	if err := checkSize(cmd, c.Hello().Limits.MaxMessageBytes); err != nil {
		return room, "", sent, err
	}
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

// linesFor renders an event for line mode, "" for events it does not show:
// one line per line of a message, each with the "[room] nick: " prefix,
// every string from the server made printable.
func linesFor(e chatclient.Event) string {
	line := chat.PrintableLine
	switch e := e.(type) {
	case chatclient.MessageEvent:
		m := e.Message
		prefix := "[" + line(m.Room) + "] " + line(m.From) + ": "
		var b strings.Builder
		for _, l := range strings.Split(m.Text, "\n") {
			b.WriteString(prefix + chat.Printable(l) + "\n")
		}
		return b.String()
	case chatclient.PresenceEvent:
		if e.Action == "renamed" {
			return fmt.Sprintf("* [%s] %s is now %s\n", line(e.Room), line(e.From), line(e.Nickname))
		}
		return fmt.Sprintf("* [%s] %s %s\n", line(e.Room), line(e.Nickname), line(e.Action))
	case chatclient.StateEvent:
		if e.Connected {
			return "* connected as " + line(e.Nickname) + "\n"
		}
		if e.Attempt > 0 {
			return fmt.Sprintf("* reconnecting (attempt %d, in %v)\n", e.Attempt, e.Delay.Round(time.Millisecond))
		}
		return "* disconnected: " + line(e.Reason) + "\n"
	case chatclient.ByeEvent:
		return "* server closing the connection: " + line(e.Reason) + "\n"
	case chatclient.ErrorEvent:
		return "! " + Describe(e.Err) + "\n"
	}
	return ""
}
