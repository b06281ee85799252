package evloop

import (
	"sync"
	"sync/atomic"
)

// table maps descriptors to connections: chunks of slots allocated as
// descriptors grow, read without locks by the pollers.
type table struct {
	mu     sync.Mutex // allocation of chunks
	chunks [maxChunks]atomic.Pointer[chunk]
}

const (
	chunkBits = 10
	chunkSize = 1 << chunkBits
	maxChunks = 1 << 12 // descriptors below 4M
)

type chunk [chunkSize]atomic.Pointer[Conn]

func (t *table) slot(fd int, grow bool) *atomic.Pointer[Conn] {
	i := fd >> chunkBits
	if fd < 0 || i >= maxChunks {
		return nil
	}
	ch := t.chunks[i].Load()
	if ch == nil {
		if !grow {
			return nil
		}
		t.mu.Lock()
		if ch = t.chunks[i].Load(); ch == nil {
			ch = new(chunk)
			t.chunks[i].Store(ch)
		}
		t.mu.Unlock()
	}
	return &ch[fd&(chunkSize-1)]
}

func (t *table) get(fd int) *Conn {
	if s := t.slot(fd, false); s != nil {
		return s.Load()
	}
	return nil
}

// set records c under fd (a descriptor the kernel just gave: its slot is
// free or holds a closed connection).
func (t *table) set(fd int, c *Conn) bool {
	s := t.slot(fd, true)
	if s == nil {
		return false
	}
	s.Store(c)
	return true
}

// clear empties fd's slot if it still holds c.
func (t *table) clear(fd int, c *Conn) {
	if s := t.slot(fd, false); s != nil {
		s.CompareAndSwap(c, nil)
	}
}

// each calls f for every connection in the table.
func (t *table) each(f func(*Conn)) {
	for i := range t.chunks {
		ch := t.chunks[i].Load()
		if ch == nil {
			continue
		}
		for j := range ch {
			if c := ch[j].Load(); c != nil {
				f(c)
			}
		}
	}
}
