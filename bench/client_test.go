package bench

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/banter-chat/banter/bench/workload"
	"github.com/banter-chat/banter/internal/testutil"
	"github.com/banter-chat/banter/socketio"
)

// servers returns the workload served by Banter and by the Node reference,
// so every behaviour the generator relies on is checked on both.
func servers(t *testing.T) map[string]string {
	t.Helper()
	io := socketio.NewServer(socketio.Config{})
	workload.Mount(io, nil)
	u, err := url.Parse(testutil.StartHTTP(t, io))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{"banter": u.Host}
	if !testing.Short() {
		script := filepath.Join(testutil.RepoRoot(t), "bench", "node", "server.js")
		// The script prints "LISTENING port pid".
		port, _, _ := strings.Cut(testutil.StartNode(t, script, "0"), " ")
		out["node"] = "127.0.0.1:" + port
	}
	return out
}

func mustDial(t *testing.T, addr string) *conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := dial(ctx, addr, net.IPv4(127, 0, 0, 2))
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.close() })
	_ = c.c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// next returns the next Socket.IO packet that is not a CONNECT reply.
func next(t *testing.T, c *conn) string {
	t.Helper()
	p, err := c.readText()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(p)
}

func TestWorkloadOnBothServers(t *testing.T) {
	for name, addr := range servers(t) {
		t.Run(name, func(t *testing.T) {
			a, b := mustDial(t, addr), mustDial(t, addr)

			// echo acks with the payload as sent.
			if err := a.writeText([]byte(`427["echo",{"p":"hi"},2]`)); err != nil {
				t.Fatal(err)
			}
			if got := next(t, a); got != `437[{"p":"hi"},2]` {
				t.Fatalf("echo ack = %q", got)
			}

			// chat message goes to everyone, sender included, intact.
			msg := dialectChatMessage.appendSend(nil, "", 3, 9, 1700000000123456, "xyz")
			if err := a.writeText(msg); err != nil {
				t.Fatal(err)
			}
			for _, c := range []*conn{a, b} {
				got := next(t, c)
				s, n, ts, ok := parseMark([]byte(got))
				if kindOf([]byte(got)) != pktDelivery || !ok || s != 3 || n != 9 || ts != 1700000000123456 || got != string(msg) {
					t.Fatalf("chat message = %q (parsed %d %d %d %v)", got, s, n, ts, ok)
				}
			}

			// join acks true; room message reaches the room only.
			if err := b.writeText([]byte(`421["join","r1"]`)); err != nil {
				t.Fatal(err)
			}
			if got := next(t, b); got != `431[true]` {
				t.Fatalf("join ack = %q", got)
			}
			if err := a.writeText([]byte(`42["room message",{"room":"r1","msg":"to r1"}]`)); err != nil {
				t.Fatal(err)
			}
			if got := next(t, b); got != `42["chat message","to r1"]` {
				t.Fatalf("room message = %q", got)
			}
			// After leave, b no longer gets r1's messages: a marker sent to
			// all afterwards is the next thing b reads.
			if err := b.writeText([]byte(`42["leave","r1"]`)); err != nil {
				t.Fatal(err)
			}
			// leave has no ack: an echo round trip orders it before the next send.
			if err := b.writeText([]byte(`422["echo",0]`)); err != nil {
				t.Fatal(err)
			}
			if got := next(t, b); got != `432[0]` {
				t.Fatalf("echo ack = %q", got)
			}
			if err := a.writeText([]byte(`42["room message",{"room":"r1","msg":"late"}]`)); err != nil {
				t.Fatal(err)
			}
			if err := a.writeText([]byte(`42["chat message","marker"]`)); err != nil {
				t.Fatal(err)
			}
			if got := next(t, b); got != `42["chat message","marker"]` {
				t.Fatalf("after leave, b got %q", got)
			}
		})
	}
}

func TestDialRefusesNonWebSocketServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 4096)
		_, _ = c.Read(buf)
		_, _ = c.Write([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"))
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = dial(ctx, ln.Addr().String(), nil)
	if !errors.Is(err, ErrHandshake) || !strings.Contains(err.Error(), "400") {
		t.Fatalf("err = %v, want ErrHandshake with the status line", err)
	}
}

// frameConn returns a conn whose reads see data.
func frameConn(data []byte) *conn {
	a, b := net.Pipe()
	go func() { _, _ = b.Write(data); b.Close() }()
	return &conn{c: a, buf: make([]byte, 16)}
}

func TestReadFrameLengths(t *testing.T) {
	for _, n := range []int{0, 125, 126, 65535, 65536} {
		payload := bytes.Repeat([]byte("a"), n)
		hdr := []byte{0x81}
		switch {
		case n < 126:
			hdr = append(hdr, byte(n))
		case n < 65536:
			hdr = append(hdr, 126, byte(n>>8), byte(n))
		default:
			hdr = append(hdr, 127)
			hdr = binary.BigEndian.AppendUint64(hdr, uint64(n))
		}
		c := frameConn(append(hdr, payload...))
		op, p, err := c.readFrame()
		if err != nil || op != 1 || !bytes.Equal(p, payload) {
			t.Fatalf("n=%d: op=%d len=%d err=%v", n, op, len(p), err)
		}
	}
}

func TestReadFrameRejects(t *testing.T) {
	for name, data := range map[string][]byte{
		"masked":     {0x81, 0x81, 1, 2, 3, 4, 'x'},
		"fragmented": {0x01, 1, 'x'},
		"huge":       append([]byte{0x81, 127}, binary.BigEndian.AppendUint64(nil, 1<<40)...),
	} {
		_, _, err := frameConn(data).readFrame()
		if !errors.Is(err, ErrProtocol) {
			t.Errorf("%s: err = %v, want ErrProtocol", name, err)
		}
	}
	if _, err := frameConn([]byte{0x88, 0}).readText(); !errors.Is(err, ErrClosed) {
		t.Errorf("close frame: err = %v, want ErrClosed", err)
	}
}

func TestMark(t *testing.T) {
	b := appendMark(nil, 12, 345, 1712345678901234, "hello")
	s, n, ts, ok := parseMark(b)
	if !ok || s != 12 || n != 345 || ts != 1712345678901234 {
		t.Fatalf("round trip: %d %d %d %v", s, n, ts, ok)
	}
	for _, bad := range []string{`42["chat message","hi"]`, `42["chat message","@@1.2"]`, `42["chat message","@@1.2.3"]`,
		`42["chat message","@@-1.2.3."]`, `42["chat message","@@a.2.3."]`, `42["chat message","@@99999999999.2.3."]`} {
		if _, _, _, ok := parseMark([]byte(bad)); ok {
			t.Errorf("%s parsed", bad)
		}
	}
}

func TestDialectPackets(t *testing.T) {
	for _, tc := range []struct {
		d    dialect
		want string
	}{
		{dialectChatMessage, `42["chat message","@@1.2.3.xy"]`},
		{dialectV1, `423["send",{"room":"bench","text":"@@1.2.3.xy","clientId":"b1-2"}]`},
	} {
		if got := string(tc.d.appendSend(nil, "bench", 1, 2, 3, "xy")); got != tc.want {
			t.Errorf("%v: %s, want %s", tc.d, got, tc.want)
		}
	}
	if got := string(appendHello(nil, 7, []string{"a", "b"})); got != `420["hello",{"nickname":"bench-7","rooms":["a","b"]}]` {
		t.Errorf("hello: %s", got)
	}
	for p, want := range map[string]pktKind{
		`42["chat message","@@1.2.3."]`:                      pktDelivery,
		`42["message",{"text":"@@1.2.3."}]`:                  pktDelivery,
		`430[{"ok":true}]`:                                   pktAck0,
		`4317[{"ok":false,"error":{"code":"rate_limited"}}]`: pktRefusal,
		`4317[{"ok":true,"seq":4}]`:                          pktOther,
		`42["error",{"code":"rate_limited"}]`:                pktRefusal,
		`42["presence",{"room":"bench"}]`:                    pktOther,
	} {
		if got := kindOf([]byte(p)); got != want {
			t.Errorf("kindOf(%s) = %d, want %d", p, got, want)
		}
	}
}

func TestSchedules(t *testing.T) {
	start := time.Unix(1000, 0)
	// spread: 4 senders at 40 msgs/s in all send one every 25 ms, interleaved.
	var all []time.Duration
	for s := range 4 {
		sc := shapeSpread.schedule(s, 4, 40, start)
		for range 3 {
			all = append(all, sc.next().Sub(start))
		}
	}
	slices.Sort(all)
	for i, d := range all {
		if want := time.Duration(i) * 25 * time.Millisecond; d != want {
			t.Fatalf("spread: send %d at %v, want %v", i, d, want)
		}
	}
	// burst: every sender at the same instants.
	a, b := shapeBurst.schedule(0, 2, 20, start), shapeBurst.schedule(1, 2, 20, start)
	for range 3 {
		if x, y := a.next(), b.next(); !x.Equal(y) {
			t.Fatalf("burst: %v != %v", x, y)
		}
	}
	// poisson: independent, with the right mean rate.
	p, q := shapePoisson.schedule(0, 2, 200, start), shapePoisson.schedule(1, 2, 200, start)
	var last time.Time
	same := 0
	for range 10_000 {
		x, y := p.next(), q.next()
		if x.Equal(y) {
			same++
		}
		last = x
	}
	if rate := 10_000 / last.Sub(start).Seconds(); rate < 95 || rate > 105 {
		t.Errorf("poisson: %.1f msgs/s per sender, want ~100", rate)
	}
	if same > 0 {
		t.Errorf("poisson: %d sends of two senders at the same instant", same)
	}
}
