package conns

import (
	"context"
	"sync"
)

// Set is a gateway's open connections and the goroutines its Close waits
// for (http.Server.Shutdown does not wait for hijacked connections, and a
// listener's do not belong to it). The zero value is an empty, open set.
type Set[C comparable] struct {
	mu     sync.Mutex
	closed bool
	m      map[C]struct{}
	wg     sync.WaitGroup
}

// Enter counts a goroutine that Close waits for (an HTTP handler about to
// take a connection over) unless the set is closed; call Leave when it
// ends.
func (s *Set[C]) Enter() bool { return s.Add(*new(C), 1) }

// Leave ends what Enter counted.
func (s *Set[C]) Leave() { s.wg.Done() }

// Add registers c (unless it is the zero C) and counts goroutines of it
// that Close waits for (each calls Leave), unless the set is closed.
func (s *Set[C]) Add(c C, goroutines int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	var zero C
	if c != zero {
		if s.m == nil {
			s.m = make(map[C]struct{})
		}
		s.m[c] = struct{}{}
	}
	s.wg.Add(goroutines)
	return true
}

// Remove forgets c.
func (s *Set[C]) Remove(c C) {
	s.mu.Lock()
	delete(s.m, c)
	s.mu.Unlock()
}

// Close makes later Enters and Adds fail and returns the connections
// registered now.
func (s *Set[C]) Close() []C {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	out := make([]C, 0, len(s.m))
	for c := range s.m {
		out = append(out, c)
	}
	return out
}

// Wait waits until every counted goroutine left, or ctx ends (its error).
func (s *Set[C]) Wait(ctx context.Context) error { return Wait(ctx, &s.wg) }

// Each calls f for every connection registered now (not under the set's
// lock: f may take other locks).
func (s *Set[C]) Each(f func(C)) {
	s.mu.Lock()
	all := make([]C, 0, len(s.m))
	for c := range s.m {
		all = append(all, c)
	}
	s.mu.Unlock()
	for _, c := range all {
		f(c)
	}
}
