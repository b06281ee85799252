// Package chat is Banter's chat domain, independent of any wire protocol:
// users, rooms, direct messages, messages with per-room sequence numbers,
// presence, typing, history and catch-up. Every gateway (Socket.IO events,
// MQTT, REST/SSE, TCP) translates its protocol to the calls below;
// docs/protocol.md is the Socket.IO mapping.
//
// # Entry points
//
//   - New(Config) builds a Service. Config.Store (default: NewMemStore;
//     sqlite.Open for durability) keeps history; Config.Bus (default:
//     NewLocalBus) carries events between nodes.
//   - Service.Connect(ctx, ConnectParams{Nickname, Sink, ...}) creates a
//     Session per client connection. The gateway's Sink receives Events.
//   - Session methods are the client's actions: Join, Leave, Send,
//     DirectMessage, History, Since, Typing, Rename, Rooms, Disconnect.
//   - Service.Users / Lookup / Members / Rooms answer questions about the
//     node's state (the SocketChat user list is built from Users and
//     EventUser). Service.Close ends everything.
//   - Store is the history interface; chat/storetest is its conformance
//     suite. Bus is the fan-out interface. Roster (optional) shares users
//     and room members with the other nodes of a cluster.
//
// # Rules
//
// Nicknames (NormalizeNickname): 1-32 characters, trimmed, no control,
// invisible or bidi characters, nothing like ':'; unique among online users
// under NickKey, which folds case, compatibility forms and look-alike
// characters (fullwidth, Cyrillic or Greek letters that look Latin).
// Public rooms (NormalizeRoom): lowercased, [a-z0-9][a-z0-9_-]*, at most 64
// bytes, created by their first join. DM rooms: "dm:<key>:<key>" of two
// nickname keys in ascending order (DMRoom); only those two users may join
// or read them. An anonymous session (no Identity) is whoever holds the
// nickname, DM rooms included.
//
// # Identity and rights
//
// Service.Authenticate turns a client's token into an Identity through
// Config.Authenticator (package auth); ConnectParams.Identity carries it.
// With Config.RequireIdentity every session needs one. A verified session
// has its token's nickname (Rename is forbidden), may join, read and post
// only in the public rooms its Identity allows (ErrForbidden otherwise;
// DMs are always allowed). A verified user may have several sessions
// (devices, gateways): others see one user (members, presence, online
// status follow its first and last session), each session gets the
// user's events. A verified user replaces an anonymous holder of its
// nickname.
// A verified session ends when its Identity expires (ReasonExpired).
// Admins may Kick and DeleteMessage (a tombstone stays in the Store).
// Message and typing rate limits are per user (Subject, or nickname when
// anonymous), shared by its sessions on every gateway.
//
// Messages get a server ID, a per-room Seq (1, 2, 3… without gaps,
// assigned by the Store) and a server timestamp. An optional client id makes
// Send idempotent per (room, user): a retry returns the original with
// Duplicate set and stores nothing.
//
// # Delivery guarantees
//
// A member of a room receives, through its Sink, every message of the room
// with Seq greater than the LastSeq of its JoinResult, in Seq order, each
// once; Send returns only after the Store made the message durable. The
// per-room sequencer (room.go) restores order when publications race and
// reads messages lost on the Bus from the Store. A client that reconnects
// joins with JoinOptions{CatchUp: true, After: lastSeenSeq} and pages with
// Since until More is false: no loss, no duplicates. Presence and typing
// are best-effort and not persisted; a room above Config.LargeRoom users
// gets member counts instead of per-user presence (roompresence.go).
//
// # Concurrency
//
// Service and Session methods are safe for concurrent use. The Service
// holds one mutex for users and membership and one per room for delivery;
// Store I/O and Bus publication happen outside them. Sink.Deliver is called
// with a room lock held and must only enqueue (see Sink). Events are
// immutable and shared by all their recipients; Event.Encoded caches one
// encoding per wire format. Timers (typing expiry, gap fill) run in the
// background and Close waits for them.
//
// # Lock order
//
// A goroutine that holds a lock takes only locks further down this list:
//
//	Service.mu   users, subjects, rate buckets, the room table, watchers,
//	             and every Session's mutable fields (nick, rooms, closed)
//	room.mu      one room's members, sequencer and typing list
//	the Sink's   whatever the gateway takes in Deliver (Engine.IO's session
//	locks        lock, an outbox's mutex)
//
// Leaves, held while taking no other lock: LocalBus.mu (Subscribe and
// unsubscribe run under Service.mu), Bucket.mu (read under Service.mu when
// rate buckets are swept), MemStore.mu, Event's encoding lock.
//
// Which callbacks run under which lock:
//
//   - Sink.Deliver: under room.mu for a room's events (message, presence,
//     typing, deleted); under Service.mu for EventUser to WatchUsers
//     sessions; under no lock for EventDisconnect and a DM handed over on
//     the user's "@" topic. It must not call the Service back.
//   - Bus.Subscribe and the unsubscribe it returns: under Service.mu.
//     Bus.Publish: under no lock. Bus handlers (room.onEvent,
//     Session.onDMNotice, Service.onUserEvent) are called with none of
//     these locks held and take them in order.
//   - Store, Roster and Authenticator methods: under no lock. The Roster's
//     OnNodeGone and OnRejoin functions run on the Roster's goroutine with
//     no lock held.
//   - Timers (typing expiry, gap fill, token expiry) run on the runtime's
//     timer goroutines with no lock held; work that must not block its
//     caller is started as go s.runTracked(f), which takes Service.mu.
//   - Config.Now is called under either lock.
//
// Tests built with the race detector check this (lockorder_race.go): a lock
// taken out of order, or a Store, Roster or Bus.Publish call made under a
// lock, panics at once naming both. Other builds compile the checks away.
//
// Across nodes: messages, presence events and typing travel on the Bus, so
// members on every node see them. With a Roster, member lists
// (JoinResult.Members, Members, Users) and nickname uniqueness span the
// cluster too, a resume token works on any node, and the users of a node
// that died leave for everyone (roster.go); without one they are this
// node's.
package chat
