//go:build !linux

package evloop

import (
	"errors"
	"log/slog"
	"net"
)

// Elsewhere than Linux every connection is served in blocking mode: the
// package works, without the event loop's savings.

type poller struct{ l *Loop }

func newPoller(l *Loop, _ int) (*poller, error) { return &poller{l: l}, nil }

func (l *Loop) addConn(nc net.Conn, c *Conn) error { return l.addBlocking(nc, c) }

func (c *Conn) shutdownLocked(err error) { c.closeBlockingLocked(err) }

func (p *poller) stop()     {}
func (p *poller) closeAll() {}

func (p *poller) watchWrite(*Conn, bool) error { return nil }

func writeFD(int32, []byte) (int, error) { return 0, net.ErrClosed }

func kernelUnsent(int32) int { return 0 }

func reserveProcs(int, *slog.Logger) {}

// Listener is not available without the event loop.
type Listener struct{}

// Listen is not available without the event loop: callers serve ln
// themselves.
func (l *Loop) Listen(*net.TCPListener, func(net.Addr) (*Conn, Handler)) (*Listener, error) {
	return nil, errors.ErrUnsupported
}

// Addr is nil.
func (ls *Listener) Addr() net.Addr { return nil }

// SetSendBuffer does nothing.
func (ls *Listener) SetSendBuffer(int) error { return errors.ErrUnsupported }

// SetKeepAlive does nothing.
func (ls *Listener) SetKeepAlive(net.KeepAliveConfig) error { return errors.ErrUnsupported }

// Close does nothing.
func (ls *Listener) Close() error { return nil }

// Detach is not available without the event loop.
func (c *Conn) Detach() (net.Conn, error) { return nil, errors.ErrUnsupported }
