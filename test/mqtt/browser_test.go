package mqtt_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/banter-chat/banter/internal/testutil"
)

// TestBrowserPageAndMQTT: the web chat page in headless Chromium and MQTT
// clients (mosquitto_pub, mosquitto_sub) talk live in one room: the page
// shows what mosquitto_pub publishes while it is open, and mosquitto_sub
// receives what is typed into the page.
func TestBrowserPageAndMQTT(t *testing.T) {
	requireTool(t, "mosquitto_sub")
	requireTool(t, "mosquitto_pub")
	testutil.RequireNode(t)
	a, url, port := startApp(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	sub := startSub(t, ctx, a, port, "phone", "general", "-V", "mqttv311", "-q", "1", "-t", "banter/rooms/general", "-C", "2")

	// Once the page's user is in the room, an MQTT app publishes.
	published := make(chan error, 1)
	go func() {
		for ctx.Err() == nil {
			if m, _ := a.Service().Members("general"); slices.Contains(m, "Browser") {
				out, err := exec.CommandContext(ctx, "mosquitto_pub", "-h", "127.0.0.1", "-p", port, "-u", "sensor", "-i", "sensor-1",
					"-q", "1", "-t", "banter/rooms/general", "-m", "hello from mosquitto_pub").CombinedOutput()
				if err != nil {
					err = fmt.Errorf("%w: %s", err, out)
				}
				published <- err
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		published <- ctx.Err()
	}()

	testutil.RunBrowserSteps(t, url, testutil.BrowserScenario{Pages: 1, TimeoutMS: 60000, Steps: []testutil.BrowserStep{
		{Page: 0, Action: "waitSelector", Selector: "#nickname"},
		{Page: 0, Action: "fill", Selector: "#nickname", Value: "Browser"},
		{Page: 0, Action: "press", Selector: "#nickname", Value: "Enter"},
		{Page: 0, Action: "waitText", Selector: "#room-title", Value: "#general"},
		{Page: 0, Action: "waitText", Selector: "#messages", Value: "hello from mosquitto_pub", TimeoutMS: 30000},
		{Page: 0, Action: "fill", Selector: "#text", Value: "hello from the browser"},
		{Page: 0, Action: "press", Selector: "#text", Value: "Enter"},
		{Page: 0, Action: "eval", Value: "document.querySelectorAll('#messages li.mine').length", Expect: 1},
	}})
	if err := <-published; err != nil {
		t.Fatalf("mosquitto_pub: %v", err)
	}
	var got []string
	for _, l := range sub.wait(t) {
		var m struct{ Text, From string }
		if json.Unmarshal([]byte(l), &m) != nil {
			t.Fatalf("mosquitto_sub printed %q", l)
		}
		got = append(got, m.From+": "+m.Text)
	}
	want := []string{"sensor: hello from mosquitto_pub", "Browser: hello from the browser"}
	if !slices.Equal(got, want) {
		t.Fatalf("mosquitto_sub got %q, want %q", got, want)
	}
}

// TestQoS2: mosquitto_pub at QoS 2 (PUBREC only once stored, then
// PUBREL/PUBCOMP) and mosquitto_sub at QoS 2 (served at QoS 1, as
// docs/protocol.md says): delivered and stored exactly once.
func TestQoS2(t *testing.T) {
	requireTool(t, "mosquitto_sub")
	requireTool(t, "mosquitto_pub")
	a, _, port := startApp(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	sub := startSub(t, ctx, a, port, "q2sub", "q2", "-V", "mqttv5", "-q", "2", "-t", "banter/rooms/q2", "-C", "1", "-F", "%q %p")
	for _, v := range []string{"mqttv311", "mqttv5"} {
		if out, err := exec.CommandContext(ctx, "mosquitto_pub", "-h", "127.0.0.1", "-p", port, "-V", v, "-u", "q2pub", "-i", "q2pub-"+v,
			"-q", "2", "-t", "banter/rooms/q2", "-m", `{"text":"exactly once","clientId":"q2-1"}`).CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_pub -q 2 (%s): %v\n%s", v, err, out)
		}
	}
	qos, payload, _ := strings.Cut(sub.wait(t)[0], " ")
	var m struct {
		Text string
		Seq  int64
	}
	if qos != "1" || json.Unmarshal([]byte(payload), &m) != nil || m.Text != "exactly once" || m.Seq != 1 {
		t.Fatalf("mosquitto_sub -q 2 got %q %q", qos, payload)
	}
	msgs, err := a.Service().Rooms(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range msgs {
		if r.Name == "q2" && r.LastSeq != 1 {
			t.Fatalf("room q2 holds %d messages after two QoS 2 publishes with one client id, want 1", r.LastSeq)
		}
	}
}
