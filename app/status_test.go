package app_test

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/banter-chat/banter/app"
	"github.com/banter-chat/banter/internal/testutil"
)

type statusDoc struct {
	Time          int64   `json:"time"`
	UptimeSeconds float64 `json:"uptimeSeconds"`
	Store         string  `json:"store"`
	Bus           string  `json:"bus"`
	Connections   []struct {
		Gateway   string `json:"gateway"`
		Transport string `json:"transport"`
		Open      int64  `json:"open"`
		Opened    uint64 `json:"opened"`
	} `json:"connections"`
	ConnectionsOpen   int64  `json:"connectionsOpen"`
	UsersOnline       int    `json:"usersOnline"`
	Rooms             int    `json:"rooms"`
	MessagesStored    uint64 `json:"messagesStored"`
	MessageDeliveries uint64 `json:"messageDeliveries"`
	SlowConsumers     uint64 `json:"slowConsumers"`
	Goroutines        int    `json:"goroutines"`
	HeapBytes         uint64 `json:"heapBytes"`
}

// TestStatusPage: the page and its assets are served with a strict CSP and
// no inline script; /status.json has the counts and nothing a user wrote.
func TestStatusPage(t *testing.T) {
	url, _ := serveApp(t, app.Config{})
	const nick, room, text = "zelda-7f3a", "room-9c2e", "body-text-5b1d"
	u := dialChat(t, url, nick, []string{room}, "websocket")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := u.Send(ctx, room, text); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, func() bool { return len(u.received()) == 1 }, "own message echoed")

	code, page, h := get(t, url+"/status")
	csp := h.Get("Content-Security-Policy")
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
		t.Fatalf("/status = %d %s", code, h.Get("Content-Type"))
	}
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") {
		t.Errorf("CSP allows unsafe sources: %q", csp)
	}
	if m := regexp.MustCompile(`<script(?:\s[^>]*)?>`).FindAllString(page, -1); len(m) != 1 || !strings.Contains(m[0], `src="/status.js"`) {
		t.Errorf("scripts in the page: %q, want only /status.js", m)
	}
	if strings.Contains(page, "style=") || strings.Contains(page, "<style") {
		t.Error("inline style in the page")
	}
	for path, ctype := range map[string]string{"/status.js": "text/javascript", "/status.css": "text/css"} {
		code, body, h := get(t, url+path)
		if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), ctype) || len(body) < 100 || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s = %d %s, %d bytes", path, code, h.Get("Content-Type"), len(body))
		}
	}

	code, raw, h := get(t, url+"/status.json")
	if code != 200 || h.Get("Content-Type") != "application/json" || h.Get("Cache-Control") != "no-store" {
		t.Fatalf("/status.json = %d %s %s", code, h.Get("Content-Type"), h.Get("Cache-Control"))
	}
	for _, secret := range []string{nick, room, text} {
		if strings.Contains(raw, secret) {
			t.Errorf("/status.json contains %q: %s", secret, raw)
		}
	}
	var d statusDoc
	if err := json.Unmarshal([]byte(raw), &d); err != nil {
		t.Fatal(err)
	}
	if d.Store != "sqlite" || d.Bus != "local" || d.UsersOnline != 1 || d.Rooms != 1 || d.MessagesStored != 1 ||
		d.MessageDeliveries != 1 || d.ConnectionsOpen != 1 || d.Goroutines == 0 || d.HeapBytes == 0 ||
		d.Time == 0 || d.UptimeSeconds <= 0 {
		t.Errorf("status: %s", raw)
	}
	if len(d.Connections) != 11 {
		t.Errorf("%d connection rows, want 11 (every gateway and transport)", len(d.Connections))
	}
	for _, c := range d.Connections {
		want := int64(0)
		if c.Gateway == "socketio" && c.Transport == "websocket" {
			want = 1
		}
		if c.Open != want {
			t.Errorf("%s/%s open = %d, want %d", c.Gateway, c.Transport, c.Open, want)
		}
	}
}

// TestStatusPageInBrowser: the page renders live figures in Chromium under
// its CSP, with no error or CSP report in the console.
func TestStatusPageInBrowser(t *testing.T) {
	url, _ := serveApp(t, app.Config{RateBurst: 100, RatePerSecond: 100})
	u := dialChat(t, url, "alice", []string{"lobby"}, "websocket")
	step := func(expr string, expect any) testutil.BrowserStep {
		return testutil.BrowserStep{Page: 0, Action: "eval", Value: expr, Expect: expect, TimeoutMS: 15000}
	}
	// Messages keep coming while the page polls, so it has a rate to show.
	ctx, cancel := context.WithCancel(context.Background())
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := 0; i < 300; i++ { // bounded: 30 s at most
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			_, _ = u.Send(ctx, "lobby", "tick")
		}
	}()
	defer func() { cancel(); <-sent }()
	res := testutil.RunBrowserSteps(t, url, testutil.BrowserScenario{Pages: 1, Steps: []testutil.BrowserStep{
		{Page: 0, Action: "goto", Value: "/status"},
		step("document.getElementById('state').className", "state good"),
		step("document.getElementById('usersOnline').textContent", "1"),
		step("document.getElementById('connectionsOpen').textContent", "1"),
		step("document.querySelectorAll('#connections tr').length", 11),
		step("document.getElementById('messagesRate').textContent !== '–' && Number(document.getElementById('messagesRate').textContent) > 0", true),
	}})
	for _, line := range res.Console {
		if strings.Contains(line, "error") || strings.Contains(line, "Content Security Policy") || strings.Contains(line, "Refused") {
			t.Errorf("browser console: %s", line)
		}
	}
}
