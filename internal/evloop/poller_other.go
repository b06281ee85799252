//go:build !linux

package evloop

import (
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
