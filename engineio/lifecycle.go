package engineio

import (
	"context"
	"log/slog"
	"time"
)

// Connection lifecycle logs. Opening and ordinary closes are Debug (a busy
// server opens thousands per second); a slow consumer is Info, because it
// means the server cut a client off. Never message contents: ids, the
// transport, the peer address and the reason.

func (s *Socket) logOpened() {
	log := s.srv.log
	if !log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	log.Debug("engine.io session opened", "sid", s.id, "transport", s.transport.String(),
		"protocol", s.protocol, "remote", s.handshake.RemoteAddr)
}

func (s *Socket) logClosed(t transportKind, reason Reason) {
	log := s.srv.log
	level := slog.LevelDebug
	if reason == ReasonSlowConsumer {
		level = slog.LevelInfo
	}
	if !log.Enabled(context.Background(), level) {
		return
	}
	log.Log(context.Background(), level, "engine.io session closed", "sid", s.id, "transport", t.String(),
		"reason", string(reason), "remote", s.handshake.RemoteAddr,
		"duration", time.Since(s.handshake.Time).Round(time.Millisecond))
}
