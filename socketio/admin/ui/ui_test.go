package ui

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func get(h http.Handler, method, target string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec
}

// The embedded dashboard is present after scripts/bundle.sh (which `make
// test` runs first) and absent in a bare checkout; either way it must
// behave.
func TestHandler(t *testing.T) {
	h := Handler("/admin-ui")
	if rec := get(h, "GET", "/admin-ui"); rec.Code != http.StatusMovedPermanently || rec.Header().Get("Location") != "/admin-ui/" {
		t.Errorf("GET /admin-ui: %d to %q, want a redirect to /admin-ui/", rec.Code, rec.Header().Get("Location"))
	}
	if rec := get(h, "POST", "/admin-ui/"); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d, want 405", rec.Code)
	}
	rec := get(h, "GET", "/admin-ui/")
	if !Available() {
		if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "make bundle") {
			t.Fatalf("absent dashboard: %d %q", rec.Code, rec.Body.String())
		}
		t.Log("dashboard not built: checked the 404; run scripts/bundle.sh to check the real files")
		return
	}
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "Socket.IO Admin UI") {
		t.Fatalf("index: %d, %d bytes", rec.Code, rec.Body.Len())
	}
	if cc := rec.Header().Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("index Cache-Control %q", cc)
	}
	if v := Version(); !strings.HasPrefix(v, "0.5.") {
		t.Errorf("Version %q, want 0.5.x", v)
	}
	for _, hidden := range []string{"/admin-ui/README.txt", "/admin-ui/VERSION", "/admin-ui/../ui.go"} {
		if rec := get(h, "GET", hidden); rec.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", hidden, rec.Code)
		}
	}
	// Every file the index links is served, with a long cache life (their
	// names carry a content hash).
	body := rec.Body.String()
	for _, attr := range []string{`href="css/`, `src="js/`} {
		i := strings.Index(body, attr)
		if i < 0 {
			t.Fatalf("index links no %s…", attr)
		}
		name := body[i+len(attr)-len("css/"):]
		if attr == `src="js/` {
			name = body[i+len(attr)-len("js/"):]
		}
		name = name[:strings.IndexByte(name, '"')]
		r := get(h, "GET", "/admin-ui/"+name)
		if r.Code != http.StatusOK || !strings.Contains(r.Header().Get("Cache-Control"), "immutable") {
			t.Errorf("GET %s: %d, Cache-Control %q", name, r.Code, r.Header().Get("Cache-Control"))
		}
	}
}
