//go:build !race

package chat

// Without the race detector the lock order is not checked: these are
// no-ops the compiler removes (lockorder_race.go has the checks).

func checkedStore(st Store) Store     { return st }
func checkedRoster(r Roster) Roster   { return r }
func checkedBus(b Bus) Bus            { return b }
func assertHeld(r lockRank, f string) {}
