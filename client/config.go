package client

import (
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"
)

// Config configures a Manager. The zero value is the JavaScript client's
// defaults: path /socket.io/, polling then upgrade to WebSocket, reconnection
// forever with delays from 1 s to 5 s and jitter 0.5.
type Config struct {
	// Path of the Socket.IO endpoint on the server. Default "/socket.io/".
	Path string
	// Transports to use, in order of preference: "polling" and/or
	// "websocket". The first opens the session; with "polling" first and
	// "websocket" allowed, the connection is upgraded. Default both, polling
	// first (works through any proxy). ["websocket"] skips polling.
	Transports []string
	// Query is added to every request URL (the handshake query on the server).
	Query url.Values
	// Header is sent with every HTTP request and the WebSocket handshake
	// (e.g. Cookie or Authorization).
	Header http.Header
	// HTTPClient makes the requests. Default: a client of the manager's own
	// (a clone of http.DefaultTransport, its idle connections closed by
	// Close) without a timeout: long-polls last a heartbeat, and a dead
	// server is found by the heartbeat, not by a request timeout.
	HTTPClient *http.Client
	// DialTimeout bounds opening a connection (handshake, WebSocket probe).
	// Default 20 s, as the JS client's "timeout".
	DialTimeout time.Duration

	// NoReconnect disables automatic reconnection.
	NoReconnect bool
	// ReconnectAttempts bounds consecutive failed attempts before giving up
	// (sockets then get ErrReconnectFailed). 0: never give up.
	ReconnectAttempts int
	// ReconnectDelay is the first delay; it doubles per failed attempt up to
	// ReconnectDelayMax. Defaults 1 s and 5 s.
	ReconnectDelay    time.Duration
	ReconnectDelayMax time.Duration
	// RandomizationFactor spreads delays by ± that fraction so clients
	// dropped together do not come back together. Default 0.5; negative: none.
	RandomizationFactor float64

	// MaxBufferedEmits bounds the emits a socket keeps while disconnected
	// (sent on connect, in order). Default 1000; beyond it Emit fails with
	// ErrBufferFull.
	MaxBufferedEmits int

	// Logger receives debug logs of connections. Default: discarded.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Path == "" {
		c.Path = "/socket.io/"
	}
	if len(c.Transports) == 0 {
		c.Transports = []string{"polling", "websocket"}
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = 20 * time.Second
	}
	if c.ReconnectDelay <= 0 {
		c.ReconnectDelay = time.Second
	}
	if c.ReconnectDelayMax <= 0 {
		c.ReconnectDelayMax = 5 * time.Second
	}
	if c.ReconnectDelayMax < c.ReconnectDelay {
		c.ReconnectDelayMax = c.ReconnectDelay
	}
	if c.RandomizationFactor == 0 {
		c.RandomizationFactor = 0.5
	}
	if c.RandomizationFactor < 0 {
		c.RandomizationFactor = 0
	}
	if c.RandomizationFactor > 1 {
		c.RandomizationFactor = 1
	}
	if c.MaxBufferedEmits <= 0 {
		c.MaxBufferedEmits = 1000
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return c
}

// Backoff returns the delay before reconnection attempt n (1, 2, ...):
// ReconnectDelay·2^(n-1), capped at ReconnectDelayMax, moved by a random
// ±RandomizationFactor share (the JS client's formula). rnd in [0,1).
func (c Config) backoff(n int, rnd float64) time.Duration {
	d := float64(c.ReconnectDelay)
	for i := 1; i < n && d < float64(c.ReconnectDelayMax); i++ {
		d *= 2
	}
	if c.RandomizationFactor > 0 {
		dev := rnd * c.RandomizationFactor * d
		if int(rnd*10)&1 == 0 {
			d -= dev
		} else {
			d += dev
		}
	}
	return min(time.Duration(d), c.ReconnectDelayMax)
}

func randFloat() float64 { return rand.Float64() }
