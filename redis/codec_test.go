package redis

import (
	"errors"
	"reflect"
	"testing"

	"github.com/banter-chat/banter/chat"
)

func sampleEvents() []*chat.Event {
	return []*chat.Event{
		{Kind: chat.EventMessage, Room: "lobby", Message: &chat.Message{ID: "7", Room: "lobby", Seq: 3, Sender: "Zoë", Text: "hé \"quoted\"\n", ClientID: "c1", TS: 1700000000000}},
		{Kind: chat.EventPresence, Room: "lobby", Presence: &chat.Presence{Room: "lobby", Nickname: "bob", Action: chat.PresenceRenamed, From: "bobby"}},
		{Kind: chat.EventTyping, Room: "dm:a:b", Typing: &chat.Typing{Room: "dm:a:b", Nicknames: []string{"a"}}},
		{Kind: chat.EventTypingSignal, Room: "lobby", TypingSignal: &chat.TypingSignal{Room: "lobby", Nickname: "al", Active: true}},
		{Kind: chat.EventDeleted, Room: "lobby", Deleted: &chat.Deleted{Room: "lobby", Seq: 3, By: "mod"}},
		{Kind: chat.EventDeleted, Room: "lobby", Deleted: &chat.Deleted{Room: "lobby", Seq: 3, By: "al", Rev: 4}},
		{Kind: chat.EventEdited, Room: "lobby", Message: &chat.Message{ID: "7", Room: "lobby", Seq: 3, Sender: "al", Text: "fixed @bob", TS: 1, Edited: 2, Rev: 5,
			Mentions: []string{"bob"}, ReplyTo: &chat.Quote{ID: "6", Seq: 2, From: "bob", Text: "q"}, Reactions: []chat.Reaction{{Emoji: "👍", Count: 1, Users: []string{"bob"}}}}},
		{Kind: chat.EventReaction, Room: "lobby", Reaction: &chat.ReactionEvent{Room: "lobby", Seq: 3, Rev: 6, Emoji: "👍", Nickname: "bob", Added: true,
			Reactions: []chat.Reaction{{Emoji: "👍", Count: 1, Users: []string{"bob"}}}}},
		{Kind: chat.EventRead, Room: "lobby", Reads: &chat.Reads{Room: "lobby", Readers: []chat.ReadMark{{Room: "lobby", Nickname: "bob", Read: 3, Delivered: 4, TS: 9}}}},
		{Kind: chat.EventUser, User: &chat.UserEvent{User: chat.User{ID: "s1", Nickname: "al", Since: 5}, Status: chat.UserOnline}},
	}
}

func TestCodecRoundTrip(t *testing.T) {
	for _, ev := range sampleEvents() {
		data, err := EncodeEvent("node1", ev)
		if err != nil {
			t.Fatalf("encode %s: %v", ev.Kind, err)
		}
		node, got, err := DecodeEvent(data)
		if err != nil {
			t.Fatalf("decode %s: %v (%s)", ev.Kind, err, data)
		}
		if node != "node1" || got.Kind != ev.Kind || got.Room != ev.Room ||
			!reflect.DeepEqual(got.Message, ev.Message) || !reflect.DeepEqual(got.Presence, ev.Presence) ||
			!reflect.DeepEqual(got.Typing, ev.Typing) || !reflect.DeepEqual(got.User, ev.User) ||
			!reflect.DeepEqual(got.TypingSignal, ev.TypingSignal) || !reflect.DeepEqual(got.Deleted, ev.Deleted) ||
			!reflect.DeepEqual(got.Reaction, ev.Reaction) || !reflect.DeepEqual(got.Reads, ev.Reads) {
			t.Fatalf("round trip of %s: node %q, %+v", ev.Kind, node, got)
		}
	}
}

// TestCodecGolden pins the wire format: other nodes of a cluster may run
// another build during a rolling upgrade.
func TestCodecGolden(t *testing.T) {
	data, err := EncodeEvent("n1", sampleEvents()[0])
	if err != nil {
		t.Fatal(err)
	}
	want := `{"v":1,"n":"n1","k":1,"r":"lobby","m":{"id":"7","room":"lobby","seq":3,"from":"Zoë","text":"hé \"quoted\"\n","clientId":"c1","ts":1700000000000}}`
	if string(data) != want {
		t.Fatalf("encoded\n%s\nwant\n%s", data, want)
	}
}

func TestEncodeRefuses(t *testing.T) {
	for name, ev := range map[string]*chat.Event{
		"nil":             nil,
		"disconnect":      {Kind: chat.EventDisconnect, Disconnect: &chat.Disconnect{Reason: chat.ReasonShutdown}},
		"missing payload": {Kind: chat.EventMessage, Room: "r"},
		"room mismatch":   {Kind: chat.EventMessage, Room: "r", Message: &chat.Message{Room: "other", Seq: 1}},
	} {
		if _, err := EncodeEvent("n", ev); !errors.Is(err, ErrBadEvent) {
			t.Errorf("%s: %v, want ErrBadEvent", name, err)
		}
	}
}

func TestDecodeBadInput(t *testing.T) {
	cases := map[string]string{
		"not json":           `hello`,
		"empty":              ``,
		"other version":      `{"v":2,"n":"n","k":1,"r":"r","m":{"room":"r"}}`,
		"no node":            `{"v":1,"k":1,"r":"r","m":{"room":"r"}}`,
		"unknown kind":       `{"v":1,"n":"n","k":99}`,
		"disconnect":         `{"v":1,"n":"n","k":5}`,
		"no payload":         `{"v":1,"n":"n","k":1,"r":"r"}`,
		"wrong payload":      `{"v":1,"n":"n","k":1,"r":"r","p":{"room":"r"}}`,
		"two payloads":       `{"v":1,"n":"n","k":1,"r":"r","m":{"room":"r"},"p":{"room":"r"}}`,
		"room mismatch":      `{"v":1,"n":"n","k":2,"r":"r","p":{"room":"x"}}`,
		"wrong field type":   `{"v":1,"n":"n","k":1,"r":"r","m":{"room":"r","seq":"one"}}`,
		"user with no user":  `{"v":1,"n":"n","k":4}`,
		"null message":       `{"v":1,"n":"n","k":1,"r":"r","m":null}`,
		"array not object":   `[1,2]`,
		"truncated":          `{"v":1,"n":"n","k":1,"r":"r","m":{"room":"r"`,
		"typing signal room": `{"v":1,"n":"n","k":6,"r":"a","s":{"room":"b"}}`,
	}
	for name, in := range cases {
		if _, _, err := DecodeEvent([]byte(in)); !errors.Is(err, ErrBadEvent) {
			t.Errorf("%s: %v, want ErrBadEvent", name, err)
		}
	}
}

func FuzzDecodeEvent(f *testing.F) {
	for _, ev := range sampleEvents() {
		data, _ := EncodeEvent("n", ev)
		f.Add(data)
	}
	f.Add([]byte(`{"v":1,"n":"n","k":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		node, ev, err := DecodeEvent(data)
		if err != nil {
			if !errors.Is(err, ErrBadEvent) {
				t.Fatalf("error %v does not wrap ErrBadEvent", err)
			}
			return
		}
		// Whatever decodes must encode again and decode to the same.
		again, err := EncodeEvent(node, ev)
		if err != nil {
			t.Fatalf("decoded %+v but cannot encode it: %v", ev, err)
		}
		if _, ev2, err := DecodeEvent(again); err != nil || ev2.Kind != ev.Kind || ev2.Room != ev.Room {
			t.Fatalf("re-decode: %+v, %v", ev2, err)
		}
	})
}
