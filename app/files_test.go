package app_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/banter-chat/banter/app"
	"github.com/banter-chat/banter/auth"
	"github.com/banter-chat/banter/internal/apptest"
)

var filesSecret = []byte("files-test-secret-0123456789abcdef")

func filesApp(t *testing.T) (string, *app.App) {
	t.Helper()
	return apptest.Serve(t, app.Config{
		TCPAddr: "127.0.0.1:0", MaxFileBytes: 64 << 10, RateBurst: 1000, RatePerSecond: 1000,
		Auth: auth.Config{HMACSecret: filesSecret},
	})
}

func pngOf(t *testing.T, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// restSession creates a REST session (a nickname, or a JWT's user) in
// general and returns its token.
func restSession(t *testing.T, url, nick, jwt string) string {
	t.Helper()
	var body any = map[string]any{"nickname": nick}
	if jwt != "" {
		body = nil
	}
	st, _, v := api(t, "POST", url+"/api/v1/sessions", jwt, body)
	if st != http.StatusCreated {
		t.Fatalf("session %s: %d %v", nick, st, v)
	}
	tok := v["token"].(string)
	if st, _, v := api(t, "POST", url+"/api/v1/rooms/general/join", tok, nil); st != 200 {
		t.Fatalf("%s joins general: %d %v", nick, st, v)
	}
	return tok
}

// raw sends one HTTP request with a raw body and decodes a JSON answer.
func raw(t *testing.T, method, url, token, contentType string, body []byte) (int, http.Header, map[string]any, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	var v map[string]any
	_ = json.Unmarshal(data, &v)
	return res.StatusCode, res.Header, v, data
}

func failCode(v map[string]any) string {
	e, _ := v["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// TestFilesOnEveryGateway: uploads (REST in one request, retried with its
// client id; a slot from /ws completed by PUT), attachments in the events
// and history of every gateway, downloads with the right headers, and
// every refusal the issue lists, each with a clear error and nothing
// stored.
func TestFilesOnEveryGateway(t *testing.T) {
	url, a := filesApp(t)
	ctx := context.Background()
	alice := restSession(t, url, "alice", "")

	// A /ws client and a TCP text client watch general.
	ws := dialWS(t, url)
	ws.send(map[string]any{"type": "hello", "ref": 1, "nickname": "wendy", "rooms": []string{"general"}})
	ws.next("ws hello", isReply(1))
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
	expect := func(what, want string) string {
		t.Helper()
		timeout := time.After(30 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("%s: connection closed", what)
				}
				if strings.Contains(l, want) {
					return l
				}
			case <-timeout:
				t.Fatalf("%s: no line with %q", what, want)
			}
		}
	}
	fmt.Fprintf(nc, "tess\n")
	expect("tcp welcome", "you are now talking in general")

	img := pngOf(t, 64, 48)
	upload := func(name, clientID, contentType string, body []byte) (int, map[string]any) {
		t.Helper()
		st, _, v, _ := raw(t, "POST", url+"/api/v1/rooms/general/files?name="+name+"&clientId="+clientID+"&text=look", alice, contentType, body)
		return st, v
	}
	st, v := upload("chart.png", "up-1", "image/png", img)
	if st != http.StatusCreated {
		t.Fatalf("upload: %d %v", st, v)
	}
	msg := v["message"].(map[string]any)
	att := msg["attachment"].(map[string]any)
	if att["name"] != "chart.png" || att["type"] != "image/png" || att["width"] != 64.0 || att["height"] != 48.0 || att["size"] != float64(len(img)) {
		t.Fatalf("attachment %v", att)
	}
	id := att["id"].(string)
	// The retry of a request whose answer was lost: one file, one message.
	st, v = upload("chart.png", "up-1", "image/png", img)
	if st != http.StatusOK || v["duplicate"] != true || v["message"].(map[string]any)["attachment"].(map[string]any)["id"] != id {
		t.Fatalf("retried upload: %d %v", st, v)
	}
	if n, _ := a.Service().Rooms(ctx); len(n) != 1 || n[0].LastSeq != 1 {
		t.Fatalf("rooms after a retried upload: %+v", n)
	}
	// The other gateways hear it with its attachment.
	ev := ws.next("ws file event", func(v map[string]any) bool {
		d, _ := v["data"].(map[string]any)
		return v["type"] == "message" && d["attachment"] != nil
	})
	if ev["data"].(map[string]any)["attachment"].(map[string]any)["id"] != id {
		t.Fatalf("ws event %v", ev)
	}
	expect("tcp file line", "[general] alice: look [file chart.png, image/png, ")

	// Download: with the session's bearer token and with a file token.
	st, hdr, _, body := raw(t, "GET", url+"/api/v1/files/"+id+"/chart.png", alice, "", nil)
	if st != 200 || !bytes.Equal(body, img) {
		t.Fatalf("download: %d, %d bytes", st, len(body))
	}
	for k, want := range map[string]string{
		"Content-Type": "image/png", "X-Content-Type-Options": "nosniff", "Content-Disposition": "inline; filename=chart.png",
		"Referrer-Policy": "no-referrer",
	} {
		if got := hdr.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if csp := hdr.Get("Content-Security-Policy"); !strings.Contains(csp, "sandbox") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q", csp)
	}
	ws.send(map[string]any{"type": "fileToken", "ref": 2})
	ft := ws.next("fileToken", isReply(2))
	st, _, _, body = raw(t, "GET", url+ft["url"].(string)+id+"/chart.png?token="+ft["token"].(string), "", "", nil)
	if st != 200 || !bytes.Equal(body, img) {
		t.Fatalf("download with wendy's file token: %d", st)
	}
	req, _ := http.NewRequest("GET", url+"/api/v1/files/"+id, nil)
	req.Header.Set("Range", "bytes=0-7")
	res, err := http.DefaultClient.Do(req)
	if err == nil {
		body, _ = io.ReadAll(res.Body)
		res.Body.Close()
	}
	if err != nil || res.StatusCode != 401 {
		t.Fatalf("download without a token: %v %d", err, res.StatusCode)
	}

	// A slot from /ws, completed by PUT (any node would do).
	text := []byte("plain notes\n")
	ws.send(map[string]any{"type": "upload", "ref": 3, "room": "general", "name": "notes.txt", "size": len(text)})
	slot := ws.next("upload slot", isReply(3))
	if slot["ok"] != true || slot["method"] != "PUT" {
		t.Fatalf("slot: %v", slot)
	}
	st, _, v, _ = raw(t, "PUT", url+slot["url"].(string), "", "text/plain", text)
	if st != http.StatusCreated || v["message"].(map[string]any)["from"] != "wendy" {
		t.Fatalf("PUT slot: %d %v", st, v)
	}
	st, _, v, _ = raw(t, "PUT", url+slot["url"].(string), "", "", text)
	if st != http.StatusOK || v["duplicate"] != true {
		t.Fatalf("PUT slot again: %d %v", st, v)
	}
	st, _, v, _ = raw(t, "PUT", url+strings.Replace(slot["url"].(string), "uploads/", "uploads/x", 1), "", "", text)
	if st != http.StatusForbidden || failCode(v) != "forbidden" {
		t.Fatalf("PUT to a forged slot: %d %v", st, v)
	}

	// Bad input: each refused with its code, nothing stored.
	pdf := append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte("x"), 100)...)
	for _, c := range []struct {
		what, name, ctype string
		body              []byte
		status            int
		code              string
	}{
		{"oversized", "big.png", "", append(img, make([]byte, 64<<10)...), 413, "file_too_large"},
		{"a PDF named .png", "cat.png", "", pdf, 415, "unsupported_file"},
		{"a PDF declared image/png", "cat", "image/png", pdf, 415, "unsupported_file"},
		{"HTML", "page.html", "", []byte("<html><script>alert(1)</script></html>"), 415, "unsupported_file"},
		{"SVG disguised as text", "pic.txt", "text/plain", []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`), 415, "unsupported_file"},
		{"SVG named svg", "pic.svg", "", []byte(`<svg onload="alert(1)"/>`), 415, "unsupported_file"},
		{"no name", "", "", img, 400, "invalid_argument"},
		{"empty", "e.txt", "", nil, 400, "invalid_argument"},
	} {
		st, v := upload(c.name, "", c.ctype, c.body)
		if st != c.status || failCode(v) != c.code {
			t.Errorf("%s: %d %v, want %d %s", c.what, st, v, c.status, c.code)
		}
		if e, _ := v["error"].(map[string]any); e != nil && e["message"] == "" {
			t.Errorf("%s: no message", c.what)
		}
	}
	if rooms, _ := a.Service().Rooms(ctx); rooms[0].LastSeq != 2 {
		t.Fatalf("bad uploads stored messages: %+v", rooms)
	}

	// Rights: a read-only user cannot upload; a DM's file is for its two
	// users only.
	jwt, _ := auth.Sign("HS256", filesSecret, auth.Claims{Subject: "r", Nickname: "reader", Rooms: []string{"general"}, Post: []string{}})
	reader := restSession(t, url, "", jwt)
	st, _, v, _ = raw(t, "POST", url+"/api/v1/rooms/general/files?name=x.png", reader, "", img)
	if st != http.StatusForbidden || failCode(v) != "forbidden" {
		t.Fatalf("a read-only user uploads: %d %v", st, v)
	}
	bob := restSession(t, url, "bob", "")
	eve := restSession(t, url, "eve", "")
	if st, _, v := api(t, "POST", url+"/api/v1/users/bob/messages", alice, map[string]any{"text": "our secret plan"}); st != http.StatusCreated {
		t.Fatalf("dm: %d %v", st, v)
	}
	st, _, v, _ = raw(t, "POST", url+"/api/v1/rooms/dm:alice:bob/files?name=plan.txt", alice, "", []byte("the secret plan\n"))
	if st != http.StatusCreated {
		t.Fatalf("a DM file: %d %v", st, v)
	}
	dmFile := v["message"].(map[string]any)["attachment"].(map[string]any)["id"].(string)
	if st, _, _, _ := raw(t, "GET", url+"/api/v1/files/"+dmFile, bob, "", nil); st != 200 {
		t.Fatalf("bob downloads his DM's file: %d", st)
	}
	st, _, v, _ = raw(t, "GET", url+"/api/v1/files/"+dmFile, eve, "", nil)
	if st != http.StatusForbidden || failCode(v) != "forbidden" {
		t.Fatalf("eve downloads alice and bob's file: %d %v", st, v)
	}
	_, _, v = api(t, "POST", url+"/api/v1/sessions/current/file-token", eve, nil)
	st, _, v, _ = raw(t, "GET", url+"/api/v1/files/"+dmFile+"?token="+v["token"].(string), "", "", nil)
	if st != http.StatusForbidden {
		t.Fatalf("eve's file token on alice and bob's file: %d %v", st, v)
	}
	st, _, v, _ = raw(t, "POST", url+"/api/v1/rooms/dm:alice:bob/files?name=x.txt", eve, "", []byte("hi\n"))
	if st == http.StatusCreated {
		t.Fatalf("eve uploads into alice and bob's DM: %d %v", st, v)
	}

	// Deleted with its message (an admin).
	adminJWT, _ := auth.Sign("HS256", filesSecret, auth.Claims{Subject: "m", Nickname: "mod", Roles: []string{"admin"}})
	mod := restSession(t, url, "", adminJWT)
	if st, _, v := api(t, "DELETE", url+"/api/v1/rooms/general/messages/1", mod, nil); st != 200 {
		t.Fatalf("delete: %d %v", st, v)
	}
	st, _, v, _ = raw(t, "GET", url+"/api/v1/files/"+id, alice, "", nil)
	if st != http.StatusNotFound || failCode(v) != "not_found" {
		t.Fatalf("the deleted message's file: %d %v", st, v)
	}
}

// TestSearchOnEveryGateway: a search never returns a message of a room the
// user may not read, DMs of others included, on Socket.IO, /ws, TCP (JSON
// and text) and REST; the owners of the DM find it.
func TestSearchOnEveryGateway(t *testing.T) {
	url, a := filesApp(t)
	alice := restSession(t, url, "alice", "")
	if st, _, v := api(t, "POST", url+"/api/v1/rooms/general/messages", alice, map[string]any{"text": "public launch notes"}); st != http.StatusCreated {
		t.Fatalf("send: %d %v", st, v)
	}
	if st, _, v := api(t, "POST", url+"/api/v1/users/bob/messages", alice, map[string]any{"text": "secret launch date"}); st != http.StatusCreated {
		t.Fatalf("dm: %d %v", st, v)
	}
	const dm = "dm:alice:bob"
	texts := func(results []any) []string {
		var out []string
		for _, r := range results {
			out = append(out, r.(map[string]any)["message"].(map[string]any)["text"].(string))
		}
		return out
	}
	wantOnlyPublic := func(what string, v map[string]any) {
		t.Helper()
		got := texts(v["results"].([]any))
		if strings.Join(got, "|") != "public launch notes" {
			t.Errorf("%s: found %q, want only the public message", what, got)
		}
	}

	// REST.
	eve := restSession(t, url, "eve", "")
	_, _, v := api(t, "GET", url+"/api/v1/search?text=launch", eve, nil)
	wantOnlyPublic("REST", v)
	st, _, v := api(t, "GET", url+"/api/v1/search?text=secret&room="+dm, eve, nil)
	if st != http.StatusForbidden {
		t.Errorf("REST search of another's DM room: %d %v", st, v)
	}
	if _, _, v := api(t, "GET", url+"/api/v1/search?text=launch", alice, nil); len(v["results"].([]any)) != 2 {
		t.Errorf("alice finds %v, want both", v)
	}

	// /ws.
	ws := dialWS(t, url)
	ws.send(map[string]any{"type": "hello", "ref": 1, "nickname": "wes"})
	ws.next("hello", isReply(1))
	ws.send(map[string]any{"type": "search", "ref": 2, "text": "launch"})
	wantOnlyPublic("/ws", ws.next("search", isReply(2)))
	ws.send(map[string]any{"type": "search", "ref": 3, "text": "secret", "room": dm})
	if r := ws.next("search dm", isReply(3)); failCode(r) != "forbidden" {
		t.Errorf("/ws search of another's DM room: %v", r)
	}

	// Socket.IO (long-polling, raw packets).
	p := pollChat(t, url, "sio-eve")
	ack := p.call(t, 2, `["search",{"text":"launch"}]`)
	if strings.Contains(ack, "secret") || !strings.Contains(ack, "public launch notes") {
		t.Errorf("Socket.IO search: %s", ack)
	}
	if ack := p.call(t, 3, `["search",{"text":"secret","room":"`+dm+`"}]`); !strings.Contains(ack, `"code":"forbidden"`) {
		t.Errorf("Socket.IO search of another's DM room: %s", ack)
	}

	// TCP: JSON lines, then text mode.
	jc, err := net.Dial("tcp", a.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer jc.Close()
	sc := bufio.NewScanner(jc)
	reply := func(line string) map[string]any {
		t.Helper()
		fmt.Fprintln(jc, line)
		for sc.Scan() {
			var v map[string]any
			if json.Unmarshal(sc.Bytes(), &v) == nil && v["type"] == "reply" {
				return v
			}
		}
		t.Fatal("TCP JSON: connection closed")
		return nil
	}
	reply(`{"type":"hello","ref":1,"nickname":"tom"}`)
	wantOnlyPublic("TCP JSON", reply(`{"type":"search","ref":2,"text":"launch"}`))

	tc, err := net.Dial("tcp", a.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	tsc := bufio.NewScanner(tc)
	until := func(want string) []string {
		t.Helper()
		var seen []string
		for tsc.Scan() {
			seen = append(seen, tsc.Text())
			if strings.Contains(tsc.Text(), want) {
				return seen
			}
		}
		t.Fatalf("TCP text: no line with %q; got %q", want, seen)
		return nil
	}
	fmt.Fprintln(tc, "tina")
	until("you are now talking in general")
	fmt.Fprintln(tc, "/search launch")
	fmt.Fprintln(tc, "/search nothingmatches")
	got := strings.Join(until(`nothing found for "nothingmatches"`), "\n")
	if !strings.Contains(got, "1 found for \"launch\"") || !strings.Contains(got, "#1 [general] alice: public launch notes") || strings.Contains(got, "secret") {
		t.Errorf("TCP text /search:\n%s", got)
	}

	// Bob, the DM's other user, finds it on any gateway.
	bob := restSession(t, url, "bob", "")
	if _, _, v := api(t, "GET", url+"/api/v1/search?text=secret&room="+dm, bob, nil); len(v["results"].([]any)) != 1 {
		t.Errorf("bob's search of his DM: %v", v)
	}
}
