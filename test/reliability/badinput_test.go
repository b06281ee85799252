package reliability_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/banter-chat/banter/app"
	"github.com/coder/websocket"
)

// Every kind of bad input is answered with a clear error, and the server
// keeps serving: after each case a fresh client connects, says hello and
// sends a message.
func TestBadInputAnsweredAndSurvived(t *testing.T) {
	base, _, logs := startApp(t, app.Config{RateBurst: 1000, RatePerSecond: 1000})
	eio := base + "/socket.io/?EIO=4&transport="
	cases := []struct {
		name string
		run  func(t *testing.T, ctx context.Context)
	}{
		{"engine.io: unknown transport", func(t *testing.T, ctx context.Context) {
			expectHTTP(t, http.MethodGet, eio+"pigeon", "", 400, `{"code":0,"message":"Transport unknown"}`)
		}},
		{"engine.io: unsupported protocol version", func(t *testing.T, ctx context.Context) {
			expectHTTP(t, http.MethodGet, base+"/socket.io/?EIO=5&transport=polling", "", 400, `{"code":5,"message":"Unsupported protocol version"}`)
		}},
		{"engine.io: handshake by POST", func(t *testing.T, ctx context.Context) {
			expectHTTP(t, http.MethodPost, eio+"polling", "40", 400, `{"code":2,"message":"Bad handshake method"}`)
		}},
		{"engine.io: unknown sid", func(t *testing.T, ctx context.Context) {
			expectHTTP(t, http.MethodGet, eio+"polling&sid=nope", "", 400, `{"code":1,"message":"Session ID unknown"}`)
			expectHTTP(t, http.MethodPost, eio+"polling&sid=nope", "40", 400, `{"code":1,"message":"Session ID unknown"}`)
		}},
		{"engine.io: malformed packet", func(t *testing.T, ctx context.Context) {
			sid := pollOpen(t, eio)
			expectHTTP(t, http.MethodPost, eio+"polling&sid="+sid, "9garbage", 400, "")
			expectGone(t, eio, sid)
		}},
		{"engine.io: empty POST body", func(t *testing.T, ctx context.Context) {
			sid := pollOpen(t, eio)
			expectHTTP(t, http.MethodPost, eio+"polling&sid="+sid, "", 400, "")
			expectGone(t, eio, sid)
		}},
		{"engine.io v3: huge declared length", func(t *testing.T, ctx context.Context) {
			v3 := base + "/socket.io/?EIO=3&transport="
			sid := pollOpen(t, v3)
			expectHTTP(t, http.MethodPost, v3+"polling&sid="+sid, "99999999999999999999:4hello", 400, "")
			expectGone(t, v3, sid)
		}},
		{"engine.io: body over maxPayload", func(t *testing.T, ctx context.Context) {
			sid := pollOpen(t, eio)
			expectHTTP(t, http.MethodPost, eio+"polling&sid="+sid, "4"+strings.Repeat("x", 1_000_001), 413, "")
		}},
		{"engine.io: POST to a WebSocket session", func(t *testing.T, ctx context.Context) {
			conn, sid := wsOpen(t, ctx, base)
			defer conn.CloseNow()
			expectHTTP(t, http.MethodPost, eio+"polling&sid="+sid, "40", 400, "")
		}},
		{"engine.io: two concurrent GETs", func(t *testing.T, ctx context.Context) {
			sid := pollOpen(t, eio)
			first := make(chan string, 1)
			go func() {
				_, body := doHTTP(t, http.MethodGet, eio+"polling&sid="+sid, "")
				first <- body
			}()
			// The second GET must arrive while the first is parked: retry
			// until the server says it overlapped (the first may not have
			// arrived yet, then the second parks and the first overlaps).
			st, body := doHTTP(t, http.MethodGet, eio+"polling&sid="+sid, "")
			other := <-first
			if st == 200 {
				st, body, other = 400, other, body
			}
			if st != 400 || other != "1" && other != "6" {
				t.Errorf("overlapping GETs: %d %q and %q, want one 400 and the other a close (1) or noop (6)", st, body, other)
			}
			expectGone(t, eio, sid)
		}},
		{"engine.io: half-open upgrade", func(t *testing.T, ctx context.Context) {
			// The client probes a WebSocket, then vanishes without ever
			// sending the upgrade packet: the session stays on polling.
			sid := pollOpen(t, eio)
			conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(eio, "http")+"websocket&sid="+sid, nil)
			if err != nil {
				t.Fatalf("probe dial: %v", err)
			}
			if err := conn.Write(ctx, websocket.MessageText, []byte("2probe")); err != nil {
				t.Fatal(err)
			}
			if _, b, err := conn.Read(ctx); err != nil || string(b) != "3probe" {
				t.Fatalf("probe answer %q, %v", b, err)
			}
			conn.CloseNow()
			expectHTTP(t, http.MethodPost, eio+"polling&sid="+sid, "40", 200, "ok")
			if _, body := doHTTP(t, http.MethodGet, eio+"polling&sid="+sid, ""); !strings.HasPrefix(body, "40{") && body != "6" {
				t.Errorf("polling after an abandoned probe: %q, want the CONNECT reply", body)
			}
		}},
		{"socket.io: unknown packet type", func(t *testing.T, ctx context.Context) {
			expectWSClosed(t, ctx, base, "9")
		}},
		{"socket.io: malformed JSON", func(t *testing.T, ctx context.Context) {
			expectWSClosed(t, ctx, base, "40", `42["hello",{`)
		}},
		{"socket.io: huge attachment count", func(t *testing.T, ctx context.Context) {
			expectWSClosed(t, ctx, base, "40", `4599999999999999999999-["x",{"_placeholder":true,"num":0}]`)
		}},
		{"socket.io: thousands of namespaces", func(t *testing.T, ctx context.Context) {
			conn, _ := wsOpen(t, ctx, base)
			defer conn.CloseNow()
			const n = 2000
			for i := range n {
				if err := conn.Write(ctx, websocket.MessageText, fmt.Appendf(nil, "40/ns%d,", i)); err != nil {
					t.Fatalf("namespace %d: %v", i, err)
				}
			}
			for i := 0; i < n; {
				_, b, err := conn.Read(ctx)
				if err != nil {
					t.Fatalf("after %d refusals: %v", i, err)
				}
				if string(b) == "2" {
					_ = conn.Write(ctx, websocket.MessageText, []byte("3"))
					continue
				}
				if want := fmt.Sprintf(`44/ns%d,{"message":"Invalid namespace"}`, i); string(b) != want {
					t.Fatalf("namespace %d: %q, want %q", i, b, want)
				}
				i++
			}
		}},
		{"chat: event before hello", func(t *testing.T, ctx context.Context) {
			c := mustDial(t, base, dialOptions{})
			expectCode(t, ctx, c, "not_connected", `["send",{"room":"general","text":"hi"}]`)
		}},
		{"chat: wrong types in event args", func(t *testing.T, ctx context.Context) {
			c := mustDial(t, base, dialOptions{})
			expectCode(t, ctx, c, "invalid_argument", `["hello",{"nickname":42}]`)
			expectCode(t, ctx, c, "invalid_argument", `["hello","alice"]`)
			expectCode(t, ctx, c, "invalid_argument", `["hello",{"nickname":"alice","rooms":"general"}]`)
			mustHello(t, c, "typed", "general")
			for _, args := range []string{
				`["send",{"room":5,"text":"hi"}]`,
				`["send",{"room":"general","text":true}]`,
				`["send",{"room":"general","text":"hi","clientId":{}}]`,
				`["send",["general","hi"]]`,
				`["send"]`,
				`["history",{"room":"general","before":"x"}]`,
				`["join",{"room":"general","limit":-1}]`,
				`["typing",{"room":"general","typing":"yes"}]`,
				`["nick",{"nickname":"x"}]`,
			} {
				expectCode(t, ctx, c, "invalid_argument", args)
			}
		}},
		{"chat: unknown event", func(t *testing.T, ctx context.Context) {
			c := mustDial(t, base, dialOptions{})
			mustHello(t, c, "curious", "general")
			expectCode(t, ctx, c, "invalid_argument", `["teleport",{}]`)
		}},
		{"chat: invalid UTF-8", func(t *testing.T, ctx context.Context) {
			// Over polling, where the bytes reach the server as they are
			// (a WebSocket text frame with invalid UTF-8 is refused by the
			// WebSocket layer itself, see the next case).
			c := mustDial(t, base, dialOptions{polling: true})
			mustHello(t, c, "bytes", "general")
			raw, err := c.callRaw(ctx, "[\"send\",{\"room\":\"general\",\"text\":\"bad \xff\xfe here\"}]")
			if err != nil {
				t.Fatal(err)
			}
			var ae *ackError
			if err := decodeAck("send", raw, nil); !errors.As(err, &ae) || ae.Code != "invalid_message" {
				t.Errorf("send with invalid UTF-8: %v (ack %s), want invalid_message", err, raw)
			}
		}},
		{"websocket: text frame with invalid UTF-8", func(t *testing.T, ctx context.Context) {
			expectWSClosed(t, ctx, base, "40", "42[\"hello\",{\"nickname\":\"\xff\"}]")
		}},
		{"chat: oversized message", func(t *testing.T, ctx context.Context) {
			c := mustDial(t, base, dialOptions{})
			mustHello(t, c, "verbose", "general")
			expectCode(t, ctx, c, "message_too_large", fmt.Sprintf(`["send",{"room":"general","text":%q}]`, strings.Repeat("y", 5000)))
		}},
		{"chat: thousands of rooms", func(t *testing.T, ctx context.Context) {
			c := mustDial(t, base, dialOptions{})
			mustHello(t, c, "collector")
			// The request bucket (burst 100, 50/s) and the room limit (100
			// per session) both bound it: never more than 100 rooms.
			joined, codes := 0, map[string]int{}
			for i := range 300 {
				raw, err := c.call(ctx, "join", fmt.Sprintf("room-%d", i))
				if err != nil {
					t.Fatalf("join %d: %v", i, err)
				}
				var ae *ackError
				if err := decodeAck("join", raw, nil); errors.As(err, &ae) {
					codes[ae.Code]++
				} else if err != nil {
					t.Fatalf("join %d: %v", i, err)
				} else {
					joined++
				}
			}
			if joined > 100 || joined+codes["rate_limited"]+codes["too_many_rooms"] != 300 {
				t.Errorf("300 joins in a row: %d joined, refusals %v; want at most 100 rooms, refusals rate_limited or too_many_rooms", joined, codes)
			}
			t.Logf("300 joins: %d joined, refusals %v", joined, codes)
		}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			tc.run(t, ctx)
			// The server keeps serving everyone else.
			c := mustDial(t, base, dialOptions{})
			mustHello(t, c, fmt.Sprintf("canary%d", i), "general")
			if err := c.ok(ctx, "send", map[string]any{"room": "general", "text": "still fine"}, nil); err != nil {
				t.Fatalf("server after %q: %v", tc.name, err)
			}
		})
	}
	if strings.Contains(logs.String(), "panic") {
		t.Errorf("a panic was logged")
	}
}

// httpClient has a timeout so that a case that hangs fails instead.
var httpClient = &http.Client{Timeout: 20 * time.Second}

func doHTTP(t *testing.T, method, u, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// expectHTTP checks the status and, when want is set, the body; an error
// answer must have a non-empty body that says what went wrong.
func expectHTTP(t *testing.T, method, u, body string, status int, want string) {
	t.Helper()
	st, got := doHTTP(t, method, u, body)
	if st != status || want != "" && strings.TrimSpace(got) != want {
		t.Errorf("%s %s: %d %q, want %d %q", method, u, st, got, status, want)
	}
	if st >= 400 && strings.TrimSpace(got) == "" {
		t.Errorf("%s %s: %d with an empty body, want a clear error", method, u, st)
	}
}

// pollOpen opens a polling session and returns its sid.
func pollOpen(t *testing.T, eio string) string {
	t.Helper()
	st, body := doHTTP(t, http.MethodGet, eio+"polling", "")
	var h struct {
		SID string `json:"sid"`
	}
	if i := strings.IndexByte(body, '{'); st != 200 || i < 0 || json.Unmarshal([]byte(body[i:strings.LastIndexByte(body, '}')+1]), &h) != nil {
		t.Fatalf("handshake: %d %q", st, body)
	}
	return h.SID
}

// expectGone checks that the session was closed by the server.
func expectGone(t *testing.T, eio, sid string) {
	t.Helper()
	st, body := doHTTP(t, http.MethodGet, eio+"polling&sid="+sid, "")
	if st != 400 && !(st == 200 && strings.HasSuffix(body, "1")) {
		t.Errorf("session %s after bad input: %d %q, want it closed", sid, st, body)
	}
}

// wsOpen opens a raw WebSocket Engine.IO session and returns it with its
// sid (the open packet consumed).
func wsOpen(t *testing.T, ctx context.Context, base string) (*websocket.Conn, string) {
	t.Helper()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	_, b, err := conn.Read(ctx)
	var h struct {
		SID string `json:"sid"`
	}
	if err != nil || len(b) == 0 || b[0] != '0' || json.Unmarshal(b[1:], &h) != nil {
		t.Fatalf("open packet %q: %v", b, err)
	}
	return conn, h.SID
}

// expectWSClosed sends frames on a new WebSocket session and expects the
// server to close the connection (after at most a few answers).
func expectWSClosed(t *testing.T, ctx context.Context, base string, frames ...string) {
	t.Helper()
	conn, _ := wsOpen(t, ctx, base)
	defer conn.CloseNow()
	for _, f := range frames {
		if err := conn.Write(ctx, websocket.MessageText, []byte(f)); err != nil {
			return // already closed
		}
	}
	for range 10 {
		if _, _, err := conn.Read(ctx); err != nil {
			if ctx.Err() != nil {
				t.Fatalf("connection still open after %q", frames)
			}
			return
		}
	}
	t.Errorf("connection still open after %q", frames)
}

// expectCode sends an EVENT with the given JSON array and an ack, and
// expects a failed ack with code.
func expectCode(t *testing.T, ctx context.Context, c *client, code, args string) {
	t.Helper()
	raw, err := c.callRaw(ctx, args)
	if err != nil {
		t.Fatalf("%s: %v", args, err)
	}
	var ae *ackError
	if err := decodeAck("event", raw, nil); !errors.As(err, &ae) || ae.Code != code {
		t.Errorf("%s: ack %s, want error %s", args, raw, code)
	}
}
