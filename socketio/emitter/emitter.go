// Package emitter publishes to the clients of a Socket.IO cluster from any
// Go program, without being a server: the Go counterpart of Node's
// @socket.io/redis-emitter 5.x, with the same messages on the same Redis
// channels. Every server of the cluster whose adapter listens on the
// channels receives them: Node servers with @socket.io/redis-adapter,
// Banter nodes started with --redis (the chat product), and Go servers
// using package socketio/redisadapter.
//
// Entry points: New(client, Config) returns the Emitter of the namespace
// "/"; Of picks another namespace; To/In, Except and Volatile select the
// recipients; Emit sends an event; SocketsJoin, SocketsLeave and
// DisconnectSockets act on the selected sockets of every server;
// ServerSideEmit reaches the servers themselves.
//
// Delivery is Redis pub/sub's: at most once, to the servers subscribed at
// that moment; an emitter does not learn how many sockets received an
// event (no acknowledgements, as with Node's emitter). Arguments are
// encoded like socketio's Emit: JSON, []byte values anywhere as binary.
//
// Concurrency: an Emitter is immutable (each method returns a new one) and
// safe for concurrent use; the rueidis client is the caller's.
package emitter

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/rueidis"

	"github.com/banter-chat/banter/socketio/parser"
	"github.com/banter-chat/banter/socketio/redisadapter/wire"
)

// uid is the sender id emitters put in their messages (Node's "emitter"):
// no server has it, so every server delivers them.
const uid = "emitter"

// ErrReservedEvent refuses the event names the protocol reserves
// (connect, disconnect…), as Node's emitter does.
var ErrReservedEvent = errors.New("emitter: reserved event name")

// Config configures an Emitter. The zero value is the documented default.
type Config struct {
	// Key prefixes every channel: the adapters' key option (default
	// "socket.io").
	Key string
	// PublishTimeout bounds one PUBLISH when the context has no earlier
	// deadline (default 5s).
	PublishTimeout time.Duration
}

// Emitter publishes to one namespace of a cluster, to the recipients its
// operators selected.
type Emitter struct {
	client rueidis.Client
	cfg    Config
	nsp    string
	rooms  []string
	except []string
	flags  wire.Opts
}

// New returns the Emitter of the namespace "/" over client (which the
// caller owns and closes).
func New(client rueidis.Client, cfg Config) *Emitter {
	if cfg.Key == "" {
		cfg.Key = "socket.io"
	}
	if cfg.PublishTimeout <= 0 {
		cfg.PublishTimeout = 5 * time.Second
	}
	return &Emitter{client: client, cfg: cfg, nsp: "/"}
}

func (e *Emitter) clone() *Emitter {
	c := *e
	c.rooms = append([]string(nil), e.rooms...)
	c.except = append([]string(nil), e.except...)
	return &c
}

// Of returns the Emitter of namespace nsp ("/" is prepended when missing),
// with no recipient selection.
func (e *Emitter) Of(nsp string) *Emitter {
	if nsp == "" || nsp[0] != '/' {
		nsp = "/" + nsp
	}
	return &Emitter{client: e.client, cfg: e.cfg, nsp: nsp}
}

// To adds rooms: the event goes to the sockets in any of them (without
// any: to every socket of the namespace).
func (e *Emitter) To(rooms ...string) *Emitter {
	c := e.clone()
	c.rooms = append(c.rooms, rooms...)
	return c
}

// In is To.
func (e *Emitter) In(rooms ...string) *Emitter { return e.To(rooms...) }

// Except skips the sockets in any of rooms.
func (e *Emitter) Except(rooms ...string) *Emitter {
	c := e.clone()
	c.except = append(c.except, rooms...)
	return c
}

// Volatile lets servers drop the event for clients with a backlog.
func (e *Emitter) Volatile() *Emitter {
	c := e.clone()
	c.flags.Volatile = true
	return c
}

// Emit publishes an event for the selected sockets of every server.
func (e *Emitter) Emit(ctx context.Context, event string, args ...any) error {
	if parser.ReservedEvent(event) {
		return fmt.Errorf("%w: %q", ErrReservedEvent, event)
	}
	data, att, err := parser.EncodeEvent(event, args...)
	if err != nil {
		return fmt.Errorf("emitter: %w", err)
	}
	opts := wire.Opts{Rooms: e.rooms, Except: e.except, Volatile: e.flags.Volatile}
	msg, err := wire.EncodeBroadcast(uid, &parser.Packet{Type: parser.Event, Namespace: e.nsp, Data: data, Attachments: att}, opts)
	if err != nil {
		return fmt.Errorf("emitter: %w", err)
	}
	ch := e.cfg.Key + "#" + e.nsp + "#"
	if rooms := wire.Dedup(e.rooms); len(rooms) == 1 {
		ch += rooms[0] + "#" // servers without a socket in the room skip it unread
	}
	return e.publish(ctx, ch, msg)
}

// SocketsJoin makes the selected sockets of every server join rooms.
func (e *Emitter) SocketsJoin(ctx context.Context, rooms ...string) error {
	return e.request(ctx, &wire.Request{Type: wire.TypeRemoteJoin, Opts: e.requestOpts(), Rooms: nonNil(rooms)})
}

// SocketsLeave makes the selected sockets of every server leave rooms.
func (e *Emitter) SocketsLeave(ctx context.Context, rooms ...string) error {
	return e.request(ctx, &wire.Request{Type: wire.TypeRemoteLeave, Opts: e.requestOpts(), Rooms: nonNil(rooms)})
}

// DisconnectSockets disconnects the selected sockets of every server (with
// close, their whole connections).
func (e *Emitter) DisconnectSockets(ctx context.Context, close bool) error {
	return e.request(ctx, &wire.Request{Type: wire.TypeRemoteDisconnect, Opts: e.requestOpts(), Close: close})
}

// ServerSideEmit sends an event to the namespace on every server (their
// serverSideEmit handlers, not clients). Arguments travel as JSON; no
// answer is awaited (Node's emitter supports none either).
func (e *Emitter) ServerSideEmit(ctx context.Context, event string, args ...any) error {
	if parser.ReservedEvent(event) {
		return fmt.Errorf("%w: %q", ErrReservedEvent, event)
	}
	data, err := wire.EncodeJSON(append([]any{event}, args...))
	if err != nil {
		return fmt.Errorf("emitter: serverSideEmit arguments: %w", err)
	}
	return e.request(ctx, &wire.Request{UID: uid, Type: wire.TypeServerSideEmit, Data: data})
}

func (e *Emitter) requestOpts() *wire.RequestOpts {
	return wire.NewRequestOpts(wire.Opts{Rooms: e.rooms, Except: e.except})
}

func nonNil(rooms []string) wire.RoomList {
	if rooms == nil {
		return wire.RoomList{}
	}
	return rooms
}

// request publishes a JSON request on the namespace's request channel.
func (e *Emitter) request(ctx context.Context, req *wire.Request) error {
	msg, err := wire.EncodeJSON(req)
	if err != nil {
		return fmt.Errorf("emitter: %w", err)
	}
	return e.publish(ctx, e.cfg.Key+"-request#"+e.nsp+"#", msg)
}

func (e *Emitter) publish(ctx context.Context, channel string, msg []byte) error {
	ctx, cancel := context.WithTimeout(ctx, e.cfg.PublishTimeout)
	defer cancel()
	cmd := e.client.B().Publish().Channel(channel).Message(rueidis.BinaryString(msg)).Build()
	if err := e.client.Do(ctx, cmd).Error(); err != nil {
		return fmt.Errorf("emitter: publish on %s: %w", channel, err)
	}
	return nil
}
