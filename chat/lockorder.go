package chat

import "sync"

// The lock order of the package (doc.go, "Lock order"): a goroutine that
// holds a lock of rank r takes only locks of a higher rank. Builds with
// the race detector check it (lockorder_race.go): taking a lock out of
// order panics at once, naming both locks, instead of deadlocking some
// day, and the calls that must run without any of these locks (Store,
// Roster, Bus.Publish) panic when made under one. Other builds compile the
// checks away: serviceMutex and roomMutex are plain sync.Mutexes.
type lockRank int

const (
	rankService lockRank = 1 + iota // Service.mu
	rankRoom                        // room.mu
)

// serviceMutex is Service.mu.
type serviceMutex struct{ sync.Mutex }

// roomMutex is room.mu.
type roomMutex struct{ sync.Mutex }
