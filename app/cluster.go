package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/postgres"
	"github.com/banter-chat/banter/redis"
	"github.com/banter-chat/banter/sqlite"
)

// ErrCluster is wrapped by New's error when the Redis bus cannot be
// reached.
var ErrCluster = errors.New("cannot connect to the cluster bus")

// backends are the store and the bus of a node: SQLite and the in-process
// bus by default; PostgreSQL (Config.StoreURL) and Redis (Config.RedisURL)
// when the node is one of a cluster. Nodes of one cluster must share both:
// a shared store without a shared bus would leave each node's clients deaf
// to the others until they reconnect.
type backends struct {
	store  chat.Store
	bus    *redis.Bus    // nil: chat.Service's LocalBus
	roster *redis.Roster // with bus: cluster-wide presence, node addresses
	desc   string        // for the log
	log    *slog.Logger
}

// IsStoreURL reports whether a store address is one Banter can use
// (PostgreSQL; SQLite is chosen by leaving the store URL empty).
func IsStoreURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// observeLag receives the bus lag of every event from another node (the
// metrics' histogram).
func openBackends(cfg Config, observeLag func(time.Duration)) (backends, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	be := backends{log: cfg.Logger}
	switch {
	case cfg.StoreURL == "":
		db, err := sqlite.Open(cfg.DBPath, sqlite.Config{Logger: cfg.Logger, FullSync: cfg.FullSync})
		if err != nil {
			return be, fmt.Errorf("%w %s: %w", ErrDatabase, cfg.DBPath, err)
		}
		be.store, be.desc = db, "sqlite "+cfg.DBPath
	case IsStoreURL(cfg.StoreURL):
		db, err := postgres.Open(ctx, cfg.StoreURL, postgres.Config{Logger: cfg.Logger})
		if err != nil {
			return be, fmt.Errorf("%w %s: %w", ErrDatabase, RedactURL(cfg.StoreURL), err)
		}
		be.store, be.desc = db, "postgres "+RedactURL(cfg.StoreURL)
	default:
		return be, fmt.Errorf("%w: store %q: want postgres://… (or no store URL for SQLite)", ErrDatabase, RedactURL(cfg.StoreURL))
	}
	if cfg.RedisURL != "" {
		bus, err := redis.Open(ctx, cfg.RedisURL, redis.Config{Logger: cfg.Logger, ObserveLag: observeLag})
		if err != nil {
			_ = be.store.Close()
			return be, fmt.Errorf("%w %s: %w", ErrCluster, RedactURL(cfg.RedisURL), err)
		}
		roster, err := redis.NewRoster(ctx, bus, redis.RosterConfig{
			Heartbeat: cfg.ClusterHeartbeat, TTL: cfg.ClusterTTL, Address: cfg.Advertise,
		})
		if err != nil {
			_ = bus.Close()
			_ = be.store.Close()
			return be, fmt.Errorf("%w %s: %w", ErrCluster, RedactURL(cfg.RedisURL), err)
		}
		be.bus, be.roster = bus, roster
		be.desc += ", redis " + RedactURL(cfg.RedisURL) + " (node " + bus.NodeID() + ")"
	}
	return be, nil
}

// busKind names the cluster bus for the log: a single Redis (pub/sub), or
// a Redis Cluster (sharded pub/sub, found out at start).
func (be backends) busKind() string {
	if be.bus != nil && be.bus.Sharded() {
		return "redis cluster (sharded pub/sub)"
	}
	return "redis"
}

// chatRoster is the roster to give chat.Config: nil on a single node.
func (be backends) chatRoster() chat.Roster {
	if be.roster == nil {
		return nil
	}
	return be.roster
}

// sidPrefix makes every Engine.IO session id start with the node id, so
// that any node can tell which one owns a session (owner).
func (be backends) sidPrefix() string {
	if be.bus == nil {
		return ""
	}
	return be.bus.NodeID() + "."
}

// owner is engineio.Config.Owner: the advertised address of the live node
// that created sid, or nil (no cluster, this node, a node that is gone).
func (a *App) owner(ctx context.Context, sid string) *url.URL {
	node, _, ok := strings.Cut(sid, ".")
	if !ok || a.be.roster == nil || node == a.be.bus.NodeID() {
		return nil
	}
	addr, ok := a.be.roster.NodeAddress(ctx, node)
	if !ok {
		return nil
	}
	u, err := ParseAdvertise(addr)
	if err != nil {
		a.log.Warn("cluster: a node advertises a bad address", "node", node, "address", addr, "err", err)
		return nil
	}
	return u
}

// ParseAdvertise checks an advertised address: an http or https URL with
// a host (and port), as the other nodes will dial it.
func ParseAdvertise(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return nil, fmt.Errorf("advertised address %q: %w", s, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("advertised address %q: want http://host:port or https://host:port", s)
	case u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("advertised address %q: want a scheme and host:port only (plus an optional path)", s)
	}
	return u, nil
}

// advertiseFor derives the address other nodes reach this one at from the
// listener: its IP, or for a wildcard address the machine's first
// non-loopback unicast IP (loopback if it has none). Set Config.Advertise
// when that is not what the other nodes can dial (NAT, containers, several
// networks).
func advertiseFor(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String()
	}
	ip := net.ParseIP(host)
	if ip == nil || ip.IsUnspecified() {
		ip = hostIP()
	}
	return "http://" + net.JoinHostPort(ip.String(), port)
}

func hostIP() net.IP {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return net.IPv4(127, 0, 0, 1)
	}
	var v6 net.IP
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok || !n.IP.IsGlobalUnicast() {
			continue
		}
		if n.IP.To4() != nil {
			return n.IP
		}
		if v6 == nil {
			v6 = n.IP
		}
	}
	if v6 != nil {
		return v6
	}
	return net.IPv4(127, 0, 0, 1)
}

// chatBus is the bus to give chat.Config: nil (the default LocalBus)
// without Redis. A nil *redis.Bus must not become a non-nil interface.
func (be backends) chatBus() chat.Bus {
	if be.bus == nil {
		return nil
	}
	return be.bus
}

// close withdraws the node from the roster and closes the bus, then the
// store (after the Service stopped using them).
func (be backends) close() error {
	var errs []error
	if be.roster != nil {
		// Withdrawing is a courtesy: if Redis cannot be reached, the
		// other nodes clean up after the TTL, as for a crashed node.
		if err := be.roster.Close(); err != nil {
			be.log.Warn("cluster: could not withdraw this node from Redis; the other nodes will clean up after the TTL", "err", err)
		}
	}
	if be.bus != nil {
		if err := be.bus.Close(); err != nil {
			errs = append(errs, fmt.Errorf("bus: %w", err))
		}
	}
	if be.store != nil {
		if err := be.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("store: %w", err))
		}
	}
	return errors.Join(errs...)
}

// RedactURL hides a password in a connection URL for logs and errors.
func RedactURL(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return s
	}
	auth, host, ok := strings.Cut(rest, "@")
	if !ok {
		return s
	}
	if user, _, hasPass := strings.Cut(auth, ":"); hasPass {
		return scheme + "://" + user + ":xxxxx@" + host
	}
	return s
}
