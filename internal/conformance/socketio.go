package conformance

import (
	"github.com/banter-chat/banter/socketio"
)

// setupSocketIO installs the namespaces the official socket.io-protocol
// suite and our interop tests expect.
func setupSocketIO(io *socketio.Server) {
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
		s.On("request-server-ack", func(ev *socketio.Event) {
			args, _ := ev.Args()
			_ = s.EmitCallback("server-ack", args, 0, func(reply []any, err error) {
				if err == nil {
					_ = s.Emit("server-ack-result", reply...)
				}
			})
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
