package rest_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/gateway/rest"
	"github.com/banter-chat/banter/internal/testutil"
)

func start(t *testing.T, cfg rest.Config) (string, *chat.Service) {
	t.Helper()
	svc, err := chat.New(chat.Config{})
	if err != nil {
		t.Fatal(err)
	}
	g := rest.New(svc, cfg)
	url := testutil.StartHTTP(t, g)
	t.Cleanup(func() { svc.Close(); g.Close(context.Background()) })
	return url, svc
}

func session(t *testing.T, url, nick string) string {
	t.Helper()
	st, v := call(t, "POST", url+"/api/v1/sessions", "", `{"nickname":"`+nick+`"}`)
	if st != http.StatusCreated {
		t.Fatalf("session %s: %d %v", nick, st, v)
	}
	return v["token"].(string)
}

// TestBadInput: every bad request gets a status, a code and a message
// that names the problem.
func TestBadInput(t *testing.T) {
	url, _ := start(t, rest.Config{})
	tok := session(t, url, "alice")
	for _, tc := range []struct {
		method, path, token, body string
		status                    int
		code, msg                 string
	}{
		{"POST", "/sessions", "", `nope`, 400, "invalid_argument", "JSON object"},
		{"POST", "/sessions", "", `{}`, 400, "invalid_nickname", `"nickname" is missing`}, // as protocol 1's hello (was invalid_argument)
		{"POST", "/sessions", "", `{"nickname":7}`, 400, "invalid_argument", `"nickname" must be a string`},
		{"POST", "/sessions", "", `{"nickname":"a:b"}`, 400, "invalid_nickname", "':'"},
		{"POST", "/sessions", "", `{"nickname":"ALICE"}`, 409, "nickname_taken", "in use"},
		{"GET", "/sessions/current", "", ``, 401, "not_connected", "Authorization"},
		{"GET", "/sessions/current", "bogus", ``, 401, "not_connected", "expired"},
		{"POST", "/rooms/general/messages", tok, `{"text":""}`, 400, "empty_message", "empty"},
		{"POST", "/rooms/general/messages", tok, `{"clientId":"x"}`, 400, "invalid_argument", `"text" is missing`},
		{"POST", "/rooms/general/messages", tok, `{"text":"` + strings.Repeat("x", 5000) + `"}`, 413, "message_too_large", "limit is 4096"},
		{"POST", "/rooms/Bad%20Room/messages", tok, `{"text":"x"}`, 400, "invalid_room", "must match"},
		{"GET", "/rooms/general/messages?after=-1", tok, ``, 400, "invalid_argument", `"after"`},
		{"GET", "/rooms/general/messages?after=1&before=3", tok, ``, 400, "invalid_argument", "not both"},
		{"GET", "/rooms/dm:bob:carol/messages", tok, ``, 403, "forbidden", "other users"},
		{"GET", "/rooms/dm:bob:carol/members", tok, ``, 403, "forbidden", "other users"},
		{"POST", "/rooms/general/typing", tok, `{"typing":true}`, 409, "not_member", "not a member"},
		{"POST", "/rooms/general/leave", tok, ``, 409, "not_member", "not a member"},
		{"POST", "/users/alice/messages", tok, `{"text":"me"}`, 400, "invalid_argument", "yourself"},
		{"GET", "/rooms/general/events?token=bogus", "", ``, 401, "not_connected", "expired"},
		{"GET", "/nowhere", "", ``, 404, "invalid_argument", "no such route"},
		{"POST", "/publish", "", `{"room":"general","text":"x"}`, 403, "forbidden", "--api-key"},
	} {
		st, v := call(t, tc.method, url+"/api/v1"+tc.path, tc.token, tc.body)
		e, _ := v["error"].(map[string]any)
		if st != tc.status || e["code"] != string(tc.code) || !strings.Contains(e["message"].(string), tc.msg) || v["ok"] != false {
			t.Errorf("%s %s %.40s: got %d %v, want %d %s containing %q", tc.method, tc.path, tc.body, st, v, tc.status, tc.code, tc.msg)
		}
	}
}

// TestIdleSessionEnds: a session unused for SessionIdle goes offline and
// its token stops working; one with an open stream does not.
func TestIdleSessionEnds(t *testing.T) {
	url, svc := start(t, rest.Config{SessionIdle: 50 * time.Millisecond})
	tok := session(t, url, "alice")
	streaming := session(t, url, "bob")
	res, err := http.Get(url + "/api/v1/rooms/general/events?token=" + streaming)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("stream: %d", res.StatusCode)
	}
	testutil.Eventually(t, 10*time.Second, func() bool {
		_, online := svc.Lookup("alice")
		return !online
	}, "idle session still online")
	if st, _ := call(t, "GET", url+"/api/v1/sessions/current", tok, ""); st != http.StatusUnauthorized {
		t.Fatalf("token of an expired session: %d", st)
	}
	if _, online := svc.Lookup("bob"); !online {
		t.Fatal("a session with an open stream expired")
	}
}

// TestSSEResumeWithLastEventID: a stream resumed with Last-Event-ID gets
// exactly the messages after it, then live ones.
func TestSSEResumeWithLastEventID(t *testing.T) {
	url, _ := start(t, rest.Config{})
	alice := session(t, url, "alice")
	bob := session(t, url, "bob")
	for _, text := range []string{"m1", "m2", "m3", "m4"} {
		if st, v := call(t, "POST", url+"/api/v1/rooms/general/messages", alice, `{"text":"`+text+`"}`); st != 201 {
			t.Fatalf("post: %d %v", st, v)
		}
	}
	req, _ := http.NewRequest("GET", url+"/api/v1/rooms/general/events", nil)
	req.Header.Set("Authorization", "Bearer "+bob)
	req.Header.Set("Last-Event-ID", "2")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	rd := bufio.NewReader(res.Body)
	var ids []string
	readIDs := func(n int) {
		for len(ids) < n {
			line, err := rd.ReadString('\n')
			if err != nil {
				t.Fatalf("stream ended after ids %v: %v", ids, err)
			}
			if id, ok := strings.CutPrefix(line, "id: "); ok {
				ids = append(ids, strings.TrimSpace(id))
			}
		}
	}
	readIDs(2)
	if st, v := call(t, "POST", url+"/api/v1/rooms/general/messages", alice, `{"text":"m5"}`); st != 201 {
		t.Fatalf("post: %d %v", st, v)
	}
	readIDs(3)
	if strings.Join(ids, ",") != "3,4,5" {
		t.Fatalf("ids %v, want 3,4,5", ids)
	}
}

// TestWrongMethod: every route's path answers the methods it does not have
// with 405 and Allow (docs/api.md), not 404.
func TestWrongMethod(t *testing.T) {
	url, _ := start(t, rest.Config{})
	allowed := map[string][]string{}
	var paths []string
	for _, route := range rest.Routes() {
		method, path, _ := strings.Cut(route, " ")
		if allowed[path] == nil {
			paths = append(paths, path)
		}
		allowed[path] = append(allowed[path], method)
	}
	for _, path := range paths {
		want := slices.Clone(allowed[path])
		if slices.Contains(want, "GET") {
			want = append(want, "HEAD")
		}
		u := url + strings.NewReplacer("{room}", "general", "{nickname}", "bob", "{seq}", "1").Replace(path)
		for _, method := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
			if slices.Contains(want, method) {
				continue
			}
			req, _ := http.NewRequest(method, u, strings.NewReader(`{}`))
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			var v struct {
				OK    bool
				Error struct{ Code, Message string }
			}
			_ = json.Unmarshal(body, &v)
			got := strings.Split(res.Header.Get("Allow"), ", ")
			slices.Sort(got)
			slices.Sort(want)
			if res.StatusCode != http.StatusMethodNotAllowed || !slices.Equal(got, want) || v.OK || v.Error.Code != "invalid_argument" ||
				!strings.Contains(v.Error.Message, "not allowed") {
				t.Errorf("%s %s: %d Allow %q %s; want 405 Allow %q and an error", method, path, res.StatusCode, got, body, want)
			}
		}
	}
}

// TestInvalidText: bodies that are not valid UTF-8 (raw bytes, escaped
// lone surrogates) are refused, never stored as U+FFFD.
func TestInvalidText(t *testing.T) {
	url, _ := start(t, rest.Config{APIKey: "k"})
	tok := session(t, url, "alice")
	for _, tc := range []struct {
		method, path, token, body string
		code                      chat.Code
	}{
		{"POST", "/rooms/general/messages", tok, "{\"text\":\"bad \xff\xfe here\"}", chat.CodeInvalidMessage},
		{"POST", "/rooms/general/messages", tok, `{"text":"lone \ud800 surrogate"}`, chat.CodeInvalidMessage},
		{"POST", "/rooms/general/messages", tok, `{"text":"lone \udfff"}`, chat.CodeInvalidMessage},
		{"POST", "/users/bob/messages", tok, "{\"text\":\"\xc3\"}", chat.CodeInvalidMessage},
		{"POST", "/publish", "k", "{\"room\":\"general\",\"text\":\"\xe2\x82\"}", chat.CodeInvalidMessage},
		{"POST", "/sessions", "", "{\"nickname\":\"bob\xff\"}", chat.CodeInvalidArgument},
		{"PUT", "/sessions/current/nickname", tok, `{"nickname":"al\udc00"}`, chat.CodeInvalidArgument},
	} {
		st, v := call(t, tc.method, url+"/api/v1"+tc.path, tc.token, tc.body)
		e, _ := v["error"].(map[string]any)
		if st != http.StatusBadRequest || e["code"] != string(tc.code) || !strings.Contains(e["message"].(string), "UTF-8") {
			t.Errorf("%s %s %q: %d %v, want 400 %s", tc.method, tc.path, tc.body, st, v, tc.code)
		}
	}
	// Nothing was stored; valid text (a real surrogate pair) is.
	if st, v := call(t, "POST", url+"/api/v1/rooms/general/messages", tok, `{"text":"ok \ud83d\ude00"}`); st != http.StatusCreated || v["seq"] != 1.0 {
		t.Fatalf("valid text: %d %v", st, v)
	}
	st, v := call(t, "GET", url+"/api/v1/rooms/general/messages", tok, "")
	msgs, _ := v["messages"].([]any)
	if st != 200 || len(msgs) != 1 || msgs[0].(map[string]any)["text"] != "ok 😀" {
		t.Fatalf("history: %d %v", st, v)
	}
}
