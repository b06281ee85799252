package chatui

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/textinput"
	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/client/chatclient"
)

// Options configures Run.
type Options struct {
	URL  string // shown in the header
	Room string // the room shown first
	// TeaOptions are passed to bubbletea (tests set input and output).
	TeaOptions []tea.ProgramOption
}

// Run is the full-screen UI. It restores the terminal before it returns,
// also when ctx ends or the client fails.
func Run(ctx context.Context, c *chatclient.Client, ev *Events, o Options) error {
	m := newModel(ctx, c, ev, o)
	opts := append([]tea.ProgramOption{tea.WithAltScreen(), tea.WithContext(ctx)}, o.TeaOptions...)
	p := tea.NewProgram(m, opts...)
	_, err := p.Run()
	if err != nil && ctx.Err() != nil {
		return nil // stopped by a signal: a clean exit
	}
	return err
}

// line is one entry of a room's scroll-back.
type line struct {
	seq  int64 // 0 for notices
	ts   time.Time
	from string
	text string
}

type roomView struct {
	lines    []line
	members  []string
	typing   []string
	unread   int
	firstSeq int64 // oldest message held
	more     bool  // older history on the server
	loading  bool
}

type model struct {
	ctx   context.Context
	c     *chatclient.Client
	ev    *Events
	url   string
	rooms map[string]*roomView
	order []string
	cur   string

	status     string
	connected  bool
	input      textinput.Model
	vp         viewport.Model
	w, h       int
	lastTyping time.Time
	follow     bool // the view sticks to the bottom
}

// Messages of the program.
type (
	eventMsg  struct{ ev chatclient.Event }
	resultMsg struct {
		room   string // switch to it when set
		notice string
		err    error
	}
	historyMsg struct {
		room string
		msgs []chatclient.Message
		err  error
	}
)

var (
	styleHeader = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("15")).Background(lipgloss.Color("62"))
	styleCur    = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("212"))
	styleDim    = lipgloss.NewStyle().Foreground(lipgloss.Color("244"))
	styleNick   = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("39"))
	styleMe     = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("208"))
	styleErr    = lipgloss.NewStyle().Foreground(lipgloss.Color("196"))
	stylePane   = lipgloss.NewStyle().Border(lipgloss.NormalBorder(), false, true, false, false).BorderForeground(lipgloss.Color("240"))
)

const sideWidth = 18

func newModel(ctx context.Context, c *chatclient.Client, ev *Events, o Options) *model {
	in := textinput.New()
	in.Placeholder = "message, or /help"
	in.Prompt = "> "
	in.CharLimit = 0 // no silent cut: submit checks the server's limit and says so
	in.Focus()
	m := &model{ctx: ctx, c: c, ev: ev, url: o.URL, rooms: map[string]*roomView{}, input: in,
		connected: c.Connected(), status: "connected", follow: true}
	for _, r := range c.Joined() {
		m.room(r)
	}
	m.cur = o.Room
	if _, ok := m.rooms[m.cur]; !ok && len(m.order) > 0 {
		m.cur = m.order[0]
	}
	return m
}

func (m *model) room(name string) *roomView {
	r := m.rooms[name]
	if r == nil {
		r = &roomView{}
		m.rooms[name] = r
		m.order = append(m.order, name)
		// Public rooms first, then DMs, each sorted.
		slices.SortFunc(m.order, func(a, b string) int {
			if da, db := strings.HasPrefix(a, "dm:"), strings.HasPrefix(b, "dm:"); da != db {
				if da {
					return 1
				}
				return -1
			}
			return strings.Compare(a, b)
		})
	}
	return r
}

func (m *model) waitEvent() tea.Cmd {
	return func() tea.Msg {
		select {
		case ev := <-m.ev.ch:
			return eventMsg{ev}
		case <-m.ctx.Done():
			return tea.Quit()
		}
	}
}

func (m *model) Init() tea.Cmd {
	return tea.Batch(textinput.Blink, m.waitEvent())
}

func (m *model) notice(room, text string) {
	if room == "" {
		room = m.cur
	}
	if room == "" {
		m.status = text
		return
	}
	r := m.room(room)
	r.lines = append(r.lines, line{ts: time.Now(), text: text})
}

func (m *model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	var cmds []tea.Cmd
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.w, m.h = msg.Width, msg.Height
	case tea.KeyMsg:
		switch msg.Type {
		case tea.KeyCtrlC, tea.KeyCtrlD:
			return m, tea.Quit
		case tea.KeyEnter:
			cmd, quit := m.submit(m.input.Value())
			if quit {
				return m, tea.Quit
			}
			cmds = append(cmds, cmd)
			m.follow = true
		case tea.KeyTab, tea.KeyShiftTab:
			if len(m.order) > 0 {
				i := slices.Index(m.order, m.cur)
				if msg.Type == tea.KeyTab {
					i = (i + 1) % len(m.order)
				} else {
					i = (i - 1 + len(m.order)) % len(m.order)
				}
				m.cur = m.order[i]
				m.follow = true
			}
		case tea.KeyPgUp:
			m.render()
			m.vp.HalfPageUp()
			m.follow = false
			if m.vp.AtTop() {
				cmds = append(cmds, m.loadOlder())
			}
		case tea.KeyPgDown:
			m.render()
			m.vp.HalfPageDown()
			m.follow = m.vp.AtBottom()
		default:
			if msg.Type == tea.KeyRunes && !msg.Alt {
				// Text, typed or pasted: inserted as is. The text input would
				// take a chunk that spells a key name ("up", "left", "home")
				// for that key.
				insertRunes(&m.input, msg.Runes)
				if slices.Contains(msg.Runes, '\n') || slices.Contains(msg.Runes, '\r') {
					m.notice("", "* the line breaks of the paste became spaces: a message typed here is one line")
				}
			} else {
				var cmd tea.Cmd
				m.input, cmd = m.input.Update(msg)
				cmds = append(cmds, cmd)
			}
			if v := m.input.Value(); v != "" && !strings.HasPrefix(v, "/") && m.cur != "" && time.Since(m.lastTyping) > 3*time.Second {
				m.lastTyping = time.Now()
				m.c.Typing(m.cur, true)
			}
		}
	case eventMsg:
		m.apply(msg.ev)
		cmds = append(cmds, m.waitEvent())
	case resultMsg:
		if msg.err != nil {
			m.notice("", "! "+Describe(msg.err))
		} else if msg.notice != "" {
			m.notice("", "* "+msg.notice)
		}
		if msg.room != "" {
			m.room(msg.room)
			m.cur = msg.room
			m.follow = true
		}
	case historyMsg:
		r := m.room(msg.room)
		r.loading = false
		if msg.err != nil {
			m.notice(msg.room, "! "+Describe(msg.err))
			break
		}
		if len(msg.msgs) == 0 {
			r.more = false
			break
		}
		older := make([]line, 0, len(msg.msgs))
		for _, x := range msg.msgs {
			older = append(older, line{seq: x.Seq, ts: x.Time(), from: x.From, text: x.Text})
		}
		r.lines = append(older, r.lines...)
		r.firstSeq = msg.msgs[0].Seq
		r.more = r.firstSeq > 1
	default:
		var cmd tea.Cmd
		m.input, cmd = m.input.Update(msg)
		cmds = append(cmds, cmd)
	}
	if r := m.rooms[m.cur]; r != nil {
		r.unread = 0
	}
	return m, tea.Batch(cmds...)
}

// loadOlder fetches the page before the oldest message of the current room.
func (m *model) loadOlder() tea.Cmd {
	r := m.rooms[m.cur]
	if r == nil || !r.more || r.loading || r.firstSeq <= 1 {
		return nil
	}
	r.loading = true
	room, before, c, ctx := m.cur, r.firstSeq, m.c, m.ctx
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		msgs, err := c.History(ctx, room, before, 50)
		return historyMsg{room: room, msgs: msgs, err: err}
	}
}

// submit handles the input line. The input is cleared unless the line is
// refused before it is sent (too long: the user shortens it).
func (m *model) submit(text string) (tea.Cmd, bool) {
	if strings.TrimSpace(text) == "" {
		m.input.SetValue("")
		return nil, false
	}
	cmd, err := parseCommand(text)
	if err == nil {
		err = checkSize(cmd, m.c.Hello().Limits.MaxMessageBytes)
		if err != nil {
			m.notice("", "! "+Describe(err)+" (the text is still in the input)")
			return nil, false
		}
	}
	m.input.SetValue("")
	if err != nil {
		m.notice("", "! "+Describe(err))
		return nil, false
	}
	switch cmd.name {
	case "quit":
		return nil, true
	case "help":
		for _, l := range strings.Split(Help, "\n") {
			m.notice("", l)
		}
		return nil, false
	}
	c, ctx, room := m.c, m.ctx, m.cur
	if cmd.name == "dm" {
		// Switch to the conversation once it exists.
		return func() tea.Msg {
			ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			res, err := c.DM(ctx, cmd.arg, cmd.arg2)
			return resultMsg{room: res.Room, err: err}
		}, false
	}
	return func() tea.Msg {
		next, notice, _, err := execute(ctx, c, cmd, room)
		if next == room {
			next = ""
		}
		return resultMsg{room: next, notice: notice, err: err}
	}, false
}

// apply takes a chat event into the model.
func (m *model) apply(ev chatclient.Event) {
	switch e := ev.(type) {
	case chatclient.MessageEvent:
		x := e.Message
		r := m.room(x.Room)
		r.lines = append(r.lines, line{seq: x.Seq, ts: x.Time(), from: x.From, text: x.Text})
		if r.firstSeq == 0 || x.Seq < r.firstSeq {
			r.firstSeq = x.Seq
		}
		if x.Room != m.cur {
			r.unread++
		}
		if m.cur == "" {
			m.cur = x.Room
		}
	case chatclient.JoinedEvent:
		r := m.room(e.Room)
		r.members = e.Members
		r.more = e.More || (r.firstSeq > 1)
		if m.cur == "" {
			m.cur = e.Room
		}
	case chatclient.LeftEvent:
		delete(m.rooms, e.Room)
		m.order = slices.DeleteFunc(m.order, func(s string) bool { return s == e.Room })
		if m.cur == e.Room {
			m.cur = ""
			if len(m.order) > 0 {
				m.cur = m.order[0]
			}
		}
	case chatclient.PresenceEvent:
		r := m.rooms[e.Room]
		if r == nil {
			return
		}
		switch e.Action {
		case "joined":
			if !slices.Contains(r.members, e.Nickname) {
				r.members = append(r.members, e.Nickname)
			}
			if e.Nickname != m.c.Nickname() {
				m.notice(e.Room, "* "+e.Nickname+" joined")
			}
		case "left":
			r.members = slices.DeleteFunc(r.members, func(s string) bool { return s == e.Nickname })
			m.notice(e.Room, "* "+e.Nickname+" left")
		case "renamed":
			r.members = slices.DeleteFunc(r.members, func(s string) bool { return s == e.From })
			r.members = append(r.members, e.Nickname)
			m.notice(e.Room, "* "+e.From+" is now "+e.Nickname)
		}
	case chatclient.TypingEvent:
		if r := m.rooms[e.Room]; r != nil {
			me := chat.NickKey(m.c.Nickname())
			r.typing = slices.DeleteFunc(e.Nicknames, func(s string) bool { return chat.NickKey(s) == me })
		}
	case chatclient.StateEvent:
		m.connected = e.Connected
		switch {
		case e.Connected:
			m.status = "connected"
		case e.Attempt > 0:
			m.status = fmt.Sprintf("reconnecting (attempt %d, %v)", e.Attempt, e.Delay.Round(100*time.Millisecond))
		default:
			m.status = "disconnected: " + e.Reason
		}
	case chatclient.ByeEvent:
		m.status = "server said bye: " + e.Reason
	case chatclient.ErrorEvent:
		m.notice("", "! "+Describe(e.Err))
	case chatclient.RenamedEvent:
		m.notice("", "* you are now "+e.Nickname)
	}
}

// render lays the current room's lines into the viewport.
func (m *model) render() {
	mainW := max(m.w-2*sideWidth-2, 10)
	bodyH := max(m.h-4, 1)
	m.vp.Width, m.vp.Height = mainW, bodyH
	r := m.rooms[m.cur]
	var b strings.Builder
	if r != nil {
		if r.more {
			b.WriteString(styleDim.Render("  ↑ PgUp for older messages") + "\n")
		}
		me := chat.NickKey(m.c.Nickname())
		for _, l := range r.lines {
			// Everything from the server is made printable: stored history
			// may hold control characters from before the server refused
			// them.
			var s string
			ts := styleDim.Render(l.ts.Format("15:04"))
			from, text := chat.PrintableLine(l.from), chat.Printable(l.text)
			switch {
			case l.seq == 0 && strings.HasPrefix(l.text, "!"):
				s = ts + " " + styleErr.Render(chat.PrintableLine(l.text))
			case l.seq == 0:
				s = ts + " " + styleDim.Render(chat.PrintableLine(l.text))
			case chat.NickKey(l.from) == me:
				s = ts + " " + styleMe.Render(from) + ": " + text
			default:
				s = ts + " " + styleNick.Render(from) + ": " + text
			}
			b.WriteString(lipgloss.NewStyle().Width(mainW).Render(s))
			b.WriteString("\n")
		}
	}
	m.vp.SetContent(strings.TrimSuffix(b.String(), "\n"))
	if m.follow {
		m.vp.GotoBottom()
	}
}

func (m *model) View() string {
	if m.w == 0 {
		return "connecting…"
	}
	m.render()
	bodyH := max(m.h-4, 1)
	// Header.
	state := "● " + m.status
	if t := m.c.Transport(); m.connected && t != "" {
		state += " (" + t + ")"
	}
	title := chat.PrintableLine(fmt.Sprintf(" Banter  %s @ %s  %s ", m.c.Nickname(), m.url, state))
	header := styleHeader.Width(m.w).Render(truncate(title, m.w))

	// Rooms.
	var rb strings.Builder
	rb.WriteString(styleDim.Render("Rooms") + "\n")
	me := m.c.Nickname()
	for _, name := range m.order {
		label := "#" + name
		if peer, ok := dmPeer(name, me); ok {
			label = "@" + peer
		}
		label = chat.PrintableLine(label)
		if u := m.rooms[name].unread; u > 0 {
			label += fmt.Sprintf(" (%d)", u)
		}
		label = truncate(label, sideWidth-2)
		if name == m.cur {
			rb.WriteString(styleCur.Render("> "+label) + "\n")
		} else {
			rb.WriteString("  " + label + "\n")
		}
	}
	rooms := stylePane.Width(sideWidth).Height(bodyH).Render(clip(rb.String(), bodyH))

	// Users.
	var ub strings.Builder
	ub.WriteString(styleDim.Render("Online") + "\n")
	var typing []string
	if r := m.rooms[m.cur]; r != nil {
		ms := slices.Clone(r.members)
		slices.SortFunc(ms, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
		for _, u := range ms {
			ub.WriteString(" " + truncate(chat.PrintableLine(u), sideWidth-2) + "\n")
		}
		typing = r.typing
	}
	users := lipgloss.NewStyle().Width(sideWidth).Height(bodyH).PaddingLeft(1).Render(clip(ub.String(), bodyH))
	main := stylePane.Height(bodyH).Render(m.vp.View())
	body := lipgloss.JoinHorizontal(lipgloss.Top, rooms, main, users)

	typingLine := ""
	switch len(typing) {
	case 0:
	case 1:
		typingLine = typing[0] + " is typing…"
	default:
		typingLine = strings.Join(typing, ", ") + " are typing…"
	}
	m.input.Width = max(m.w-4, 10)
	footer := styleDim.Render(truncate(chat.PrintableLine(typingLine), m.w))
	return lipgloss.JoinVertical(lipgloss.Left, header, body, footer, m.input.View())
}

// insertRunes inserts text at the cursor of the input.
func insertRunes(in *textinput.Model, text []rune) {
	v := []rune(in.Value())
	pos := min(in.Position(), len(v))
	nv := make([]rune, 0, len(v)+len(text))
	nv = append(append(append(nv, v[:pos]...), text...), v[pos:]...)
	in.SetValue(string(nv))
	in.SetCursor(pos + len(text))
}

func truncate(s string, w int) string {
	if lipgloss.Width(s) <= w {
		return s
	}
	r := []rune(s)
	for len(r) > 0 && lipgloss.Width(string(r))+1 > w {
		r = r[:len(r)-1]
	}
	return string(r) + "…"
}

// clip keeps the first n lines.
func clip(s string, n int) string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}
