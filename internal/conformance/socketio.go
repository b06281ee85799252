package conformance

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/banter-chat/banter/socketio"
)

// maxMultiAckTimeout bounds multi-ack's wait, so Shutdown never waits long
// for one.
const maxMultiAckTimeout = 60 * time.Second

// setupSocketIO installs the namespaces the official socket.io-protocol
// suite and our interop tests expect. Handlers that must wait (multi-ack)
// run on goroutines started with bg.
func setupSocketIO(io *socketio.Server, bg *background) {
	root := io.Of("/")
	custom := io.Of("/custom")
	private := io.Of("/private")
	private.Use(func(s *socketio.Socket) error {
		if tok, _ := s.Handshake().Auth["token"].(string); tok == "s3cret" {
			return nil
		}
		return &socketio.ConnectError{Message: "unauthorized", Data: map[string]any{"code": 401}}
	})

	watch := func(s *socketio.Socket) {
		s.OnDisconnect(func(reason socketio.Reason) {
			_ = root.To("__watchers").Emit("peer-disconnect", map[string]any{
				"id": s.ID(), "nsp": s.Namespace().Name(), "reason": string(reason),
			})
		})
	}
	common := func(s *socketio.Socket) {
		_ = s.Emit("auth", s.Handshake().Auth)
		s.On("message", func(ev *socketio.Event) {
			args, att := ev.ArgsJSON()
			emitRaw(s, "message-back", args, att)
		})
		s.On("message-with-ack", func(ev *socketio.Event) {
			args, att := ev.ArgsJSON()
			ev.AckRaw(args, att)
		})
		s.On("whoami", func(ev *socketio.Event) {
			ev.Ack(map[string]any{
				"id": s.ID(), "nsp": s.Namespace().Name(), "engineId": s.Conn().ID(),
				"transport": s.Conn().Transport(), "auth": s.Handshake().Auth,
				"query": flatQuery(s),
			})
		})
		s.On("request-server-ack", func(ev *socketio.Event) {
			args, _ := ev.Args()
			_ = s.EmitCallback("server-ack", args, 0, func(reply []any, err error) {
				if err == nil {
					_ = s.Emit("server-ack-result", reply...)
				}
			})
		})
		watch(s)
	}
	custom.OnConnection(common)
	private.OnConnection(common)
	root.OnConnection(func(s *socketio.Socket) {
		common(s)
		s.On("chat message", func(ev *socketio.Event) {
			args, _ := ev.Args()
			_ = root.Emit("chat message", args...)
		})
		s.On("server-disconnect", func(ev *socketio.Event) {
			var close bool
			_ = ev.Bind(0, &close)
			s.Disconnect(close)
		})
		s.On("watch-disconnects", func(ev *socketio.Event) {
			s.Join("__watchers")
			ev.Ack(true)
		})
		s.On("join", func(ev *socketio.Event) {
			room, err := ev.String(0)
			if err == nil {
				s.Join(room)
			}
			ev.Ack(err == nil)
		})
		s.On("leave", func(ev *socketio.Event) {
			room, err := ev.String(0)
			if err == nil {
				s.Leave(room)
			}
			ev.Ack(err == nil)
		})
		s.On("room-message", func(ev *socketio.Event) {
			args, _ := ev.Args()
			room, err := ev.String(0)
			if err != nil || len(args) < 2 {
				return
			}
			_ = root.To(room).Emit("room-message", room, args[1])
		})
		s.On("broadcast-others", func(ev *socketio.Event) {
			args, _ := ev.Args()
			if len(args) > 0 {
				_ = s.Broadcast().Emit("others-message", args[0])
			}
		})
		s.On("multi-ack", func(ev *socketio.Event) { multiAck(root, ev, bg) })
	})
}

// multiAck handles multi-ack(room, timeoutMs): it asks every socket of room
// ("ask", room) with a timeout and acks {err, responses} as the Node
// reference does: err null when everyone answered, else the message of
// Node's timeout error with the answers that came in time. Like Node, a
// response is the first argument of each answer.
func multiAck(root *socketio.Namespace, ev *socketio.Event, bg *background) {
	room, errRoom := ev.String(0)
	var ms float64
	errMs := ev.Bind(1, &ms)
	if errRoom != nil || errMs != nil || ms != math.Trunc(ms) || ms <= 0 || ms > float64(maxMultiAckTimeout/time.Millisecond) {
		ev.Ack(map[string]any{"err": "multi-ack: want (room string, timeoutMs integer in 1..60000)", "responses": []any{}})
		return
	}
	// The wait runs off the connection's handler goroutine: the caller may be
	// in the room, and its own answer arrives through that goroutine.
	bg.Go(func(ctx context.Context) {
		answers, err := root.To(room).Timeout(time.Duration(ms)*time.Millisecond).EmitWithAck(ctx, "ask", room)
		responses := make([]any, 0, len(answers))
		for _, a := range answers {
			if len(a) > 0 {
				responses = append(responses, a[0])
			} else {
				responses = append(responses, nil)
			}
		}
		var msg any
		switch {
		case errors.Is(err, socketio.ErrAckTimeout):
			msg = "operation has timed out" // Node's message, without our package prefix
		case err != nil:
			msg = err.Error()
		}
		ev.Ack(map[string]any{"err": msg, "responses": responses})
	})
}

// emitRaw re-emits already-encoded arguments (binary attachments kept).
func emitRaw(s *socketio.Socket, event string, args []byte, att [][]byte) {
	_ = s.EmitRaw(event, args, att)
}

func flatQuery(s *socketio.Socket) map[string]string {
	out := map[string]string{}
	for k, v := range s.Handshake().Query() {
		if len(v) > 0 {
			out[k] = v[0]
		}
	}
	return out
}
