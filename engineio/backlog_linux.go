package engineio

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// kernelUnsent returns how many bytes the kernel holds for c that it has
// not sent yet (the peer's receive window is full: it is not reading), or
// 0 when that cannot be told. One ioctl.
func kernelUnsent(c net.Conn) int {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return 0
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0
	}
	n := 0
	_ = rc.Control(func(fd uintptr) {
		if v, err := unix.IoctlGetInt(int(fd), unix.SIOCOUTQNSD); err == nil {
			n = v
		}
	})
	return n
}
