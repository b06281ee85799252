package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// Invalid text, as raw bytes: bytes that are not UTF-8, and JSON escapes of
// lone UTF-16 surrogates (valid bytes that encoding/json would also turn
// into U+FFFD).
var invalidTexts = []string{
	"bad \xff\xfe bytes",
	"truncated \xe2\x82",
	`lone \ud800 high`,
	`lone \udc00 low`,
}

// TestInvalidUTF8Refused: on every gateway (Socket.IO over polling, where
// the bytes arrive as sent, and WebSocket for escapes; /ws; TCP JSON lines
// and text mode; REST) a message whose text is not valid UTF-8 is refused
// with invalid_message and nothing is stored, as docs/protocol.md says;
// it used to be stored with U+FFFD in place of what the client sent.
func TestInvalidUTF8Refused(t *testing.T) {
	url, a := gatewayApp(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	t.Run("socket.io polling", func(t *testing.T) {
		p := pollChat(t, url, "poller")
		for i, text := range invalidTexts {
			ack := p.call(t, i+2, `["send",{"room":"general","text":"`+text+`"}]`)
			if !strings.Contains(ack, `"code":"invalid_message"`) {
				t.Errorf("send %q over polling: ack %s, want invalid_message", text, ack)
			}
		}
	})
	t.Run("socket.io websocket", func(t *testing.T) {
		c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http")+"/socket.io/?EIO=4&transport=websocket", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		read := func(prefix string) string {
			for {
				_, b, err := c.Read(ctx)
				if err != nil {
					t.Fatalf("waiting for %q: %v", prefix, err)
				}
				if s := string(b); strings.HasPrefix(s, prefix) {
					return s
				}
			}
		}
		read("0")
		c.Write(ctx, websocket.MessageText, []byte("40"))
		read("40")
		c.Write(ctx, websocket.MessageText, []byte(`421["hello",{"nickname":"wsio","rooms":["general"]}]`))
		read("431")
		for i, text := range invalidTexts[2:] { // a text frame must be UTF-8 itself
			c.Write(ctx, websocket.MessageText, fmt.Appendf(nil, `42%d["send",{"room":"general","text":"%s"}]`, i+2, text))
			if ack := read(fmt.Sprintf("43%d", i+2)); !strings.Contains(ack, `"code":"invalid_message"`) {
				t.Errorf("send %q over WebSocket: ack %s, want invalid_message", text, ack)
			}
		}
		// Lone surrogates are refused wherever they are, not only in text.
		c.Write(ctx, websocket.MessageText, []byte(`429["join",{"room":"gen\udc00"}]`))
		if ack := read("439"); !strings.Contains(ack, `"code":"invalid_argument"`) || !strings.Contains(ack, "UTF-8") {
			t.Errorf("join with a lone surrogate: %s", ack)
		}
	})
	t.Run("ws", func(t *testing.T) {
		w := dialWS(t, url)
		w.send(map[string]any{"type": "hello", "ref": 1, "nickname": "wsuser", "rooms": []string{"general"}})
		w.next("hello", isReply(1))
		for i, text := range invalidTexts[2:] { // a text frame must be UTF-8 itself (below)
			ref := i + 2
			frame := fmt.Sprintf(`{"type":"send","ref":%d,"room":"general","text":"%s"}`, ref, text)
			if err := w.c.Write(ctx, websocket.MessageText, []byte(frame)); err != nil {
				t.Fatal(err)
			}
			r := w.next("send reply", isReply(float64(ref)))
			if e, _ := r["error"].(map[string]any); r["ok"] != false || e["code"] != "invalid_message" {
				t.Errorf("send %q over /ws: %v, want invalid_message", text, r)
			}
		}
	})
	// A text frame that is not UTF-8 fails the WebSocket connection with
	// status 1007 (RFC 6455 8.1), on /ws as on Socket.IO.
	t.Run("ws raw bytes", func(t *testing.T) {
		c, _, err := websocket.Dial(ctx, strings.Replace(url, "http://", "ws://", 1)+"/ws", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		frame := `{"type":"send","ref":2,"room":"general","text":"` + invalidTexts[0] + `"}`
		if err := c.Write(ctx, websocket.MessageText, []byte(frame)); err != nil {
			t.Fatal(err)
		}
		for {
			if _, _, err := c.Read(ctx); err != nil {
				if websocket.CloseStatus(err) != websocket.StatusInvalidFramePayloadData {
					t.Fatalf("closed with %v, want 1007", err)
				}
				break
			}
		}
	})
	t.Run("tcp", func(t *testing.T) {
		jc, err := net.Dial("tcp", a.TCPAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer jc.Close()
		sc := bufio.NewScanner(jc)
		reply := func(ref int) map[string]any {
			for sc.Scan() {
				var v map[string]any
				if json.Unmarshal(sc.Bytes(), &v) == nil && v["type"] == "reply" && v["ref"] == float64(ref) {
					return v
				}
			}
			t.Fatalf("no reply %d: %v", ref, sc.Err())
			return nil
		}
		fmt.Fprintf(jc, `{"type":"hello","ref":1,"nickname":"tcpjson","rooms":["general"]}`+"\n")
		reply(1)
		for i, text := range invalidTexts {
			fmt.Fprintf(jc, `{"type":"send","ref":%d,"room":"general","text":"%s"}`+"\n", i+2, text)
			r := reply(i + 2)
			if e, _ := r["error"].(map[string]any); r["ok"] != false || e["code"] != "invalid_message" {
				t.Errorf("send %q over TCP JSON: %v, want invalid_message", text, r)
			}
		}

		tc, err := net.Dial("tcp", a.TCPAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer tc.Close()
		tsc := bufio.NewScanner(tc)
		line := func(want string) string {
			for tsc.Scan() {
				if strings.Contains(tsc.Text(), want) {
					return tsc.Text()
				}
			}
			t.Fatalf("no line with %q: %v", want, tsc.Err())
			return ""
		}
		fmt.Fprintf(tc, "tcptext\n")
		line("you are now talking in general")
		fmt.Fprintf(tc, "%s\n", invalidTexts[0])
		line("! invalid_message")
	})
	t.Run("rest", func(t *testing.T) {
		st, _, v := api(t, "POST", url+"/api/v1/sessions", "", map[string]any{"nickname": "rester"})
		if st != http.StatusCreated {
			t.Fatalf("session: %d %v", st, v)
		}
		tok := v["token"].(string)
		for _, text := range invalidTexts {
			req, _ := http.NewRequest("POST", url+"/api/v1/rooms/general/messages", strings.NewReader(`{"text":"`+text+`"}`))
			req.Header.Set("Authorization", "Bearer "+tok)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 400 || !strings.Contains(string(body), `"code":"invalid_message"`) {
				t.Errorf("POST %q: %d %s, want 400 invalid_message", text, res.StatusCode, body)
			}
		}
	})

	msgs, err := a.Service().Rooms(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range msgs {
		if r.Name == "general" && r.Count > 0 {
			t.Errorf("general has %d messages: something was stored", r.Count)
		}
	}
}

// pollChat is a Socket.IO client over raw long-polling, so that the bytes
// of a packet reach the server exactly as written; it says hello as nick
// in general.
type pollClient struct {
	base string
}

func pollChat(t *testing.T, url, nick string) *pollClient {
	t.Helper()
	base := url + "/socket.io/?EIO=4&transport=polling"
	body := pollDo(t, "GET", base, "")
	var open struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal([]byte(strings.TrimPrefix(body, "0")), &open); err != nil {
		t.Fatalf("handshake %q: %v", body, err)
	}
	p := &pollClient{base: base + "&sid=" + open.SID}
	pollDo(t, "POST", p.base, "40")
	if got := pollDo(t, "GET", p.base, ""); !strings.HasPrefix(got, "40") {
		t.Fatalf("CONNECT reply %q", got)
	}
	if ack := p.call(t, 1, `["hello",{"nickname":"`+nick+`","rooms":["general"]}]`); !strings.Contains(ack, `"ok":true`) {
		t.Fatalf("hello: %s", ack)
	}
	return p
}

// call sends event array data with ack id and returns the ack packet.
func (p *pollClient) call(t *testing.T, id int, data string) string {
	t.Helper()
	pollDo(t, "POST", p.base, fmt.Sprintf("42%d%s", id, data))
	want := fmt.Sprintf("43%d", id)
	for range 20 {
		for _, pkt := range strings.Split(pollDo(t, "GET", p.base, ""), "\x1e") {
			if strings.HasPrefix(pkt, want) {
				return pkt
			}
			if pkt == "2" { // ping
				pollDo(t, "POST", p.base, "3")
			}
		}
	}
	t.Fatalf("no ack %d", id)
	return ""
}

func pollDo(t *testing.T, method, url, body string) string {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	res, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("%s %s: %d %s", method, url, res.StatusCode, b)
	}
	return string(b)
}
