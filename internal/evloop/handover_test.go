//go:build linux

package evloop_test

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"

	"github.com/banter-chat/banter/internal/evloop"
)

// wrapped is a connection handed over with bytes read of it first, as
// engineio hands connections to net/http.
type wrapped struct {
	net.Conn
	prefix []byte
}

func (w *wrapped) Read(b []byte) (int, error) {
	if len(w.prefix) > 0 {
		n := copy(b, w.prefix)
		w.prefix = w.prefix[n:]
		return n, nil
	}
	return w.Conn.Read(b)
}

func (w *wrapped) Handover() (*net.TCPConn, bool) {
	tc, ok := w.Conn.(*net.TCPConn)
	return tc, ok && len(w.prefix) == 0
}

// A Handover whose bytes were all read goes onto the loop as its TCP
// connection; one that still holds some is served in blocking mode, those
// bytes first.
func TestHandover(t *testing.T) {
	l := newLoop(t, evloop.Config{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, prefix := range []string{"", "early\n"} {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		sc, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		closes := make(chan error, 1)
		ec, err := l.Add(&wrapped{Conn: sc, prefix: []byte(prefix)}, &echo{closes: closes})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := ec.Blocking(), prefix != ""; got != want {
			t.Errorf("prefix %q: blocking mode %v, want %v", prefix, got, want)
		}
		_ = c.SetDeadline(time.Now().Add(waitTimeout))
		r := bufio.NewReader(c)
		io.WriteString(c, "late\n")
		for _, want := range []string{prefix, "late\n"} {
			if want == "" {
				continue
			}
			if got, err := r.ReadString('\n'); err != nil || got != want {
				t.Fatalf("prefix %q: echo %q %v, want %q", prefix, got, err, want)
			}
		}
		c.Close()
		if err := recvErr(t, closes); err != io.EOF {
			t.Errorf("prefix %q: OnClose(%v), want EOF", prefix, err)
		}
	}
}
