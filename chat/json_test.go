package chat_test

import (
	"encoding/json"
	"testing"

	"github.com/banter-chat/banter/chat"
)

// The JSON shapes of the payloads are those of docs/protocol.md; gateways
// may marshal these types directly.
func TestPayloadJSON(t *testing.T) {
	for _, c := range []struct {
		v    any
		want string
	}{
		{chat.Message{ID: "7", Room: "general", Seq: 3, Sender: "Alice", Text: "hi", ClientID: "c1", TS: 1764108000000, Duplicate: true},
			`{"id":"7","room":"general","seq":3,"from":"Alice","text":"hi","clientId":"c1","ts":1764108000000}`},
		{chat.Message{ID: "8", Room: "r", Seq: 1, Sender: "b", Text: "x", TS: 1},
			`{"id":"8","room":"r","seq":1,"from":"b","text":"x","ts":1}`},
		{chat.Presence{Room: "r", Nickname: "Alicia", Action: chat.PresenceRenamed, From: "alice"},
			`{"room":"r","nickname":"Alicia","action":"renamed","from":"alice"}`},
		{chat.Presence{Room: "r", Nickname: "bob", Action: chat.PresenceJoined},
			`{"room":"r","nickname":"bob","action":"joined"}`},
		{chat.Typing{Room: "r", Nicknames: []string{}}, `{"room":"r","nicknames":[]}`},
		{chat.UserEvent{User: chat.User{ID: "a1", Nickname: "bob", Since: 5}, Status: chat.UserOffline},
			`{"id":"a1","nickname":"bob","since":5,"status":"offline"}`},
		{chat.RoomInfo{Name: "general", LastSeq: 57, Count: 57, LastTS: 9},
			`{"room":"general","lastSeq":57,"count":57,"lastTs":9}`},
		{chat.JoinResult{Room: "r", Members: []string{"a"}, MemberCount: 1, LastSeq: 0, Messages: []chat.Message{}},
			`{"room":"r","members":["a"],"memberCount":1,"lastSeq":0,"messages":[],"more":false}`},
		{chat.JoinResult{Room: "r", Members: []string{"a"}, MemberCount: 500, MoreMembers: true, LastSeq: 3, Messages: []chat.Message{}},
			`{"room":"r","members":["a"],"memberCount":500,"moreMembers":true,"lastSeq":3,"messages":[],"more":false}`},
		{chat.Members{Room: "r", Count: 500, Large: true}, `{"room":"r","count":500,"large":true}`},
		{chat.Members{Room: "r", Count: 2, Nicknames: []string{"a", "b"}}, `{"room":"r","count":2,"large":false,"nicknames":["a","b"]}`},
		{chat.Limits{MaxMessageBytes: 4096, PageLimit: 50, MaxPageLimit: 200, TypingTTLMillis: 5000, RateBurst: 20, RatePerSecond: 5, MaxRooms: 100},
			`{"maxMessageBytes":4096,"pageLimit":50,"maxPageLimit":200,"typingTtlMs":5000,"rateBurst":20,"ratePerSecond":5,"maxRooms":100}`},
	} {
		got, err := json.Marshal(c.v)
		if err != nil || string(got) != c.want {
			t.Errorf("json of %T = %s, %v\nwant %s", c.v, got, err, c.want)
		}
	}
}
