package rest_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/banter-chat/banter/gateway/rest"
)

// TestMessageState: edits, reactions, replies, read markers, unread counts
// and seen-by over REST, with their refusals.
func TestMessageState(t *testing.T) {
	url, _ := start(t, rest.Config{})
	alice, bob := session(t, url, "alice"), session(t, url, "bob")
	api := url + "/api/v1"
	post := func(tok, room, body string) map[string]any {
		t.Helper()
		st, v := call(t, "POST", api+"/rooms/"+room+"/messages", tok, body)
		if st != 201 {
			t.Fatalf("post %s: %d %v", body, st, v)
		}
		return v
	}
	m1 := post(alice, "general", `{"text":"helo @bob"}`)
	post(alice, "other", `{"text":"elsewhere"}`)
	other := post(alice, "other", `{"text":"elsewhere too"}`)

	st, v := call(t, "PUT", api+"/rooms/general/messages/1", alice, `{"text":"hello @bob"}`)
	msg, _ := v["message"].(map[string]any)
	if st != 200 || msg["text"] != "hello @bob" || msg["rev"] != 1.0 || msg["edited"] == nil {
		t.Fatalf("edit: %d %v", st, v)
	}
	st, v = call(t, "PUT", api+"/rooms/general/messages/1/reactions/%F0%9F%91%8D", bob, ``)
	if rs, _ := v["reactions"].([]any); st != 200 || len(rs) != 1 || v["rev"] != 2.0 {
		t.Fatalf("react: %d %v", st, v)
	}
	st, v = call(t, "POST", api+"/rooms/general/messages", bob, fmt.Sprintf(`{"text":"sure","replyTo":"%s"}`, m1["id"]))
	if st != 201 {
		t.Fatalf("reply: %d %v", st, v)
	}
	// bob has read nothing: general counts from its marker once set.
	if st, v = call(t, "POST", api+"/rooms/general/read", bob, `{"delivered":1}`); st != 200 || v["delivered"] != 1.0 || v["read"] != 0.0 {
		t.Fatalf("mark delivered: %d %v", st, v)
	}
	st, v = call(t, "GET", api+"/rooms", bob, ``)
	var general map[string]any
	for _, r := range v["rooms"].([]any) {
		if r.(map[string]any)["room"] == "general" {
			general = r.(map[string]any)
		}
	}
	if read, _ := general["read"].(map[string]any); st != 200 || read["unread"] != 1.0 || read["mentions"] != 1.0 {
		t.Fatalf("rooms: %d %v", st, general)
	}
	if st, v = call(t, "POST", api+"/rooms/general/read", bob, `{"read":2}`); st != 200 || v["read"] != 2.0 {
		t.Fatalf("mark read: %d %v", st, v)
	}
	st, v = call(t, "GET", api+"/rooms/general/messages/1/seen", alice, ``)
	if names, _ := v["nicknames"].([]any); st != 200 || v["count"] != 1.0 || len(names) != 1 || names[0] != "bob" {
		t.Fatalf("seen: %d %v", st, v)
	}
	st, v = call(t, "GET", api+"/rooms/general/changes?after=0", bob, ``)
	if ms, _ := v["messages"].([]any); st != 200 || len(ms) != 1 || v["more"] != false {
		t.Fatalf("changes: %d %v", st, v)
	}
	if st, v = call(t, "DELETE", api+"/rooms/general/messages/1/reactions/%F0%9F%91%8D", bob, ``); st != 200 || len(v["reactions"].([]any)) != 0 {
		t.Fatalf("unreact: %d %v", st, v)
	}
	if st, v = call(t, "DELETE", api+"/rooms/general/messages/1", alice, ``); st != 200 || v["rev"] != 4.0 {
		t.Fatalf("delete own: %d %v", st, v)
	}

	for _, tc := range []struct {
		method, path, token, body string
		status                    int
		code, msg                 string
	}{
		{"PUT", "/rooms/general/messages/2", alice, `{"text":"not mine"}`, 403, "forbidden", "your own messages"},
		{"DELETE", "/rooms/general/messages/2", alice, ``, 403, "forbidden", "your own messages"},
		{"PUT", "/rooms/general/messages/1", alice, `{"text":"back"}`, 400, "invalid_argument", "deleted"},
		{"PUT", "/rooms/general/messages/9", alice, `{"text":"x"}`, 404, "not_found", "no message 9"},
		{"PUT", "/rooms/general/messages/x", alice, `{"text":"x"}`, 400, "invalid_argument", "integer"},
		{"PUT", "/rooms/general/messages/2", bob, `{}`, 400, "invalid_argument", `"text" is missing`},
		{"PUT", "/rooms/general/messages/2/reactions/lol", bob, ``, 400, "invalid_argument", "one emoji"},
		{"PUT", "/rooms/general/messages/1/reactions/%F0%9F%91%8D", bob, ``, 400, "invalid_argument", "deleted"},
		{"PUT", "/rooms/dm:alice:carol/messages/1/reactions/%F0%9F%91%8D", bob, ``, 403, "forbidden", "other users"},
		{"POST", "/rooms/general/messages", bob, fmt.Sprintf(`{"text":"x","replyTo":"%s"}`, other["id"]), 400, "invalid_argument", "another room"},
		{"POST", "/rooms/general/messages", bob, `{"text":"x","replyTo":"424242"}`, 404, "not_found", "424242"},
		{"POST", "/rooms/general/read", bob, `{}`, 400, "invalid_argument", `"read" or "delivered"`},
		{"POST", "/rooms/general/read", bob, `{"read":99}`, 400, "invalid_argument", "no message 99"},
		{"GET", "/rooms/general/changes?after=-1", bob, ``, 400, "invalid_argument", `"after"`},
		{"GET", "/rooms/general/messages/99/seen", bob, ``, 404, "not_found", "no message 99"},
	} {
		st, v := call(t, tc.method, api+tc.path, tc.token, tc.body)
		e, _ := v["error"].(map[string]any)
		if st != tc.status || e["code"] != tc.code || !strings.Contains(fmt.Sprint(e["message"]), tc.msg) {
			t.Errorf("%s %s %s: got %d %v, want %d %s containing %q", tc.method, tc.path, tc.body, st, v, tc.status, tc.code, tc.msg)
		}
	}
}

// TestSSEResumeWithChanges: an EventSource that was away resumes with its
// Last-Event-ID "<seq>.<rev>" and gets the messages and the changes it
// missed, each once, then live ones.
func TestSSEResumeWithChanges(t *testing.T) {
	url, _ := start(t, rest.Config{})
	api := url + "/api/v1"
	alice, bob := session(t, url, "alice"), session(t, url, "bob")
	for _, text := range []string{"m1", "m2", "m3"} {
		if st, v := call(t, "POST", api+"/rooms/general/messages", alice, `{"text":"`+text+`"}`); st != 201 {
			t.Fatalf("post: %d %v", st, v)
		}
	}
	if st, v := call(t, "PUT", api+"/rooms/general/messages/1", alice, `{"text":"m1, edited"}`); st != 200 {
		t.Fatalf("edit: %d %v", st, v)
	}
	// Bob was there up to message 3 and rev 1 (the edit of m1); meanwhile:
	if st, v := call(t, "PUT", api+"/rooms/general/messages/2", alice, `{"text":"m2, edited"}`); st != 200 { // rev 2
		t.Fatalf("edit: %d %v", st, v)
	}
	if st, v := call(t, "DELETE", api+"/rooms/general/messages/3", alice, ``); st != 200 { // rev 3
		t.Fatalf("delete: %d %v", st, v)
	}
	if st, v := call(t, "POST", api+"/rooms/general/messages", alice, `{"text":"m4"}`); st != 201 {
		t.Fatalf("post: %d %v", st, v)
	}
	req, _ := http.NewRequest("GET", api+"/rooms/general/events", nil)
	req.Header.Set("Authorization", "Bearer "+bob)
	req.Header.Set("Last-Event-ID", "3.1")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	rd := bufio.NewReader(res.Body)
	type event struct{ id, name, data string }
	next := func() event {
		t.Helper()
		var ev event
		for {
			line, err := rd.ReadString('\n')
			if err != nil {
				t.Fatalf("stream ended: %v", err)
			}
			line = strings.TrimSuffix(line, "\n")
			switch {
			case line == "" && ev.name != "":
				return ev
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.name = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev.data = line[6:]
			}
		}
	}
	if ev := next(); ev.name != "ready" || !strings.Contains(ev.data, `"lastRev":3`) {
		t.Fatalf("first event %+v", ev)
	}
	var got []string
	for range 3 { // m4, then the changes after rev 1: m2 (rev 2), m3 (rev 3)
		ev := next()
		var m struct {
			Seq     int64  `json:"seq"`
			Text    string `json:"text"`
			Deleted bool   `json:"deleted"`
		}
		if err := json.Unmarshal([]byte(ev.data), &m); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s %s %d:%q:%v", ev.id, ev.name, m.Seq, m.Text, m.Deleted))
	}
	want := []string{`4.1 message 4:"m4":false`, `4.2 changed 2:"m2, edited":false`, `4.3 changed 3:"":true`}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("replay:\n got %q\nwant %q", got, want)
	}
	// Live: a reaction carries the next id.
	if st, v := call(t, "PUT", api+"/rooms/general/messages/4/reactions/%E2%9C%85", bob, ``); st != 200 {
		t.Fatalf("react: %d %v", st, v)
	}
	for {
		ev := next()
		if ev.name == "reaction" {
			if ev.id != "4.4" || !strings.Contains(ev.data, `"emoji":"✅"`) {
				t.Fatalf("live reaction %+v", ev)
			}
			break
		}
	}
}
