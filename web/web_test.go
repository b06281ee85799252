package web_test

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/banter-chat/banter/internal/testutil"
	"github.com/banter-chat/banter/web"
)

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", url, err)
	}
	return res, string(body)
}

func TestHandlerServesPageWithStrictHeaders(t *testing.T) {
	url := testutil.StartHTTP(t, web.Handler())
	res, body := get(t, url+"/")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET / = %d", res.StatusCode)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type = %q, want text/html", ct)
	}
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"script-src 'self'", "style-src 'self'", "object-src 'none'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("CSP %q allows inline code", csp)
	}
	for h, want := range map[string]string{"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache", "X-Frame-Options": "DENY"} {
		if got := res.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	if !strings.Contains(body, `name="viewport"`) {
		t.Error("page has no viewport meta: unusable on a phone")
	}
	if !strings.Contains(body, `src="/socket.io/socket.io.js"`) {
		t.Error("page does not load the Socket.IO client served by our server")
	}
}

// The CSP forbids inline code; this catches it before a browser silently
// ignores it. It also checks that everything the page references is served.
func TestPageHasNoInlineCodeAndAllAssetsExist(t *testing.T) {
	url := testutil.StartHTTP(t, web.Handler())
	_, page := get(t, url+"/")

	if m := regexp.MustCompile(`<script(?:\s[^>]*)?>`).FindAllString(page, -1); len(m) == 0 {
		t.Fatal("no script tags found")
	} else {
		for _, tag := range m {
			if !strings.Contains(tag, "src=") {
				t.Errorf("inline script %s", tag)
			}
		}
	}
	if regexp.MustCompile(`<style[\s>]`).MatchString(page) {
		t.Error("inline <style> element")
	}
	if m := regexp.MustCompile(`\s(on[a-z]+|style)\s*=`).FindString(page); m != "" {
		t.Errorf("inline handler or style attribute %q", m)
	}
	for _, js := range []string{"app.js", "model.js"} {
		_, src := get(t, url+"/"+js)
		if strings.Contains(src, "innerHTML") || strings.Contains(src, "insertAdjacentHTML") || strings.Contains(src, "document.write") {
			t.Errorf("%s parses HTML from strings; user data must go through textContent", js)
		}
		if strings.Contains(src, ".setAttribute('style'") {
			t.Errorf("%s sets style attributes, which the CSP blocks", js)
		}
	}

	refs := regexp.MustCompile(`(?:src|href)="([^"/:][^"]*)"`).FindAllStringSubmatch(page, -1)
	if len(refs) < 3 {
		t.Fatalf("found only %d local assets in the page", len(refs))
	}
	for _, r := range refs {
		res, _ := get(t, url+"/"+r[1])
		if res.StatusCode != http.StatusOK {
			t.Errorf("asset %s: status %d", r[1], res.StatusCode)
		}
	}
	for path, want := range map[string]string{"/app.js": "javascript", "/style.css": "text/css", "/favicon.svg": "image/svg+xml"} {
		res, _ := get(t, url+path)
		if ct := res.Header.Get("Content-Type"); !strings.Contains(ct, want) {
			t.Errorf("%s Content-Type = %q, want %s", path, ct, want)
		}
	}
	if res, _ := get(t, url+"/nope.js"); res.StatusCode != http.StatusNotFound {
		t.Errorf("missing asset: status %d, want 404", res.StatusCode)
	}
}
