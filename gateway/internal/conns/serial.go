package conns

import "sync"

// Serial runs a connection's inputs (lines, frames) one at a time and in
// order, on a goroutine that exists while there are inputs to run: an
// event-loop connection's reader must not block, and an idle connection
// must not keep a goroutine. The end of the connection is run after its
// inputs. The zero value is ready.
type Serial[T any] struct {
	mu      sync.Mutex
	items   []T
	running bool
	ended   bool  // End was called
	err     error // End's error, until run
	endDue  bool  // the end is still to run
}

// Push queues v unless the connection ended; it reports whether the caller
// must start Run (on a goroutine of its own).
func (s *Serial[T]) Push(v T) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return false
	}
	s.items = append(s.items, v)
	return s.start()
}

// End queues the end of the connection, after the inputs already queued;
// it reports whether the caller must start Run. Only the first End counts.
func (s *Serial[T]) End(err error) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return false
	}
	s.ended, s.endDue, s.err = true, true, err
	return s.start()
}

func (s *Serial[T]) start() bool {
	if s.running {
		return false
	}
	s.running = true
	return true
}

// Run handles the queued inputs in order, then the end (once), and returns
// when nothing is left.
func (s *Serial[T]) Run(handle func(T), end func(error)) {
	for {
		s.mu.Lock()
		if len(s.items) == 0 {
			if s.endDue {
				s.endDue = false
				err := s.err
				s.mu.Unlock()
				end(err)
				continue
			}
			s.running = false
			s.items = nil
			s.mu.Unlock()
			return
		}
		v := s.items[0]
		var zero T
		s.items[0] = zero
		s.items = s.items[1:]
		s.mu.Unlock()
		handle(v)
	}
}
