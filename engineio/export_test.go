package engineio

import "time"

// PinWriteDelay makes the server pace WebSocket writes with period d
// whatever its load, from the pacer's next period on (flush.go).
func PinWriteDelay(s *Server, d time.Duration) { s.pace.pinned.Store(int64(d)) }
