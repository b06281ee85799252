package auth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/banter-chat/banter/chat"
)

// maxJWKSBytes bounds a fetched key set.
const maxJWKSBytes = 1 << 20

// jwksCache holds the key set fetched from Config.JWKSURL.
type jwksCache struct {
	cfg Config

	mu        sync.Mutex
	set       []jwk
	fetchedAt time.Time     // last successful fetch
	triedAt   time.Time     // last attempt
	fetching  chan struct{} // closed when the fetch in progress ends
}

func newJWKSCache(cfg Config) *jwksCache { return &jwksCache{cfg: cfg} }

// initial fetches the set at startup.
func (c *jwksCache) initial(ctx context.Context) ([]jwk, error) {
	keys, err := c.fetch(ctx)
	if err != nil {
		return nil, err
	}
	now := c.cfg.Now()
	c.mu.Lock()
	c.set, c.fetchedAt, c.triedAt = keys, now, now
	c.mu.Unlock()
	return keys, nil
}

// keys returns the set to verify a token with key id kid, refetching it
// first when kid is unknown or the set is older than JWKSMaxAge, at
// most once per JWKSMinRefresh.
func (c *jwksCache) keys(ctx context.Context, kid string) ([]jwk, error) {
	for {
		c.mu.Lock()
		set := c.set
		now := c.cfg.Now()
		known := kid == "" || slices.ContainsFunc(set, func(k jwk) bool { return k.kid == kid })
		stale := now.Sub(c.fetchedAt) >= c.cfg.JWKSMaxAge
		if (known && !stale) || now.Sub(c.triedAt) < c.cfg.JWKSMinRefresh {
			c.mu.Unlock()
			return set, nil
		}
		if wait := c.fetching; wait != nil {
			c.mu.Unlock()
			select {
			case <-wait:
				continue // look again at what it fetched
			case <-ctx.Done():
				return nil, chat.Wrap(chat.CodeUnavailable, "cannot verify the token now, try again later", ctx.Err())
			}
		}
		done := make(chan struct{})
		c.fetching, c.triedAt = done, now
		c.mu.Unlock()

		keys, err := c.fetch(ctx)

		c.mu.Lock()
		if err == nil {
			c.set, c.fetchedAt = keys, c.cfg.Now()
			set = keys
		}
		c.fetching = nil
		close(done)
		c.mu.Unlock()
		if err != nil && !known {
			// The key may exist: we cannot tell. Not the client's fault.
			return nil, chat.Wrap(chat.CodeUnavailable, "cannot fetch the keys to verify the token, try again later", err)
		}
		// A stale set is still used when a refresh fails: the keys were
		// good an hour ago, and refusing everyone is worse.
		return set, nil
	}
}

func (c *jwksCache) fetch(ctx context.Context) ([]jwk, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.FetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.cfg.JWKSURL, nil)
	if err != nil {
		return nil, fmt.Errorf("auth: JWKS URL: %w", err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("auth: fetch JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("auth: fetch JWKS: %s answered %s", c.cfg.JWKSURL, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("auth: fetch JWKS: %w", err)
	}
	if len(data) > maxJWKSBytes {
		return nil, errors.New("auth: fetch JWKS: the set is larger than 1 MiB")
	}
	return parseJWKS(data)
}
