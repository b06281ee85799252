package app_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/banter-chat/banter/app"
	"github.com/banter-chat/banter/client"
	"github.com/banter-chat/banter/client/chatclient"
	"github.com/banter-chat/banter/internal/apptest"
	"github.com/banter-chat/banter/internal/testutil"
)

// serveApp serves an App built from cfg (a fresh SQLite file and a quiet
// logger unless set) on loopback and returns its base URL.
func serveApp(t *testing.T, cfg app.Config) (string, *app.App) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quiet()
	}
	return apptest.Serve(t, cfg)
}

// exposition is one scrape of /metrics: the families announced by "# TYPE"
// lines and every sample by its series ("name{label="value",…}").
type exposition struct {
	families map[string]string // name → type
	samples  map[string]float64
}

func scrape(t *testing.T, url string) exposition {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("GET %s: %d %s %.200q", url, res.StatusCode, res.Header.Get("Content-Type"), b)
	}
	e := exposition{families: map[string]string{}, samples: map[string]float64{}}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, typ, _ := strings.Cut(rest, " ")
			e.families[name] = typ
			continue
		}
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if i < 0 || err != nil {
			t.Fatalf("bad sample line %q", line)
		}
		e.samples[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return e
}

// get returns a series' value, failing if it is not exported.
func (e exposition) get(t *testing.T, series string) float64 {
	t.Helper()
	v, ok := e.samples[series]
	if !ok {
		t.Fatalf("series %s not exported", series)
	}
	return v
}

// wantFamilies are the metric families docs/operations.md documents (those
// of a node without a cluster bus).
var wantFamilies = map[string]string{
	"banter_connections":                      "gauge",
	"banter_connections_opened_total":         "counter",
	"banter_disconnects_total":                "counter",
	"banter_slow_consumer_disconnects_total":  "counter",
	"banter_engineio_upgrades_total":          "counter",
	"banter_connections_refused_total":        "counter",
	"banter_engineio_requests_refused_total":  "counter",
	"banter_engineio_packets_received_total":  "counter",
	"banter_engineio_packets_sent_total":      "counter",
	"banter_engineio_received_bytes_total":    "counter",
	"banter_engineio_sent_bytes_total":        "counter",
	"banter_engineio_writes_total":            "counter",
	"banter_engineio_queued_bytes":            "gauge",
	"banter_engineio_largest_queue_bytes":     "gauge",
	"banter_chat_sessions":                    "gauge",
	"banter_chat_rooms":                       "gauge",
	"banter_chat_sessions_started_total":      "counter",
	"banter_chat_sessions_ended_total":        "counter",
	"banter_chat_messages_stored_total":       "counter",
	"banter_chat_duplicate_messages_total":    "counter",
	"banter_chat_rate_limited_total":          "counter",
	"banter_chat_deliveries_total":            "counter",
	"banter_chat_gap_fills_total":             "counter",
	"banter_chat_refilled_messages_total":     "counter",
	"banter_chat_bus_publish_errors_total":    "counter",
	"banter_store_operation_duration_seconds": "histogram",
	"banter_store_errors_total":               "counter",
	"go_goroutines":                           "gauge",
	"go_memstats_heap_alloc_bytes":            "gauge",
	"process_resident_memory_bytes":           "gauge",
	"process_open_fds":                        "gauge",
}

// clusterFamilies are exported only by a node with a Redis bus.
var clusterFamilies = map[string]string{
	"banter_bus_lag_seconds":          "histogram",
	"banter_bus_published_total":      "counter",
	"banter_bus_publish_errors_total": "counter",
	"banter_bus_received_total":       "counter",
	"banter_bus_dropped_total":        "counter",
	"banter_bus_reconnects_total":     "counter",
	"banter_bus_subscriptions":        "gauge",
}

func checkFamilies(t *testing.T, e exposition, want map[string]string, present bool) {
	t.Helper()
	for name, typ := range want {
		got, ok := e.families[name]
		switch {
		case present && (!ok || got != typ):
			t.Errorf("family %s: type %q (exported %v), want %s", name, got, ok, typ)
		case !present && ok:
			t.Errorf("family %s exported by a node without a cluster bus", name)
		}
	}
}

// chatUser is a Go Socket.IO chat client that records its messages.
type chatUser struct {
	*chatclient.Client
	mu    sync.Mutex
	texts []string
}

func dialChat(t *testing.T, url, nick string, rooms []string, transports ...string) *chatUser {
	t.Helper()
	u := &chatUser{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := chatclient.Dial(ctx, url, chatclient.Config{
		Nickname: nick, Rooms: rooms,
		Client: client.Config{Transports: transports, NoReconnect: true},
		OnEvent: func(ev chatclient.Event) {
			if m, ok := ev.(chatclient.MessageEvent); ok {
				u.mu.Lock()
				u.texts = append(u.texts, m.Message.Text)
				u.mu.Unlock()
			}
		},
	})
	if err != nil {
		t.Fatalf("%s connects: %v", nick, err)
	}
	u.Client = c
	t.Cleanup(func() { _ = c.Close() })
	return u
}

func (u *chatUser) received() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.texts)
}

// pollingSocket is a raw Engine.IO long-polling client speaking Socket.IO
// by hand: it can stop polling, which no library client does.
type pollingSocket struct {
	t    *testing.T
	base string // …/socket.io/?EIO=4&transport=polling&sid=…
}

func dialPolling(t *testing.T, url string) *pollingSocket {
	t.Helper()
	code, body, _ := get(t, url+"/socket.io/?EIO=4&transport=polling")
	sid, ok := strings.CutPrefix(body, `0{"sid":"`)
	if code != 200 || !ok {
		t.Fatalf("handshake: %d %q", code, body)
	}
	sid, _, _ = strings.Cut(sid, `"`)
	p := &pollingSocket{t: t, base: url + "/socket.io/?EIO=4&transport=polling&sid=" + sid}
	p.post("40")
	if code, body, _ := get(t, p.base); code != 200 || !strings.Contains(body, "40{") {
		t.Fatalf("Socket.IO connect: %d %q", code, body)
	}
	return p
}

func (p *pollingSocket) post(payload string) {
	p.t.Helper()
	res, err := http.Post(p.base, "text/plain;charset=UTF-8", strings.NewReader(payload))
	if err != nil {
		p.t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		p.t.Fatalf("POST %q: %d %q", payload, res.StatusCode, body)
	}
}

// TestMetricsUnderTraffic: every documented family is exported from the
// start, and the counters move with real clients on each gateway and
// transport: connections, messages in and out, store latency, a client's
// disconnect reason and a slow consumer cut off.
func TestMetricsUnderTraffic(t *testing.T) {
	url, a := serveApp(t, app.Config{
		TCPAddr: "127.0.0.1:0", MaxBufferedBytes: 64 << 10, RateBurst: 1000, RatePerSecond: 1000,
	})
	m := url + "/metrics"
	e0 := scrape(t, m)
	checkFamilies(t, e0, wantFamilies, true)
	checkFamilies(t, e0, clusterFamilies, false)
	for _, s := range []string{
		`banter_connections{gateway="socketio",transport="websocket"}`,
		`banter_connections{gateway="mqtt",transport="tcp"}`,
		`banter_disconnects_total{gateway="socketio",reason="slow_consumer"}`,
		`banter_chat_deliveries_total{kind="message"}`,
		`banter_store_operation_duration_seconds_count{operation="append"}`,
	} {
		if v := e0.get(t, s); v != 0 {
			t.Errorf("%s = %v on a fresh server", s, v)
		}
	}

	// Socket.IO over WebSocket and over long-polling, /ws and TCP.
	alice := dialChat(t, url, "alice", []string{"lobby"}, "websocket")
	bob := dialChat(t, url, "bob", []string{"lobby"}, "polling")
	w := dialWS(t, url)
	w.send(map[string]any{"type": "hello", "ref": 1, "nickname": "carol", "rooms": []string{"lobby"}})
	w.next("hello reply", isReply(1))
	nc, err := net.Dial("tcp", a.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	fmt.Fprintf(nc, `{"type":"hello","ref":1,"nickname":"dave","rooms":["lobby"]}`+"\n")
	// A REST session with an SSE stream open on the room.
	code, _, v := api(t, "POST", url+"/api/v1/sessions", "", map[string]any{"nickname": "erin"})
	if code != http.StatusCreated {
		t.Fatalf("REST session: %d %v", code, v)
	}
	req, _ := http.NewRequest("GET", url+"/api/v1/rooms/lobby/events", nil)
	req.Header.Set("Authorization", "Bearer "+v["token"].(string))
	stream, err := http.DefaultClient.Do(req)
	if err != nil || stream.StatusCode != 200 {
		t.Fatalf("SSE stream: %v %v", stream, err)
	}
	defer stream.Body.Close()
	testutil.Eventually(t, 10*time.Second, func() bool {
		members, _ := a.Service().Members("lobby")
		return len(members) == 5
	}, "five members in lobby")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range 5 {
		if _, err := alice.Send(ctx, "lobby", fmt.Sprintf("m%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, 10*time.Second, func() bool { return len(bob.received()) == 5 }, "bob got %v", bob.received())
	w.next("last message on /ws", isMessage("alice", "m4"))

	e1 := scrape(t, m)
	for series, want := range map[string]float64{
		`banter_connections{gateway="socketio",transport="websocket"}`:              1,
		`banter_connections{gateway="socketio",transport="polling"}`:                1,
		`banter_connections{gateway="ws",transport="websocket"}`:                    1,
		`banter_connections{gateway="tcp",transport="tcp"}`:                         1,
		`banter_connections{gateway="rest",transport="http"}`:                       1,
		`banter_connections{gateway="sse",transport="http"}`:                        1,
		`banter_connections_opened_total{gateway="ws",transport="websocket"}`:       1,
		`banter_connections_opened_total{gateway="tcp",transport="tcp"}`:            1,
		`banter_connections_opened_total{gateway="socketio",transport="websocket"}`: 1,
		`banter_connections_opened_total{gateway="socketio",transport="polling"}`:   1,
		`banter_chat_sessions`:                         5,
		`banter_chat_rooms`:                            1,
		`banter_chat_messages_stored_total`:            5,
		`banter_chat_deliveries_total{kind="message"}`: 25, // 5 messages × 5 members
	} {
		if got := e1.get(t, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	for _, series := range []string{
		`banter_store_operation_duration_seconds_count{operation="append"}`,
		`banter_engineio_packets_received_total{transport="websocket"}`,
		`banter_engineio_packets_received_total{transport="polling"}`,
		`banter_engineio_sent_bytes_total{transport="websocket"}`,
		`banter_engineio_sent_bytes_total{transport="polling"}`,
		`banter_engineio_writes_total{transport="websocket"}`,
		`banter_engineio_writes_total{transport="polling"}`,
		`banter_chat_deliveries_total{kind="presence"}`,
		`banter_chat_sessions_started_total`,
	} {
		if got := e1.get(t, series); got <= e0.get(t, series) {
			t.Errorf("%s did not move: %v → %v", series, e0.get(t, series), got)
		}
	}
	if got := e1.get(t, `banter_store_operation_duration_seconds_count{operation="append"}`); got != 5 {
		t.Errorf("append latency observed %v times, want 5", got)
	}

	// A client that leaves: its session ends as "transport close".
	_ = alice.Close()
	testutil.Eventually(t, 10*time.Second, func() bool {
		e := scrape(t, m)
		return e.get(t, `banter_disconnects_total{gateway="socketio",reason="transport_close"}`) == 1 &&
			e.get(t, `banter_connections{gateway="socketio",transport="websocket"}`) == 0
	}, "alice's disconnect counted")

	// A long-polling client that stops polling while a room floods: cut
	// off as a slow consumer once 64 KiB wait for it.
	slow := dialPolling(t, url)
	slow.post(`420["hello",{"nickname":"slow","rooms":["flood"]}]`)
	testutil.Eventually(t, 10*time.Second, func() bool {
		members, _ := a.Service().Members("flood")
		return slices.Contains(members, "slow")
	}, "slow joined flood")
	if _, err := bob.Join(ctx, "flood"); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 4000)
	for i := 0; i < 40 && scrape(t, m).get(t, `banter_slow_consumer_disconnects_total{gateway="socketio"}`) == 0; i++ {
		if _, err := bob.Send(ctx, "flood", big); err != nil {
			t.Fatal(err)
		}
	}
	e2 := scrape(t, m)
	if got := e2.get(t, `banter_slow_consumer_disconnects_total{gateway="socketio"}`); got != 1 {
		t.Errorf("slow consumers = %v, want 1", got)
	}
	if got := e2.get(t, `banter_disconnects_total{gateway="socketio",reason="slow_consumer"}`); got != 1 {
		t.Errorf("disconnects by slow_consumer = %v, want 1", got)
	}
	// Counted when decided; the session itself waits for its client to
	// fetch what was queued before it, and the close packet.
	if code, body, _ := get(t, slow.base); code != 200 || !strings.HasSuffix(body, "\x1e1") {
		t.Fatalf("slow client's last GET: %d, %.80q…", code, body)
	}
	testutil.Eventually(t, 10*time.Second, func() bool {
		members, _ := a.Service().Members("flood")
		return !slices.Contains(members, "slow") &&
			scrape(t, m).get(t, `banter_connections{gateway="socketio",transport="polling"}`) == 1
	}, "slow's session ended")
}

// TestMetricsAddr: the operator endpoints move to their own listener (or
// go away), health checks stay on the main port, a busy address fails New.
func TestMetricsAddr(t *testing.T) {
	testutil.CheckGoroutineLeaks(t) // the metrics listener's goroutines end with Shutdown
	url, a := serveApp(t, app.Config{MetricsAddr: "127.0.0.1:0"})
	ops := "http://" + a.MetricsAddr().String()
	for _, p := range []string{"/metrics", "/status", "/status.json"} {
		if code, _, _ := get(t, url+p); code != 404 {
			t.Errorf("main port %s = %d, want 404", p, code)
		}
		if code, _, _ := get(t, ops+p); code != 200 {
			t.Errorf("metrics port %s = %d, want 200", p, code)
		}
	}
	for _, base := range []string{url, ops} {
		for _, p := range []string{"/healthz", "/readyz"} {
			if code, body, _ := get(t, base+p); code != 200 || body != "ok\n" {
				t.Errorf("%s%s = %d %q", base, p, code, body)
			}
		}
	}
	if code, _, _ := get(t, ops+"/favicon.svg"); code != 200 {
		t.Errorf("metrics port /favicon.svg (the status page's icon) = %d", code)
	}
	checkFamilies(t, scrape(t, ops+"/metrics"), wantFamilies, true)

	url2, a2 := serveApp(t, app.Config{DisableMetrics: true})
	if a2.MetricsAddr() != nil {
		t.Error("MetricsAddr with metrics disabled")
	}
	for _, p := range []string{"/metrics", "/status.json"} {
		if code, _, _ := get(t, url2+p); code != 404 {
			t.Errorf("disabled: %s = %d, want 404", p, code)
		}
	}
	if code, _, _ := get(t, url2+"/readyz"); code != 200 {
		t.Errorf("disabled: /readyz = %d", code)
	}

	_, err := app.New(app.Config{DBPath: filepath.Join(t.TempDir(), "b.db"), Logger: quiet(),
		MetricsAddr: a.MetricsAddr().String()})
	if !errors.Is(err, app.ErrMetricsListen) {
		t.Errorf("busy metrics address: %v, want ErrMetricsListen", err)
	}
}
