package tcp_test

import (
	"bufio"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/banter-chat/banter/gateway/tcp"
)

// lineClient reads a TCP connection's lines as they come.
type lineClient struct {
	t     *testing.T
	c     net.Conn
	lines chan string
}

func newLineClient(t *testing.T, addr string) *lineClient {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	lc := &lineClient{t: t, c: c, lines: make(chan string, 256)}
	go func() {
		sc := bufio.NewScanner(c)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			lc.lines <- sc.Text()
		}
		close(lc.lines)
	}()
	return lc
}

func (lc *lineClient) send(line string) {
	lc.t.Helper()
	if _, err := lc.c.Write([]byte(line + "\n")); err != nil {
		lc.t.Fatal(err)
	}
}

// waitFor returns the first line containing want, skipping others.
func (lc *lineClient) waitFor(want string) string {
	lc.t.Helper()
	timeout := time.After(10 * time.Second) // a hang guard, not a timing assertion
	for {
		select {
		case line, ok := <-lc.lines:
			if !ok {
				lc.t.Fatalf("connection closed before %q", want)
			}
			if strings.Contains(line, want) {
				return line
			}
		case <-timeout:
			lc.t.Fatalf("no line containing %q", want)
		}
	}
}

// Text mode: edit, react, reply, unsend and unread, as a person at nc
// would use them, with the other user's terminal showing each.
func TestTextModeMessageState(t *testing.T) {
	addr, _ := start(t, tcp.Config{})
	ann, bob := newLineClient(t, addr), newLineClient(t, addr)
	ann.send("ann")
	ann.waitFor("you are now talking in general")
	bob.send("bob")
	bob.waitFor("you are now talking in general")
	ann.send("helo @bob")
	bob.waitFor("[general] ann: helo @bob")
	ann.send("/edit hello @bob")
	bob.waitFor("* ann edited a message in general: hello @bob")
	bob.send("/react 👍")
	ann.waitFor("* bob reacted 👍 to message 1 of general")
	bob.send("/reply hi ann")
	ann.waitFor("[general] bob (replying to ann): hi ann")
	ann.send("/unread") // ann posted (and so read) before bob's reply
	ann.waitFor("* general: 1 unread")
	bob.send("/unread")
	bob.waitFor("* nothing unread")
	ann.send("/unsend")
	ann.waitFor("* your message 1 of general was deleted")
	bob.waitFor("* message 1 of general was deleted by ann")
	bob.send("/history")
	bob.waitFor("[general] ann: (deleted)")
	bob.send("/edit \x1b[31m") // bob's own last message; the control character is refused
	bob.waitFor("! invalid_message: message text contains the control character U+001B")
	ann.send("/react lol")
	ann.waitFor("! invalid_argument: a reaction must be one emoji")
	ann.send("/edit")
	ann.waitFor("! invalid_argument: usage: /edit TEXT")
}

// JSON lines: the commands and events of protocol 1.2, on the TCP framing.
func TestJSONLinesMessageState(t *testing.T) {
	addr, _ := start(t, tcp.Config{})
	ann, bob := newLineClient(t, addr), newLineClient(t, addr)
	ann.send(`{"type":"hello","ref":1,"nickname":"ann","rooms":["general"]}`)
	ann.waitFor(`"ref":1,"ok":true`)
	bob.send(`{"type":"hello","ref":1,"nickname":"bob","rooms":["general"]}`)
	bob.waitFor(`"ref":1,"ok":true`)
	ann.send(`{"type":"send","ref":2,"room":"general","text":"q?"}`)
	reply := ann.waitFor(`"ref":2`)
	var sent struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(reply), &sent); err != nil || sent.ID == "" {
		t.Fatalf("send reply %s", reply)
	}
	bob.send(`{"type":"send","ref":3,"room":"general","text":"a!","replyTo":"` + sent.ID + `"}`)
	ann.waitFor(`"replyTo":{"id":"` + sent.ID + `","seq":1,"from":"ann","text":"q?"}`)
	bob.send(`{"type":"react","ref":4,"room":"general","seq":1,"emoji":"🎉"}`)
	ann.waitFor(`{"type":"reaction","data":{"room":"general","seq":1,"rev":1,"emoji":"🎉","nickname":"bob","added":true`)
	ann.send(`{"type":"edit","ref":5,"room":"general","seq":1,"text":"q??"}`)
	bob.waitFor(`{"type":"edited","data":{"id":"` + sent.ID + `","room":"general","seq":1,"from":"ann","text":"q??"`)
	bob.send(`{"type":"mark","ref":6,"room":"general","read":2}`)
	bob.waitFor(`"ref":6,"ok":true,"room":"general","nickname":"bob","read":2,"delivered":2`)
	ann.waitFor(`{"type":"read","data":{"room":"general","readers":[{"room":"general","nickname":"bob","read":2,"delivered":2`)
	bob.send(`{"type":"changes","ref":7,"room":"general","after":1}`)
	bob.waitFor(`"ref":7,"ok":true,"room":"general","messages":[{"id":"` + sent.ID + `"`)
	bob.send(`{"type":"edit","ref":8,"room":"general","seq":1,"text":"mine now"}`)
	bob.waitFor(`"ref":8,"ok":false,"error":{"code":"forbidden","message":"you can only edit your own messages"}`)
	ann.send(`{"type":"seen","ref":9,"room":"general","seq":1}`)
	ann.waitFor(`"ref":9,"ok":true,"room":"general","seq":1,"count":1,"nicknames":["bob"]`)
}
