package rest_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/banter-chat/banter/auth"
	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/gateway/rest"
	"github.com/banter-chat/banter/internal/testutil"
)

var docRoute = regexp.MustCompile("`(GET|POST|PUT|PATCH|DELETE) (/api/v1/[^`? ]*)`")

// apiMDRoutes returns the routes of docs/api.md: the headings naming one.
func apiMDRoutes(t *testing.T) []string {
	data, err := os.ReadFile(filepath.Join(testutil.RepoRoot(t), "docs", "api.md"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(line, "#") {
			continue
		}
		for _, m := range docRoute.FindAllStringSubmatch(line, -1) {
			out = append(out, m[1]+" "+m[2])
		}
	}
	return out
}

// openAPIRoutes returns the operations of docs/openapi.yaml: a path is a
// two-space-indented key under "paths:", an operation a four-space one.
func openAPIRoutes(t *testing.T) []string {
	f, err := os.Open(filepath.Join(testutil.RepoRoot(t), "docs", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	var inPaths bool
	var path string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "paths:":
			inPaths = true
		case inPaths && len(line) > 0 && line[0] != ' ':
			inPaths = false
		case inPaths && strings.HasPrefix(line, "  /"):
			path = strings.TrimSuffix(strings.TrimSpace(line), ":")
		case inPaths && strings.HasPrefix(line, "    ") && !strings.HasPrefix(line, "     "):
			op := strings.TrimSuffix(strings.TrimSpace(line), ":")
			if slices.Contains([]string{"get", "post", "put", "patch", "delete"}, op) {
				out = append(out, strings.ToUpper(op)+" "+path)
			}
		}
	}
	return out
}

func sorted(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }

// TestDocumentedRoutesAnswer: docs/api.md, docs/openapi.yaml and the
// gateway list the same routes, and each one answers a valid request with
// success on a live gateway.
func TestDocumentedRoutesAnswer(t *testing.T) {
	impl := sorted(rest.Routes())
	if md := sorted(apiMDRoutes(t)); !slices.Equal(md, impl) {
		t.Errorf("docs/api.md routes differ from the implementation:\n doc:  %q\n impl: %q", md, impl)
	}
	if oa := sorted(openAPIRoutes(t)); !slices.Equal(oa, impl) {
		t.Errorf("docs/openapi.yaml routes differ from the implementation:\n doc:  %q\n impl: %q", oa, impl)
	}

	secret := []byte("docs-test-secret-0123456789abcdef")
	verifier, err := auth.New(context.Background(), auth.Config{HMACSecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := chat.New(chat.Config{Authenticator: verifier})
	if err != nil {
		t.Fatal(err)
	}
	g := rest.New(svc, rest.Config{APIKey: "k"})
	url := testutil.StartHTTP(t, g)
	t.Cleanup(func() { svc.Close(); g.Close(context.Background()) })

	st, v := call(t, "POST", url+"/api/v1/sessions", "", `{"nickname":"alice"}`)
	if st != http.StatusCreated {
		t.Fatalf("create session: %d %v", st, v)
	}
	tok := v["token"].(string)
	jwt, err := auth.Sign("HS256", secret, auth.Claims{Subject: "m", Nickname: "mod", Roles: []string{"admin"}})
	if err != nil {
		t.Fatal(err)
	}
	st, v = call(t, "POST", url+"/api/v1/sessions", jwt, ``)
	if st != http.StatusCreated {
		t.Fatalf("create an admin session with a JWT: %d %v", st, v)
	}
	adminTok := v["token"].(string)
	bodies := map[string]string{
		"POST /api/v1/users/{nickname}/kick":      `{"reason":"docs test"}`,
		"POST /api/v1/sessions":                   `{"nickname":"carol"}`,
		"PUT /api/v1/sessions/current/nickname":   `{"nickname":"Alice"}`,
		"POST /api/v1/users/{nickname}/messages":  `{"text":"psst"}`,
		"POST /api/v1/rooms/{room}/messages":      `{"text":"hi"}`,
		"POST /api/v1/rooms/{room}/typing":        `{"typing":true}`,
		"POST /api/v1/publish":                    `{"room":"general","text":"from a backend"}`,
		"POST /api/v1/rooms/{room}/join":          `{}`,
		"DELETE /api/v1/sessions/current":         ``,
		"GET /api/v1/rooms/{room}/events":         ``,
		"POST /api/v1/rooms/{room}/leave":         ``,
		"GET /api/v1/rooms/{room}/messages":       ``,
		"PUT /api/v1/rooms/{room}/messages/{seq}": `{"text":"hi, edited"}`,
		"POST /api/v1/rooms/{room}/read":          `{"read":1}`,
	}
	// Order matters a little: join before leave and typing, delete last.
	order := rest.Routes()
	slices.SortStableFunc(order, func(a, b string) int {
		rank := func(r string) int {
			switch {
			case strings.HasSuffix(r, "/join"):
				return -1
			case strings.HasSuffix(r, "/leave"), strings.HasSuffix(r, "/kick"), strings.HasSuffix(r, "/reactions/{emoji}") && strings.HasPrefix(r, "DELETE"):
				return 1
			case strings.HasPrefix(r, "DELETE"):
				return 2
			}
			return 0
		}
		return rank(a) - rank(b)
	})
	for _, route := range order {
		method, path, _ := strings.Cut(route, " ")
		if fileRoute(path) {
			continue // fileRoutesAnswer: they need a file
		}
		u := url + strings.NewReplacer("{room}", "general", "{nickname}", "bob", "{seq}", "1", "{emoji}", "%F0%9F%91%8D").Replace(path)
		key := tok
		switch {
		case strings.HasSuffix(path, "/publish"):
			key = "k"
		case strings.HasSuffix(path, "/{seq}") && method == "DELETE":
			key = adminTok // message 1 of general: posted above
		case strings.HasSuffix(path, "/kick"):
			key = adminTok
			u = strings.Replace(u, "/bob/", "/carol/", 1) // carol's session is made by POST /sessions
		}
		if strings.HasSuffix(path, "/events") {
			req, _ := http.NewRequest(method, u+"?token="+tok, nil)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			first, _ := bufio.NewReader(res.Body).ReadString('\n')
			res.Body.Close()
			if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") || first != "retry: 2000\n" {
				t.Errorf("%s: %d %q %q", route, res.StatusCode, res.Header.Get("Content-Type"), first)
			}
			continue
		}
		st, v := call(t, method, u, key, bodies[route])
		if st < 200 || st > 299 || v["ok"] != true {
			t.Errorf("%s: %d %v", route, st, v)
		}
	}
	st, v = call(t, "POST", url+"/api/v1/sessions", "", `{"nickname":"filer"}`)
	if st != http.StatusCreated {
		t.Fatalf("create session: %d %v", st, v)
	}
	fileRoutesAnswer(t, url, v["token"].(string))
}

func fileRoute(path string) bool {
	for _, p := range []string{"/files", "/uploads", "/search", "/file-token"} {
		if strings.Contains(path, p) {
			return true
		}
	}
	return false
}

// fileRoutesAnswer runs the routes of files and search in their order:
// upload (in one request, and by slot), download, search.
func fileRoutesAnswer(t *testing.T, url, tok string) {
	t.Helper()
	if st, v := call(t, "POST", url+"/api/v1/rooms/general/join", tok, ``); st != 200 {
		t.Fatalf("join: %d %v", st, v)
	}
	req, _ := http.NewRequest("POST", url+"/api/v1/rooms/general/files?name=notes.txt&text=the+notes", strings.NewReader("docs test notes\n"))
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var up struct {
		OK      bool
		Message chat.Message
	}
	json.NewDecoder(res.Body).Decode(&up)
	res.Body.Close()
	if res.StatusCode != http.StatusCreated || up.Message.Attachment == nil {
		t.Fatalf("POST /rooms/general/files: %d %+v", res.StatusCode, up)
	}
	id := up.Message.Attachment.ID
	st, v := call(t, "POST", url+"/api/v1/rooms/general/uploads", tok, `{"name":"more.txt","size":5}`)
	if st != 200 || v["method"] != "PUT" {
		t.Fatalf("POST /rooms/general/uploads: %d %v", st, v)
	}
	if st, v := call(t, "PUT", url+v["url"].(string), "", "more\n"); st != http.StatusCreated {
		t.Fatalf("PUT /uploads/{token}: %d %v", st, v)
	}
	st, v = call(t, "POST", url+"/api/v1/sessions/current/file-token", tok, ``)
	if st != 200 || v["token"] == "" {
		t.Fatalf("POST /sessions/current/file-token: %d %v", st, v)
	}
	for _, path := range []string{"/api/v1/files/" + id, "/api/v1/files/" + id + "/notes.txt?token=" + v["token"].(string)} {
		req, _ := http.NewRequest("GET", url+path, nil)
		if !strings.Contains(path, "token=") {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || string(body) != "docs test notes\n" {
			t.Errorf("GET %s: %d %q", path, res.StatusCode, body)
		}
	}
	if st, v := call(t, "GET", url+"/api/v1/search?text=notes", tok, ``); st != 200 || len(v["results"].([]any)) != 1 {
		t.Errorf("GET /search: %d %v", st, v)
	}
}

func call(t *testing.T, method, url, token, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	var v map[string]any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("%s %s: %d %q is not JSON", method, url, res.StatusCode, data)
	}
	return res.StatusCode, v
}
