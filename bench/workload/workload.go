// Package workload is the benchmark workload that Banter and the Node.js
// reference server (bench/node/server.js) serve identically, so the load
// generator in package bench measures the same work on both:
//
//   - "chat message" (any args): emitted to every socket of "/", sender included;
//   - "join" (room) with ack: joins the room, acks true;
//   - "leave" (room): leaves the room;
//   - "room message" ({room, msg}): "chat message" with msg to that room;
//   - "echo" (payload) with ack: acks with the payload as received.
//
// Entry point: Mount(srv). Concurrency: the handlers only call socketio
// methods, which are safe for concurrent use; Mount must be called before the
// server accepts connections.
package workload

import (
	"encoding/json"
	"log/slog"

	"github.com/banter-chat/banter/socketio"
)

// Mount installs the workload on the server's "/" namespace. log receives a
// debug line per rejected event (nil: discard).
func Mount(srv *socketio.Server, log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	nsp := srv.Of("/")
	// Namespace-wide handlers (Namespace.On): the same behaviour as handlers
	// registered per socket in a connection handler, without a handler map
	// and closures per connection.
	nsp.On("chat message", func(ev *socketio.Event) {
		// Re-emit the arguments as received: no decode/encode round trip,
		// as Node's io.emit(...args) only re-serializes them.
		raw := ev.RawArgs()
		args := make([]any, len(raw))
		for i, r := range raw {
			args[i] = r
		}
		if err := nsp.Emit("chat message", args...); err != nil {
			log.Debug("workload: chat message", "err", err)
		}
	})
	nsp.On("join", func(ev *socketio.Event) {
		room, err := ev.String(0)
		if err != nil {
			log.Debug("workload: join", "err", err)
			ev.Ack(false)
			return
		}
		ev.Socket.Join(room)
		ev.Ack(true)
	})
	nsp.On("leave", func(ev *socketio.Event) {
		room, err := ev.String(0)
		if err != nil {
			log.Debug("workload: leave", "err", err)
			return
		}
		ev.Socket.Leave(room)
	})
	nsp.On("room message", func(ev *socketio.Event) {
		var m struct {
			Room string          `json:"room"`
			Msg  json.RawMessage `json:"msg"`
		}
		if err := ev.Bind(0, &m); err != nil || m.Room == "" {
			log.Debug("workload: room message without room", "err", err)
			return
		}
		if m.Msg == nil {
			m.Msg = json.RawMessage("null")
		}
		if err := nsp.To(m.Room).Emit("chat message", m.Msg); err != nil {
			log.Debug("workload: room message", "err", err)
		}
	})
	nsp.On("echo", func(ev *socketio.Event) {
		data, att := ev.ArgsJSON()
		ev.AckRaw(data, att)
	})
}
