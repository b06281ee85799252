package chat

import "sync"

// EventKind says which payload field of an Event is set.
type EventKind uint8

const (
	// EventMessage: Message is set. Delivered to the room's members in
	// Seq order, each Seq at most once per session.
	EventMessage EventKind = iota + 1
	// EventPresence: Presence is set. Someone joined, left or was renamed
	// in a room; delivered to the room's members (a joiner gets its own
	// "joined", a leaver does not get its own "left").
	EventPresence
	// EventTyping: Typing is set, with the full list of who is typing in
	// the room now. Lossy: gateways may drop it when a client is slow.
	EventTyping
	// EventUser: User is set. A user came online, went offline or changed
	// nickname; delivered only to sessions connected with WatchUsers.
	EventUser
	// EventDisconnect: Disconnect is set. The Service ended this session
	// (replaced by a resumed connection or the same user's new one,
	// kicked, or shutdown); the gateway should close the client's
	// connection (without inviting an automatic reconnect, unless the
	// reason is shutdown). Sent only to that session's sink.
	EventDisconnect
	// EventTypingSignal: TypingSignal is set. Travels on the Bus only (one
	// user started/stopped typing); each node folds signals into
	// EventTyping lists. Sinks never receive it.
	EventTypingSignal
	// EventSubscribed: no payload. A networked Bus tells a topic's local
	// subscribers that its subscription became live (the first time, or
	// again after a reconnection): events published before may have been
	// missed. Never travels between nodes; sinks never receive it.
	EventSubscribed
	// EventDeleted: Deleted is set. A moderator deleted a message of the
	// room (it is a tombstone in the Store from now on); delivered to
	// the room's members.
	EventDeleted
	// EventMembers: Members is set. The room's member count, in place of
	// per-user presence in a large room (Config.LargeRoom): delivered to
	// its members when it becomes large, then at most once per
	// Config.PresenceWindow while the count changes, and with the whole
	// member list when it becomes small again. Never on the Bus.
	EventMembers
)

func (k EventKind) String() string {
	switch k {
	case EventMessage:
		return "message"
	case EventPresence:
		return "presence"
	case EventTyping:
		return "typing"
	case EventUser:
		return "user"
	case EventDisconnect:
		return "disconnect"
	case EventTypingSignal:
		return "typing-signal"
	case EventSubscribed:
		return "subscribed"
	case EventDeleted:
		return "deleted"
	case EventMembers:
		return "members"
	}
	return "unknown"
}

// Event is what a Sink receives and what the Bus carries.
//
// An Event is immutable once created: the same *Event is handed to every
// recipient on a node, concurrently, so no one may modify it or anything it
// points to. Encoded lets gateways encode it once per wire format and share
// the bytes.
type Event struct {
	Kind         EventKind
	Room         string // canonical room; "" for EventUser and EventDisconnect
	Message      *Message
	Presence     *Presence
	Typing       *Typing
	User         *UserEvent
	Disconnect   *Disconnect
	TypingSignal *TypingSignal
	Deleted      *Deleted
	Members      *Members

	// from is the Service that published the event (nil: it came from
	// another node); remoteUser marks a presence event this Service
	// published about another node's user (a dead node's departures).
	// Large rooms count users with them (roompresence.go).
	from       *Service
	remoteUser bool

	encMu sync.Mutex
	enc   []encoded // one per wire format; usually one or two
}

type encoded struct {
	key any
	val any
	err error
}

// Encoded returns enc(e), calling enc at most once per key for the life of
// the event; concurrent callers with the same key wait for the first. key
// identifies the wire format (use an unexported type, like a context key).
// The returned bytes are shared: do not modify them.
func (e *Event) Encoded(key any, enc func(*Event) ([]byte, error)) ([]byte, error) {
	v, err := e.Cached(key, func(ev *Event) (any, error) { return enc(ev) })
	data, _ := v.([]byte)
	return data, err
}

// Cached is Encoded for any value a gateway derives from the event once and
// shares between recipients (a ready-to-send transport message, say). fn
// must not call Encoded or Cached on the same event.
func (e *Event) Cached(key any, fn func(*Event) (any, error)) (any, error) {
	e.encMu.Lock()
	defer e.encMu.Unlock()
	for _, x := range e.enc {
		if x.key == key {
			return x.val, x.err
		}
	}
	v, err := fn(e)
	e.enc = append(e.enc, encoded{key: key, val: v, err: err})
	return v, err
}

// PresenceAction is what happened in a Presence event.
type PresenceAction string

const (
	PresenceJoined  PresenceAction = "joined"
	PresenceLeft    PresenceAction = "left"
	PresenceRenamed PresenceAction = "renamed" // Nickname is the new name, From the old one
	PresenceKicked  PresenceAction = "kicked"  // an admin (By) ended Nickname's session, with Reason
)

// Presence is the payload of EventPresence.
type Presence struct {
	Room     string         `json:"room"`
	Nickname string         `json:"nickname"`
	Action   PresenceAction `json:"action"`
	From     string         `json:"from,omitempty"`
	By       string         `json:"by,omitempty"`     // kicked: the admin's nickname
	Reason   string         `json:"reason,omitempty"` // kicked: the admin's reason
}

// Members is the payload of EventMembers: how many users are in Room
// (cluster-wide with a Roster). Large says whether the room is large
// (per-user presence off); when it became small again, Nicknames lists
// every member (sorted by NickKey) so that clients start over from it.
type Members struct {
	Room      string   `json:"room"`
	Count     int      `json:"count"`
	Large     bool     `json:"large"`
	Nicknames []string `json:"nicknames,omitempty"`
}

// Typing is the payload of EventTyping: who is typing in Room, sorted by
// NickKey. An empty list means nobody.
type Typing struct {
	Room      string   `json:"room"`
	Nicknames []string `json:"nicknames"`
}

// TypingSignal is the payload of EventTypingSignal (Bus only).
type TypingSignal struct {
	Room     string `json:"room"`
	Nickname string `json:"nickname"`
	Active   bool   `json:"active"`
}

// Deleted is the payload of EventDeleted: message Seq of Room was
// deleted by the admin By.
type Deleted struct {
	Room string `json:"room"`
	Seq  int64  `json:"seq"`
	By   string `json:"by"`
}

// User is an online user, as listed by Service.Users.
type User struct {
	ID       string `json:"id"` // the session id: stable while connected
	Nickname string `json:"nickname"`
	Since    int64  `json:"since"` // connected at, Unix ms
}

// UserStatus is what happened in an EventUser.
type UserStatus string

const (
	UserOnline  UserStatus = "online"
	UserOffline UserStatus = "offline"
	UserRenamed UserStatus = "renamed" // Nickname is the new name, From the old one
)

// UserEvent is the payload of EventUser.
type UserEvent struct {
	User
	Status UserStatus `json:"status"`
	From   string     `json:"from,omitempty"`
}

// DisconnectReason says why the Service ended a session.
type DisconnectReason string

const (
	ReasonReplaced DisconnectReason = "replaced"      // a new connection resumed this session
	ReasonShutdown DisconnectReason = "shutdown"      // the Service is closing
	ReasonKicked   DisconnectReason = "kicked"        // an admin ended the session (Session.Kick)
	ReasonExpired  DisconnectReason = "token_expired" // the session's token expired (Identity.Expires)
)

// Disconnect is the payload of EventDisconnect.
type Disconnect struct {
	Reason  DisconnectReason `json:"reason"`
	By      string           `json:"by,omitempty"`      // kicked: the admin's nickname
	Message string           `json:"message,omitempty"` // kicked: the admin's reason
}

// Sink receives the events of one session. The gateway implements it.
//
// Deliver must not block and must not call back into the Service (it runs
// with internal locks held): enqueue the event for the connection's writer
// and return. It is called from many goroutines, possibly concurrently, so
// it must be safe for concurrent use. If the client cannot keep up, the
// gateway may drop EventTyping but must not silently drop anything else:
// it disconnects the client (asynchronously, e.g. from its writer
// goroutine) and the client catches up with Since after reconnecting.
type Sink interface {
	Deliver(ev *Event)
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(ev *Event)

// Deliver calls f(ev).
func (f SinkFunc) Deliver(ev *Event) { f(ev) }

// ClientEvent returns the name and payload under which gateways send e to
// clients (docs/protocol.md): "message", "presence", "typing", "user",
// "deleted" or "members".
// ok is false for kinds that are not sent to clients (disconnect notices,
// bus-only typing signals).
func (e *Event) ClientEvent() (name string, payload any, ok bool) {
	switch e.Kind {
	case EventMessage:
		return "message", e.Message, true
	case EventPresence:
		return "presence", e.Presence, true
	case EventTyping:
		return "typing", e.Typing, true
	case EventUser:
		return "user", e.User, true
	case EventDeleted:
		return "deleted", e.Deleted, true
	case EventMembers:
		return "members", e.Members, true
	}
	return "", nil, false
}
