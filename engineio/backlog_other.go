//go:build !linux

package engineio

import "net"

// kernelUnsent is unknown on this system.
func kernelUnsent(net.Conn) int { return 0 }
