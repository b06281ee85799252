package engineio

import (
	"encoding/json"
	"testing"
)

// The hand-written OPEN packet is byte for byte what encoding/json writes.
func TestAppendOpenPacketMatchesJSON(t *testing.T) {
	type openPacket struct {
		SID          string   `json:"sid"`
		Upgrades     []string `json:"upgrades"`
		PingInterval int64    `json:"pingInterval"`
		PingTimeout  int64    `json:"pingTimeout"`
		MaxPayload   int      `json:"maxPayload,omitempty"`
	}
	for _, tc := range []struct {
		sid        string
		upgrade    bool
		pi, pt     int64
		maxPayload int
	}{
		{NewID(), true, 25000, 20000, 1000000},
		{NewID(), false, 25000, 20000, 0},
		{"n1." + NewID(), false, 1, 0, 1 << 30},
		{`odd"sid\<&>` + "\x01é", true, 300, 200, 0},
	} {
		op := openPacket{SID: tc.sid, Upgrades: []string{}, PingInterval: tc.pi, PingTimeout: tc.pt, MaxPayload: tc.maxPayload}
		if tc.upgrade {
			op.Upgrades = []string{"websocket"}
		}
		want, err := json.Marshal(op)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendOpenPacket(nil, tc.sid, tc.upgrade, tc.pi, tc.pt, tc.maxPayload); string(got) != string(want) {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	}
}
