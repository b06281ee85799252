package app_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/banter-chat/banter/app"
	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/internal/apptest"
	"github.com/banter-chat/banter/internal/testutil"
)

// gatewayApp serves a whole app on loopback (TCP gateway and API key on)
// and returns its base URL.
func gatewayApp(t *testing.T) (string, *app.App) {
	t.Helper()
	return apptest.Serve(t, app.Config{APIKey: "secret-key", TCPAddr: "127.0.0.1:0"})
}

// sioUser runs testdata/siouser.js: a Socket.IO user who waits in room for
// expectText from expectFrom and answers replyText. The returned channel
// yields its report (or an error).
func sioUser(t *testing.T, a *app.App, url, nick, room, expectFrom, expectText, replyText string) <-chan sioReport {
	t.Helper()
	testutil.RequireNode(t)
	out := make(chan sioReport, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		stdout, err := testutil.RunNode(t, ctx, "testdata/siouser.js", url, nick, room, expectFrom, expectText, replyText)
		var r sioReport
		if jerr := json.Unmarshal([]byte(strings.TrimSpace(stdout)), &r); jerr != nil && err == nil {
			err = jerr
		}
		r.err = err
		out <- r
	}()
	// The user is ready once it is a member of the room.
	testutil.Eventually(t, 30*time.Second, func() bool {
		m, _ := a.Service().Members(room)
		return slices.Contains(m, nick)
	}, "Socket.IO user %s did not join %s", nick, room)
	return out
}

type sioReport struct {
	OK    bool           `json:"ok"`
	Error string         `json:"error"`
	Got   []chat.Message `json:"got"`
	err   error
}

func (r sioReport) check(t *testing.T, wantFrom, wantText string) {
	t.Helper()
	if r.err != nil || !r.OK {
		t.Fatalf("Socket.IO user failed: %v %s", r.err, r.Error)
	}
	if !slices.ContainsFunc(r.Got, func(m chat.Message) bool { return m.Sender == wantFrom && m.Text == wantText }) {
		t.Fatalf("Socket.IO user did not get %q from %s: %+v", wantText, wantFrom, r.Got)
	}
}

// api makes one REST request and decodes the JSON answer (nil for 304).
func api(t *testing.T, method, url, token string, body any, hdr ...string) (int, http.Header, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode == http.StatusNotModified {
		return res.StatusCode, res.Header, nil
	}
	var v map[string]any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("%s %s: %d %q is not JSON: %v", method, url, res.StatusCode, data, err)
	}
	return res.StatusCode, res.Header, v
}

// TestRESTChatsWithSocketIO: a REST client and a Socket.IO user in one
// room; the REST side reads by short polling with ETag/304; a backend
// publishes with the API key.
func TestRESTChatsWithSocketIO(t *testing.T) {
	url, a := gatewayApp(t)
	done := sioUser(t, a, url, "bob", "lobby", "alice", "hi from REST", "hi REST, Socket.IO here")
	api1 := url + "/api/v1"

	st, _, v := api(t, "POST", api1+"/sessions", "", map[string]any{"nickname": "alice", "rooms": []string{"lobby"}})
	if st != http.StatusCreated || v["ok"] != true {
		t.Fatalf("create session: %d %v", st, v)
	}
	tok := v["token"].(string)
	st, _, v = api(t, "GET", api1+"/rooms/lobby/members", "", nil)
	if st != 200 || fmt.Sprint(v["members"]) != "[alice bob]" {
		t.Fatalf("members: %d %v", st, v)
	}
	st, _, v = api(t, "POST", api1+"/rooms/lobby/messages", tok, map[string]any{"text": "hi from REST", "clientId": "a1"})
	if st != http.StatusCreated || v["seq"] != 1.0 {
		t.Fatalf("post: %d %v", st, v)
	}
	// A retry with the same clientId stores nothing.
	st, _, v = api(t, "POST", api1+"/rooms/lobby/messages", tok, map[string]any{"text": "hi from REST", "clientId": "a1"})
	if st != http.StatusOK || v["duplicate"] != true || v["seq"] != 1.0 {
		t.Fatalf("retry: %d %v", st, v)
	}

	// Short polling: after=1 until bob's answer is there; 304 while not.
	var etag string
	var reply map[string]any
	testutil.Eventually(t, 30*time.Second, func() bool {
		st, h, v := api(t, "GET", api1+"/rooms/lobby/messages?after=1", tok, nil, "If-None-Match", etag)
		if st == http.StatusNotModified {
			if etag == "" {
				t.Fatal("304 without a validator")
			}
			return false
		}
		if st != 200 {
			t.Fatalf("poll: %d %v", st, v)
		}
		etag = h.Get("ETag")
		if msgs := v["messages"].([]any); len(msgs) > 0 {
			reply = msgs[0].(map[string]any)
			return true
		}
		return false
	}, "the Socket.IO user's answer never showed up in short polling")
	if reply["from"] != "bob" || reply["text"] != "hi REST, Socket.IO here" || reply["seq"] != 2.0 {
		t.Fatalf("reply: %v", reply)
	}
	(<-done).check(t, "alice", "hi from REST")
	// Nothing new: the same ETag gets 304.
	st, h, _ := api(t, "GET", api1+"/rooms/lobby/messages?after=1", tok, nil)
	if st != 200 || h.Get("ETag") != etag {
		t.Fatalf("poll again: %d etag %q want %q", st, h.Get("ETag"), etag)
	}
	if st, _, _ := api(t, "GET", api1+"/rooms/lobby/messages?after=1", tok, nil, "If-None-Match", etag); st != http.StatusNotModified {
		t.Fatalf("conditional poll with nothing new: %d, want 304", st)
	}

	// Server-side publish.
	st, _, v = api(t, "POST", api1+"/publish", "", map[string]any{"room": "lobby", "text": "deploy done"})
	if st != http.StatusUnauthorized || v["error"].(map[string]any)["code"] != "forbidden" {
		t.Fatalf("publish without key: %d %v", st, v)
	}
	st, _, v = api(t, "POST", api1+"/publish", "wrong", map[string]any{"room": "lobby", "text": "x"})
	if st != http.StatusUnauthorized {
		t.Fatalf("publish with a wrong key: %d %v", st, v)
	}
	st, _, v = api(t, "POST", api1+"/publish", "", map[string]any{"room": "lobby", "text": "deploy done", "from": "ci"}, "X-API-Key", "secret-key")
	if st != http.StatusCreated || v["seq"] != 3.0 {
		t.Fatalf("publish: %d %v", st, v)
	}
	st, _, v = api(t, "GET", api1+"/rooms/lobby/messages?after=2", tok, nil, "If-None-Match", etag)
	if st != 200 || len(v["messages"].([]any)) != 1 || v["messages"].([]any)[0].(map[string]any)["from"] != "ci" {
		t.Fatalf("published message not in history: %d %v", st, v)
	}

	// Logout ends the session; its token no longer works.
	if st, _, v := api(t, "DELETE", api1+"/sessions/current", tok, nil); st != 200 {
		t.Fatalf("logout: %d %v", st, v)
	}
	if st, h, v := api(t, "GET", api1+"/sessions/current", tok, nil); st != http.StatusUnauthorized || h.Get("WWW-Authenticate") == "" ||
		v["error"].(map[string]any)["code"] != "not_connected" {
		t.Fatalf("after logout: %d %v", st, v)
	}
}

// wsClient is a /ws client that collects the frames it receives.
type wsClient struct {
	t  *testing.T
	c  *websocket.Conn
	in chan map[string]any
}

func dialWS(t *testing.T, url string) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, strings.Replace(url, "http://", "ws://", 1)+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	w := &wsClient{t: t, c: c, in: make(chan map[string]any, 100)}
	go func() {
		defer close(w.in)
		for {
			_, data, err := c.Read(context.Background())
			if err != nil {
				return
			}
			var v map[string]any
			if json.Unmarshal(data, &v) != nil {
				v = map[string]any{"type": "invalid", "raw": string(data)}
			}
			w.in <- v
		}
	}()
	t.Cleanup(func() { c.CloseNow() })
	return w
}

func (w *wsClient) send(v any) {
	w.t.Helper()
	b, _ := json.Marshal(v)
	if err := w.c.Write(context.Background(), websocket.MessageText, b); err != nil {
		w.t.Fatal(err)
	}
}

// next returns the next frame satisfying pred, skipping others.
func (w *wsClient) next(what string, pred func(map[string]any) bool) map[string]any {
	w.t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case v, ok := <-w.in:
			if !ok {
				w.t.Fatalf("%s: connection closed", what)
			}
			if pred(v) {
				return v
			}
		case <-timeout:
			w.t.Fatalf("%s: not received", what)
		}
	}
}

func isReply(id float64) func(map[string]any) bool {
	return func(v map[string]any) bool { return v["type"] == "reply" && v["ref"] == id }
}

func isMessage(from, text string) func(map[string]any) bool {
	return func(v map[string]any) bool {
		d, _ := v["data"].(map[string]any)
		return v["type"] == "message" && d["from"] == from && d["text"] == text
	}
}

// TestWSChatsWithSocketIO: a plain WebSocket JSON client and a Socket.IO
// user in one room.
func TestWSChatsWithSocketIO(t *testing.T) {
	url, a := gatewayApp(t)
	done := sioUser(t, a, url, "bob", "lobby", "carol", "hi from /ws", "hi ws")
	w := dialWS(t, url)

	w.send(map[string]any{"type": "send", "ref": 1, "room": "lobby", "text": "too early"})
	if r := w.next("send before hello", isReply(1)); r["ok"] != false || r["error"].(map[string]any)["code"] != "not_connected" {
		t.Fatalf("send before hello: %v", r)
	}
	w.send(map[string]any{"type": "hello", "ref": 2, "nickname": "carol", "rooms": []string{"lobby"}})
	r := w.next("hello reply", isReply(2))
	if r["ok"] != true || r["protocol"] != 1.0 || r["rooms"].([]any)[0].(map[string]any)["ok"] != true {
		t.Fatalf("hello: %v", r)
	}
	w.send(map[string]any{"type": "send", "ref": "s1", "room": "lobby", "text": "hi from /ws", "clientId": "c1"})
	r = w.next("send reply", func(v map[string]any) bool { return v["type"] == "reply" && v["ref"] == "s1" })
	if r["ok"] != true || r["seq"] != 1.0 {
		t.Fatalf("send: %v", r)
	}
	w.next("bob's answer", isMessage("bob", "hi ws"))
	(<-done).check(t, "carol", "hi from /ws")

	// Bad input gets a clear error and the connection stays usable.
	w.send(map[string]any{"type": "send", "ref": 3, "room": "lobby", "text": 42})
	if r := w.next("bad type", isReply(3)); r["error"].(map[string]any)["code"] != "invalid_argument" ||
		!strings.Contains(r["error"].(map[string]any)["message"].(string), `"text"`) {
		t.Fatalf("text of the wrong type: %v", r)
	}
	w.send(map[string]any{"type": "fly"})
	if r := w.next("unknown command", func(v map[string]any) bool { return v["type"] == "error" }); r["data"].(map[string]any)["command"] != "fly" {
		t.Fatalf("unknown command: %v", r)
	}
	w.send(map[string]any{"type": "ping", "ref": 9})
	w.next("pong", func(v map[string]any) bool { return v["type"] == "pong" && v["ref"] == 9.0 })
	w.send(map[string]any{"type": "history", "ref": 4, "room": "lobby"})
	if r := w.next("history", isReply(4)); len(r["messages"].([]any)) != 2 {
		t.Fatalf("history: %v", r)
	}
}

// TestTCPChatsWithSocketIO: an nc-style TCP client in text mode and one in
// JSON mode, with a Socket.IO user, in the default room.
func TestTCPChatsWithSocketIO(t *testing.T) {
	url, a := gatewayApp(t)
	done := sioUser(t, a, url, "bob", "general", "dave", "hi from nc", "hi nc")
	nc, err := net.Dial("tcp", a.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(nc)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	expect := func(what, want string) {
		t.Helper()
		timeout := time.After(30 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("%s: connection closed", what)
				}
				if strings.Contains(l, want) {
					return
				}
			case <-timeout:
				t.Fatalf("%s: no line with %q", what, want)
			}
		}
	}
	fmt.Fprintf(nc, "who: me?\n") // the first plain line is the nickname
	expect("nickname refused", "! invalid_nickname")
	fmt.Fprintf(nc, "/nick dave\n")
	expect("welcome", "* welcome, dave")
	expect("joined the default room", "* you are now talking in general")
	fmt.Fprintf(nc, "hi from nc\n")
	expect("bob's answer", "[general] bob: hi nc")
	(<-done).check(t, "dave", "hi from nc")
	fmt.Fprintf(nc, "/frobnicate\n")
	expect("unknown command", "! invalid_argument: unknown command /frobnicate")

	// JSON mode on a second connection sees the history and a new message.
	jc, err := net.Dial("tcp", a.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer jc.Close()
	fmt.Fprintf(jc, `{"type":"hello","ref":1,"nickname":"erin","rooms":["general"]}`+"\n")
	sc := bufio.NewScanner(jc)
	var hello map[string]any
	for sc.Scan() {
		if json.Unmarshal(sc.Bytes(), &hello) == nil && hello["type"] == "reply" {
			break
		}
	}
	room := hello["rooms"].([]any)[0].(map[string]any)
	if hello["ok"] != true || room["lastSeq"] != 2.0 || len(room["messages"].([]any)) != 2 {
		t.Fatalf("JSON hello: %v", hello)
	}
	fmt.Fprintf(jc, `{"type":"send","room":"general","text":"json line"}`+"\n")
	expect("the JSON client's message, seen by the text client", "[general] erin: json line")
	fmt.Fprintf(nc, "/quit\n")
	expect("bye", "* bye (quit)")
	for range lines { // the server closes the connection
	}
}

// TestWSProtocolErrors: a frame that breaks RFC 6455 on /ws closes the
// connection with the status the RFC gives (an unmasked client frame:
// 1002, not a normal close), as on the Socket.IO endpoint.
func TestWSProtocolErrors(t *testing.T) {
	url, _ := apptest.Serve(t, app.Config{})
	for _, tc := range []struct {
		name  string
		frame []byte
		code  int
	}{
		{"unmasked", []byte{0x81, 0x02, '{', '}'}, 1002},
		{"reserved bits", []byte{0xc1, 0x80, 0, 0, 0, 0}, 1002},
		{"fragmented ping", []byte{0x09, 0x80, 0, 0, 0, 0}, 1002},
	} {
		t.Run(tc.name, func(t *testing.T) {
			host := strings.TrimPrefix(url, "http://")
			nc, err := net.Dial("tcp", host)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
			fmt.Fprintf(nc, "GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", host)
			br := bufio.NewReader(nc)
			resp, err := http.ReadResponse(br, nil)
			if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("upgrade: %v %v", resp, err)
			}
			if _, err := nc.Write(tc.frame); err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(br)
			i := bytes.IndexByte(got, 0x88)
			if i < 0 || len(got) < i+4 || int(got[i+2])<<8|int(got[i+3]) != tc.code {
				t.Fatalf("no close frame with %d in % x", tc.code, got)
			}
		})
	}
}
