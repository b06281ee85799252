package admin

import (
	"context"
	"sync"
	"time"

	"github.com/redis/rueidis"
)

// SessionStore keeps the ids of logged-in dashboards (Node's store
// option), so a dashboard that reconnects sends its session id instead of
// the credentials.
type SessionStore interface {
	Exists(ctx context.Context, id string) (bool, error)
	Save(ctx context.Context, id string) error
}

// defaultSessionTTL is how long a session lasts (Node's RedisStore: one
// day).
const defaultSessionTTL = 24 * time.Hour

// MemoryStore is the single-node SessionStore: sessions expire after
// their TTL (Node's in-memory store keeps them for the process's life).
type MemoryStore struct {
	ttl time.Duration
	mu  sync.Mutex
	ids map[string]time.Time // id → expiry
}

// NewMemoryStore returns a MemoryStore; ttl 0 means one day.
func NewMemoryStore(ttl time.Duration) *MemoryStore {
	if ttl <= 0 {
		ttl = defaultSessionTTL
	}
	return &MemoryStore{ttl: ttl, ids: make(map[string]time.Time)}
}

func (m *MemoryStore) Exists(_ context.Context, id string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	exp, ok := m.ids[id]
	if ok && time.Now().After(exp) {
		delete(m.ids, id)
		return false, nil
	}
	return ok, nil
}

func (m *MemoryStore) Save(_ context.Context, id string) error {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, exp := range m.ids { // logins are rare: sweep as we go
		if now.After(exp) {
			delete(m.ids, k)
		}
	}
	m.ids[id] = now.Add(m.ttl)
	return nil
}

// RedisStore is a SessionStore every node of a cluster shares, with the
// keys of Node's RedisStore (prefix#id, expiring), so Banter and Node
// nodes accept each other's dashboard sessions.
type RedisStore struct {
	client rueidis.Client
	prefix string
	ttl    time.Duration
}

// NewRedisStore returns a RedisStore on client (which the caller owns);
// prefix "" means Node's "socket.io-admin", ttl 0 one day.
func NewRedisStore(client rueidis.Client, prefix string, ttl time.Duration) *RedisStore {
	if prefix == "" {
		prefix = "socket.io-admin"
	}
	if ttl <= 0 {
		ttl = defaultSessionTTL
	}
	return &RedisStore{client: client, prefix: prefix, ttl: ttl}
}

func (r *RedisStore) key(id string) string { return r.prefix + "#" + id }

func (r *RedisStore) Exists(ctx context.Context, id string) (bool, error) {
	n, err := r.client.Do(ctx, r.client.B().Exists().Key(r.key(id)).Build()).AsInt64()
	return n == 1, err
}

func (r *RedisStore) Save(ctx context.Context, id string) error {
	return r.client.Do(ctx, r.client.B().Set().Key(r.key(id)).Value("true").Ex(r.ttl).Build()).Error()
}
