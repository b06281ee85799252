package evloop

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// Blocking mode: connections the event loop cannot poll (crypto/tls does
// its own reading and writing on a net.Conn) get a reading goroutine that
// calls the Handler as a poller would, and blocking writes bounded by
// Config.WriteTimeout.

type blocking struct {
	nc  net.Conn
	l   *Loop
	wmu sync.Mutex // one write at a time
	us  bool       // closed on our side (c.err says why)
}

const blockingReadBuffer = 4 << 10

// addBlocking serves c in blocking mode. Called with c.mu.
func (l *Loop) addBlocking(nc net.Conn, c *Conn) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		nc.Close()
		return ErrLoopClosed
	}
	l.blocking[c] = struct{}{}
	l.wg.Add(1)
	l.mu.Unlock()
	c.bl = &blocking{nc: nc, l: l}
	c.state = stateOpen
	go c.readBlocking()
	return nil
}

// Blocking reports whether c is served in blocking mode (its writes may
// block for up to the write timeout, so they must not run where that
// would stall others). It is known once AddConn returned.
func (c *Conn) Blocking() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bl != nil
}

func (c *Conn) readBlocking() {
	bl := c.bl
	defer bl.l.wg.Done()
	buf := make([]byte, blockingReadBuffer)
	var err error
	for {
		var n int
		n, err = bl.nc.Read(buf)
		if n > 0 {
			c.h.OnData(c, buf[:n])
		}
		if err != nil {
			break
		}
	}
	bl.nc.Close()
	c.mu.Lock()
	if bl.us {
		err = c.err
	} else if errors.Is(err, net.ErrClosed) {
		err = io.EOF
	}
	c.state = stateClosed
	c.mu.Unlock()
	bl.l.mu.Lock()
	delete(bl.l.blocking, c)
	bl.l.mu.Unlock()
	c.h.OnClose(c, err)
}

// writeBlockingLocked writes b with a deadline. Called with c.mu, which it
// releases while it writes (one write at a time: wmu).
func (c *Conn) writeBlockingLocked(b []byte) error {
	bl := c.bl
	c.mu.Unlock()
	defer c.mu.Lock()
	bl.wmu.Lock()
	defer bl.wmu.Unlock()
	_ = bl.nc.SetWriteDeadline(time.Now().Add(bl.l.cfg.WriteTimeout))
	if _, err := bl.nc.Write(b); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			err = ErrWriteTimeout
		}
		c.mu.Lock()
		c.closeBlockingLocked(err)
		c.mu.Unlock()
		return err
	}
	return nil
}

// closeBlockingLocked closes a blocking connection; its reading goroutine
// then ends and calls OnClose. Called with c.mu.
func (c *Conn) closeBlockingLocked(err error) {
	if c.state != stateOpen {
		return
	}
	c.state = stateClosing
	c.err = err
	c.bl.us = true
	c.bl.nc.Close()
}
