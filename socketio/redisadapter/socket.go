package redisadapter

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/banter-chat/banter/socketio"
	"github.com/banter-chat/banter/socketio/redisadapter/wire"
)

// Sockets between socketio and the wire (REMOTE_FETCH).

// jsDateString formats t as JavaScript's Date.prototype.toString.
func jsDateString(t time.Time) string {
	return t.Format("Mon Jan 02 2006 15:04:05 GMT-0700") + " (" + t.Format("MST") + ")"
}

// toWireSocket is s as Node describes a socket to other nodes.
func toWireSocket(s *socketio.RemoteSocket) wire.Socket {
	h := s.Handshake
	headers := make(map[string]any, len(h.Headers))
	for k, v := range h.Headers {
		// As Node's IncomingMessage.headers: lower case, repeated
		// headers joined, set-cookie kept as a list.
		switch k = strings.ToLower(k); k {
		case "set-cookie":
			headers[k] = v
		case "cookie":
			headers[k] = strings.Join(v, "; ")
		default:
			headers[k] = strings.Join(v, ", ")
		}
	}
	query := make(map[string]any, len(h.Query))
	for k, v := range h.Query {
		if len(v) == 1 {
			query[k] = v[0]
		} else {
			query[k] = v
		}
	}
	auth := h.Auth
	if auth == nil {
		auth = map[string]any{}
	}
	rooms := s.Rooms
	if rooms == nil {
		rooms = []string{}
	}
	return wire.Socket{
		ID: s.ID,
		Handshake: wire.Handshake{
			Headers: headers, Time: jsDateString(h.Time), Address: h.Address, XDomain: h.XDomain,
			Secure: h.Secure, Issued: float64(h.Time.UnixMilli()), URL: h.URL, Query: query, Auth: auth,
		},
		Rooms: rooms,
		Data:  s.Data,
	}
}

// remoteSocket is a socket another node described.
func remoteSocket(w *wire.Socket) *socketio.RemoteSocket {
	h := w.Handshake
	headers := make(http.Header, len(h.Headers))
	for k, v := range h.Headers {
		headers[http.CanonicalHeaderKey(k)] = stringValues(v)
	}
	query := make(url.Values, len(h.Query))
	for k, v := range h.Query {
		query[k] = stringValues(v)
	}
	return &socketio.RemoteSocket{
		ID: w.ID,
		Handshake: socketio.HandshakeInfo{
			Headers: headers, Time: time.UnixMilli(int64(h.Issued)), Address: h.Address,
			XDomain: h.XDomain, Secure: h.Secure, URL: h.URL, Query: query, Auth: h.Auth,
		},
		Rooms: w.Rooms,
		Data:  w.Data,
	}
}

// stringValues turns a header or query value (a string or an array of
// them) into a list.
func stringValues(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			out = append(out, fmt.Sprint(e))
		}
		return out
	case nil:
		return nil
	case float64:
		return []string{strconv.FormatFloat(x, 'f', -1, 64)}
	}
	return []string{fmt.Sprint(v)}
}
