package wire

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/banter-chat/banter/socketio/parser"
)

// Request and response types (RequestType in lib/index.ts).
const (
	TypeSockets = iota
	TypeAllRooms
	TypeRemoteJoin
	TypeRemoteLeave
	TypeRemoteDisconnect
	TypeRemoteFetch
	TypeServerSideEmit
	TypeBroadcast
	TypeBroadcastClientCount
	TypeBroadcastAck
)

// Opts are a broadcast's options, as socketio.BroadcastOptions (the same
// fields: the adapter converts one into the other).
type Opts struct {
	Rooms    []string // empty: every socket of the namespace
	Except   []string // sockets in any of these rooms are skipped
	Volatile bool     // may be dropped for a client with a backlog
	Local    bool     // this node only (never set by a decoded message)
}

// Broadcast is a decoded broadcast message.
type Broadcast struct {
	UID    string
	Packet *parser.Packet
	Opts   Opts
}

// EncodeBroadcast writes [uid, packet, opts] for a broadcast of p (an
// EVENT whose Data is the JSON array [event, args...]).
func EncodeBroadcast(uid string, p *parser.Packet, opts Opts) ([]byte, error) {
	b := make([]byte, 0, 32+len(uid)+len(p.Data)+attachmentsLen(p.Attachments))
	b = appendArrayHeader(b, 3)
	b = appendStr(b, uid)
	b, err := appendPacket(b, p)
	if err != nil {
		return nil, err
	}
	return appendOpts(b, opts, 0), nil
}

func attachmentsLen(att [][]byte) int {
	n := 0
	for _, a := range att {
		n += len(a) + 5
	}
	return n
}

// appendPacket writes {type, data, nsp} as Node's BroadcastOperator builds
// it: type EVENT even when data holds binary (socket.io-parser picks
// BINARY_EVENT when it encodes for the clients).
func appendPacket(b []byte, p *parser.Packet) ([]byte, error) {
	b = appendMapHeader(b, 3)
	b = appendStr(b, "type")
	b = appendInt(b, int64(parser.Event))
	b = appendStr(b, "data")
	b, err := appendJSON(b, p.Data, p.Attachments)
	if err != nil {
		return nil, err
	}
	b = appendStr(b, "nsp")
	return appendStr(b, p.Namespace), nil
}

// appendOpts writes {rooms, except, flags}. timeout (milliseconds, 0 for
// none) is the broadcast-with-ack flag.
func appendOpts(b []byte, opts Opts, timeout int64) []byte {
	b = appendMapHeader(b, 3)
	b = appendStr(b, "rooms")
	b = appendStrings(b, Dedup(opts.Rooms))
	b = appendStr(b, "except")
	b = appendStrings(b, Dedup(opts.Except))
	b = appendStr(b, "flags")
	n := 0
	if opts.Volatile {
		n++
	}
	if timeout > 0 {
		n++
	}
	b = appendMapHeader(b, n)
	if opts.Volatile {
		b = appendStr(b, "volatile")
		b = appendBool(b, true)
	}
	if timeout > 0 {
		b = appendStr(b, "timeout")
		b = appendInt(b, timeout)
	}
	return b
}

// Dedup returns ss without repeated names, in order (Node sends Sets).
func Dedup(ss []string) []string {
	if len(ss) < 2 {
		return ss
	}
	seen := make(map[string]struct{}, len(ss))
	out := make([]string, 0, len(ss))
	for _, s := range ss {
		if _, ok := seen[s]; !ok {
			seen[s] = struct{}{}
			out = append(out, s)
		}
	}
	return out
}

// BroadcastUID returns the uid of a broadcast message without decoding the
// rest, so a node drops its own publications cheaply.
func BroadcastUID(msg []byte) (string, error) {
	r := reader{b: msg}
	if n, err := r.arrayLen(); err != nil {
		return "", err
	} else if n != 3 {
		return "", malformed("broadcast: %d elements, want [uid, packet, opts]", n)
	}
	return r.key()
}

// DecodeBroadcast decodes [uid, packet, opts].
func DecodeBroadcast(msg []byte) (*Broadcast, error) {
	r := reader{b: msg}
	n, err := r.arrayLen()
	if err != nil {
		return nil, err
	}
	if n != 3 {
		return nil, malformed("broadcast: %d elements, want [uid, packet, opts]", n)
	}
	m := &Broadcast{}
	if m.UID, err = r.key(); err != nil {
		return nil, err
	}
	if m.Packet, err = r.packet(); err != nil {
		return nil, err
	}
	if m.Opts, _, err = r.opts(); err != nil {
		return nil, err
	}
	if r.i != len(msg) {
		return nil, malformed("broadcast: %d trailing bytes", len(msg)-r.i)
	}
	return m, nil
}

// packet reads {type, data, nsp, id}: an EVENT (type 2, or 5 from a peer
// that typed binary events itself) whose data is [event, args...].
func (r *reader) packet() (*parser.Packet, error) {
	n, err := r.mapLen()
	if err != nil {
		return nil, fmt.Errorf("packet: %w", err)
	}
	p := &parser.Packet{Type: parser.Event, Namespace: "/"}
	typ := -1.0
	var data []byte
	for range n {
		k, err := r.key()
		if err != nil {
			return nil, err
		}
		switch k {
		case "type":
			if typ, err = r.number(); err != nil {
				return nil, fmt.Errorf("packet type: %w", err)
			}
		case "data":
			if data, p.Attachments, err = r.appendMsgpackJSON(nil, nil); err != nil {
				return nil, fmt.Errorf("packet data: %w", err)
			}
		case "nsp":
			if r.isNil() {
				continue
			}
			if p.Namespace, err = r.str(); err != nil {
				return nil, fmt.Errorf("packet nsp: %w", err)
			}
		default: // id (a broadcast has none) and anything newer
			if err := r.skip(); err != nil {
				return nil, err
			}
		}
	}
	if typ != float64(parser.Event) && typ != float64(parser.BinaryEvent) {
		return nil, malformed("packet: type %v, only EVENT packets are broadcast", typ)
	}
	if _, isNum, err := parser.EventName(data); err != nil || isNum {
		return nil, malformed("packet: data is not [event name, args...]")
	}
	p.Data = data
	return p, nil
}

// opts reads {rooms, except, flags}; timeout is flags.timeout in
// milliseconds (0 when absent).
func (r *reader) opts() (opts Opts, timeout int64, err error) {
	if r.isNil() {
		return opts, 0, nil
	}
	n, err := r.mapLen()
	if err != nil {
		return opts, 0, fmt.Errorf("opts: %w", err)
	}
	for range n {
		k, err := r.key()
		if err != nil {
			return opts, 0, err
		}
		switch k {
		case "rooms":
			opts.Rooms, err = r.strings()
		case "except":
			opts.Except, err = r.strings()
		case "flags":
			timeout, err = r.flags(&opts)
		default:
			err = r.skip()
		}
		if err != nil {
			return opts, 0, fmt.Errorf("opts %s: %w", k, err)
		}
	}
	return opts, timeout, nil
}

func (r *reader) flags(opts *Opts) (timeout int64, err error) {
	if r.isNil() {
		return 0, nil
	}
	n, err := r.mapLen()
	if err != nil {
		return 0, err
	}
	for range n {
		k, err := r.key()
		if err != nil {
			return 0, err
		}
		switch c, _ := r.peek(); {
		case k == "volatile" && (c == 0xc2 || c == 0xc3):
			opts.Volatile, err = r.bool()
		case k == "local" && (c == 0xc2 || c == 0xc3):
			opts.Local, err = r.bool()
		case k == "timeout" && c != 0xc0 && (c < 0x80 || c >= 0xca && c <= 0xd3):
			var f float64
			f, err = r.number()
			timeout = int64(f)
		default: // compress, expectSingleResponse, undefined values...
			err = r.skip()
		}
		if err != nil {
			return 0, err
		}
	}
	return timeout, nil
}

// RoomList is a JSON array of room names; Node allows numbers too.
type RoomList []string

// UnmarshalJSON reads room names, numbers written as JavaScript prints
// them.
func (l *RoomList) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	out := make([]string, 0, len(raw))
	for _, e := range raw {
		var s string
		if err := json.Unmarshal(e, &s); err == nil {
			out = append(out, s)
			continue
		}
		var f float64
		if err := json.Unmarshal(e, &f); err != nil {
			return fmt.Errorf("room name %s is neither a string nor a number", e)
		}
		out = append(out, string(appendJSNumber(nil, f)))
	}
	*l = out
	return nil
}

// RequestOpts are a JSON request's opts.
type RequestOpts struct {
	Rooms  RoomList `json:"rooms"`
	Except RoomList `json:"except"`
}

// NewRequestOpts returns o as a request's opts: sets as arrays, never null.
func NewRequestOpts(o Opts) *RequestOpts {
	w := &RequestOpts{Rooms: Dedup(o.Rooms), Except: Dedup(o.Except)}
	if w.Rooms == nil {
		w.Rooms = RoomList{}
	}
	if w.Except == nil {
		w.Except = RoomList{}
	}
	return w
}

// Opts returns the rooms to target and skip (none for nil).
func (w *RequestOpts) Opts() Opts {
	if w == nil {
		return Opts{}
	}
	return Opts{Rooms: w.Rooms, Except: w.Except}
}

// Request is any message of the request channel.
type Request struct {
	UID       string          `json:"uid,omitempty"`
	RequestID string          `json:"requestId,omitempty"`
	Type      int             `json:"type"`
	Rooms     RoomList        `json:"rooms,omitempty"` // SOCKETS: targets; REMOTE_JOIN/LEAVE: rooms to join/leave
	Opts      *RequestOpts    `json:"opts,omitempty"`
	SID       string          `json:"sid,omitempty"` // REMOTE_JOIN/LEAVE/DISCONNECT of one socket (older peers)
	Room      string          `json:"room,omitempty"`
	Close     bool            `json:"close,omitempty"`
	Data      json.RawMessage `json:"data,omitempty"` // SERVER_SIDE_EMIT: [event, args...]

	// BROADCAST (MessagePack only): the packet, its options and its
	// timeout in milliseconds (0: none).
	Packet        *parser.Packet `json:"-"`
	BroadcastOpts Opts           `json:"-"`
	Timeout       int64          `json:"-"`
}

// DecodeRequest decodes a JSON or MessagePack request.
func DecodeRequest(msg []byte) (*Request, error) {
	if len(msg) > 0 && msg[0] == '{' {
		req := Request{Type: -1} // a request without a type is of no known type
		if err := json.Unmarshal(msg, &req); err != nil {
			return nil, fmt.Errorf("%w: request: %v", ErrMalformed, err)
		}
		return &req, nil
	}
	r := reader{b: msg}
	n, err := r.mapLen()
	if err != nil {
		return nil, fmt.Errorf("request: %w", err)
	}
	req := &Request{Type: -1}
	for range n {
		k, err := r.key()
		if err != nil {
			return nil, err
		}
		switch k {
		case "uid":
			req.UID, err = r.key()
		case "requestId":
			req.RequestID, err = r.key()
		case "type":
			var f float64
			f, err = r.number()
			req.Type = int(f)
		case "packet":
			req.Packet, err = r.packet()
		case "opts":
			req.BroadcastOpts, req.Timeout, err = r.opts()
		default:
			// Other requests in MessagePack (a custom Node parser): take
			// them through JSON.
			var js []byte
			if js, _, err = r.appendMsgpackJSON(nil, nil); err == nil {
				err = req.setJSONField(k, js)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("request %s: %w", k, err)
		}
	}
	if r.i != len(msg) {
		return nil, malformed("request: %d trailing bytes", len(msg)-r.i)
	}
	return req, nil
}

func (req *Request) setJSONField(k string, js []byte) error {
	switch k {
	case "rooms":
		return json.Unmarshal(js, &req.Rooms)
	case "sid":
		return json.Unmarshal(js, &req.SID)
	case "room":
		return json.Unmarshal(js, &req.Room)
	case "close":
		return json.Unmarshal(js, &req.Close)
	case "data":
		req.Data = js
	}
	return nil
}

// EncodeBroadcastRequest writes a BROADCAST request (MessagePack);
// timeout is in milliseconds (0: none).
func EncodeBroadcastRequest(uid, requestID string, p *parser.Packet, opts Opts, timeout int64) ([]byte, error) {
	b := make([]byte, 0, 64+len(p.Data)+attachmentsLen(p.Attachments))
	b = appendMapHeader(b, 5)
	b = appendStr(b, "uid")
	b = appendStr(b, uid)
	b = appendStr(b, "requestId")
	b = appendStr(b, requestID)
	b = appendStr(b, "type")
	b = appendInt(b, TypeBroadcast)
	b = appendStr(b, "packet")
	b, err := appendPacket(b, p)
	if err != nil {
		return nil, err
	}
	b = appendStr(b, "opts")
	return appendOpts(b, opts, timeout), nil
}

// Response is any message of the response channels.
type Response struct {
	Type        int             `json:"type,omitempty"`
	RequestID   string          `json:"requestId"`
	Sockets     json.RawMessage `json:"sockets,omitempty"` // SOCKETS: ids; REMOTE_FETCH: Sockets
	Rooms       RoomList        `json:"rooms,omitempty"`   // ALL_ROOMS
	ClientCount int             `json:"clientCount,omitempty"`
	Data        json.RawMessage `json:"data,omitempty"` // SERVER_SIDE_EMIT answer

	// BROADCAST_ACK: the client's answer ([arg] as JSON, or nil when
	// the client answered nothing) and its attachments.
	Ack         json.RawMessage `json:"-"`
	Attachments [][]byte        `json:"-"`
}

// DecodeResponse decodes a JSON or MessagePack response.
func DecodeResponse(msg []byte) (*Response, error) {
	var res Response
	if len(msg) > 0 && msg[0] == '{' {
		if err := json.Unmarshal(msg, &res); err != nil {
			return nil, fmt.Errorf("%w: response: %v", ErrMalformed, err)
		}
		return &res, nil
	}
	r := reader{b: msg}
	n, err := r.mapLen()
	if err != nil {
		return nil, fmt.Errorf("response: %w", err)
	}
	for range n {
		k, err := r.key()
		if err != nil {
			return nil, err
		}
		switch k {
		case "type":
			var f float64
			f, err = r.number()
			res.Type = int(f)
		case "requestId":
			res.RequestID, err = r.key()
		case "packet":
			var js []byte
			js, res.Attachments, err = r.appendMsgpackJSON([]byte{'['}, nil)
			res.Ack = append(js, ']')
		case "clientCount":
			var f float64
			f, err = r.number()
			res.ClientCount = int(f)
		default:
			var js []byte
			if js, _, err = r.appendMsgpackJSON(nil, nil); err == nil {
				switch k {
				case "sockets":
					res.Sockets = js
				case "rooms":
					err = json.Unmarshal(js, &res.Rooms)
				case "data":
					res.Data = js
				}
			}
		}
		if err != nil {
			return nil, fmt.Errorf("response %s: %w", k, err)
		}
	}
	return &res, nil
}

// EncodeBroadcastAck writes a BROADCAST_ACK response: the first argument
// of a client's answer (Node's adapter keeps only that one).
func EncodeBroadcastAck(requestID string, args []any) ([]byte, error) {
	b := make([]byte, 0, 64)
	n := 2
	if len(args) > 0 {
		n = 3
	}
	b = appendMapHeader(b, n)
	b = appendStr(b, "type")
	b = appendInt(b, TypeBroadcastAck)
	b = appendStr(b, "requestId")
	b = appendStr(b, requestID)
	if len(args) > 0 {
		data, att, err := parser.EncodeArgs(args[0])
		if err != nil {
			return nil, err
		}
		arr, err := appendJSON(nil, data, att)
		if err != nil {
			return nil, err
		}
		b = appendStr(b, "packet")
		b = append(b, arr[1:]...) // the element, without its array header (0x91)
	}
	return b, nil
}

// Socket is a socket in a REMOTE_FETCH response.
type Socket struct {
	ID        string    `json:"id"`
	Handshake Handshake `json:"handshake"`
	Rooms     RoomList  `json:"rooms"`
	Data      any       `json:"data,omitempty"`
}

// Handshake is Node's socket.handshake.
type Handshake struct {
	Headers map[string]any `json:"headers"`
	Time    string         `json:"time"` // as JavaScript's Date.prototype.toString
	Address string         `json:"address"`
	XDomain bool           `json:"xdomain"`
	Secure  bool           `json:"secure"`
	Issued  float64        `json:"issued"` // Unix milliseconds
	URL     string         `json:"url"`
	Query   map[string]any `json:"query"`
	Auth    map[string]any `json:"auth"`
}

// EncodeJSON marshals a JSON request or response without HTML escaping
// (as JSON.stringify).
func EncodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}
