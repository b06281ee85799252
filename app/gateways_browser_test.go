package app_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/banter-chat/banter/app"
	"github.com/banter-chat/banter/internal/testutil"
)

// The SSE client: a REST session and the browser's own EventSource.
const ssePage = `<!doctype html><html><head><meta charset="utf-8"><title>sse</title></head><body>
<script>
window.events = []; window.ready = false;
const nick = new URLSearchParams(location.search).get('nick');
(async () => {
  const r = await fetch('/api/v1/sessions', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify({nickname: nick})});
  const s = await r.json();
  window.token = s.token;
  const es = new EventSource('/api/v1/rooms/lobby/events?after=0&token=' + encodeURIComponent(s.token));
  es.addEventListener('ready', () => { window.ready = true; });
  es.addEventListener('message', (e) => { window.events.push({id: e.lastEventId, msg: JSON.parse(e.data)}); });
  window.es = es;
})();
window.texts = () => window.events.map((e) => e.msg.text);
window.post = async (text) => (await fetch('/api/v1/rooms/lobby/messages', {method: 'POST',
  headers: {'Authorization': 'Bearer ' + window.token, 'Content-Type': 'application/json'}, body: JSON.stringify({text})})).status;
</script></body></html>`

// The Socket.IO user: the official browser client, chat protocol 1.
const sioPage = `<!doctype html><html><head><meta charset="utf-8"><title>sio</title></head><body>
<script src="/test/socket.io.js"></script>
<script>
window.got = []; window.ready = false;
const sock = io({transports: ['websocket']});
sock.on('message', (m) => window.got.push(m.text));
sock.on('connect', async () => { window.ready = (await sock.emitWithAck('hello', {nickname: 'bob', rooms: ['lobby']})).ok; });
window.send = async (text) => (await sock.emitWithAck('send', {room: 'lobby', text})).seq;
</script></body></html>`

// streamCtl lets the page cut its event stream from the server side and
// hold the browser's automatic reconnection until it says so, so that
// messages sent meanwhile can only arrive through Last-Event-ID resume.
type streamCtl struct {
	mu      sync.Mutex
	cond    *sync.Cond
	paused  bool
	active  map[*http.Request]context.CancelFunc
	lastIDs []string // Last-Event-ID of every stream request
}

func newStreamCtl() *streamCtl {
	c := &streamCtl{active: make(map[*http.Request]context.CancelFunc)}
	c.cond = sync.NewCond(&c.mu)
	return c
}

func (c *streamCtl) wrap(h http.Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.lastIDs = append(c.lastIDs, r.Header.Get("Last-Event-ID"))
		for c.paused {
			c.cond.Wait()
		}
		ctx, cancel := context.WithCancel(r.Context())
		c.active[r] = cancel
		c.mu.Unlock()
		h.ServeHTTP(w, r.WithContext(ctx))
		c.mu.Lock()
		delete(c.active, r)
		c.cond.Broadcast()
		c.mu.Unlock()
	}
}

// drop ends the open streams (and waits until their handlers returned)
// and holds new ones.
func (c *streamCtl) drop(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.paused = true
	for _, cancel := range c.active {
		cancel()
	}
	for len(c.active) > 0 {
		c.cond.Wait()
	}
	c.mu.Unlock()
	io.WriteString(w, "dropped")
}

func (c *streamCtl) resume() {
	c.mu.Lock()
	c.paused = false
	c.cond.Broadcast()
	c.mu.Unlock()
}

func (c *streamCtl) ids() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.lastIDs)
}

// TestSSEInBrowser: headless Chromium's EventSource follows a room while a
// Socket.IO user (the official browser client) and the SSE page's REST
// posts chat in it; the stream is cut and three messages are sent before
// the browser may reconnect: it resumes with Last-Event-ID and gets
// exactly the missed messages, in order, once.
func TestSSEInBrowser(t *testing.T) {
	a, err := app.New(app.Config{DBPath: filepath.Join(t.TempDir(), "banter.db"), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctl := newStreamCtl()
	mux := http.NewServeMux()
	html := func(page string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, page)
		}
	}
	mux.HandleFunc("/test/sse.html", html(ssePage))
	mux.HandleFunc("/test/sio.html", html(sioPage))
	bundle := filepath.Join(testutil.NodeModules(t), "socket.io-client", "dist", "socket.io.min.js")
	mux.HandleFunc("/test/socket.io.js", func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, bundle) })
	mux.HandleFunc("/test/drop", ctl.drop)
	mux.HandleFunc("/test/resume", func(w http.ResponseWriter, r *http.Request) { ctl.resume(); io.WriteString(w, "resumed") })
	mux.Handle("/api/v1/rooms/{room}/events", ctl.wrap(a.Handler()))
	mux.Handle("/", a.Handler())
	url := testutil.StartHTTP(t, mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := a.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	t.Cleanup(ctl.resume) // a held reconnection must not outlive the test

	step := func(page int, expr string, expect any) testutil.BrowserStep {
		return testutil.BrowserStep{Page: page, Action: "eval", Value: expr, Expect: expect, TimeoutMS: 15000}
	}
	testutil.RunBrowserSteps(t, url, testutil.BrowserScenario{Pages: 2, Steps: []testutil.BrowserStep{
		{Page: 0, Action: "goto", Value: "/test/sse.html?nick=alice"},
		step(0, "window.ready", true),
		{Page: 1, Action: "goto", Value: "/test/sio.html"},
		step(1, "window.ready", true),
		step(1, "window.send('one')", 1),
		step(0, "window.texts()", []string{"one"}),
		step(0, "window.post('two')", 201),
		step(1, "window.got", []string{"one", "two"}),
		step(0, "fetch('/test/drop').then((r) => r.status)", 200),
		step(1, "window.send('three')", 3),
		step(1, "window.send('four')", 4),
		step(1, "window.send('five')", 5),
		step(0, "fetch('/test/resume').then((r) => r.status)", 200),
		step(0, "window.texts()", []string{"one", "two", "three", "four", "five"}),
		step(0, "window.events.map((e) => e.id)", []string{"1", "2", "3", "4", "5"}),
		step(1, "window.got", []string{"one", "two", "three", "four", "five"}),
	}})
	// The browser reconnected on its own, saying the last seq it had.
	if ids := ctl.ids(); !slices.Contains(ids, "2") {
		t.Fatalf("no stream request resumed with Last-Event-ID 2: %q", ids)
	}
}
