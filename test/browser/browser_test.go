// Package browser_test proves the browser rig (browser_rig.js, driven through
// testutil.RunBrowserScenario) on a tiny two-page echo app served by the test
// itself: pages post messages to a Go handler and receive everyone's messages
// over Server-Sent Events. Tests of the chat page use the same rig.
package browser_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/banter-chat/banter/internal/testutil"
)

const echoPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>rig echo</title></head>
<body>
<form id="form"><input id="msg" autocomplete="off"><button id="send">Send</button></form>
<ul id="log"></ul>
<script>
const log = document.getElementById('log');
const msg = document.getElementById('msg');
const es = new EventSource('/events');
es.onopen = () => { document.body.dataset.ready = '1'; };
es.onmessage = (e) => {
  const li = document.createElement('li');
  li.textContent = e.data;
  log.appendChild(li);
};
document.getElementById('form').onsubmit = async (e) => {
  e.preventDefault();
  await fetch('/send', { method: 'POST', body: msg.value });
  msg.value = '';
};
</script>
</body></html>`

const brokenPage = `<!doctype html><html><body><p>broken</p>
<script>setTimeout(() => { throw new Error('kaboom in page'); }, 0);</script></body></html>`

// echoHub is the app's server side: every posted line goes to every open
// event stream.
type echoHub struct {
	mu      sync.Mutex
	subs    map[chan string]bool
	sent    []string
	dropped int
}

func newEchoHub() *echoHub { return &echoHub{subs: make(map[chan string]bool)} }

func (h *echoHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, echoPage)
	case "/broken":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, brokenPage)
	case "/send":
		h.send(w, r)
	case "/events":
		h.events(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (h *echoHub) send(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 4096))
	line := strings.TrimSpace(string(body))
	if err != nil || line == "" || strings.ContainsAny(line, "\r\n") {
		http.Error(w, "want one non-empty line", http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	h.sent = append(h.sent, line)
	for sub := range h.subs {
		select {
		case sub <- line:
		default:
			h.dropped++
		}
	}
	h.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (h *echoHub) events(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	sub := make(chan string, 64)
	h.mu.Lock()
	h.subs[sub] = true
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.subs, sub)
		h.mu.Unlock()
	}()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	flusher.Flush()
	for {
		select {
		case <-r.Context().Done():
			return
		case line := <-sub:
			if _, err := fmt.Fprintf(w, "data: %s\n\n", line); err != nil {
				return
			}
			flusher.Flush()
		}
	}
}

func (h *echoHub) snapshot() (sent []string, dropped, subscribers int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.sent), h.dropped, len(h.subs)
}

func TestRigDrivesTwoPages(t *testing.T) {
	testutil.CheckGoroutineLeaks(t)
	hub := newEchoHub()
	url := testutil.StartHTTP(t, hub)

	res := testutil.RunBrowserScenario(t, url, "sse_echo")

	want := []string{"hello from page 0", "hello from page 1"}
	sent, dropped, _ := hub.snapshot()
	if !slices.Equal(sent, want) || dropped != 0 {
		t.Fatalf("server saw %q (dropped %d), want %q", sent, dropped, want)
	}
	for _, key := range []string{"log0", "log1"} {
		got := fmt.Sprint(res.Results[key])
		if got != fmt.Sprint(want) {
			t.Errorf("result %s = %s, want %v", key, got, want)
		}
	}
	if res.Steps != 11 {
		t.Errorf("rig ran %d steps, want the scenario's 11", res.Steps)
	}
	// The browser is gone: its event streams must have ended.
	testutil.Eventually(t, testutil.LeakTimeout, func() bool {
		_, _, subs := hub.snapshot()
		return subs == 0
	}, "event streams still open after the rig exited")
}

func TestRigReportsFailureWithScreenshots(t *testing.T) {
	url := testutil.StartHTTP(t, newEchoHub())
	scenario := testutil.WriteScenario(t, testutil.BrowserScenario{
		Steps: []testutil.BrowserStep{
			{Page: 0, Action: "eval", Value: "document.body.dataset.ready", Expect: "1"},
			{Page: 1, Action: "waitText", Selector: "#log", Value: "a message nobody sent", TimeoutMS: 300},
		},
	})
	res, err := testutil.RunBrowser(t, url, scenario)
	if !errors.Is(err, testutil.ErrBrowserScenario) {
		t.Fatalf("err = %v, want ErrBrowserScenario", err)
	}
	if res.Step != 1 || !strings.Contains(res.Error, "a message nobody sent") {
		t.Fatalf("failure at step %d: %q; want step 1 naming the missing text", res.Step, res.Error)
	}
	if len(res.Screenshots) != 2 {
		t.Fatalf("screenshots %q, want one per page", res.Screenshots)
	}
	dir := filepath.Dir(res.Screenshots[0])
	// The failure was expected: do not leave its screenshots behind.
	t.Cleanup(func() { os.RemoveAll(dir) })
	if !strings.Contains(err.Error(), dir) {
		t.Fatalf("error does not print the screenshots' directory %s: %v", dir, err)
	}
	for _, shot := range res.Screenshots {
		data, err := os.ReadFile(shot)
		if err != nil || !bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")) {
			t.Fatalf("screenshot %s is not a PNG (%v)", shot, err)
		}
	}
}

func TestRigFailsOnUncaughtPageError(t *testing.T) {
	url := testutil.StartHTTP(t, newEchoHub())
	scenario := testutil.WriteScenario(t, testutil.BrowserScenario{
		Pages: 1,
		Steps: []testutil.BrowserStep{
			{Action: "goto", Value: "/broken"},
			// Waits until the page's timer has thrown.
			{Action: "eval", Value: "new Promise((r) => setTimeout(() => r(true), 50))", Expect: true},
		},
	})
	res, err := testutil.RunBrowser(t, url, scenario)
	if len(res.Screenshots) > 0 {
		t.Cleanup(func() { os.RemoveAll(filepath.Dir(res.Screenshots[0])) })
	}
	if !errors.Is(err, testutil.ErrBrowserScenario) || !strings.Contains(res.Error, "kaboom in page") {
		t.Fatalf("err = %v, report error %q; want a failure naming the page's exception", err, res.Error)
	}
}

func TestRigRejectsBadScenario(t *testing.T) {
	for name, sc := range map[string]testutil.BrowserScenario{
		"unknown action": {Steps: []testutil.BrowserStep{{Action: "dance"}}},
		"missing value":  {Steps: []testutil.BrowserStep{{Action: "fill", Selector: "#msg"}}},
		"page range":     {Pages: 1, Steps: []testutil.BrowserStep{{Page: 1, Action: "click", Selector: "#x"}}},
		"no steps":       {},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := testutil.RunBrowser(t, "http://127.0.0.1:1/", testutil.WriteScenario(t, sc))
			if err == nil || !strings.Contains(err.Error(), "exit status 2") || errors.Is(err, testutil.ErrBrowserScenario) {
				t.Fatalf("err = %v, want a usage error (exit status 2) before any browser starts", err)
			}
		})
	}
}
