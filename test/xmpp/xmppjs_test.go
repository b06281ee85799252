package xmpp_test

import (
	"context"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/banter-chat/banter/internal/testutil"
)

// runXMPPJSNode runs js/scenario.mjs with @xmpp/client in Node over TCP
// (STARTTLS, the self-signed certificate accepted).
func runXMPPJSNode(t *testing.T, tg *target, service, room string) string {
	t.Helper()
	node := testutil.RequireNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "js/node.mjs", service, domain, "rooms."+domain, room,
		"alice="+tg.password("alice"), "bob="+tg.password("bob"))
	cmd.Env = append(cmd.Environ(), "NODE_TLS_REJECT_UNAUTHORIZED=0", "NODE_NO_WARNINGS=1",
		"NODE_PATH="+testutil.NodeModules(t))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: @xmpp/client in node: %v\n%s", tg.name, err, out)
	}
	return string(out)
}

// TestXMPPJSNode: @xmpp/client in Node against prosody and Banter over
// TCP (STARTTLS), and against Banter over WSS on its HTTPS port (the TLS
// WebSocket that keeps a reading goroutine).
func TestXMPPJSNode(t *testing.T) {
	prosody := startProsody(t)
	banter := startBanter(t)
	tcp := func(tg *target) string { return "xmpp://" + tg.host + ":" + itoa(tg.port) }
	want := runXMPPJSNode(t, prosody, tcp(prosody), "jsnode")
	got := runXMPPJSNode(t, banter, tcp(banter), "jsnode")
	if got != want {
		t.Errorf("transcripts differ\n--- prosody:\n%s--- banter:\n%s", want, got)
	}
	wss := runXMPPJSNode(t, banter, strings.Replace(banter.httpURL, "https://", "wss://", 1)+"/xmpp", "jswss")
	if wss != want {
		t.Errorf("over WSS\n--- prosody (TCP):\n%s--- banter (WSS):\n%s", want, wss)
	}
	t.Logf("transcript:\n%s", got)
}

// pageServer serves js/ and @xmpp/client's browser bundle.
func pageServer(t *testing.T) string {
	t.Helper()
	bundle := filepath.Join(testutil.NodeModules(t), "@xmpp", "client", "dist", "xmpp.min.js")
	mux := http.NewServeMux()
	mux.HandleFunc("/xmpp.min.js", func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, bundle) })
	mux.Handle("/", http.FileServer(http.Dir("js")))
	return testutil.StartHTTP(t, mux)
}

// runXMPPJSBrowser runs the scenario in headless Chromium over the
// WebSocket binding at ws.
func runXMPPJSBrowser(t *testing.T, page string, tg *target, ws, room string) string {
	t.Helper()
	opts := `{service: ` + jsString(ws) + `, domain: "localhost", muc: "rooms.localhost", room: ` + jsString(room) +
		`, users: [["alice", ` + jsString(tg.password("alice")) + `], ["bob", ` + jsString(tg.password("bob")) + `]]}`
	res := testutil.RunBrowserSteps(t, page, testutil.BrowserScenario{Pages: 1, TimeoutMS: 90000, Steps: []testutil.BrowserStep{
		{Page: 0, Action: "goto", Value: page + "/page.html"},
		{Page: 0, Action: "eval", Value: "window.ready === true", Expect: true},
		{Page: 0, Action: "eval", Value: "window.runScenario(" + opts + ")", Save: "transcript", TimeoutMS: 60000},
	}})
	out, _ := res.Results["transcript"].(string)
	if !strings.HasSuffix(out, "OK") {
		t.Fatalf("%s: @xmpp/client in Chromium:\n%s\nconsole: %v", tg.name, out, res.Console)
	}
	return out
}

// TestXMPPJSBrowser: @xmpp/client in headless Chromium over the WebSocket
// binding (RFC 7395), Banter's on the event loop (ws://), against prosody
// and Banter; and a page of an origin Banter does not allow is refused.
func TestXMPPJSBrowser(t *testing.T) {
	page := pageServer(t)
	prosody := startProsody(t)
	banter := startBanterTLS(t, false, "--cors-origins", page)
	want := runXMPPJSBrowser(t, page, prosody, strings.Replace(prosody.httpURL, "http://", "ws://", 1)+prosody.wsPath, "jsweb")
	got := runXMPPJSBrowser(t, page, banter, strings.Replace(banter.httpURL, "http://", "ws://", 1)+"/xmpp", "jsweb")
	if got != want {
		t.Errorf("transcripts differ\n--- prosody:\n%s\n--- banter:\n%s", want, got)
	}
	t.Logf("transcript:\n%s", got)

	// Cross-site WebSocket hijacking: another origin's page is refused.
	req, _ := http.NewRequest("GET", banter.httpURL+"/xmpp", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	req.Header.Set("Sec-WebSocket-Protocol", "xmpp")
	req.Header.Set("Origin", "http://evil.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("a WebSocket from another origin: status %d, want 403", resp.StatusCode)
	}
}
