//go:build linux

package evloop

import (
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fdOpener tells the descriptor of each connection it opens.
type fdOpener chan int

func (fdOpener) OnData(*Conn, []byte) {}
func (fdOpener) OnClose(*Conn, error) {}
func (o fdOpener) OnOpen(c *Conn)     { o <- int(c.fd) }

// Accepted connections inherit the listener's keep-alive settings.
func TestListenerKeepAlive(t *testing.T) {
	l, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	fds := make(fdOpener, 1)
	ls, err := l.Listen(ln, func(net.Addr) (*Conn, Handler) { return new(Conn), fds })
	if err != nil {
		t.Fatal(err)
	}
	defer ls.Close()
	if err := ls.SetKeepAlive(net.KeepAliveConfig{Enable: true, Idle: 77 * time.Second, Interval: 13 * time.Second, Count: 5}); err != nil {
		t.Fatal(err)
	}
	nc, err := net.Dial("tcp", ls.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var fd int
	select {
	case fd = <-fds:
	case <-time.After(10 * time.Second):
		t.Fatal("not accepted")
	}
	for name, o := range map[string][3]int{
		"SO_KEEPALIVE":  {unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1},
		"TCP_KEEPIDLE":  {unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, 77},
		"TCP_KEEPINTVL": {unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, 13},
		"TCP_KEEPCNT":   {unix.IPPROTO_TCP, unix.TCP_KEEPCNT, 5},
	} {
		if v, err := unix.GetsockoptInt(fd, o[0], o[1]); err != nil || v != o[2] {
			t.Errorf("accepted connection: %s = %d (%v), want %d", name, v, err, o[2])
		}
	}
}
