package socketio

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/banter-chat/banter/socketio/parser"
)

// BroadcastOperator builds a broadcast. Each method returns a new operator;
// an operator may be reused.
type BroadcastOperator struct {
	nsp     *Namespace
	opts    BroadcastOptions
	timeout time.Duration
}

func (b *BroadcastOperator) clone() *BroadcastOperator {
	c := *b
	c.opts.Rooms = append([]string(nil), b.opts.Rooms...)
	c.opts.Except = append([]string(nil), b.opts.Except...)
	return &c
}

// To adds target rooms.
func (b *BroadcastOperator) To(rooms ...string) *BroadcastOperator {
	c := b.clone()
	c.opts.Rooms = append(c.opts.Rooms, rooms...)
	return c
}

// In is To.
func (b *BroadcastOperator) In(rooms ...string) *BroadcastOperator { return b.To(rooms...) }

// Except excludes the sockets in rooms.
func (b *BroadcastOperator) Except(rooms ...string) *BroadcastOperator {
	c := b.clone()
	c.opts.Except = append(c.opts.Except, rooms...)
	return c
}

// Volatile lets the event be dropped for clients with a backlog.
func (b *BroadcastOperator) Volatile() *BroadcastOperator {
	c := b.clone()
	c.opts.Volatile = true
	return c
}

// Local restricts the broadcast to this node.
func (b *BroadcastOperator) Local() *BroadcastOperator {
	c := b.clone()
	c.opts.Local = true
	return c
}

// Timeout sets the time EmitWithAck waits for acknowledgements.
func (b *BroadcastOperator) Timeout(d time.Duration) *BroadcastOperator {
	c := b.clone()
	c.timeout = d
	return c
}

// Emit broadcasts an event.
func (b *BroadcastOperator) Emit(event string, args ...any) error {
	if reservedEvents[event] {
		return fmt.Errorf("%w: %q", ErrReservedEvent, event)
	}
	data, att, err := parser.EncodeEvent(event, args...)
	if err != nil {
		return err
	}
	b.nsp.adapter.Broadcast(&parser.Packet{Type: parser.Event, Namespace: b.nsp.name, Data: data, Attachments: att}, b.opts)
	return nil
}

// EmitWithAck broadcasts an event and collects every recipient's
// acknowledgement (its arguments; an answer from a socket on another node
// carries only its first argument, as Node's adapters send it). It returns
// when every node has said how many sockets it sent the event to and all of
// them have answered, or with the answers so far and ErrAckTimeout when the
// Timeout (or ctx) ends first.
func (b *BroadcastOperator) EmitWithAck(ctx context.Context, event string, args ...any) ([][]any, error) {
	if reservedEvents[event] {
		return nil, fmt.Errorf("%w: %q", ErrReservedEvent, event)
	}
	data, att, err := parser.EncodeEvent(event, args...)
	if err != nil {
		return nil, err
	}
	if b.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, b.timeout)
		defer cancel()
	}
	servers := 1
	if !b.opts.Local {
		if servers, err = b.nsp.adapter.ServerCount(ctx); err != nil {
			return nil, err
		}
	}
	var mu sync.Mutex
	var responses [][]any
	counted, expected := 0, 0
	done := make(chan struct{})
	check := func() {
		if counted >= servers && len(responses) >= expected {
			select {
			case <-done:
			default:
				close(done)
			}
		}
	}
	// Answers that arrive after EmitWithAck returned are dropped.
	ackCtx, stop := context.WithCancel(ctx)
	defer stop()
	b.nsp.adapter.BroadcastWithAck(ackCtx, &parser.Packet{Type: parser.Event, Namespace: b.nsp.name, Data: data, Attachments: att}, b.opts,
		func(n int) {
			mu.Lock()
			defer mu.Unlock()
			counted++
			expected += n
			check()
		},
		func(vals []any, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				responses = append(responses, vals)
			} else {
				responses = append(responses, nil)
			}
			check()
		})
	select {
	case <-done:
		mu.Lock()
		defer mu.Unlock()
		return append([][]any(nil), responses...), nil
	case <-ctx.Done():
		mu.Lock()
		defer mu.Unlock()
		return append([][]any(nil), responses...), ErrAckTimeout
	}
}

// FetchSockets returns the matching sockets of every node (of this node
// only after Local). Local() of a result is the *Socket when it is on this
// node.
func (b *BroadcastOperator) FetchSockets(ctx context.Context) ([]*RemoteSocket, error) {
	out, err := b.nsp.adapter.FetchSockets(ctx, b.opts)
	for _, r := range out {
		r.nsp = b.nsp
	}
	return out, err
}

// SocketsJoin makes the matching sockets join rooms: this node's at once,
// other nodes' when they get the request.
func (b *BroadcastOperator) SocketsJoin(rooms ...string) error {
	return b.nsp.adapter.AddSockets(b.opts, rooms)
}

// SocketsLeave makes the matching sockets leave rooms.
func (b *BroadcastOperator) SocketsLeave(rooms ...string) error {
	return b.nsp.adapter.DelSockets(b.opts, rooms)
}

// DisconnectSockets disconnects the matching sockets.
func (b *BroadcastOperator) DisconnectSockets(close bool) error {
	return b.nsp.adapter.DisconnectSockets(b.opts, close)
}
