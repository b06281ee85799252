package tcp_test

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/gateway/proto1"
	"github.com/banter-chat/banter/gateway/tcp"
	"github.com/banter-chat/banter/internal/testutil"
)

func start(t *testing.T, cfg tcp.Config) (string, *chat.Service) {
	t.Helper()
	testutil.CheckGoroutineLeaks(t)
	svc, err := chat.New(chat.Config{})
	if err != nil {
		t.Fatal(err)
	}
	g := tcp.New(svc, cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- g.Serve(ln) }()
	t.Cleanup(func() {
		svc.Close()
		if err := g.Close(context.Background()); err != nil {
			t.Error(err)
		}
		if err := <-served; err != tcp.ErrClosed {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String(), svc
}

// lines dials addr and returns the connection and all it receives, up to
// the server's close.
func dial(t *testing.T, addr string) (net.Conn, func() []string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, func() []string {
		var out []string
		sc := bufio.NewScanner(c)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			out = append(out, sc.Text())
		}
		return out
	}
}

func TestIdleJSONConnectionIsClosed(t *testing.T) {
	addr, svc := start(t, tcp.Config{Limits: proto1.FrameLimits{IdleTimeout: 100 * time.Millisecond, PingInterval: time.Hour}})
	c, readAll := dial(t, addr)
	c.Write([]byte(`{"type":"hello","nickname":"ann"}` + "\n"))
	got := readAll()
	if len(got) == 0 || got[len(got)-1] != `{"type":"bye","data":{"reason":"idle_timeout"}}` {
		t.Fatalf("lines: %q", got)
	}
	testutil.Eventually(t, 5*time.Second, func() bool { _, on := svc.Lookup("ann"); return !on }, "session not ended")
}

func TestLineTooLongIsAProtocolError(t *testing.T) {
	addr, _ := start(t, tcp.Config{})
	c, readAll := dial(t, addr)
	go c.Write([]byte("/nick ann\n" + strings.Repeat("x", proto1.MaxFrameBytes+10) + "\n"))
	got := readAll()
	if len(got) < 2 || got[len(got)-2] != "! line longer than the limit" || got[len(got)-1] != "* bye (protocol_error)" {
		t.Fatalf("lines: %q", got[max(0, len(got)-3):])
	}
}

func TestShutdownSaysBye(t *testing.T) {
	addr, svc := start(t, tcp.Config{})
	c, readAll := dial(t, addr)
	c.Write([]byte("ann\n"))
	testutil.Eventually(t, 5*time.Second, func() bool { _, on := svc.Lookup("ann"); return on }, "no session")
	svc.Close()
	got := readAll()
	if got[len(got)-1] != "* bye (shutdown)" {
		t.Fatalf("lines: %q", got)
	}
}
