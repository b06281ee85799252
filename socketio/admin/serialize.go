package admin

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/banter-chat/banter/socketio"
)

// socketJSON is a socket as the dashboard reads it (Node's serialize()).
type socketJSON struct {
	ID        string          `json:"id"`
	ClientID  string          `json:"clientId"`
	Transport string          `json:"transport"`
	Nsp       string          `json:"nsp"`
	Data      json.RawMessage `json:"data"`
	Handshake handshakeJSON   `json:"handshake"`
	Rooms     []string        `json:"rooms"`
}

// handshakeJSON is Node's socket.handshake without auth (the dashboard
// must not see the credentials of the sockets it lists).
type handshakeJSON struct {
	Address string         `json:"address"`
	Headers map[string]any `json:"headers"`
	Query   map[string]any `json:"query"`
	Issued  int64          `json:"issued"`
	Secure  bool           `json:"secure"`
	Time    string         `json:"time"`
	URL     string         `json:"url"`
	XDomain bool           `json:"xdomain"`
}

// serializeSocket describes a socket of this node.
func serializeSocket(s *socketio.Socket) json.RawMessage {
	h := s.Handshake()
	headers := h.Headers()
	return marshal(socketJSON{
		ID: s.ID(), ClientID: clientID(s.ClientID()), Transport: s.Transport(), Nsp: s.Namespace().Name(),
		Data:      serializeData(s.Data()),
		Handshake: handshake(headers, h.Query(), h.Address, h.Time, h.Secure, h.URL, headers.Get("Origin") != ""),
		Rooms:     nonNil(s.Rooms()),
	})
}

// serializeRemote describes a socket FetchSockets returned (of any node).
func serializeRemote(r *socketio.RemoteSocket, nsp string) json.RawMessage {
	h := r.Handshake
	return marshal(socketJSON{
		ID: r.ID, ClientID: clientID(r.ClientID), Transport: r.Transport, Nsp: nsp,
		Data:      serializeData(r.Data),
		Handshake: handshake(h.Headers, h.Query, h.Address, h.Time, h.Secure, h.URL, h.XDomain),
		Rooms:     nonNil(r.Rooms),
	})
}

func handshake(headers http.Header, query url.Values, address string, t time.Time, secure bool, u string, xdomain bool) handshakeJSON {
	hs := make(map[string]any, len(headers))
	for k, v := range headers {
		// As Node's IncomingMessage.headers: lower case, repeated headers
		// joined.
		k = strings.ToLower(k)
		if k == "set-cookie" {
			hs[k] = v
		} else if k == "cookie" {
			hs[k] = strings.Join(v, "; ")
		} else {
			hs[k] = strings.Join(v, ", ")
		}
	}
	q := make(map[string]any, len(query))
	for k, v := range query {
		if len(v) == 1 {
			q[k] = v[0]
		} else {
			q[k] = v
		}
	}
	// As Node's instrument(): the client's address behind a proxy.
	if v := headers.Get("Cf-Connecting-Ip"); v != "" {
		address = v
	} else if v := headers.Get("X-Forwarded-For"); v != "" {
		address = v
	}
	return handshakeJSON{
		Address: address, Headers: hs, Query: q, Issued: t.UnixMilli(), Secure: secure,
		Time: jsDateString(t), URL: u, XDomain: xdomain,
	}
}

// clientID is the part of the connection id the dashboard shows (Node
// keeps 12 characters).
func clientID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// serializeData is a socket's data as a JSON object: an object as is, nil
// (or what JSON cannot express) as {}, any other value under "value".
func serializeData(v any) json.RawMessage {
	if v == nil {
		return json.RawMessage("{}")
	}
	b, err := json.Marshal(v)
	if err != nil || string(b) == "null" {
		return json.RawMessage("{}")
	}
	if b[0] == '{' {
		return b
	}
	return marshal(map[string]json.RawMessage{"value": b})
}

func marshal(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage("null")
	}
	return b
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// jsDateString formats t as JavaScript's Date.prototype.toString.
func jsDateString(t time.Time) string {
	return t.Format("Mon Jan 02 2006 15:04:05 GMT-0700") + " (" + t.Format("MST") + ")"
}
