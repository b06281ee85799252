package client

// PongsSent counts pongs the current connection has answered (tests prove
// heartbeats are answered without sleeping).
func (m *Manager) PongsSent() int64 {
	if e := m.current(); e != nil {
		return e.pongs.Load()
	}
	return 0
}

// Backoff exposes Config.backoff with defaults applied.
func Backoff(c Config, n int, rnd float64) any { return c.withDefaults().backoff(n, rnd) }
