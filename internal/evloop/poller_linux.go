package evloop

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// poller is one event loop: an epoll instance and the goroutine waiting on
// it. Connections are found by descriptor in the Loop's table; each
// registration carries the Conn's generation in the event's data.
type poller struct {
	l     *Loop
	index int
	epfd  int
	evfd  int // eventfd: wakes the loop to stop
	stopd atomic.Bool
	buf   []byte
	table *table // the Loop's
	// listeners accepting on this poller, by descriptor (listen_linux.go);
	// their events carry generation 0.
	listeners sync.Map
}

const (
	evRead  = unix.EPOLLIN | unix.EPOLLRDHUP
	evWrite = unix.EPOLLOUT
	evHup   = unix.EPOLLHUP | unix.EPOLLERR | unix.EPOLLRDHUP
)

func newPoller(l *Loop, i int) (*poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("evloop: epoll_create1: %w", err)
	}
	evfd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("evloop: eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(evfd)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, evfd, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(evfd)
		return nil, fmt.Errorf("evloop: epoll_ctl: %w", err)
	}
	p := &poller{l: l, index: i, epfd: epfd, evfd: evfd, buf: make([]byte, l.cfg.ReadBuffer), table: &l.table}
	l.wg.Add(1)
	go p.run()
	return p, nil
}

// addConn moves a TCP connection onto a poller, or serves anything else in
// blocking mode. Called with c.mu.
func (l *Loop) addConn(nc net.Conn, c *Conn) error {
	l.mu.Lock()
	closed := l.closed
	l.mu.Unlock()
	if closed {
		nc.Close()
		return ErrLoopClosed
	}
	tc, ok := nc.(*net.TCPConn)
	if ho, isHo := nc.(Handover); isHo {
		tc, ok = ho.Handover()
		ok = ok && tc != nil
	}
	if !ok {
		return l.addBlocking(nc, c)
	}
	fd, err := takeFD(tc)
	if err != nil {
		return err
	}
	p := l.pollers[int(l.next.Add(1))%len(l.pollers)]
	c.p = p
	c.fd = int32(fd)
	c.gen = l.nextGen()
	if !p.table.set(fd, c) {
		unix.Close(fd)
		return fmt.Errorf("evloop: descriptor %d out of range", fd)
	}
	c.state = stateOpen
	ev := unix.EpollEvent{Events: evRead, Fd: int32(fd), Pad: int32(c.gen)}
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		c.state = stateClosed
		p.table.clear(fd, c)
		unix.Close(fd)
		return fmt.Errorf("evloop: epoll_ctl add: %w", err)
	}
	return nil
}

// takeFD returns a duplicate of tc's descriptor, in non-blocking mode, and
// closes tc (which removes the original from Go's own poller).
func takeFD(tc *net.TCPConn) (int, error) {
	rc, err := tc.SyscallConn()
	if err != nil {
		tc.Close()
		return -1, err
	}
	fd := -1
	var derr error
	if err := rc.Control(func(s uintptr) {
		fd, derr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		derr = err
	}
	tc.Close()
	if derr != nil {
		return -1, fmt.Errorf("evloop: dup: %w", derr)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("evloop: nonblock: %w", err)
	}
	return fd, nil
}

// watchWrite asks for EPOLLOUT (on) or stops asking. Called with c.mu.
func (p *poller) watchWrite(c *Conn, on bool) error {
	events := uint32(evRead)
	if on {
		events |= evWrite
	}
	ev := unix.EpollEvent{Events: events, Fd: c.fd, Pad: int32(c.gen)}
	return unix.EpollCtl(p.epfd, unix.EPOLL_CTL_MOD, int(c.fd), &ev)
}

// shutdownLocked starts closing c with err: the socket is shut down both
// ways, which its poller sees as a hang-up; the poller closes the
// descriptor. Called with c.mu.
func (c *Conn) shutdownLocked(err error) {
	if c.state != stateOpen {
		return
	}
	c.state = stateClosing
	c.err = err
	c.out = nil
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	// Shut down both ways (the peer gets a FIN after what the kernel
	// holds): the socket then reports a hang-up, level-triggered, until
	// its poller closes it. A socket already disconnected (ENOTCONN)
	// reports one already.
	_ = unix.Shutdown(int(c.fd), unix.SHUT_RDWR)
}

// run is the event loop.
func (p *poller) run() {
	defer p.l.wg.Done()
	events := make([]unix.EpollEvent, 256)
	for {
		n, err := unix.EpollWait(p.epfd, events, -1)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			p.l.cfg.Logger.Error("evloop: epoll_wait failed: the loop stops", "poller", p.index, "err", err)
			return
		}
		for i := range events[:n] {
			ev := &events[i]
			fd := int(ev.Fd)
			if fd == p.evfd {
				if p.stopd.Load() {
					return
				}
				continue
			}
			if ev.Pad == 0 {
				if ls, ok := p.listeners.Load(ev.Fd); ok {
					ls.(*Listener).onAccept(ev.Events)
				}
				continue
			}
			c := p.table.get(fd)
			if c == nil || c.gen != uint32(ev.Pad) {
				continue // stale: that connection is gone
			}
			p.handle(c, ev.Events)
		}
	}
}

// handle serves one event of c.
func (p *poller) handle(c *Conn, events uint32) {
	if events&evWrite != 0 {
		p.flush(c)
	}
	if events&(unix.EPOLLIN|evHup) != 0 {
		// Read what is there even on a hang-up: the peer's last bytes
		// come before its FIN. A few reads at most: level-triggered
		// polling reports what is left, and one busy connection must
		// not starve the others.
		for range 4 {
			n, err := unix.Read(int(c.fd), p.buf)
			switch {
			case n > 0:
				c.h.OnData(c, p.buf[:n])
				if c.detachedOrClosed() {
					return // OnData detached it (Detach), or the loop stopped
				}
				if n < len(p.buf) {
					if events&evHup != 0 {
						p.close(c, io.EOF)
					}
					return
				}
				// The buffer is full: maybe more.
			case err == unix.EINTR:
				continue
			case err == unix.EAGAIN:
				if events&(unix.EPOLLHUP|unix.EPOLLERR) != 0 {
					p.close(c, io.EOF)
				}
				return
			case err != nil:
				p.close(c, err)
				return
			default: // EOF
				p.close(c, io.EOF)
				return
			}
		}
	}
}

// detachedOrClosed reports whether c's descriptor is no longer the
// poller's to read.
func (c *Conn) detachedOrClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state == stateClosed
}

// flush writes what waits in c.out.
func (p *poller) flush(c *Conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != stateOpen {
		return
	}
	if len(c.out) > 0 {
		n, err := writeFD(c.fd, c.out)
		if err != nil {
			c.shutdownLocked(err)
			return
		}
		c.out = c.out[n:]
	}
	if len(c.out) == 0 {
		c.out = nil
		if c.timer != nil {
			c.timer.Stop()
			c.timer = nil
		}
		if c.closeWhenSent {
			c.shutdownLocked(nil)
			return
		}
		if err := p.watchWrite(c, false); err != nil {
			c.shutdownLocked(err)
		}
	}
}

// close closes c's descriptor (only a poller does, for the connection whose
// event it is handling, or after the loops stopped) and tells its handler.
func (p *poller) close(c *Conn, err error) {
	c.mu.Lock()
	if c.state == stateClosed {
		c.mu.Unlock()
		return
	}
	if c.state == stateClosing {
		err = c.err // the reason it was shut down for
	}
	c.state = stateClosed
	c.out = nil
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	p.table.clear(int(c.fd), c)
	unix.Close(int(c.fd))
	c.mu.Unlock()
	c.h.OnClose(c, err)
}

// stop wakes the loop to end it.
func (p *poller) stop() {
	p.stopd.Store(true)
	var one [8]byte
	one[0] = 1
	_, _ = unix.Write(p.evfd, one[:])
}

// closeAll closes every connection of a stopped poller, its listeners, and
// the poller.
func (p *poller) closeAll() {
	p.listeners.Range(func(_, v any) bool {
		v.(*Listener).finish()
		return true
	})
	p.table.each(func(c *Conn) {
		if c.p == p {
			p.close(c, ErrLoopClosed)
		}
	})
	unix.Close(p.epfd)
	unix.Close(p.evfd)
}

// writeFD writes b to fd; a full socket buffer is not an error (n may be
// short).
func writeFD(fd int32, b []byte) (int, error) {
	for {
		n, err := unix.Write(int(fd), b)
		switch {
		case err == nil:
			return n, nil
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return 0, nil
		default:
			return 0, &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", err)}
		}
	}
}

// kernelUnsent returns the bytes the kernel holds for fd that it has not
// sent (SIOCOUTQNSD), 0 when unknown.
func kernelUnsent(fd int32) int {
	n, err := unix.IoctlGetInt(int(fd), unix.SIOCOUTQNSD)
	if err != nil {
		return 0
	}
	return n
}

// reserveProcs makes room for the pollers in the scheduler. Each poller
// waits in epoll_wait as an ordinary system call, which keeps its P (Go's
// scheduler slot) until sysmon takes it back, tens of microseconds to
// milliseconds later. With GOMAXPROCS=1 (one CPU, a container limited to
// one CPU, a taskset) every other goroutine (accepting, HTTP, handlers,
// flushes) waits behind that: measured with the server on one core, half
// the handshakes per second and 1.6× the CPU per delivered message. So
// GOMAXPROCS is raised to one P per poller plus one, unless the GOMAXPROCS
// environment variable sets it. The process still runs on the CPUs it was
// given; the pollers' threads sleep in the kernel nearly all the time.
func reserveProcs(pollers int, log *slog.Logger) {
	want := pollers + 1
	have := runtime.GOMAXPROCS(0)
	if have >= want || os.Getenv("GOMAXPROCS") != "" {
		return
	}
	runtime.GOMAXPROCS(want)
	log.Info("GOMAXPROCS raised for the event loop", "from", have, "to", want)
}
