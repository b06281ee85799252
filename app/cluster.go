package app

import (
	"context"
	"errors"
	"fmt"
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
	store chat.Store
	bus   *redis.Bus // nil: chat.Service's LocalBus
	desc  string     // for the log
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
	var be backends
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
		be.bus = bus
		be.desc += ", redis " + RedactURL(cfg.RedisURL) + " (node " + bus.NodeID() + ")"
	}
	return be, nil
}

// chatBus is the bus to give chat.Config: nil (the default LocalBus)
// without Redis. A nil *redis.Bus must not become a non-nil interface.
func (be backends) chatBus() chat.Bus {
	if be.bus == nil {
		return nil
	}
	return be.bus
}

// close closes the bus, then the store (after the Service stopped using
// both).
func (be backends) close() error {
	var errs []error
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
