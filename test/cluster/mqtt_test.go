package cluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/banter-chat/banter/internal/testutil"
)

// TestMQTTAcrossNodes: MQTT clients connected to different nodes chat in
// one room (mosquitto_sub on node 1, mosquitto_pub on node 2 and 3), and
// see each other in the cluster-wide member list.
func TestMQTTAcrossNodes(t *testing.T) {
	for _, tool := range []string{"mosquitto_sub", "mosquitto_pub"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (scripts/deps.sh installs mosquitto-clients)", tool)
		}
	}
	c := newCluster(t, 3, "--mqtt", "127.0.0.1:0")
	for i, n := range c.nodes {
		if n.mqtt == "" {
			t.Fatalf("node %d logged no MQTT address", i)
		}
	}
	hostPort := func(i int) (string, string) {
		h, p, _ := net.SplitHostPort(c.nodes[i].mqtt)
		return h, p
	}
	ctx, cancel := context.WithTimeout(context.Background(), scenarioTimeout)
	defer cancel()
	h0, p0 := hostPort(0)
	sub := exec.CommandContext(ctx, "mosquitto_sub", "-h", h0, "-p", p0, "-V", "mqttv5",
		"-u", "listener", "-i", "listener-1", "-q", "1", "-t", "banter/rooms/plaza", "-C", "2")
	var out, errOut bytes.Buffer
	sub.Stdout, sub.Stderr = &out, &errOut
	if err := sub.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Process.Kill(); _ = sub.Wait() })

	// The listener is a member of plaza as seen from node 3 (REST reads the
	// cluster-wide list).
	testutil.Eventually(t, 20*time.Second, func() bool {
		return strings.Contains(httpGet(t, c.nodes[2].url+"/api/v1/rooms/plaza/members"), `"listener"`)
	}, "node 3 sees the MQTT listener of node 1 in plaza")

	for i, who := range map[int]string{1: "speaker-b", 2: "speaker-c"} {
		h, p := hostPort(i)
		if o, err := exec.CommandContext(ctx, "mosquitto_pub", "-h", h, "-p", p, "-u", who, "-i", who,
			"-q", "1", "-t", "banter/rooms/plaza", "-m", "hello from "+who).CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_pub on node %d: %v\n%s", i+1, err, o)
		}
	}
	if err := sub.Wait(); err != nil {
		t.Fatalf("mosquitto_sub: %v\n%s", err, errOut.String())
	}
	got := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var m struct {
			From, Text string
			Seq        int64
		}
		if json.Unmarshal([]byte(l), &m) != nil {
			t.Fatalf("mosquitto_sub printed %q", l)
		}
		got[m.From+": "+m.Text] = true
	}
	for _, want := range []string{"speaker-b: hello from speaker-b", "speaker-c: hello from speaker-c"} {
		if !got[want] {
			t.Errorf("the listener on node 1 did not get %q (got %v)", want, got)
		}
	}
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
