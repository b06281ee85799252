package siogw

import (
	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/gateway/proto1"
)

// Chat rooms as Socket.IO rooms (Config.SocketIORooms): the socket of a
// session that joined chat room R is in the Socket.IO room R (its canonical
// name) on the namespace, and leaves it with the chat room. Tools that
// address Socket.IO rooms then reach chat rooms: @socket.io/redis-emitter's
// to("lobby"), the Admin UI's room lists and actions, FetchSockets. The
// membership costs a room entry in the namespace's adapter per joined room
// and socket, so it is kept only when such a tool is on. DM rooms joined
// automatically by a direct message are not mirrored (they are private).

// mirrorJoined puts the socket in the Socket.IO rooms of what a protocol 1
// command joined or left.
func (c *conn) mirrorJoined(cmd proto1.Command, res any) {
	if !c.g.cfg.SocketIORooms {
		return
	}
	switch r := res.(type) {
	case proto1.HelloResult:
		for _, o := range r.Rooms {
			if o.Err == nil {
				c.sock.Join(o.Result.Room)
			}
		}
	case chat.JoinResult:
		c.sock.Join(r.Room)
	case proto1.RoomResult:
		if cmd.Name == proto1.CmdLeave {
			c.sock.Leave(r.Room)
		}
	}
}

// mirrorDefaultRoom puts the socket of a classic or SocketChat session,
// which is in the default room, in its Socket.IO room.
func (c *conn) mirrorDefaultRoom() {
	if c.g.cfg.SocketIORooms {
		c.sock.Join(c.g.svc.DefaultRoom())
	}
}
