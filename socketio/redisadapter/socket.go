package redisadapter

import (
	"encoding/json"
	"fmt"
	"maps"
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

// adminKey is the data key under which an instrumented Node server (the
// Admin UI's instrument()) keeps a socket's connection id and transport.
const adminKey = "_admin"

// withAdmin returns data with {_admin: {clientId, transport}} added, as an
// instrumented Node server's socket.data reads: data that is not a JSON
// object (or nil) is left out, as Node's copy of its keys would.
func withAdmin(data any, clientID, transport string) any {
	out := map[string]any{}
	switch d := data.(type) {
	case nil:
	case map[string]any:
		maps.Copy(out, d)
	default:
		if b, err := json.Marshal(d); err == nil {
			var m map[string]any
			if json.Unmarshal(b, &m) == nil {
				maps.Copy(out, m)
			}
		}
	}
	if len(clientID) > 12 {
		clientID = clientID[:12] // as Node's instrument() keeps it
	}
	out[adminKey] = map[string]any{"clientId": clientID, "transport": transport}
	return out
}

// toWireSocket is s as Node describes a socket to other nodes; an
// instrumented node adds its connection id and transport to the data, as
// Node's Admin UI does.
func toWireSocket(s *socketio.RemoteSocket, instrumented bool) wire.Socket {
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
	data := s.Data
	if instrumented {
		data = withAdmin(data, s.ClientID, s.Transport)
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
		Data:  data,
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
	data := w.Data
	var clientID, transport string
	if m, ok := data.(map[string]any); ok {
		if adm, ok := m[adminKey].(map[string]any); ok {
			clientID, _ = adm["clientId"].(string)
			transport, _ = adm["transport"].(string)
			rest := make(map[string]any, len(m)-1)
			for k, v := range m {
				if k != adminKey {
					rest[k] = v
				}
			}
			data = rest
		}
	}
	return &socketio.RemoteSocket{
		ClientID: clientID, Transport: transport,
		ID: w.ID,
		Handshake: socketio.HandshakeInfo{
			Headers: headers, Time: time.UnixMilli(int64(h.Issued)), Address: h.Address,
			XDomain: h.XDomain, Secure: h.Secure, URL: h.URL, Query: query, Auth: h.Auth,
		},
		Rooms: w.Rooms,
		Data:  data,
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
