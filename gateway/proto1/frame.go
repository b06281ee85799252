package proto1

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/banter-chat/banter/chat"
)

// MaxFrameBytes bounds one command of the JSON framing (a /ws frame, a TCP
// line): the largest message text plus its JSON escaping and the other
// fields.
const MaxFrameBytes = 4*chat.MaxStoredTextBytes + 4096

// The framing's own commands besides those of protocol 1.
const (
	FramePing = "ping" // answered {"type":"pong","ref":…}
	FramePong = "pong" // the answer to the server's ping: reading it was the point
)

// DecodeFrame parses one command of the JSON framing, {"type": <command>,
// "ref": <number or string>?, ...fields}. ref is returned whenever it could
// be read, so that a failure can still be answered as a reply; every error
// is a *chat.Error naming the culprit. ping and pong come back as commands
// of that name without fields.
func DecodeFrame(data []byte) (ref json.RawMessage, cmd Command, err error) {
	if len(data) > MaxFrameBytes {
		return nil, cmd, chat.Errorf(chat.CodeInvalidArgument, "command is %d bytes, the limit is %d", len(data), MaxFrameBytes)
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return nil, cmd, chat.Errorf(chat.CodeInvalidArgument, "a command is a JSON object")
	}
	var env struct {
		Type string          `json:"type"`
		Ref  json.RawMessage `json:"ref"`
	}
	if err := json.Unmarshal(data, &env); err != nil {
		// Rescue the ref so the client learns which command failed.
		var refOnly struct {
			Ref json.RawMessage `json:"ref"`
		}
		if json.Unmarshal(data, &refOnly) == nil && validRef(refOnly.Ref) {
			ref = refOnly.Ref
		}
		return ref, cmd, Unmarshal(data, "", false, &env)
	}
	switch {
	case len(env.Ref) == 0 || string(env.Ref) == "null":
	case validRef(env.Ref):
		ref = env.Ref
	default:
		return nil, cmd, chat.Errorf(chat.CodeInvalidArgument, "ref must be a number or a string of at most 64 bytes")
	}
	cmd.Name = env.Type
	switch env.Type {
	case "":
		return ref, cmd, chat.Errorf(chat.CodeInvalidArgument, "field \"type\" is missing")
	case FramePing, FramePong:
		return ref, cmd, nil
	}
	cmd, err = DecodeObject(env.Type, data)
	return ref, cmd, err
}

func validRef(ref json.RawMessage) bool {
	if len(ref) == 0 || len(ref) > 66 {
		return false
	}
	if ref[0] == '"' {
		var s string
		return json.Unmarshal(ref, &s) == nil
	}
	_, err := strconv.ParseFloat(string(ref), 64)
	return err == nil
}

// FrameLimits are the connection limits of the JSON framing
// (docs/protocol.md, "Plain WebSocket"), the settings of its transports
// (/ws, TCP). The zero value of every field means its default.
type FrameLimits struct {
	// MaxBufferedBytes bounds what is queued for one client; past it the
	// client is closed as a slow consumer (typing is dropped instead).
	// Default 1 MiB.
	MaxBufferedBytes int
	// WriteTimeout bounds one write to the client. Default 10s.
	WriteTimeout time.Duration
	// PingInterval is how often the server sends {"type":"ping"}; clients
	// answer {"type":"pong"}. Default 25s.
	PingInterval time.Duration
	// IdleTimeout closes a connection that sent nothing for this long.
	// Default 60s (more than two ping intervals).
	IdleTimeout time.Duration
}

// WithDefaults returns l with every zero field set to its default.
func (l FrameLimits) WithDefaults() FrameLimits {
	if l.MaxBufferedBytes <= 0 {
		l.MaxBufferedBytes = 1 << 20
	}
	if l.WriteTimeout <= 0 {
		l.WriteTimeout = 10 * time.Second
	}
	if l.PingInterval <= 0 {
		l.PingInterval = 25 * time.Second
	}
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = 60 * time.Second
	}
	return l
}

// Transport is the connection under a JSONConn.
type Transport interface {
	// Send queues one frame for the client and never blocks. Lossy frames
	// (typing) may be dropped when the client has a backlog; anything
	// else that does not fit closes the connection as a slow consumer.
	Send(frame []byte, lossy bool)
	// Close closes the connection once what is queued is written, with a
	// reason of docs/protocol.md's "bye". It must not block: it is called
	// from Deliver, under chat's locks.
	Close(reason string)
}

// Format is how a JSONConn renders chat events: JSON by default (the TCP
// text mode has its own).
type Format struct {
	// Key identifies the format for chat.Event.Encoded, so each event is
	// encoded once per format for all recipients.
	Key any
	// Event encodes a chat event; nil bytes mean "not sent".
	Event func(*chat.Event) ([]byte, error)
	// Bye encodes the frame sent before the server ends a session.
	Bye func(*chat.Disconnect) []byte
}

type keyJSON struct{}

// JSON is the format of docs/protocol.md, "Plain WebSocket".
var JSON = &Format{Key: keyJSON{}, Event: EncodeChatEvent, Bye: EncodeBye}

// JSONConn is a connection speaking protocol 1 in the JSON framing (/ws,
// TCP JSON lines; the TCP text mode runs its commands with Exec): it runs
// the client's frames and is its session's chat.Sink. Frames of one
// connection must be handled one at a time (the transport's reader does);
// Deliver and End may be called from any goroutine.
type JSONConn struct {
	Conn
	t      Transport
	format atomic.Pointer[Format]
}

// NewJSONConn returns the protocol state of a new connection on t.
func (s *Server) NewJSONConn(t Transport) *JSONConn {
	c := &JSONConn{t: t}
	c.Init(s, nil)
	c.format.Store(JSON)
	return c
}

// SetFormat selects how events are rendered; call it before hello.
func (c *JSONConn) SetFormat(f *Format) { c.format.Store(f) }

// Run runs a command (a TCP text mode line) with this connection as the
// session's sink.
func (c *JSONConn) Run(cmd Command) (any, error) {
	return c.Conn.Exec(context.Background(), cmd, c)
}

// Deliver implements chat.Sink: encode once per event and format, then
// queue.
func (c *JSONConn) Deliver(ev *chat.Event) {
	f := c.format.Load()
	if ev.Kind == chat.EventDisconnect {
		c.t.Send(f.Bye(ev.Disconnect), false)
		c.t.Close(string(ev.Disconnect.Reason))
		return
	}
	data, err := ev.Encoded(f.Key, f.Event)
	if err != nil {
		c.srv.cfg.Logger.Error("proto1: cannot encode event", "kind", ev.Kind.String(), "err", err)
		return
	}
	if len(data) > 0 {
		c.t.Send(data, ev.Kind == chat.EventTyping)
	}
}

// HandleFrame runs one frame and answers it: a reply when it has a ref,
// else nothing on success and an "error" event on failure (typing
// excepted: it is lossy). A hello refused for its token closes the
// connection after the answer: the client must come back with a good one.
func (c *JSONConn) HandleFrame(data []byte) {
	ref, cmd, err := DecodeFrame(data)
	if err == nil && !c.Allow() {
		if cmd.Name == CmdTyping || cmd.Name == FramePong {
			return // lossy: dropped silently
		}
		err = ErrTooManyRequests
	}
	var res any
	if err == nil {
		switch cmd.Name {
		case FramePing:
			c.t.Send(encodePong(ref), false)
			return
		case FramePong:
			return
		}
		res, err = c.Run(cmd)
	}
	switch {
	case ref != nil:
		c.t.Send(EncodeReply(ref, res, err), false)
	case err == nil, cmd.Name == CmdTyping:
	default:
		c.t.Send(EncodeError(err, cmd.Name), false)
	}
	if cmd.Name == CmdHello && IsAuthError(err) {
		c.t.Close(string(chat.ErrorCode(err)))
	}
}
