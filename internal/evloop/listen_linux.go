package evloop

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Listener accepts connections on a poller: a connection never passes
// through Go's own poller nor gets a goroutine, from its first byte.
type Listener struct {
	l      *Loop
	p      *poller
	fd     int
	addr   net.Addr
	accept func(remote net.Addr) (*Conn, Handler)

	mu      sync.Mutex
	closed  bool
	paused  bool // out of descriptors: accepting resumes after a pause
	closeFn func()
}

// Listen takes over ln (ln itself is closed; the Listener keeps a duplicate
// of its descriptor) and accepts its connections on a poller: each is
// added to the loop as the zero Conn and with the Handler that accept
// returns for it (called on the poller's goroutine: it must not block;
// the Conn is typically embedded in the handler's struct, as with
// AddConn). remote is the peer's address. accept may publish the Conn
// at once: a Close before the connection is on the loop is remembered,
// and OnClose follows (as it does when the loop cannot serve it); a nil
// Conn or Handler refuses the connection.
func (l *Loop) Listen(ln *net.TCPListener, accept func(remote net.Addr) (*Conn, Handler)) (*Listener, error) {
	addr := ln.Addr()
	rc, err := ln.SyscallConn()
	if err != nil {
		ln.Close()
		return nil, err
	}
	fd := -1
	var derr error
	if err := rc.Control(func(s uintptr) { fd, derr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		derr = err
	}
	ln.Close()
	if derr != nil {
		return nil, fmt.Errorf("evloop: dup listener: %w", derr)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("evloop: nonblock: %w", err)
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		unix.Close(fd)
		return nil, ErrLoopClosed
	}
	p := l.pollers[0]
	ls := &Listener{l: l, p: p, fd: fd, addr: addr, accept: accept}
	p.listeners.Store(int32(fd), ls)
	l.mu.Unlock()
	// Pad 0: a listener (connections have generations from 1).
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		p.listeners.Delete(int32(fd))
		unix.Close(fd)
		return nil, fmt.Errorf("evloop: epoll_ctl add listener: %w", err)
	}
	return ls, nil
}

// Addr returns the address listened on.
func (ls *Listener) Addr() net.Addr { return ls.addr }

// SetSendBuffer sets SO_SNDBUF on the listening socket: accepted
// connections inherit it (one system call for all of them).
func (ls *Listener) SetSendBuffer(n int) error {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.closed {
		return net.ErrClosed
	}
	return unix.SetsockoptInt(ls.fd, unix.SOL_SOCKET, unix.SO_SNDBUF, n)
}

// SetKeepAlive sets TCP keep-alive on the listening socket: accepted
// connections inherit it (Linux copies the listener's socket options to
// the connections it accepts), so a dead peer of an idle connection is
// found by the kernel, with no timer in the process. Zero fields of cfg
// keep the kernel's defaults; cfg.Enable false turns keep-alive off.
func (ls *Listener) SetKeepAlive(cfg net.KeepAliveConfig) error {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.closed {
		return net.ErrClosed
	}
	if !cfg.Enable {
		return unix.SetsockoptInt(ls.fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 0)
	}
	for _, o := range []struct {
		opt int
		d   time.Duration
	}{{unix.TCP_KEEPIDLE, cfg.Idle}, {unix.TCP_KEEPINTVL, cfg.Interval}} {
		if o.d > 0 {
			if err := unix.SetsockoptInt(ls.fd, unix.IPPROTO_TCP, o.opt, max(1, int(o.d/time.Second))); err != nil {
				return os.NewSyscallError("setsockopt", err)
			}
		}
	}
	if cfg.Count > 0 {
		if err := unix.SetsockoptInt(ls.fd, unix.IPPROTO_TCP, unix.TCP_KEEPCNT, cfg.Count); err != nil {
			return os.NewSyscallError("setsockopt", err)
		}
	}
	return os.NewSyscallError("setsockopt", unix.SetsockoptInt(ls.fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1))
}

// Close stops accepting. Connections already accepted stay.
func (ls *Listener) Close() error {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.closed {
		return nil
	}
	ls.closed = true
	// The poller closes the descriptor when it sees the listener shut
	// down (a listening socket shut down for reading reports a hang-up).
	_ = unix.Shutdown(ls.fd, unix.SHUT_RD)
	return nil
}

// maxAcceptBatch bounds the connections accepted per event, so the
// poller serves the connections it has between bursts.
const maxAcceptBatch = 128

// acceptPause is how long a listener stops accepting when the process is
// out of descriptors (level-triggered polling would spin otherwise).
const acceptPause = 100 * time.Millisecond

// onAccept accepts what is pending, on the poller's goroutine.
func (ls *Listener) onAccept(events uint32) {
	ls.mu.Lock()
	closed := ls.closed
	ls.mu.Unlock()
	if closed || events&(unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		ls.finish()
		return
	}
	for range maxAcceptBatch {
		nfd, sa, err := unix.Accept4(ls.fd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		switch {
		case err == nil:
		case err == unix.EINTR || err == unix.ECONNABORTED:
			continue
		case err == unix.EAGAIN:
			return
		case err == unix.EMFILE || err == unix.ENFILE || err == unix.ENOBUFS || err == unix.ENOMEM:
			ls.l.cfg.Logger.Warn("evloop: accept paused", "err", err, "pause", acceptPause)
			ls.pause()
			return
		default:
			ls.mu.Lock()
			closed := ls.closed
			ls.mu.Unlock()
			if !closed {
				ls.l.cfg.Logger.Error("evloop: accept failed: the listener stops", "err", err)
			}
			ls.finish()
			return
		}
		ls.add(nfd, sockaddrToAddr(sa))
	}
}

// add serves an accepted descriptor on the next poller.
func (ls *Listener) add(fd int, remote net.Addr) {
	l := ls.l
	c, h := ls.accept(remote)
	if c == nil || h == nil {
		unix.Close(fd)
		return
	}
	p := l.pollers[int(l.next.Add(1))%len(l.pollers)]
	// Under c.mu: the accept callback may have published c (to a set that
	// closes connections from other goroutines) before it is set up.
	c.mu.Lock()
	if c.state != stateNew { // closed already (Close is remembered until now)
		c.mu.Unlock()
		unix.Close(fd)
		h.OnClose(c, c.err)
		return
	}
	c.h = h
	c.p = p
	c.fd = int32(fd)
	c.gen = l.nextGen()
	if !l.table.set(fd, c) {
		c.state = stateClosed
		c.mu.Unlock()
		unix.Close(fd)
		h.OnClose(c, fmt.Errorf("evloop: descriptor %d out of range", fd))
		return
	}
	c.state = stateOpen
	ev := unix.EpollEvent{Events: evRead, Fd: int32(fd), Pad: int32(c.gen)}
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		c.state = stateClosed
		l.table.clear(fd, c)
		c.mu.Unlock()
		unix.Close(fd)
		h.OnClose(c, fmt.Errorf("evloop: epoll_ctl add: %w", err))
		return
	}
	c.mu.Unlock()
	if o, ok := h.(Opener); ok {
		o.OnOpen(c)
	}
}

// Opener is a Handler that wants to know when a connection a Listener
// accepted is on the loop (to write first, say): OnOpen is called then, on
// the accepting poller's goroutine; it must not block.
type Opener interface {
	OnOpen(c *Conn)
}

func (ls *Listener) pause() {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.closed || ls.paused {
		return
	}
	ls.paused = true
	ev := unix.EpollEvent{Events: 0, Fd: int32(ls.fd)}
	_ = unix.EpollCtl(ls.p.epfd, unix.EPOLL_CTL_MOD, ls.fd, &ev)
	time.AfterFunc(acceptPause, func() {
		ls.mu.Lock()
		defer ls.mu.Unlock()
		ls.paused = false
		if !ls.closed {
			ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(ls.fd)}
			_ = unix.EpollCtl(ls.p.epfd, unix.EPOLL_CTL_MOD, ls.fd, &ev)
		}
	})
}

// finish closes the listening descriptor (on the poller's goroutine, or
// after the loop stopped).
func (ls *Listener) finish() {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.fd < 0 {
		return
	}
	ls.closed = true
	ls.p.listeners.Delete(int32(ls.fd))
	unix.Close(ls.fd)
	ls.fd = -1
}

func sockaddrToAddr(sa unix.Sockaddr) net.Addr {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]).To16(), Port: a.Port}
	case *unix.SockaddrInet6:
		addr := &net.TCPAddr{IP: net.IP(a.Addr[:]), Port: a.Port}
		if a.ZoneId != 0 {
			if ifi, err := net.InterfaceByIndex(int(a.ZoneId)); err == nil {
				addr.Zone = ifi.Name
			}
		}
		return addr
	}
	return &net.TCPAddr{}
}

// Detach takes c off the loop without closing it and returns it as a
// net.Conn served by Go's own poller (the bytes c read are the caller's to
// replay). OnClose is not called. Only from c's OnData, on its poller's
// goroutine; not for blocking-mode connections.
func (c *Conn) Detach() (net.Conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != stateOpen || c.bl != nil {
		return nil, net.ErrClosed
	}
	c.state = stateClosed
	c.out = nil
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	fd := int(c.fd)
	c.p.table.clear(fd, c)
	_ = unix.EpollCtl(c.p.epfd, unix.EPOLL_CTL_DEL, fd, nil)
	f := os.NewFile(uintptr(fd), "")
	nc, err := net.FileConn(f) // a duplicate, in Go's poller
	f.Close()
	if err != nil {
		return nil, errors.Join(errors.New("evloop: detach"), err)
	}
	return nc, nil
}
