package xmpp_test

import (
	"testing"
)

// TestSlixmppScenarios runs the slixmpp scenarios against prosody and
// against Banter and compares what the clients observed.
func TestSlixmppScenarios(t *testing.T) {
	prosody := startProsody(t)
	banter := startBanter(t)
	for _, sc := range []struct {
		name  string
		users []string
	}{
		{"chat", []string{"alice", "bob"}},
		{"carbons", []string{"alice", "bob"}},
		{"resume", []string{"carol", "dave"}},
	} {
		t.Run(sc.name, func(t *testing.T) {
			want, err := scenario(t, prosody, sc.name, sc.users...)
			if err != nil {
				t.Fatalf("prosody: %v\n%s", err, want)
			}
			got, err := scenario(t, banter, sc.name, sc.users...)
			if err != nil {
				t.Fatalf("banter: %v\n%s", err, got)
			}
			if got != want {
				t.Errorf("the transcripts differ\n--- prosody:\n%s--- banter:\n%s", want, got)
			}
			t.Logf("transcript:\n%s", got)
		})
	}
}
