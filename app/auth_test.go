package app_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/banter-chat/banter/app"
	"github.com/banter-chat/banter/auth"
	"github.com/banter-chat/banter/client"
	"github.com/banter-chat/banter/internal/apptest"
	"github.com/banter-chat/banter/internal/testutil"
)

var (
	rsaOnce sync.Once
	rsaKey  *rsa.PrivateKey
)

// authKey is the RSA key the test tokens are signed with (RS256 pinned).
func authKey(t *testing.T) (*rsa.PrivateKey, []byte) {
	t.Helper()
	rsaOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		rsaKey = k
	})
	der, err := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return rsaKey, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// authApp serves the whole app in required mode with every gateway on.
func authApp(t *testing.T, burst int) (url string, a *app.App) {
	t.Helper()
	_, pub := authKey(t)
	return serveAuthApp(t, burst, auth.Config{Mode: auth.ModeRequired, PublicKeyPEM: pub})
}

func serveAuthApp(t *testing.T, burst int, ac auth.Config) (url string, a *app.App) {
	t.Helper()
	return apptest.Serve(t, app.Config{
		TCPAddr: "127.0.0.1:0", MQTTAddr: "127.0.0.1:0",
		RateBurst: burst, RatePerSecond: 0.01,
		Auth: ac,
	})
}

// A token case of the matrix and what every gateway must answer.
type tokenCase struct {
	name  string
	token string
	code  string // "" = accepted
}

func tokenCases(t *testing.T, sub string) []tokenCase {
	key, pub := authKey(t)
	valid, err := auth.Sign("RS256", key, auth.Claims{Subject: sub, Nickname: sub})
	if err != nil {
		t.Fatal(err)
	}
	expired, _ := auth.Sign("RS256", key, auth.Claims{Subject: sub, Now: time.Now().Add(-2 * time.Hour)})
	exp := time.Now().Add(time.Hour).Unix()
	// Algorithm confusion: HS256 keyed with the RSA public key's PEM.
	hs, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": sub, "exp": exp}).SignedString(pub)
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"sub": sub, "exp": exp}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	return []tokenCase{
		{"valid", valid, ""},
		{"expired", expired, "token_expired"},
		{"HS256 when RS256 is pinned", hs, "token_invalid"},
		{"alg none", none, "token_invalid"},
		{"missing", "", "unauthenticated"},
	}
}

func errCode(v map[string]any) string {
	e, _ := v["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// TestAuthSocketIO: the official socket.io-client sends the token in the
// handshake's auth; refusals are CONNECT_ERROR with data {code, message}.
func TestAuthSocketIO(t *testing.T) {
	testutil.RequireNode(t)
	url, _ := authApp(t, 20)
	cases := tokenCases(t, "sio-user")
	toks := make([]string, len(cases))
	for i, c := range cases {
		toks[i] = c.token
	}
	arg, _ := json.Marshal(toks)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, err := testutil.RunNode(t, ctx, "testdata/sioauth.js", url, string(arg))
	if err != nil {
		t.Fatalf("sioauth.js: %v\n%s", err, out)
	}
	var res []struct {
		Connected bool           `json:"connected"`
		Hello     map[string]any `json:"hello"`
		Error     string         `json:"error"`
		Data      map[string]any `json:"data"`
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &res); err != nil || len(res) != len(cases) {
		t.Fatalf("sioauth.js printed %q: %v", out, err)
	}
	for i, c := range cases {
		r := res[i]
		if c.code == "" {
			if !r.Connected || r.Hello["ok"] != true || r.Hello["nickname"] != "sio-user" {
				t.Errorf("%s: %+v, want connected as sio-user", c.name, r)
			}
			continue
		}
		if r.Connected || r.Data["code"] != c.code || r.Error == "" || r.Error != r.Data["message"] {
			t.Errorf("%s: %+v, want CONNECT_ERROR with code %s", c.name, r, c.code)
		}
		if c.token != "" && strings.Contains(r.Error, c.token) {
			t.Errorf("%s: the error echoes the token", c.name)
		}
	}
}

// TestAuthREST: POST /api/v1/sessions with Authorization: Bearer <jwt>.
func TestAuthREST(t *testing.T) {
	url, _ := authApp(t, 20)
	for _, c := range tokenCases(t, "rest-user") {
		st, h, v := api(t, "POST", url+"/api/v1/sessions", c.token, nil)
		if c.code == "" {
			if st != http.StatusCreated || v["nickname"] != "rest-user" {
				t.Errorf("%s: %d %v", c.name, st, v)
			}
			continue
		}
		www := h.Get("WWW-Authenticate")
		if st != http.StatusUnauthorized || errCode(v) != c.code || !strings.HasPrefix(www, "Bearer ") ||
			(c.token != "") != strings.Contains(www, `error="invalid_token"`) {
			t.Errorf("%s: %d %v WWW-Authenticate %q, want 401 %s", c.name, st, v, www, c.code)
		}
	}
	// Nothing is public in required mode.
	for _, path := range []string{"/users", "/rooms", "/rooms/general/members"} {
		if st, h, v := api(t, "GET", url+"/api/v1"+path, "", nil); st != 401 || errCode(v) != "not_connected" || h.Get("WWW-Authenticate") == "" {
			t.Errorf("GET %s without a session: %d %v", path, st, v)
		}
	}
	// A nickname alone is not enough in required mode.
	if st, _, v := api(t, "POST", url+"/api/v1/sessions", "", map[string]any{"nickname": "anon"}); st != 401 || errCode(v) != "unauthenticated" {
		t.Errorf("nickname without token: %d %v", st, v)
	}
}

// TestAuthWS: hello {token} on /ws; a refused one gets the error reply,
// then the connection closes.
func TestAuthWS(t *testing.T) {
	url, _ := authApp(t, 20)
	for _, c := range tokenCases(t, "ws-user") {
		w := dialWS(t, url)
		w.send(map[string]any{"type": "hello", "ref": 1, "token": c.token, "nickname": "ignored"})
		r := w.next(c.name+": hello reply", isReply(1))
		if c.code == "" {
			if r["ok"] != true || r["nickname"] != "ws-user" {
				t.Errorf("%s: %v", c.name, r)
			}
			continue
		}
		if r["ok"] != false || errCode(r) != c.code {
			t.Errorf("%s: %v, want %s", c.name, r, c.code)
		}
		waitClosed(t, c.name, w.in)
	}
}

func waitClosed[T any](t *testing.T, what string, in <-chan T) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-in:
			if !ok {
				return
			}
		case <-timeout:
			t.Fatalf("%s: the connection stayed open after the refusal", what)
		}
	}
}

// tcpLines dials the TCP gateway and returns a line sender and the lines
// it receives (closed at EOF).
func tcpLines(t *testing.T, a *app.App) (func(string), <-chan string) {
	t.Helper()
	nc, err := net.Dial("tcp", a.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	in := make(chan string, 100)
	go func() {
		defer close(in)
		sc := bufio.NewScanner(nc)
		for sc.Scan() {
			in <- sc.Text()
		}
	}()
	return func(s string) {
		if _, err := io.WriteString(nc, s+"\n"); err != nil {
			t.Fatal(err)
		}
	}, in
}

// TestAuthTCP: JSON hello {token} and text mode's /token on raw TCP.
func TestAuthTCP(t *testing.T) {
	_, a := authApp(t, 20)
	for _, c := range tokenCases(t, "tcp-user") {
		send, in := tcpLines(t, a)
		b, _ := json.Marshal(map[string]any{"type": "hello", "ref": 1, "token": c.token})
		send(string(b))
		var r map[string]any
		select {
		case line, ok := <-in:
			if !ok || json.Unmarshal([]byte(line), &r) != nil {
				t.Fatalf("%s: no JSON reply (%q)", c.name, line)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no reply", c.name)
		}
		if c.code == "" {
			if r["ok"] != true || r["nickname"] != "tcp-user" {
				t.Errorf("%s: %v", c.name, r)
			}
			continue
		}
		if r["ok"] != false || errCode(r) != c.code {
			t.Errorf("%s: %v, want %s", c.name, r, c.code)
		}
		waitClosed(t, c.name, in)
	}
	// Text mode: a nickname is refused (with a hint), /token works.
	send, in := tcpLines(t, a)
	send("alice")
	var lines []string
	for l := range in {
		lines = append(lines, l)
	}
	if !strings.Contains(strings.Join(lines, "\n"), "! unauthenticated") || !strings.Contains(strings.Join(lines, "\n"), "/token JWT") {
		t.Errorf("text mode without a token: %q", lines)
	}
	send, in = tcpLines(t, a)
	send("/token " + tokenCases(t, "human")[0].token)
	if l := <-in; !strings.Contains(l, "welcome, human") {
		t.Errorf("text mode /token: %q", l)
	}
}

// TestAuthMQTT: mosquitto_pub (MQTT 3.1.1 and 5) with the JWT as password.
func TestAuthMQTT(t *testing.T) {
	if _, err := exec.LookPath("mosquitto_pub"); err != nil {
		t.Skip("mosquitto_pub not installed (scripts/deps.sh installs mosquitto-clients)")
	}
	_, a := authApp(t, 20)
	_, port, _ := net.SplitHostPort(a.MQTTAddr().String())
	pub := func(version, user, password string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		args := []string{"-h", "127.0.0.1", "-p", port, "-V", version, "-i", "probe-" + version, "-t", "banter/rooms/general", "-m", "hi", "-q", "1"}
		if user != "" {
			args = append(args, "-u", user)
		}
		if password != "" {
			args = append(args, "-P", password)
		}
		out, err := exec.CommandContext(ctx, "mosquitto_pub", args...).CombinedOutput()
		return string(out), err
	}
	for _, version := range []string{"mqttv311", "mqttv5"} {
		for _, c := range tokenCases(t, "mqtt-user") {
			// MQTT 3.1.1 allows a password only with a username
			// [MQTT-3.1.2-22]: the token's user; MQTT 5 needs none.
			user := ""
			if version == "mqttv311" && c.token != "" {
				user = "mqtt-user"
			}
			out, err := pub(version, user, c.token)
			if c.code == "" {
				if err != nil {
					t.Errorf("%s %s: %v %s", version, c.name, err, out)
				}
				continue
			}
			if err == nil || !strings.Contains(strings.ToLower(out), "bad user name or password") {
				t.Errorf("%s %s: %v %q, want a refusal for a bad user name or password", version, c.name, err, out)
			}
		}
		// A username that is not the token's user: not authorized.
		out, err := pub(version, "somebody-else", tokenCases(t, "mqtt-user")[0].token)
		if err == nil || !strings.Contains(strings.ToLower(out), "not authori") {
			t.Errorf("%s wrong username: %v %q, want not authorized", version, err, out)
		}
		// The token's nickname as username is fine.
		if out, err := pub(version, "mqtt-user", tokenCases(t, "mqtt-user")[0].token); err != nil {
			t.Errorf("%s matching username: %v %s", version, err, out)
		}
	}
}

func signed(t *testing.T, c auth.Claims) string {
	t.Helper()
	key, _ := authKey(t)
	tok, err := auth.Sign("RS256", key, c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// wsHello dials /ws and says hello with token, joining rooms.
func wsHello(t *testing.T, url, token string, rooms ...string) *wsClient {
	t.Helper()
	w := dialWS(t, url)
	w.send(map[string]any{"type": "hello", "ref": 0, "token": token, "rooms": rooms})
	if r := w.next("hello", isReply(0)); r["ok"] != true {
		t.Fatalf("hello: %v", r)
	}
	return w
}

// TestAuthRoomRights: the token's rooms and post claims hold on /ws, REST
// and MQTT alike.
func TestAuthRoomRights(t *testing.T) {
	url, a := authApp(t, 20)
	reader := signed(t, auth.Claims{Subject: "u-r", Nickname: "reader", Rooms: []string{"general", "team-*"}, Post: []string{"team-*"}})
	w := wsHello(t, url, reader)
	w.send(map[string]any{"type": "join", "ref": 1, "room": "general"})
	if r := w.next("join general", isReply(1)); r["ok"] != true {
		t.Fatalf("join general: %v", r)
	}
	w.send(map[string]any{"type": "send", "ref": 2, "room": "general", "text": "x"})
	if r := w.next("post to general", isReply(2)); errCode(r) != "forbidden" {
		t.Fatalf("post to a read-only room: %v", r)
	}
	w.send(map[string]any{"type": "join", "ref": 3, "room": "random"})
	if r := w.next("join random", isReply(3)); errCode(r) != "forbidden" || !strings.Contains(r["error"].(map[string]any)["message"].(string), "random") {
		t.Fatalf("join a room outside the token: %v", r)
	}
	w.send(map[string]any{"type": "join", "ref": 4, "room": "team-x"})
	w.next("join team-x", isReply(4))
	w.send(map[string]any{"type": "send", "ref": 5, "room": "team-x", "text": "hello team"})
	if r := w.next("post to team-x", isReply(5)); r["ok"] != true {
		t.Fatalf("post to team-x: %v", r)
	}
	// Nickname changes are refused: the token names the user.
	w.send(map[string]any{"type": "nick", "ref": 6, "nickname": "other"})
	if r := w.next("nick", isReply(6)); errCode(r) != "forbidden" {
		t.Fatalf("rename: %v", r)
	}

	// REST: the same rights for a session made from a JWT.
	other := signed(t, auth.Claims{Subject: "u-o", Nickname: "outsider", Rooms: []string{"general"}})
	st, _, v := api(t, "POST", url+"/api/v1/sessions", other, map[string]any{"rooms": []string{"general", "team-x"}})
	if st != http.StatusCreated {
		t.Fatalf("session: %d %v", st, v)
	}
	rooms := v["rooms"].([]any)
	if rooms[0].(map[string]any)["ok"] != true || errCode(rooms[1].(map[string]any)) != "forbidden" {
		t.Fatalf("joins of the session: %v", rooms)
	}
	otherTok := v["token"].(string)
	st, _, v = api(t, "GET", url+"/api/v1/rooms/team-x/messages", otherTok, nil)
	if st != http.StatusForbidden || errCode(v) != "forbidden" {
		t.Fatalf("history of team-x: %d %v", st, v)
	}
	st, _, v = api(t, "GET", url+"/api/v1/rooms/team-x/members", otherTok, nil)
	if st != http.StatusForbidden || errCode(v) != "forbidden" {
		t.Fatalf("members of team-x: %d %v", st, v)
	}
	st, _, v = api(t, "GET", url+"/api/v1/rooms", otherTok, nil)
	if st != 200 || strings.Contains(fmt.Sprint(v["rooms"]), "team-x") {
		t.Fatalf("rooms lists team-x to an outsider: %d %v", st, v)
	}

	// MQTT: publishing to a read-only room is refused (PUBACK "not
	// authorized" for MQTT 5), in an allowed one accepted.
	if _, err := exec.LookPath("mosquitto_pub"); err == nil {
		_, port, _ := net.SplitHostPort(a.MQTTAddr().String())
		for room, ok := range map[string]bool{"general": false, "team-x": true} {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			out, err := exec.CommandContext(ctx, "mosquitto_pub", "-h", "127.0.0.1", "-p", port, "-V", "mqttv5", "-P", reader,
				"-t", "banter/rooms/"+room, "-m", "from mqtt", "-q", "1").CombinedOutput()
			cancel()
			// mosquitto_pub exits 0 after a refused QoS 1 publish but
			// prints the PUBACK's reason.
			refused := strings.Contains(strings.ToLower(string(out)), "not authorized")
			if err != nil || refused == ok {
				t.Errorf("mosquitto_pub to %s: %v %q (want accepted=%v)", room, err, out, ok)
			}
		}
	}
}

// TestAuthKick: an admin (REST) kicks a /ws user; the user gets bye
// {reason: kicked} and is disconnected; the room sees "kicked".
func TestAuthKick(t *testing.T) {
	url, a := authApp(t, 20)
	victim := wsHello(t, url, signed(t, auth.Claims{Subject: "u-v", Nickname: "victim"}), "general")
	watcher := wsHello(t, url, signed(t, auth.Claims{Subject: "u-w", Nickname: "watcher"}), "general")
	plain := signed(t, auth.Claims{Subject: "u-p", Nickname: "plain"})
	st, _, v := api(t, "POST", url+"/api/v1/sessions", plain, nil)
	if st != http.StatusCreated {
		t.Fatal(st, v)
	}
	if st, _, v := api(t, "POST", url+"/api/v1/users/victim/kick", v["token"].(string), map[string]any{"reason": "spam"}); st != http.StatusForbidden {
		t.Fatalf("kick without the admin role: %d %v", st, v)
	}
	admin := signed(t, auth.Claims{Subject: "u-a", Nickname: "mod", Roles: []string{"admin"}, Rooms: []string{}})
	_, _, v = api(t, "POST", url+"/api/v1/sessions", admin, nil)
	modTok := v["token"].(string)
	if st, _, v := api(t, "POST", url+"/api/v1/users/nobody/kick", modTok, nil); st != http.StatusNotFound || errCode(v) != "not_found" {
		t.Fatalf("kick nobody: %d %v", st, v)
	}
	if st, _, v := api(t, "POST", url+"/api/v1/users/victim/kick", modTok, map[string]any{"reason": "spam"}); st != 200 {
		t.Fatalf("kick: %d %v", st, v)
	}
	bye := victim.next("bye", func(v map[string]any) bool { return v["type"] == "bye" })
	if d := bye["data"].(map[string]any); d["reason"] != "kicked" || d["by"] != "mod" || d["message"] != "spam" {
		t.Fatalf("bye: %v", bye)
	}
	waitClosed(t, "kicked /ws user", victim.in)
	p := watcher.next("kicked presence", func(v map[string]any) bool {
		d, _ := v["data"].(map[string]any)
		return v["type"] == "presence" && d["action"] == "kicked"
	})
	if d := p["data"].(map[string]any); d["nickname"] != "victim" || d["by"] != "mod" || d["reason"] != "spam" {
		t.Fatalf("presence: %v", p)
	}
	if _, ok := a.Service().Lookup("victim"); ok {
		t.Fatal("victim still online")
	}
}

// TestAuthSharedRateLimit: one user's message bucket is shared by its
// sessions on every gateway: /ws and REST at once, same token.
func TestAuthSharedRateLimit(t *testing.T) {
	url, _ := authApp(t, 3)
	tok := signed(t, auth.Claims{Subject: "u-c", Nickname: "carol"})
	w := wsHello(t, url, tok, "general")
	for i := range 2 {
		w.send(map[string]any{"type": "send", "ref": i + 1, "room": "general", "text": "ws"})
		if r := w.next("send", isReply(float64(i+1))); r["ok"] != true {
			t.Fatalf("send %d: %v", i, r)
		}
	}
	st, _, v := api(t, "POST", url+"/api/v1/sessions", tok, nil)
	if st != http.StatusCreated {
		t.Fatal(st, v)
	}
	rt := v["token"].(string)
	if st, _, v := api(t, "POST", url+"/api/v1/rooms/general/messages", rt, map[string]any{"text": "rest 1"}); st != http.StatusCreated {
		t.Fatalf("3rd message: %d %v", st, v)
	}
	w.next("the REST message on /ws", isMessage("carol", "rest 1"))
	w.send(map[string]any{"type": "send", "ref": 9, "room": "general", "text": "ws again"})
	if r := w.next("4th message", isReply(9)); errCode(r) != "rate_limited" {
		t.Fatalf("4th message of a burst of 3 across gateways: %v", r)
	}
	// Both sessions are the one user, listed once.
	if st, _, v := api(t, "GET", url+"/api/v1/rooms/general/members", rt, nil); st != 200 || fmt.Sprint(v["members"]) != "[carol]" {
		t.Fatalf("members: %d %v", st, v)
	}
}

// TestAuthDeleteMessage: an admin deletes a message over /ws; the room's
// members on Socket.IO (socket.io-client), /ws, SSE, TCP text and MQTT
// (mosquitto_sub on the presence topic) are told, and history keeps a
// tombstone in its place.
func TestAuthDeleteMessage(t *testing.T) {
	testutil.RequireNode(t)
	url, a := authApp(t, 20)
	author := wsHello(t, url, signed(t, auth.Claims{Subject: "u-au", Nickname: "author"}), "general")
	for i, text := range []string{"fine", "abusive", "fine too"} {
		author.send(map[string]any{"type": "send", "ref": i + 1, "room": "general", "text": text})
		if r := author.next("send", isReply(float64(i+1))); r["ok"] != true {
			t.Fatalf("send: %v", r)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// Socket.IO member.
	sioTok := signed(t, auth.Claims{Subject: "u-s", Nickname: "siomember"})
	sioOut := make(chan string, 1)
	go func() {
		out, err := testutil.RunNode(t, ctx, "testdata/siodeleted.js", url, sioTok, "general")
		if err != nil {
			out += " " + err.Error()
		}
		sioOut <- out
	}()
	// SSE member.
	_, _, v := api(t, "POST", url+"/api/v1/sessions", signed(t, auth.Claims{Subject: "u-e", Nickname: "ssemember"}), nil)
	req, _ := http.NewRequestWithContext(ctx, "GET", url+"/api/v1/rooms/general/events?token="+v["token"].(string), nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	sse := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			sse <- sc.Text()
		}
		close(sse)
	}()
	// TCP text member.
	send, tcpIn := tcpLines(t, a)
	send("/token " + signed(t, auth.Claims{Subject: "u-t", Nickname: "tcpmember"}))
	// MQTT member.
	var mqttOut chan string
	if _, err := exec.LookPath("mosquitto_sub"); err == nil {
		_, port, _ := net.SplitHostPort(a.MQTTAddr().String())
		mqttOut = make(chan string, 100)
		cmd := exec.CommandContext(ctx, "mosquitto_sub", "-h", "127.0.0.1", "-p", port, "-V", "mqttv5",
			"-P", signed(t, auth.Claims{Subject: "u-m", Nickname: "mqttmember"}), "-t", "banter/rooms/general/presence", "-F", "%p")
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		go func() {
			defer close(mqttOut)
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				mqttOut <- sc.Text()
			}
		}()
	}
	want := []string{"ssemember", "tcpmember", "siomember"}
	if mqttOut != nil {
		want = append(want, "mqttmember")
	}
	var members []string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		members, _ = a.Service().Members("general")
		if !slices.ContainsFunc(want, func(n string) bool { return !slices.Contains(members, n) }) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("members of general %v, want %v among them", members, want)
		}
	}

	// Not an admin, and not the author (authors may delete their own
	// messages): refused. Then the admin deletes message 2.
	other := wsHello(t, url, signed(t, auth.Claims{Subject: "u-other", Nickname: "other"}))
	other.send(map[string]any{"type": "delete", "ref": 10, "room": "general", "seq": 2})
	if r := other.next("delete by someone else", isReply(10)); errCode(r) != "forbidden" {
		t.Fatalf("delete of someone else's message without the admin role: %v", r)
	}
	mod := wsHello(t, url, signed(t, auth.Claims{Subject: "u-mod", Nickname: "mod", Roles: []string{"admin"}}))
	mod.send(map[string]any{"type": "delete", "ref": 1, "room": "general", "seq": 2})
	if r := mod.next("delete", isReply(1)); r["ok"] != true || r["seq"] != 2.0 {
		t.Fatalf("delete: %v", r)
	}

	isDeleted := func(v map[string]any) bool {
		d, _ := v["data"].(map[string]any)
		return v["type"] == "deleted" && d["room"] == "general" && d["seq"] == 2.0 && d["by"] == "mod"
	}
	author.next("/ws deleted event", isDeleted)
	waitLine := func(what string, in <-chan string, want func(string) bool) {
		t.Helper()
		timeout := time.After(30 * time.Second) // a hang guard
		for {
			select {
			case line, ok := <-in:
				if !ok {
					t.Fatalf("%s: closed before the deleted notice", what)
				}
				if want(line) {
					return
				}
			case <-timeout:
				t.Fatalf("%s: no deleted notice", what)
			}
		}
	}
	waitLine("SSE", sse, func(l string) bool { return l == "event: deleted" })
	if data := <-sse; !strings.Contains(data, `"seq":2`) || !strings.Contains(data, `"by":"mod"`) {
		t.Fatalf("SSE deleted data %q", data)
	}
	waitLine("TCP", tcpIn, func(l string) bool { return l == "* message 2 of general was deleted by mod" })
	if out := <-sioOut; !strings.Contains(out, `"deleted":{"room":"general","seq":2,"by":"mod","rev":1}`) {
		t.Fatalf("Socket.IO member: %s", out)
	}
	if mqttOut != nil {
		waitLine("MQTT", mqttOut, func(l string) bool {
			return strings.Contains(l, `"action":"deleted"`) && strings.Contains(l, `"seq":2`) && strings.Contains(l, `"by":"mod"`)
		})
	}
	// History: a tombstone in place, seqs gap-free.
	author.send(map[string]any{"type": "history", "ref": 20, "room": "general"})
	r := author.next("history", isReply(20))
	msgs := r["messages"].([]any)
	if len(msgs) != 3 {
		t.Fatalf("history: %v", r)
	}
	m := msgs[1].(map[string]any)
	if m["seq"] != 2.0 || m["deleted"] != true || m["text"] != "" || m["from"] != "author" || msgs[2].(map[string]any)["text"] != "fine too" {
		t.Fatalf("history after delete: %v", msgs)
	}
}

// TestAuthSocketIOv2Kick: a socket.io-client 2.x user authenticates with
// ?token= (protocol v4 has no handshake auth); an admin on
// socket.io-client 4 kicks it: bye {reason: kicked} and a server
// disconnect (no automatic reconnect).
func TestAuthSocketIOv2Kick(t *testing.T) {
	testutil.RequireNode(t)
	url, _ := authApp(t, 20)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := testutil.RunNode(t, ctx, "testdata/siokick.js", url,
		signed(t, auth.Claims{Subject: "u-old", Nickname: "oldclient"}),
		signed(t, auth.Claims{Subject: "u-mod", Nickname: "mod", Roles: []string{"admin"}}))
	if err != nil {
		t.Fatalf("siokick.js: %v\n%s", err, out)
	}
	var r struct {
		V2Hello map[string]any `json:"v2hello"`
		Bye     map[string]any `json:"bye"`
		Reason  string         `json:"reason"`
		Kick    map[string]any `json:"kick"`
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &r); err != nil {
		t.Fatalf("siokick.js printed %q: %v", out, err)
	}
	if r.V2Hello["ok"] != true || r.V2Hello["nickname"] != "oldclient" {
		t.Fatalf("v2 hello with ?token=: %v", r.V2Hello)
	}
	if r.Kick["ok"] != true || r.Bye["reason"] != "kicked" || r.Bye["by"] != "mod" || r.Bye["message"] != "spam" || r.Reason != "io server disconnect" {
		t.Fatalf("kick: %+v", r)
	}
}

// TestAuthAnonymousMode: the default mode. With a verifier, no token
// means a self-chosen nickname, a bad token is refused, a good one gives
// the token's user. Without one, a token a client sends is refused, but
// an Authorization header (perhaps a proxy's) is not read.
func TestAuthAnonymousMode(t *testing.T) {
	_, pub := authKey(t)
	url, _ := serveAuthApp(t, 20, auth.Config{PublicKeyPEM: pub})
	cases := tokenCases(t, "verified")
	w := dialWS(t, url)
	w.send(map[string]any{"type": "hello", "ref": 1, "nickname": "anon"})
	if r := w.next("anonymous hello", isReply(1)); r["ok"] != true || r["nickname"] != "anon" {
		t.Fatalf("anonymous hello: %v", r)
	}
	w.send(map[string]any{"type": "nick", "ref": 2, "nickname": "anon2"})
	if r := w.next("anonymous rename", isReply(2)); r["ok"] != true {
		t.Fatalf("anonymous rename: %v", r)
	}
	for _, c := range cases[:4] { // valid, expired, HS256, none
		st, _, v := api(t, "POST", url+"/api/v1/sessions", c.token, map[string]any{"nickname": "x"})
		switch {
		case c.code == "" && (st != http.StatusCreated || v["nickname"] != "verified"):
			t.Errorf("%s: %d %v", c.name, st, v)
		case c.code != "" && (st != http.StatusUnauthorized || errCode(v) != c.code):
			t.Errorf("%s in anonymous mode: %d %v, want 401 %s", c.name, st, v, c.code)
		}
	}

	url, _ = serveAuthApp(t, 20, auth.Config{})
	st, _, v := api(t, "POST", url+"/api/v1/sessions", cases[0].token, map[string]any{"nickname": "behind-a-proxy"})
	if st != http.StatusCreated || v["nickname"] != "behind-a-proxy" {
		t.Fatalf("a bearer header without a verifier: %d %v", st, v)
	}
	w = dialWS(t, url)
	w.send(map[string]any{"type": "hello", "ref": 1, "nickname": "y", "token": cases[0].token})
	if r := w.next("hello with a token, no verifier", isReply(1)); errCode(r) != "token_invalid" {
		t.Fatalf("a token without a verifier: %v", r)
	}
}

// TestAuthCompatibilityDialects: SocketChat and classic clients carry the
// token in the handshake (the project's Go Socket.IO client here): the
// session has the token's nickname whatever name the app sends, and in
// required mode a socket without a token is refused at CONNECT.
func TestAuthCompatibilityDialects(t *testing.T) {
	url, a := authApp(t, 20)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dial := func(token string) (*client.Socket, error) {
		opts := client.SocketOptions{}
		if token != "" {
			opts.Auth = map[string]any{"token": token}
		}
		s, err := client.Dial(ctx, url, client.Config{Transports: []string{"websocket"}}, opts)
		if err == nil {
			t.Cleanup(func() { _ = s.Manager().Close() })
		}
		return s, err
	}
	_, err := dial("")
	var ce *client.ConnectError
	if !errors.As(err, &ce) || ce.Data.(map[string]any)["code"] != "unauthenticated" {
		t.Fatalf("no token: %v, want a connect error with code unauthenticated", err)
	}

	sc, err := dial(signed(t, auth.Claims{Subject: "u-ios", Nickname: "iosuser"}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sc.EmitWithAck(ctx, "connectUser", "Someone Else"); err != nil {
		t.Fatal(err)
	}
	if _, ok := a.Service().Lookup("iosuser"); !ok {
		t.Fatal("SocketChat user is not online under the token's nickname")
	}
	if _, ok := a.Service().Lookup("Someone Else"); ok {
		t.Fatal("SocketChat user got the nickname it chose")
	}

	cl, err := dial(signed(t, auth.Claims{Subject: "u-web", Nickname: "webuser"}))
	if err != nil {
		t.Fatal(err)
	}
	ack, err := cl.EmitWithAck(ctx, "chat message", "hello from the tutorial")
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		OK  bool  `json:"ok"`
		Seq int64 `json:"seq"`
	}
	if err := ack.Bind(0, &r); err != nil || !r.OK {
		t.Fatalf("chat message ack: %v %+v", err, r)
	}
	w := wsHello(t, url, signed(t, auth.Claims{Subject: "u-reader", Nickname: "reader"}))
	w.send(map[string]any{"type": "history", "ref": 1, "room": "general"})
	msgs := w.next("history", isReply(1))["messages"].([]any)
	last := msgs[len(msgs)-1].(map[string]any)
	if last["from"] != "webuser" || last["text"] != "hello from the tutorial" {
		t.Fatalf("classic message stored as %v", last)
	}
}

// TestAuthSessionEndsWithItsToken: a /ws session whose token expires is
// told bye {reason: token_expired} and closed.
func TestAuthSessionEndsWithItsToken(t *testing.T) {
	_, pub := authKey(t)
	url, _ := serveAuthApp(t, 20, auth.Config{Mode: auth.ModeRequired, PublicKeyPEM: pub, Leeway: -1})
	w := wsHello(t, url, signed(t, auth.Claims{Subject: "u-brief", Nickname: "brief", TTL: 2 * time.Second}), "general")
	bye := w.next("bye at expiry", func(v map[string]any) bool { return v["type"] == "bye" })
	if bye["data"].(map[string]any)["reason"] != "token_expired" {
		t.Fatalf("bye: %v", bye)
	}
	waitClosed(t, "expired /ws session", w.in)
}
