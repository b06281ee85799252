package mqttgw

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/banter-chat/banter/chat"
	"github.com/mochi-mqtt/server/v2/packets"
)

// The topic scheme (docs/protocol.md, MQTT). Every topic is under "banter/";
// nothing else is served, so the broker is a chat gateway and not an open
// MQTT broker.
const (
	topicPrefix  = "banter/"
	roomsPrefix  = "banter/rooms/"
	TopicDM      = "banter/dm"      // publish a DM; subscribe to receive your DMs
	TopicHistory = "banter/history" // publish a request; subscribe for the responses
	TopicErrors  = "banter/errors"  // subscribe: errors of publishes that could not be refused in a PUBACK
	// RepliesPrefix starts topics a client may name as its MQTT 5 response
	// topic: banter/replies/<anything>.
	RepliesPrefix = "banter/replies/"
	suffixPres    = "/presence"
	suffixTyping  = "/typing"
)

// RoomTopic is the message topic of a canonical room.
func RoomTopic(room string) string { return roomsPrefix + room }

// PresenceTopic and TypingTopic are a room's presence and typing topics.
func PresenceTopic(room string) string { return roomsPrefix + room + suffixPres }
func TypingTopic(room string) string   { return roomsPrefix + room + suffixTyping }

type topicKind uint8

const (
	kindRoom     topicKind = iota + 1 // banter/rooms/<room>
	kindPresence                      // banter/rooms/<room>/presence
	kindTyping                        // banter/rooms/<room>/typing
	kindDM                            // banter/dm
	kindHistory                       // banter/history
	kindErrors                        // banter/errors
	kindReplies                       // banter/replies/...
)

type topic struct {
	kind topicKind
	room string // canonical; set for kindRoom, kindPresence, kindTyping
}

var errUnknownTopic = chat.Errorf(chat.CodeInvalidArgument,
	"unknown topic: use banter/rooms/<room>[/presence|/typing], banter/dm, banter/history, banter/errors or banter/replies/...")

// parseTopic classifies a topic name or an exact subscription filter.
// Wildcards are refused: a subscription is a room membership, and "every
// room" is not one.
func parseTopic(s string) (topic, error) {
	if !utf8.ValidString(s) {
		return topic{}, chat.Errorf(chat.CodeInvalidArgument, "topic is not valid UTF-8")
	}
	if !strings.HasPrefix(s, topicPrefix) {
		return topic{}, errUnknownTopic
	}
	if strings.ContainsAny(s, "+#") {
		return topic{}, chat.Errorf(chat.CodeInvalidArgument, "wildcards are not supported: subscribe to each room's topic")
	}
	switch s {
	case TopicDM:
		return topic{kind: kindDM}, nil
	case TopicHistory:
		return topic{kind: kindHistory}, nil
	case TopicErrors:
		return topic{kind: kindErrors}, nil
	}
	if rest, ok := strings.CutPrefix(s, RepliesPrefix); ok && rest != "" {
		return topic{kind: kindReplies}, nil
	}
	rest, ok := strings.CutPrefix(s, roomsPrefix)
	if !ok || rest == "" {
		return topic{}, errUnknownTopic
	}
	kind := kindRoom
	// The suffix wins: a DM room of a nickname ending in "/typing" cannot
	// be addressed by topic (banter/dm still reaches it).
	if r, ok := strings.CutSuffix(rest, suffixPres); ok {
		kind, rest = kindPresence, r
	} else if r, ok := strings.CutSuffix(rest, suffixTyping); ok {
		kind, rest = kindTyping, r
	}
	room, err := chat.NormalizeRoom(rest)
	if err != nil {
		return topic{}, err
	}
	if room != rest {
		return topic{}, chat.Errorf(chat.CodeInvalidRoom, "room %q in a topic must be canonical: %q", rest, room)
	}
	return topic{kind: kind, room: room}, nil
}

// mayRead reports whether the user with nickname key me may use room: any
// public room, and the DM rooms it is one of the two users of.
func mayRead(room, me string) bool {
	a, b, dm := chat.DMParticipants(room)
	return !dm || a == me || b == me
}

// --- inbound payloads --------------------------------------------------------

// messageIn is a publish to banter/rooms/<room> in JSON form. A payload that
// is not a JSON object is the message text itself (mosquitto_pub -m hello).
type messageIn struct {
	Text     *string `json:"text"`
	ClientID string  `json:"clientId"`
	From     string  `json:"from"` // optional; must be the sender itself
}

// dmIn is a publish to banter/dm.
type dmIn struct {
	To       string  `json:"to"`
	Text     *string `json:"text"`
	ClientID string  `json:"clientId"`
	From     string  `json:"from"`
}

// historyIn is a publish to banter/history. After set: messages after that
// Seq (catch-up); otherwise the page before Before (0 = the latest).
type historyIn struct {
	ID     json.RawMessage `json:"id"` // echoed in the response (correlation for MQTT 3.1.1)
	Room   string          `json:"room"`
	Before int64           `json:"before"`
	After  *int64          `json:"after"`
	Limit  int             `json:"limit"`
}

type typingIn struct {
	Active *bool `json:"active"`
}

func isJSONObject(p []byte) bool {
	p = bytes.TrimLeft(p, " \t\r\n")
	return len(p) > 0 && p[0] == '{'
}

// decodeJSON decodes a JSON object payload. Invalid UTF-8 is refused
// (invalid_message, as on every gateway: docs/protocol.md), not turned into
// U+FFFD as encoding/json would.
func decodeJSON(p []byte, v any) error {
	if !utf8.Valid(p) {
		return chat.Errorf(chat.CodeInvalidMessage, "payload is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(p))
	if err := dec.Decode(v); err != nil {
		return chat.Errorf(chat.CodeInvalidArgument, "payload is not a valid JSON object: %v", jsonReason(err))
	}
	if dec.More() {
		return chat.Errorf(chat.CodeInvalidArgument, "payload has data after the JSON object")
	}
	return nil
}

// jsonReason shortens encoding/json's messages (which name Go types).
func jsonReason(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return "field " + te.Field + " has the wrong type"
	}
	return err.Error()
}

// checkFrom enforces "a client publishes only as itself".
func checkFrom(from, me string) error {
	if from != "" && chat.NickKey(strings.TrimSpace(from)) != me {
		return chat.Errorf(chat.CodeForbidden, "you can only publish as yourself")
	}
	return nil
}

// decodeMessage returns the text and client id of a room message.
func decodeMessage(p []byte, me string) (text, clientID string, err error) {
	if !isJSONObject(p) {
		return string(p), "", nil // checked by chat (UTF-8, empty, size)
	}
	var in messageIn
	if err := decodeJSON(p, &in); err != nil {
		return "", "", err
	}
	if in.Text == nil {
		return "", "", chat.Errorf(chat.CodeInvalidArgument, `a message object needs "text"`)
	}
	return *in.Text, in.ClientID, checkFrom(in.From, me)
}

func decodeDM(p []byte, me string) (dmIn, error) {
	var in dmIn
	if !isJSONObject(p) {
		return in, chat.Errorf(chat.CodeInvalidArgument, `a direct message is a JSON object {"to":…,"text":…}`)
	}
	if err := decodeJSON(p, &in); err != nil {
		return in, err
	}
	if in.To == "" || in.Text == nil {
		return in, chat.Errorf(chat.CodeInvalidArgument, `a direct message needs "to" and "text"`)
	}
	return in, checkFrom(in.From, me)
}

func decodeHistory(p []byte) (historyIn, error) {
	var in historyIn
	if !isJSONObject(p) {
		return in, chat.Errorf(chat.CodeInvalidArgument, `a history request is a JSON object {"room":…}`)
	}
	if err := decodeJSON(p, &in); err != nil {
		return in, err
	}
	if in.Room == "" {
		return in, chat.Errorf(chat.CodeInvalidArgument, `a history request needs "room"`)
	}
	return in, nil
}

// decodeTyping accepts true, false or {"active": bool}; an empty payload
// means true (the cheapest "I am typing" a client can send).
func decodeTyping(p []byte) (bool, error) {
	t := bytes.TrimSpace(p)
	switch string(t) {
	case "", "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	var in typingIn
	if !isJSONObject(t) {
		return false, chat.Errorf(chat.CodeInvalidArgument, `typing is true, false or {"active": bool}`)
	}
	if err := decodeJSON(t, &in); err != nil {
		return false, err
	}
	if in.Active == nil {
		return false, chat.Errorf(chat.CodeInvalidArgument, `typing object needs "active"`)
	}
	return *in.Active, nil
}

// --- outbound payloads -------------------------------------------------------

// encodeEvent is the payload of a chat event on its topic: the JSON of the
// chat type, the same shapes as protocol 1 (docs/protocol.md). It is a
// chat.Event.Encoded function: one encoding per event for all recipients.
func encodeEvent(ev *chat.Event) ([]byte, error) {
	switch ev.Kind {
	case chat.EventMessage:
		return json.Marshal(ev.Message)
	case chat.EventPresence:
		return json.Marshal(ev.Presence)
	case chat.EventTyping:
		return json.Marshal(ev.Typing)
	case chat.EventDeleted:
		// On the presence topic: {"action":"deleted","room","seq","by"}.
		return json.Marshal(struct {
			Action string `json:"action"`
			*chat.Deleted
		}{"deleted", ev.Deleted})
	}
	return nil, nil
}

type errorBody struct {
	Code    chat.Code `json:"code"`
	Message string    `json:"message"`
}

// historyOut is the response to a history request.
type historyOut struct {
	ID       json.RawMessage `json:"id,omitempty"`
	Room     string          `json:"room,omitempty"`
	Messages []chat.Message  `json:"messages,omitempty"`
	More     bool            `json:"more"`
	Error    *errorBody      `json:"error,omitempty"`
}

// errorOut is published on banter/errors when a publish failed and the
// client could not be told in a PUBACK (MQTT 3.1.1, QoS 0).
type errorOut struct {
	Topic    string    `json:"topic"`
	ClientID string    `json:"clientId,omitempty"`
	Code     chat.Code `json:"code"`
	Message  string    `json:"message"`
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("mqttgw: " + err.Error()) // only our own types: cannot fail
	}
	return b
}

// reasonCode maps a chat error to an MQTT 5 PUBACK reason code (only 0x80,
// 0x83, 0x87, 0x90, 0x91, 0x97 and 0x99 are valid there); the reason string
// carries the chat code and message ("rate_limited: too many…").
func reasonCode(err error) packets.Code {
	code, msg := chat.ClientError(err)
	var b byte
	switch code {
	case chat.CodeInvalidRoom:
		b = packets.ErrTopicNameInvalid.Code
	case chat.CodeNotMember, chat.CodeForbidden, chat.CodeInvalidNickname:
		b = packets.ErrNotAuthorized.Code
	case chat.CodeRateLimited:
		b = packets.ErrQuotaExceeded.Code
	case chat.CodeMessageTooLarge, chat.CodeInvalidMessage, chat.CodeEmptyMessage, chat.CodeInvalidArgument:
		b = packets.ErrPayloadFormatInvalid.Code
	case chat.CodeUnavailable, chat.CodeNotConnected:
		b = packets.ErrUnspecifiedError.Code
	default:
		b = packets.ErrImplementationSpecificError.Code
	}
	return packets.Code{Code: b, Reason: string(code) + ": " + msg}
}
