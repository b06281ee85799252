package reliability_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// A small Socket.IO v5 (Engine.IO v4) client of the chat protocol, written
// from the wire spec (docs/protocol.md), independent of the server's own
// codecs: the tests see the server exactly as a foreign client does. It
// answers pings, matches acks, and records every event it receives.

// errClosed is returned by calls on a client whose connection ended.
var errClosed = errors.New("client connection closed")

// event is one server→client event with its single argument.
type event struct {
	Name string
	Arg  json.RawMessage
	At   time.Time
}

// transport is one Engine.IO connection: it delivers decoded Engine.IO
// packets (as text) to recv and sends packets.
type transport interface {
	send(ctx context.Context, packets ...string) error
	close()
}

type dialOptions struct {
	polling bool
	// rcvBuf, when set, is the client socket's SO_RCVBUF: a client that
	// stops reading then fills the server's buffers quickly.
	rcvBuf int
	// query is appended to the handshake URL (e.g. "&x=1").
	query string
}

type client struct {
	tr      transport
	sid     string
	onClose func()

	mu       sync.Mutex
	nextAck  int
	acks     map[int]chan json.RawMessage
	events   []event
	changed  chan struct{} // closed and replaced whenever events or state change
	closed   bool
	closeErr error
	paused   chan struct{} // non-nil while reading is paused (closed to resume)
	ctx      context.Context
	cancel   context.CancelFunc
	readDone chan struct{}
}

// dial connects to base (http://host:port) and joins the namespace "/".
func dial(ctx context.Context, base string, opt dialOptions) (*client, error) {
	cctx, cancel := context.WithCancel(context.Background())
	c := &client{
		acks: make(map[int]chan json.RawMessage), changed: make(chan struct{}),
		ctx: cctx, cancel: cancel, readDone: make(chan struct{}),
	}
	u := strings.TrimRight(base, "/") + "/socket.io/?EIO=4&transport="
	hc := &http.Client{Transport: &http.Transport{
		DialContext:       dialer(opt.rcvBuf).DialContext,
		DisableKeepAlives: false,
		MaxConnsPerHost:   4,
	}}
	open := make(chan string, 1)
	var err error
	if opt.polling {
		c.tr, err = dialPolling(ctx, hc, u+"polling"+opt.query, c, open)
	} else {
		c.tr, err = dialWS(ctx, hc, "ws"+strings.TrimPrefix(u, "http")+"websocket"+opt.query, c, open)
	}
	if err != nil {
		cancel()
		return nil, err
	}
	select {
	case c.sid = <-open:
	case <-ctx.Done():
		c.Close()
		return nil, fmt.Errorf("no Engine.IO open packet: %w", ctx.Err())
	}
	if err := c.tr.send(ctx, "40"); err != nil {
		c.Close()
		return nil, err
	}
	if _, err := c.waitEvent(ctx, 0, func(e event) bool { return e.Name == "#connect" }); err != nil {
		c.Close()
		return nil, fmt.Errorf("no Socket.IO CONNECT reply: %w", err)
	}
	return c, nil
}

func dialer(rcvBuf int) *net.Dialer {
	d := &net.Dialer{Timeout: 5 * time.Second}
	if rcvBuf > 0 {
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvBuf)
			})
			return errors.Join(err, serr)
		}
	}
	return d
}

// onPacket handles one Engine.IO packet (text).
func (c *client) onPacket(p string, open chan<- string) {
	if p == "" {
		c.fail(errors.New("empty Engine.IO packet"))
		return
	}
	switch p[0] {
	case '0':
		var h struct {
			SID string `json:"sid"`
		}
		if err := json.Unmarshal([]byte(p[1:]), &h); err != nil {
			c.fail(fmt.Errorf("bad open packet %q: %w", p, err))
			return
		}
		select {
		case open <- h.SID:
		default:
		}
	case '1':
		c.fail(errors.New("server sent an Engine.IO close packet"))
	case '2':
		go func() { _ = c.tr.send(c.ctx, "3") }()
	case '4':
		c.onSocketIO(p[1:])
	case '6':
	default:
		c.fail(fmt.Errorf("unexpected Engine.IO packet %q", p))
	}
}

// onSocketIO handles one Socket.IO packet on "/" (text only: the chat
// protocol has no binary).
func (c *client) onSocketIO(p string) {
	if p == "" {
		c.fail(errors.New("empty Socket.IO packet"))
		return
	}
	typ, rest := p[0], p[1:]
	switch typ {
	case '0':
		c.record(event{Name: "#connect", Arg: json.RawMessage(rest)})
	case '1':
		c.record(event{Name: "#disconnect"})
	case '4':
		c.record(event{Name: "#connect_error", Arg: json.RawMessage(rest)})
	case '2', '3':
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		id, _ := strconv.Atoi(rest[:i])
		var args []json.RawMessage
		if err := json.Unmarshal([]byte(rest[i:]), &args); err != nil {
			c.fail(fmt.Errorf("bad Socket.IO packet %q: %w", p, err))
			return
		}
		if typ == '3' {
			c.mu.Lock()
			ch := c.acks[id]
			delete(c.acks, id)
			c.mu.Unlock()
			if ch != nil && len(args) > 0 {
				ch <- args[0]
			}
			return
		}
		if len(args) == 0 {
			c.fail(fmt.Errorf("event without a name: %q", p))
			return
		}
		var name string
		_ = json.Unmarshal(args[0], &name)
		e := event{Name: name}
		if len(args) > 1 {
			e.Arg = args[1]
		}
		c.record(e)
	default:
		c.fail(fmt.Errorf("unexpected Socket.IO packet %q", p))
	}
}

func (c *client) record(e event) {
	e.At = time.Now()
	c.mu.Lock()
	c.events = append(c.events, e)
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
}

// fail ends the client with err (the first error wins).
func (c *client) fail(err error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.closeErr = err
	for id, ch := range c.acks {
		close(ch)
		delete(c.acks, id)
	}
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
	c.cancel()
	if c.tr != nil {
		c.tr.close()
	}
}

// Close closes the connection and waits for the reader.
func (c *client) Close() {
	c.fail(errClosed)
	<-c.readDone
}

// Err returns why the connection ended, or nil while it is open.
func (c *client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		return nil
	}
	return c.closeErr
}

// done returns a channel closed when the connection has ended.
func (c *client) done() <-chan struct{} { return c.ctx.Done() }

// pause stops reading from the connection (the kernel buffers fill up);
// resume undoes it.
func (c *client) pause() {
	c.mu.Lock()
	if c.paused == nil {
		c.paused = make(chan struct{})
	}
	c.mu.Unlock()
}

func (c *client) gate() {
	c.mu.Lock()
	p := c.paused
	c.mu.Unlock()
	if p != nil {
		select {
		case <-p:
		case <-c.ctx.Done():
		}
	}
}

// emit sends an event without an ack.
func (c *client) emit(ctx context.Context, name string, arg any) error {
	b, err := json.Marshal([]any{name, arg})
	if err != nil {
		return err
	}
	return c.tr.send(ctx, "42"+string(b))
}

// emitRaw sends a raw Engine.IO packet.
func (c *client) emitRaw(ctx context.Context, packets ...string) error {
	return c.tr.send(ctx, packets...)
}

// call sends an event with an ack and returns the ack's argument.
func (c *client) call(ctx context.Context, name string, arg any) (json.RawMessage, error) {
	b, err := json.Marshal([]any{name, arg})
	if err != nil {
		return nil, err
	}
	return c.callRaw(ctx, string(b))
}

// callRaw sends an EVENT packet with the given JSON array text and an ack id.
func (c *client) callRaw(ctx context.Context, argsJSON string) (json.RawMessage, error) {
	ch := make(chan json.RawMessage, 1)
	c.mu.Lock()
	if c.closed {
		err := c.closeErr
		c.mu.Unlock()
		return nil, err
	}
	c.nextAck++
	id := c.nextAck
	c.acks[id] = ch
	c.mu.Unlock()
	if err := c.tr.send(ctx, "42"+strconv.Itoa(id)+argsJSON); err != nil {
		return nil, err
	}
	select {
	case a, ok := <-ch:
		if !ok {
			return nil, fmt.Errorf("no ack: %w", c.Err())
		}
		return a, nil
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.acks, id)
		c.mu.Unlock()
		return nil, ctx.Err()
	}
}

// ackError is a failed chat ack: {"ok":false,"error":{code,message}}.
type ackError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *ackError) Error() string { return e.Code + ": " + e.Message }

// ok calls and decodes a successful ack into out (may be nil); a failed ack
// is returned as *ackError.
func (c *client) ok(ctx context.Context, name string, arg, out any) error {
	raw, err := c.call(ctx, name, arg)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return decodeAck(name, raw, out)
}

func decodeAck(name string, raw json.RawMessage, out any) error {
	var head struct {
		OK    bool      `json:"ok"`
		Error *ackError `json:"error"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return fmt.Errorf("%s: ack %s: %w", name, raw, err)
	}
	if !head.OK {
		if head.Error == nil || head.Error.Code == "" || head.Error.Message == "" {
			return fmt.Errorf("%s: ack %s: neither ok nor a clear error", name, raw)
		}
		return head.Error
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%s: ack %s: %w", name, raw, err)
		}
	}
	return nil
}

// snapshot returns the events recorded so far.
func (c *client) snapshot() []event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]event(nil), c.events...)
}

// waitEvent returns the index and the first event at or after index from
// that satisfies pred.
func (c *client) waitEvent(ctx context.Context, from int, pred func(event) bool) (int, error) {
	for {
		c.mu.Lock()
		for i := from; i < len(c.events); i++ {
			if pred(c.events[i]) {
				c.mu.Unlock()
				return i, nil
			}
		}
		from = len(c.events)
		ch, closed, err := c.changed, c.closed, c.closeErr
		c.mu.Unlock()
		if closed {
			return -1, fmt.Errorf("connection ended: %w", err)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return -1, ctx.Err()
		}
	}
}

// --- WebSocket transport ---

type wsTransport struct {
	conn *websocket.Conn
}

func dialWS(ctx context.Context, hc *http.Client, u string, c *client, open chan<- string) (*wsTransport, error) {
	conn, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", u, err)
	}
	conn.SetReadLimit(4 << 20)
	t := &wsTransport{conn: conn}
	c.tr = t
	go func() {
		defer close(c.readDone)
		for {
			c.gate()
			_, data, err := conn.Read(c.ctx)
			if err != nil {
				c.fail(fmt.Errorf("websocket read: %w", err))
				return
			}
			c.onPacket(string(data), open)
		}
	}()
	return t, nil
}

func (t *wsTransport) send(ctx context.Context, packets ...string) error {
	for _, p := range packets {
		if err := t.conn.Write(ctx, websocket.MessageText, []byte(p)); err != nil {
			return fmt.Errorf("websocket write: %w", err)
		}
	}
	return nil
}

func (t *wsTransport) close() { _ = t.conn.CloseNow() }

// --- long-polling transport ---

type pollTransport struct {
	hc   *http.Client
	url  string // with sid
	mu   sync.Mutex
	stop context.CancelFunc
}

func dialPolling(ctx context.Context, hc *http.Client, u string, c *client, open chan<- string) (*pollTransport, error) {
	body, err := pollGet(ctx, hc, u)
	if err != nil {
		return nil, err
	}
	packets := strings.Split(body, "\x1e")
	if len(packets) == 0 || !strings.HasPrefix(packets[0], "0") {
		return nil, fmt.Errorf("handshake: %q", body)
	}
	var h struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal([]byte(packets[0][1:]), &h); err != nil {
		return nil, fmt.Errorf("handshake %q: %w", body, err)
	}
	t := &pollTransport{hc: hc, url: u + "&sid=" + url.QueryEscape(h.SID), stop: c.cancel}
	c.tr = t
	for _, p := range packets {
		c.onPacket(p, open)
	}
	go func() {
		defer close(c.readDone)
		for {
			c.gate()
			body, err := pollGet(c.ctx, hc, t.url)
			if err != nil {
				c.fail(fmt.Errorf("poll: %w", err))
				return
			}
			for _, p := range strings.Split(body, "\x1e") {
				c.onPacket(p, open)
			}
		}
	}()
	return t, nil
}

func pollGet(ctx context.Context, hc *http.Client, u string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET: HTTP %d %s", resp.StatusCode, b)
	}
	return string(b), nil
}

func (t *pollTransport) send(ctx context.Context, packets ...string) error {
	// One POST at a time: Engine.IO refuses overlapping POSTs.
	t.mu.Lock()
	defer t.mu.Unlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewBufferString(strings.Join(packets, "\x1e")))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	resp, err := t.hc.Do(req)
	if err != nil {
		return fmt.Errorf("POST: %w", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST: HTTP %d %s", resp.StatusCode, b)
	}
	return nil
}

func (t *pollTransport) close() {
	t.stop()
	t.hc.CloseIdleConnections()
}

// helloAck is the part of the hello ack the tests read.
type helloAck struct {
	Nickname string       `json:"nickname"`
	Token    string       `json:"token"`
	Rooms    []joinResult `json:"rooms"`
}

type joinResult struct {
	OK       bool      `json:"ok"`
	Room     string    `json:"room"`
	Members  []string  `json:"members"`
	LastSeq  int64     `json:"lastSeq"`
	Messages []message `json:"messages"`
	More     bool      `json:"more"`
}

type message struct {
	ID       string `json:"id"`
	Room     string `json:"room"`
	Seq      int64  `json:"seq"`
	From     string `json:"from"`
	Text     string `json:"text"`
	ClientID string `json:"clientId"`
	TS       int64  `json:"ts"`
}

type sendAck struct {
	ID        string `json:"id"`
	Room      string `json:"room"`
	Seq       int64  `json:"seq"`
	TS        int64  `json:"ts"`
	Duplicate bool   `json:"duplicate"`
}

type pageAck struct {
	Messages []message `json:"messages"`
}

type presenceEvent struct {
	Room     string `json:"room"`
	Nickname string `json:"nickname"`
	Action   string `json:"action"`
}

type typingEvent struct {
	Room      string   `json:"room"`
	Nicknames []string `json:"nicknames"`
}

// mustDial dials or fails the test; the client is closed on cleanup.
func mustDial(t testing.TB, base string, opt dialOptions) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := dial(ctx, base, opt)
	if err != nil {
		t.Fatalf("dial %s: %v", base, err)
	}
	t.Cleanup(c.Close)
	return c
}

// mustHello starts a chat session in rooms.
func mustHello(t testing.TB, c *client, nick string, rooms ...string) helloAck {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var h helloAck
	if err := c.ok(ctx, "hello", map[string]any{"nickname": nick, "rooms": rooms}, &h); err != nil {
		t.Fatalf("hello %s: %v", nick, err)
	}
	return h
}
