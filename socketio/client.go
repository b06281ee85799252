package socketio

import (
	"bytes"
	"encoding/json"
	"sync"
	"time"

	"github.com/banter-chat/banter/engineio"
	"github.com/banter-chat/banter/socketio/parser"
)

// client is one Engine.IO connection and the sockets (one per namespace)
// multiplexed over it.
type client struct {
	srv      *Server
	conn     *engineio.Socket
	protocol int // Socket.IO protocol: 5 (EIO 4) or 4 (EIO 3)
	decoder  parser.Decoder

	mu           sync.Mutex
	sockets      []*Socket // one per joined namespace; usually one, so a slice beats a map
	connectTimer *time.Timer
	closed       bool
}

func newClient(s *Server, conn *engineio.Socket) *client {
	c := &client{srv: s, conn: conn, protocol: 5}
	if conn.Protocol() == 3 {
		c.protocol = 4
	}
	c.decoder.MaxAttachments = s.cfg.MaxAttachments
	return c
}

func (c *client) start() {
	if c.protocol == 4 {
		// Protocol v4 clients are connected to "/" implicitly.
		c.connect("/", nil, "")
		return
	}
	c.mu.Lock()
	c.connectTimer = time.AfterFunc(c.srv.cfg.ConnectTimeout, func() {
		c.mu.Lock()
		empty := len(c.sockets) == 0
		c.mu.Unlock()
		if empty {
			c.srv.log.Debug("socket.io: no namespace joined in time", "sid", c.conn.ID())
			c.conn.Close(engineio.ReasonForcedClose)
		}
	})
	c.mu.Unlock()
}

// OnMessage decodes Socket.IO packets (engineio.Handler).
func (c *client) OnMessage(_ *engineio.Socket, data []byte, binary bool) {
	data = bytes.Clone(data) // the transport reuses its buffer
	var p *parser.Packet
	var done bool
	var err error
	if binary {
		p, done, err = c.decoder.AddBinary(data)
	} else {
		p, done, err = c.decoder.AddText(data)
	}
	if err != nil {
		c.srv.log.Debug("socket.io: invalid packet, closing", "sid", c.conn.ID(), "err", err)
		c.closeWith(ReasonParseError)
		return
	}
	if done {
		c.onPacket(p)
	}
}

func (c *client) onPacket(p *parser.Packet) {
	if p.Type == parser.Connect {
		var auth map[string]any
		if len(p.Data) > 0 && c.protocol == 5 {
			if err := json.Unmarshal(p.Data, &auth); err != nil {
				c.closeWith(ReasonParseError)
				return
			}
		}
		c.connect(p.Namespace, auth, p.Query)
		return
	}
	c.mu.Lock()
	sock := c.socketLocked(p.Namespace)
	c.mu.Unlock()
	if sock == nil {
		// Node ignores packets for namespaces the client has not joined.
		c.srv.log.Debug("socket.io: packet for an unjoined namespace", "nsp", p.Namespace)
		return
	}
	sock.onPacket(p)
}

// connect joins the namespace name: CONNECT reply or CONNECT_ERROR.
func (c *client) connect(name string, auth map[string]any, query string) {
	nsp := c.srv.lookupNamespace(name, auth)
	if nsp == nil {
		c.sendConnectError(name, "Invalid namespace", nil)
		return
	}
	c.mu.Lock()
	if dup := c.socketLocked(name) != nil; dup || c.closed {
		c.mu.Unlock()
		// A second CONNECT for the same namespace: Node closes the connection.
		if dup {
			c.closeWith(ReasonParseError)
		}
		return
	}
	if c.connectTimer != nil {
		c.connectTimer.Stop()
		c.connectTimer = nil
	}
	c.mu.Unlock()
	nsp.add(c, auth, query)
}

func (c *client) sendConnectError(nsp, message string, data any) {
	var payload any
	if c.protocol == 4 {
		// v4 clients expect the data, or the message, as the payload.
		if data != nil {
			payload = data
		} else {
			payload = message
		}
	} else {
		e := struct {
			Message string `json:"message"`
			Data    any    `json:"data,omitempty"`
		}{message, data}
		payload = e
	}
	raw, err := json.Marshal(payload)
	if err != nil {
		raw, _ = json.Marshal(message)
	}
	c.writePacket(&parser.Packet{Type: parser.ConnectError, Namespace: nsp, Data: raw})
}

// writePacket encodes and sends one packet to this client only.
func (c *client) writePacket(p *parser.Packet) {
	_ = c.conn.SendMany(encodePacket(p)...)
}

// enqueuePacket queues p without uncorking the connection (Cork).
func (c *client) enqueuePacket(p *parser.Packet) {
	_ = c.conn.Enqueue(encodePacket(p)...)
}

// encodePacket turns a packet into Engine.IO messages: the text frame, then
// one binary message per attachment.
func encodePacket(p *parser.Packet) []*engineio.Message {
	text := parser.Encode(p)
	msgs := make([]*engineio.Message, 0, 1+len(p.Attachments))
	msgs = append(msgs, engineio.NewMessage(text, false))
	for _, a := range p.Attachments {
		msgs = append(msgs, engineio.NewMessage(a, true))
	}
	return msgs
}

// socketLocked returns the socket of namespace name, or nil.
func (c *client) socketLocked(name string) *Socket {
	for _, s := range c.sockets {
		if s.nsp.name == name {
			return s
		}
	}
	return nil
}

func (c *client) remove(sock *Socket) {
	c.mu.Lock()
	for i, o := range c.sockets {
		if o == sock {
			c.sockets = append(c.sockets[:i], c.sockets[i+1:]...)
			break
		}
	}
	c.mu.Unlock()
}

// OnClose disconnects every socket of the connection (engineio.Handler).
func (c *client) OnClose(_ *engineio.Socket, reason engineio.Reason) {
	c.mu.Lock()
	c.closed = true
	if c.connectTimer != nil {
		c.connectTimer.Stop()
	}
	socks := c.sockets
	c.sockets = nil
	c.mu.Unlock()
	r := Reason(reason)
	switch reason {
	case engineio.ReasonForcedClose:
		r = ReasonForcedServerClose
	case engineio.ReasonParseError:
		r = ReasonParseError
	}
	for _, s := range socks {
		s.onClose(r)
	}
}

func (c *client) closeWith(r Reason) {
	c.conn.Close(engineio.Reason(r))
}
