package app_test

import (
	"net/http"
	"strconv"
	"testing"
)

// TestFileRepliesOverGateways: uploads answer messages on REST (one
// request, ?replyTo=) and protocol 1 (/ws upload slots), their captions'
// mentions count, a reply to another room's message is refused before
// any byte is sent, and the sender deletes its file over REST.
func TestFileRepliesOverGateways(t *testing.T) {
	url, _ := filesApp(t)
	alice := restSession(t, url, "alice", "")
	bob := restSession(t, url, "bob", "")
	st, _, v := api(t, "POST", url+"/api/v1/rooms/general/messages", alice, map[string]any{"text": "where is the map?"})
	if st != http.StatusOK && st != http.StatusCreated {
		t.Fatalf("post: %d %v", st, v)
	}
	qid := v["id"].(string)
	if st, _, v := api(t, "POST", url+"/api/v1/rooms/other/join", bob, nil); st != 200 {
		t.Fatalf("bob joins other: %d %v", st, v)
	}
	st, _, v = api(t, "POST", url+"/api/v1/rooms/other/messages", bob, map[string]any{"text": "elsewhere"})
	if st != http.StatusOK && st != http.StatusCreated {
		t.Fatalf("post in other: %d %v", st, v)
	}
	otherID := v["id"].(string)

	img := pngOf(t, 20, 10)
	st, _, v, _ = raw(t, "POST", url+"/api/v1/rooms/general/files?name=map.png&text=here%20@alice&replyTo="+qid, bob, "image/png", img)
	if st != http.StatusCreated {
		t.Fatalf("upload with replyTo: %d %v", st, v)
	}
	m := v["message"].(map[string]any)
	q, _ := m["replyTo"].(map[string]any)
	if q == nil || q["id"] != qid || q["text"] != "where is the map?" || m["attachment"] == nil {
		t.Fatalf("the upload's message: %v", m)
	}
	if mentions, _ := m["mentions"].([]any); len(mentions) != 1 || mentions[0] != "alice" {
		t.Fatalf("the caption's mentions: %v", m["mentions"])
	}
	seq := m["seq"].(float64)
	st, _, v, _ = raw(t, "POST", url+"/api/v1/rooms/general/files?name=x.png&replyTo="+otherID, bob, "image/png", img)
	if st != http.StatusBadRequest || failCode(v) != "invalid_argument" {
		t.Fatalf("upload replying to another room's message: %d %v", st, v)
	}

	// /ws: an upload slot that answers the file; refused for another room.
	ws := dialWS(t, url)
	ws.send(map[string]any{"type": "hello", "ref": 1, "nickname": "wendy", "rooms": []string{"general"}})
	ws.next("ws hello", isReply(1))
	ws.send(map[string]any{"type": "upload", "ref": 2, "room": "general", "name": "b.png", "size": len(img), "replyTo": otherID})
	if r := ws.next("refused slot", isReply(2)); r["ok"] != false || r["error"].(map[string]any)["code"] != "invalid_argument" {
		t.Fatalf("slot replying to another room's message: %v", r)
	}
	ws.send(map[string]any{"type": "upload", "ref": 3, "room": "general", "name": "b.png", "size": len(img), "replyTo": m["id"]})
	slot := ws.next("slot", isReply(3))
	if slot["ok"] != true {
		t.Fatalf("slot: %v", slot)
	}
	st, _, v, _ = raw(t, "PUT", url+slot["url"].(string), "", "image/png", img)
	if st != http.StatusCreated {
		t.Fatalf("PUT: %d %v", st, v)
	}
	if q, _ := v["message"].(map[string]any)["replyTo"].(map[string]any); q == nil || q["file"] != "map.png" || q["text"] != "here @alice" {
		t.Fatalf("a file answering a file: %v", v["message"])
	}

	// bob deletes his file (his own, within the window): the quote follows.
	st, _, v = api(t, "DELETE", url+"/api/v1/rooms/general/messages/"+strconv.Itoa(int(seq)), bob, nil)
	if st != http.StatusOK {
		t.Fatalf("bob deletes his file: %d %v", st, v)
	}
	st, _, v = api(t, "GET", url+"/api/v1/rooms/general/messages?after="+strconv.Itoa(int(seq)-1), alice, nil)
	msgs, _ := v["messages"].([]any)
	if st != 200 || len(msgs) != 2 {
		t.Fatalf("history: %d %v", st, v)
	}
	del, last := msgs[0].(map[string]any), msgs[1].(map[string]any)
	if del["deleted"] != true || del["attachment"] != nil || last["replyTo"].(map[string]any)["deleted"] != true || last["replyTo"].(map[string]any)["file"] != nil {
		t.Fatalf("after the deletion: %v", msgs)
	}
}
