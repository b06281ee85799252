package mqttgw

import (
	"net"
	"testing"
)

// TestRemoteAddress: the address Admit and the logs get is written as the
// other gateways write it (an accepted IPv4 peer comes in 16 bytes).
func TestRemoteAddress(t *testing.T) {
	for _, tc := range []struct {
		addr net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.ParseIP("127.0.0.2").To16(), Port: 4000}, "127.0.0.2:4000"},
		{&net.TCPAddr{IP: net.ParseIP("::1"), Port: 80}, "[::1]:80"},
	} {
		ap := addrPort(tc.addr)
		if got := ap.String(); got != tc.want {
			t.Errorf("addrPort(%v) = %s, want %s", tc.addr, got, tc.want)
		}
		if got := newRemoteAddr(ap).String(); got != tc.want {
			t.Errorf("remoteAddr(%v) = %s, want %s", tc.addr, got, tc.want)
		}
	}
}
