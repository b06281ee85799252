package app

import (
	"net"
	"strings"
	"testing"
)

func TestParseAdvertise(t *testing.T) {
	for _, c := range []struct {
		in string
		ok bool
	}{
		{"http://10.0.0.5:3000", true},
		{"https://node1.internal", true},
		{"http://[fd00::5]:3000/banter", true},
		{"10.0.0.5:3000", false},            // no scheme
		{"ftp://10.0.0.5:3000", false},      // not HTTP
		{"http://", false},                  // no host
		{"http://u:p@10.0.0.5:3000", false}, // credentials
		{"http://10.0.0.5:3000/?x=1", false},
		{"http://10.0.0.5:3000/#f", false},
		{"http://bad host", false},
	} {
		_, err := ParseAdvertise(c.in)
		if (err == nil) != c.ok {
			t.Errorf("ParseAdvertise(%q): %v, want ok=%v", c.in, err, c.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "advertised address") {
			t.Errorf("ParseAdvertise(%q): %q does not say what is wrong", c.in, err)
		}
	}
}

func TestAdvertiseFor(t *testing.T) {
	tcp := func(s string) net.Addr {
		a, err := net.ResolveTCPAddr("tcp", s)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	if got := advertiseFor(tcp("127.0.0.1:3000")); got != "http://127.0.0.1:3000" {
		t.Errorf("loopback listener: %s", got)
	}
	if got := advertiseFor(tcp("10.1.2.3:80")); got != "http://10.1.2.3:80" {
		t.Errorf("specific address: %s", got)
	}
	// A wildcard listener advertises an address of this machine that
	// another machine can dial (loopback only when there is none).
	got := advertiseFor(tcp("0.0.0.0:3000"))
	u, err := ParseAdvertise(got)
	if err != nil {
		t.Fatalf("wildcard listener: %s: %v", got, err)
	}
	ip := net.ParseIP(u.Hostname())
	if ip == nil || ip.IsUnspecified() || u.Port() != "3000" {
		t.Fatalf("wildcard listener advertises %s", got)
	}
	if !ip.IsLoopback() && !ip.IsGlobalUnicast() {
		t.Errorf("wildcard listener advertises %s: neither routable nor loopback", got)
	}
}
