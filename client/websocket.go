package client

import (
	"context"
	"errors"
	"fmt"

	"github.com/coder/websocket"

	eio "github.com/banter-chat/banter/engineio/parser"
)

// maxWebSocketRead bounds one received frame (the server's maxPayload is
// unknown before the handshake of a WebSocket-only connection).
const maxWebSocketRead = 64 << 20

// wsTransport is the WebSocket transport: one Engine.IO packet per frame.
type wsTransport struct {
	conn *websocket.Conn
}

func (w *wsTransport) name() string { return "websocket" }

// dialWebSocket opens a WebSocket. Without sid it is a new session and the
// first frame, the open packet, is returned; with sid it is an upgrade
// probe, answered before it returns.
func dialWebSocket(ctx context.Context, e *engine, sid string) (*wsTransport, []eio.Packet, error) {
	conn, res, err := websocket.Dial(ctx, e.url("websocket", sid), &websocket.DialOptions{
		HTTPClient: e.cfg.HTTPClient,
		HTTPHeader: e.header(),
	})
	if err != nil {
		status := ""
		if res != nil {
			status = " (" + res.Status + ")"
		}
		return nil, nil, &disconnectError{reason: ReasonTransportError, err: fmt.Errorf("%w: websocket%s: %w", ErrTransport, status, err)}
	}
	conn.SetReadLimit(maxWebSocketRead)
	w := &wsTransport{conn: conn}
	if sid != "" {
		if err := w.write(ctx, []eio.Packet{{Type: eio.Ping, Data: []byte("probe")}}); err != nil {
			w.close()
			return nil, nil, err
		}
	}
	p, err := w.read(ctx)
	if err != nil {
		w.close()
		return nil, nil, err
	}
	if sid != "" && (p.Type != eio.Pong || string(p.Data) != "probe") {
		w.close()
		return nil, nil, fmt.Errorf("%w: upgrade probe answered with %s %q", ErrHandshake, p.Type, p.Data)
	}
	return w, []eio.Packet{p}, nil
}

func (w *wsTransport) read(ctx context.Context) (eio.Packet, error) {
	typ, msg, err := w.conn.Read(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return eio.Packet{}, ctx.Err()
		}
		// A close frame, EOF or reset: the JS client calls all of them a close.
		return eio.Packet{}, &disconnectError{reason: ReasonTransportClose, err: err}
	}
	var p eio.Packet
	if typ == websocket.MessageBinary {
		p, err = eio.DecodeBinary(msg, 4)
	} else {
		p, err = eio.DecodeText(msg, false)
	}
	if err != nil {
		return p, &disconnectError{reason: ReasonParseError, err: err}
	}
	return p, nil
}

func (w *wsTransport) write(ctx context.Context, pkts []eio.Packet) error {
	for _, p := range pkts {
		var err error
		if p.Binary {
			err = w.conn.Write(ctx, websocket.MessageBinary, p.Data)
		} else {
			err = w.conn.Write(ctx, websocket.MessageText, eio.AppendText(nil, p, 4))
		}
		if err != nil {
			if errors.Is(err, context.Canceled) {
				return err
			}
			return &disconnectError{reason: ReasonTransportError, err: fmt.Errorf("%w: %w", ErrTransport, err)}
		}
	}
	return nil
}

func (w *wsTransport) run(ctx context.Context, deliver func([]eio.Packet) error) error {
	for {
		p, err := w.read(ctx)
		if err != nil {
			return err
		}
		if err := deliver([]eio.Packet{p}); err != nil {
			return err
		}
	}
}

func (w *wsTransport) close() { _ = w.conn.CloseNow() }
