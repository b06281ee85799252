package cluster_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"image"
	"image/png"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/banter-chat/banter/internal/testutil"
)

// call makes one HTTP request to a node and decodes its JSON answer; it
// returns the raw body too (a download).
func call(t *testing.T, method, url, token, ctype string, body []byte) (int, map[string]any, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	res, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	var v map[string]any
	_ = json.Unmarshal(data, &v)
	return res.StatusCode, v, data
}

func session(t *testing.T, base, nick string) string {
	t.Helper()
	st, v, _ := call(t, "POST", base+"/api/v1/sessions", "", "application/json", []byte(`{"nickname":"`+nick+`","rooms":["general"]}`))
	if st != http.StatusCreated {
		t.Fatalf("session %s: %d %v", nick, st, v)
	}
	return v["token"].(string)
}

// TestFilesAcrossNodes: a file uploaded to one node is served by another
// (PostgreSQL holds it; the file token one node signs, another verifies),
// an upload slot from one node is completed on another, and a search on
// one node finds what was uploaded to the other.
func TestFilesAcrossNodes(t *testing.T) {
	c := newCluster(t, 2)
	n0, n1 := c.nodes[0].url, c.nodes[1].url
	alice := session(t, n0, "alice")
	bob := session(t, n1, "bob")

	var b bytes.Buffer
	img := image.NewRGBA(image.Rect(0, 0, 400, 300))
	if _, err := rand.Read(img.Pix); err != nil { // incompressible: the file spans several parts
		t.Fatal(err)
	}
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	pic := b.Bytes()
	st, v, _ := call(t, "POST", n0+"/api/v1/rooms/general/files?name=cluster-map.png&clientId=c1", alice, "image/png", pic)
	if st != http.StatusCreated {
		t.Fatalf("upload on node 0: %d %v", st, v)
	}
	id := v["message"].(map[string]any)["attachment"].(map[string]any)["id"].(string)

	// Node 1 serves it, to its own session…
	st, _, data := call(t, "GET", n1+"/api/v1/files/"+id+"/cluster-map.png", bob, "", nil)
	if st != 200 || !bytes.Equal(data, pic) || len(pic) < 300<<10 {
		t.Fatalf("node 1 serves node 0's file: %d, %d of %d bytes", st, len(data), len(pic))
	}
	// …and with a file token node 0 signed.
	st, v, _ = call(t, "POST", n0+"/api/v1/sessions/current/file-token", alice, "", nil)
	if st != 200 {
		t.Fatalf("file token: %d %v", st, v)
	}
	st, _, data = call(t, "GET", n1+"/api/v1/files/"+id+"?token="+v["token"].(string), "", "", nil)
	if st != 200 || !bytes.Equal(data, pic) {
		t.Fatalf("node 1 with node 0's file token: %d", st)
	}

	// A slot asked of node 1, its bytes sent to node 0.
	notes := []byte("cluster notes: any node serves any file\n")
	st, v, _ = call(t, "POST", n1+"/api/v1/rooms/general/uploads", bob, "application/json",
		[]byte(`{"name":"notes.txt","size":`+itoa(len(notes))+`,"clientId":"b1","text":"cluster notes"}`))
	if st != 200 {
		t.Fatalf("slot on node 1: %d %v", st, v)
	}
	st, v, _ = call(t, "PUT", n0+v["url"].(string), "", "text/plain", notes)
	if st != http.StatusCreated || v["message"].(map[string]any)["from"] != "bob" {
		t.Fatalf("PUT on node 0: %d %v", st, v)
	}

	// Both nodes' histories and searches see both files.
	testutil.Eventually(t, 20*time.Second, func() bool {
		_, v, _ := call(t, "GET", n0+"/api/v1/rooms/general/messages", alice, "", nil)
		msgs, _ := v["messages"].([]any)
		return len(msgs) == 2 && msgs[1].(map[string]any)["attachment"] != nil
	}, "node 0's history has both files")
	st, v, _ = call(t, "GET", n1+"/api/v1/search?text=cluster", bob, "", nil)
	if res, _ := v["results"].([]any); st != 200 || len(res) != 2 {
		t.Fatalf("search on node 1: %d %v", st, v)
	}
	if !strings.Contains(string(mustJSON(v)), "cluster-map.png") {
		t.Fatalf("search on node 1 misses node 0's file: %v", v)
	}
}

func itoa(n int) string { return strings.TrimSpace(string(mustJSON(n))) }

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
