package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/banter-chat/banter/chat"
	"github.com/redis/rueidis"
)

// RosterConfig tunes a Roster. The zero value is the documented default.
type RosterConfig struct {
	// Heartbeat is how often the node refreshes its liveness key and
	// looks for nodes whose key expired. Default 2s.
	Heartbeat time.Duration
	// TTL is how long the liveness key lives without a refresh: a node
	// that stops (crash, SIGKILL, lost network) is declared gone, and its
	// users leave, between TTL and TTL + Heartbeat later. At least twice
	// Heartbeat. Default 6s.
	TTL time.Duration
	// Address is the node's advertised base URL for the other nodes
	// (forwarded Engine.IO requests); SetAddress changes it.
	Address string
	// Timeout bounds each Redis call. Default 2s.
	Timeout time.Duration
}

func (c RosterConfig) withDefaults() (RosterConfig, error) {
	if c.Heartbeat <= 0 {
		c.Heartbeat = 2 * time.Second
	}
	if c.TTL <= 0 {
		c.TTL = 3 * c.Heartbeat
	}
	if c.TTL < 2*c.Heartbeat {
		return c, fmt.Errorf("redis: roster TTL %v is less than twice the heartbeat %v", c.TTL, c.Heartbeat)
	}
	if c.Timeout <= 0 {
		c.Timeout = 2 * time.Second
	}
	return c, nil
}

// Roster is the cluster's directory in Redis: which nodes are alive and
// where they listen, who is online on each, and who is in which room. It
// implements chat.Roster.
//
// Keys, under the Bus's prefix P:
//
//	P node:<id>      the node's advertised address; expires after TTL unless refreshed (liveness)
//	P nodes          set of node ids that have not been cleaned up
//	P users          hash NickKey → {"n": node, "id", "nick", "since", "tok"}: nickname claims
//	P nicks:<id>     set of the NickKeys a node claimed (for cleanup)
//	P room:<room>    hash "<node>/<NickKey>" → {"s": session id, "nick"}: memberships
//	P rooms:<id>     hash room → number of the node's memberships in it (for cleanup)
//
// Entries of a node whose liveness key is gone are ignored by every read at
// once, and removed by the first node whose heartbeat notices (one Lua
// script: exactly one node reports them to chat.Roster.OnNodeGone). Every
// multi-key step is a Lua script, so it is atomic; the scripts touch keys
// they were not given (other nodes' liveness keys, a dead node's rooms), so
// all the keys must live on one Redis: on a Redis Cluster P is followed by
// the hash tag {roster} (P{roster}users, P{roster}room:<room>, …), which
// puts every key of the roster in one slot, on one shard. The roster is
// written on connects, joins, leaves and heartbeats, never per message;
// the messages' pub/sub is spread over the shards (sharded.go).
type Roster struct {
	cfg    RosterConfig
	log    *slog.Logger
	client rueidis.Client
	node   string
	pfx    string

	mu        sync.Mutex
	addr      string
	live      map[string]string // node id → address, as of the last heartbeat
	onGone    func(chat.Gone)
	onRejoin  func() error
	beaten    bool // a heartbeat succeeded: the node is registered
	forgot    int  // times the cluster was found to have forgotten this node
	rejoined  int  // the value of forgot that onRejoin last succeeded for
	rejoining bool // onRejoin runs
	bg        sync.WaitGroup

	ctx    context.Context
	cancel context.CancelFunc
	beat   chan struct{} // asks the heartbeat loop to beat now
	done   chan struct{}
}

var _ chat.Roster = (*Roster)(nil)

// rosterTag follows the prefix of every roster key on a Redis Cluster: the
// hash tag that puts them all in one slot, so that a script may touch any
// of them.
const rosterTag = "{roster}"

// NewRoster registers this node (the Bus's node id, on the Bus's Redis
// connection) and starts its heartbeat. Close the Roster before the Bus.
func NewRoster(ctx context.Context, bus *Bus, cfg RosterConfig) (*Roster, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	pfx := bus.cfg.Prefix
	if bus.sharded {
		pfx += rosterTag
	}
	r := &Roster{
		cfg: cfg, log: bus.log, client: bus.client, node: bus.cfg.NodeID, pfx: pfx,
		addr: cfg.Address, live: map[string]string{},
		beat: make(chan struct{}, 1), done: make(chan struct{}),
	}
	// Alive before anything is claimed in its name.
	if err := r.heartbeat(ctx); err != nil {
		return nil, err
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	go r.loop()
	return r, nil
}

// NodeID returns this node's id (the Bus's).
func (r *Roster) NodeID() string { return r.node }

// SetAddress changes the advertised address and publishes it at once.
func (r *Roster) SetAddress(addr string) {
	r.mu.Lock()
	r.addr = addr
	r.mu.Unlock()
	select {
	case r.beat <- struct{}{}:
	default:
	}
}

// NodeAddress returns the advertised address of a live node: from the last
// heartbeat's view, else (a node that started serving since) from Redis.
func (r *Roster) NodeAddress(ctx context.Context, node string) (string, bool) {
	r.mu.Lock()
	addr := r.live[node]
	r.mu.Unlock()
	if addr != "" {
		return addr, true
	}
	// Unknown at the last heartbeat, or known without an address yet (a
	// node that had not started serving): ask Redis.
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	addr, err := r.client.Do(ctx, r.client.B().Get().Key(r.pfx+"node:"+node).Build()).ToString()
	if err != nil {
		if !rueidis.IsRedisNil(err) {
			r.log.Warn("redis: roster: node address lookup failed", "node", node, "err", err)
		}
		return "", false
	}
	return addr, addr != ""
}

// OnNodeGone implements chat.Roster.
func (r *Roster) OnNodeGone(f func(chat.Gone)) {
	r.mu.Lock()
	r.onGone = f
	r.mu.Unlock()
}

// OnRejoin implements chat.Roster.
func (r *Roster) OnRejoin(f func() error) {
	r.mu.Lock()
	r.onRejoin = f
	r.mu.Unlock()
}

// Close stops the heartbeat and withdraws the node: its liveness key, its
// claims and memberships are deleted at once (the chat Service already told
// everyone its users left). Calling it again does nothing.
func (r *Roster) Close() error {
	select {
	case <-r.done:
		return nil
	default:
	}
	r.cancel()
	<-r.done
	r.bg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.Timeout)
	defer cancel()
	err := scriptTick.Exec(ctx, r.client, []string{r.pfx + "nodes"}, []string{r.node, r.pfx, "withdraw"}).Error()
	if err != nil {
		return fmt.Errorf("redis: roster: withdraw node %s: %w", r.node, err)
	}
	return nil
}

func (r *Roster) loop() {
	defer close(r.done)
	t := time.NewTicker(r.cfg.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
		case <-r.beat:
		}
		ctx, cancel := context.WithTimeout(r.ctx, r.cfg.Timeout)
		if err := r.heartbeat(ctx); err != nil && r.ctx.Err() == nil {
			r.log.Warn("redis: roster heartbeat failed", "node", r.node, "err", err)
		}
		cancel()
	}
}

// heartbeat refreshes the node's liveness key, then cleans up after dead
// nodes and reads the live ones' addresses.
func (r *Roster) heartbeat(ctx context.Context) error {
	r.mu.Lock()
	addr := r.addr
	r.mu.Unlock()
	c := r.client
	cmds := rueidis.Commands{
		c.B().Set().Key(r.pfx + "node:" + r.node).Value(addr).Px(r.cfg.TTL).Build(),
		c.B().Sadd().Key(r.pfx + "nodes").Member(r.node).Build(),
	}
	results := c.DoMulti(ctx, cmds...)
	for _, res := range results {
		if err := res.Error(); err != nil {
			return fmt.Errorf("redis: roster: refresh node %s: %w", r.node, err)
		}
	}
	// Added to the node set again although registered before: another
	// node cleaned up after us (we were cut off for longer than the TTL,
	// or Redis lost its data). Our records are gone; chat rewrites them.
	added, _ := results[1].AsInt64()
	r.mu.Lock()
	if added == 1 && r.beaten {
		r.forgot++
		r.log.Warn("redis: roster: the cluster had declared this node gone; rejoining", "node", r.node)
	}
	r.beaten = true
	onRejoin, gen := r.onRejoin, r.forgot
	start := gen != r.rejoined && !r.rejoining && onRejoin != nil
	if start {
		r.rejoining = true
		r.bg.Add(1)
	}
	r.mu.Unlock()
	if start {
		go func() {
			defer r.bg.Done()
			err := onRejoin()
			if err != nil {
				r.log.Warn("redis: roster: rejoining failed; retrying at the next heartbeat", "node", r.node, "err", err)
			}
			r.mu.Lock()
			r.rejoining = false
			if err == nil {
				r.rejoined = gen
			}
			r.mu.Unlock()
		}()
	}
	res, err := scriptTick.Exec(ctx, c, []string{r.pfx + "nodes"}, []string{r.node, r.pfx, ""}).ToArray()
	if err != nil {
		return fmt.Errorf("redis: roster: tick: %w", err)
	}
	if len(res) != 2 {
		return fmt.Errorf("redis: roster: tick: %d results, want 2", len(res))
	}
	live, err := res[1].AsStrSlice()
	if err != nil {
		return fmt.Errorf("redis: roster: tick: %w", err)
	}
	view := make(map[string]string, len(live)/2)
	for i := 0; i+1 < len(live); i += 2 {
		view[live[i]] = live[i+1]
	}
	r.mu.Lock()
	r.live = view
	onGone := r.onGone
	r.mu.Unlock()
	gone, err := res[0].ToArray()
	if err != nil {
		return fmt.Errorf("redis: roster: tick: %w", err)
	}
	for _, g := range gone {
		node, ev, err := decodeGone(g)
		if err != nil {
			r.log.Warn("redis: roster: bad cleanup result", "err", err)
			continue
		}
		r.log.Info("redis: roster: node gone", "node", node, "users", len(ev.Users), "memberships", len(ev.Members))
		if onGone != nil {
			onGone(ev)
		}
	}
	return nil
}

func decodeGone(m rueidis.RedisMessage) (string, chat.Gone, error) {
	var g chat.Gone
	parts, err := m.ToArray()
	if err != nil || len(parts) != 3 {
		return "", g, fmt.Errorf("gone node: want [id, users, members]: %v", err)
	}
	node, err := parts[0].ToString()
	if err != nil {
		return "", g, err
	}
	users, err := parts[1].AsStrSlice()
	if err != nil {
		return "", g, err
	}
	members, err := parts[2].AsStrSlice()
	if err != nil {
		return "", g, err
	}
	for _, u := range users {
		var rec userRecord
		if err := json.Unmarshal([]byte(u), &rec); err != nil {
			return "", g, fmt.Errorf("user record %q: %w", u, err)
		}
		g.Users = append(g.Users, rec.user())
	}
	for _, m := range members {
		var rm chat.RoomMember
		if err := json.Unmarshal([]byte(m), &rm); err != nil {
			return "", g, fmt.Errorf("member record %q: %w", m, err)
		}
		g.Members = append(g.Members, rm)
	}
	return node, g, nil
}

// userRecord is a nickname claim in P users.
type userRecord struct {
	Node  string `json:"n"`
	ID    string `json:"id"`
	Nick  string `json:"nick"`
	Since int64  `json:"since"`
	Token string `json:"tok,omitempty"`
	Sub   string `json:"sub,omitempty"` // a verified user's subject
}

func (u userRecord) user() chat.User { return chat.User{ID: u.ID, Nickname: u.Nick, Since: u.Since} }

// memberRecord is a membership in P room:<room>.
type memberRecord struct {
	Session string `json:"s"`
	Nick    string `json:"nick"`
}

func (r *Roster) timeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, r.cfg.Timeout)
}

// Claim implements chat.Roster.
func (r *Roster) Claim(ctx context.Context, c chat.Claim) (*chat.User, error) {
	rec, err := json.Marshal(userRecord{Node: r.node, ID: c.User.ID, Nick: c.User.Nickname, Since: c.User.Since, Token: c.Token, Sub: c.Subject})
	if err != nil {
		return nil, err
	}
	ctx, cancel := r.timeout(ctx)
	defer cancel()
	res, err := scriptClaim.Exec(ctx, r.client,
		[]string{r.pfx + "users", r.pfx + "nicks:" + r.node},
		[]string{chat.NickKey(c.User.Nickname), string(rec), r.node, r.pfx + "node:", c.Resume, c.Subject}).ToArray()
	if err != nil {
		return nil, fmt.Errorf("redis: roster: claim: %w", err)
	}
	ok, err := res[0].AsInt64()
	if err != nil {
		return nil, fmt.Errorf("redis: roster: claim: %w", err)
	}
	switch ok {
	case 0:
		return nil, chat.ErrNicknameTaken
	case 2: // another device of the same verified user holds it on its node
		return nil, nil
	}
	if len(res) < 2 {
		return nil, nil
	}
	prev, err := res[1].ToString()
	if err != nil {
		return nil, fmt.Errorf("redis: roster: claim: %w", err)
	}
	var old userRecord
	if err := json.Unmarshal([]byte(prev), &old); err != nil {
		return nil, fmt.Errorf("redis: roster: claim: displaced record %q: %w", prev, err)
	}
	u := old.user()
	return &u, nil
}

// Release implements chat.Roster.
func (r *Roster) Release(ctx context.Context, nickKey, sessionID string) error {
	ctx, cancel := r.timeout(ctx)
	defer cancel()
	err := scriptRelease.Exec(ctx, r.client, []string{r.pfx + "users", r.pfx + "nicks:" + r.node},
		[]string{nickKey, sessionID}).Error()
	if err != nil {
		return fmt.Errorf("redis: roster: release: %w", err)
	}
	return nil
}

// Join implements chat.Roster.
func (r *Roster) Join(ctx context.Context, room, sessionID, nickname string) ([]string, error) {
	rec, err := json.Marshal(memberRecord{Session: sessionID, Nick: nickname})
	if err != nil {
		return nil, err
	}
	ctx, cancel := r.timeout(ctx)
	defer cancel()
	others, err := scriptJoin.Exec(ctx, r.client, []string{r.pfx + "room:" + room, r.pfx + "rooms:" + r.node},
		[]string{r.node, r.node + "/" + chat.NickKey(nickname), string(rec), r.pfx + "node:", room}).AsStrSlice()
	if err != nil {
		return nil, fmt.Errorf("redis: roster: join %s: %w", room, err)
	}
	return others, nil
}

// Leave implements chat.Roster.
func (r *Roster) Leave(ctx context.Context, sessionID, nickname string, rooms []string) error {
	if len(rooms) == 0 {
		return nil
	}
	keys := make([]string, 0, len(rooms)+1)
	keys = append(keys, r.pfx+"rooms:"+r.node)
	for _, room := range rooms {
		keys = append(keys, r.pfx+"room:"+room)
	}
	args := append([]string{r.node + "/" + chat.NickKey(nickname), sessionID}, rooms...)
	ctx, cancel := r.timeout(ctx)
	defer cancel()
	if err := scriptLeave.Exec(ctx, r.client, keys, args).Error(); err != nil {
		return fmt.Errorf("redis: roster: leave: %w", err)
	}
	return nil
}

// Users implements chat.Roster.
func (r *Roster) Users(ctx context.Context) ([]chat.User, error) {
	ctx, cancel := r.timeout(ctx)
	defer cancel()
	recs, err := scriptUsers.Exec(ctx, r.client, []string{r.pfx + "users"}, []string{r.node, r.pfx + "node:"}).AsStrSlice()
	if err != nil {
		return nil, fmt.Errorf("redis: roster: users: %w", err)
	}
	out := make([]chat.User, 0, len(recs))
	var errs []error
	for _, s := range recs {
		var rec userRecord
		if err := json.Unmarshal([]byte(s), &rec); err != nil {
			errs = append(errs, fmt.Errorf("user record %q: %w", s, err))
			continue
		}
		out = append(out, rec.user())
	}
	return out, errors.Join(errs...)
}

// Members implements chat.Roster.
func (r *Roster) Members(ctx context.Context, room string) ([]string, error) {
	ctx, cancel := r.timeout(ctx)
	defer cancel()
	others, err := scriptMembers.Exec(ctx, r.client, []string{r.pfx + "room:" + room}, []string{r.node, r.pfx + "node:"}).AsStrSlice()
	if err != nil {
		return nil, fmt.Errorf("redis: roster: members %s: %w", room, err)
	}
	return others, nil
}
