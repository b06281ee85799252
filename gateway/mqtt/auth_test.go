package mqttgw_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/banter-chat/banter/chat"
	mqttgw "github.com/banter-chat/banter/gateway/mqtt"
)

// tokens is a test chat.Authenticator: a token is a key of the map.
type tokens map[string]*chat.Identity

func (t tokens) Authenticate(_ context.Context, tok string) (*chat.Identity, error) {
	if id, ok := t[tok]; ok {
		return id, nil
	}
	if tok == "expired" {
		return nil, chat.ErrTokenExpired
	}
	return nil, chat.Errorf(chat.CodeTokenInvalid, "token signature is invalid")
}

var testTokens = tokens{
	"alice": {Subject: "u-alice", Nickname: "alice", Rooms: []string{"general", "team-*"}, Post: []string{"team-*"}},
	"mod":   {Subject: "u-mod", Nickname: "mod", Admin: true},
}

func ptr(s string) *string { return &s }

// TestTokenConnack: the password is the token; refusals carry the exact
// CONNACK codes (3.1.1: 4 bad user name or password, 5 not authorized;
// MQTT 5: 0x86 with the reason, 0x87).
func TestTokenConnack(t *testing.T) {
	e := startWith(t, chat.Config{Authenticator: testTokens, RequireIdentity: true}, mqttgw.Config{})
	for _, v := range []byte{4, 5} {
		for _, c := range []struct {
			name, user, password string
			v4, v5               byte
			reason               string
		}{
			{"valid, no username", "", "alice", 0, 0, ""},
			{"valid, the nickname as username", "alice", "alice", 0, 0, ""},
			{"valid, the subject as username", "u-alice", "alice", 0, 0, ""},
			{"expired", "alice", "expired", 4, 0x86, "token expired"},
			{"forged", "alice", "forged", 4, 0x86, "token signature is invalid"},
			{"missing", "alice", "", 4, 0x86, "authentication required"},
			{"another user's name", "bob", "alice", 5, 0x87, "not the token's user"},
		} {
			if v == 4 && c.user == "" {
				continue // 3.1.1: a password needs a username
			}
			cl, ack := dial(t, e.addr, connectOpts{id: "c-" + c.name, user: c.user, v: v, password: ptr(c.password)})
			want := c.v4
			if v == 5 {
				want = c.v5
			}
			if ack.ReasonCode != want {
				t.Errorf("v%d %s: CONNACK %#x, want %#x", v, c.name, ack.ReasonCode, want)
			}
			if v == 5 && c.reason != "" && !strings.Contains(ack.Properties.ReasonString, c.reason) {
				t.Errorf("v%d %s: reason %q, want %q", v, c.name, ack.Properties.ReasonString, c.reason)
			}
			if want != 0 {
				cl.ended()
				continue
			}
			if _, ok := e.svc.Lookup("alice"); !ok {
				t.Errorf("v%d %s: alice is not online", v, c.name)
			}
			cl.nc.Close()
		}
	}
}

// TestTokenRightsAndKick: the token's rooms are the ACL; an admin's kick
// disconnects an MQTT 5 client with 0x98.
func TestTokenRightsAndKick(t *testing.T) {
	e := startWith(t, chat.Config{Authenticator: testTokens}, mqttgw.Config{})
	cl, ack := dial(t, e.addr, connectOpts{id: "a", v: 5, password: ptr("alice")})
	if ack.ReasonCode != 0 {
		t.Fatalf("CONNACK %#x", ack.ReasonCode)
	}
	if codes := cl.subscribe(1, "banter/rooms/general", "banter/rooms/random"); codes[0] > 2 || codes[1] != packets.ErrNotAuthorized.Code {
		t.Fatalf("SUBACK %v: want general granted, random not authorized", codes)
	}
	if pk := cl.publish(1, "banter/rooms/general", "read only"); pk.ReasonCode != packets.ErrNotAuthorized.Code {
		t.Fatalf("publish to a read-only room: PUBACK %#x", pk.ReasonCode)
	}
	if pk := cl.publish(1, "banter/rooms/team-a", "hi team"); pk.ReasonCode != 0 {
		t.Fatalf("publish to team-a: PUBACK %#x", pk.ReasonCode)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	mod, err := e.svc.Connect(ctx, chat.ConnectParams{Identity: testTokens["mod"], Sink: chat.SinkFunc(func(*chat.Event) {})})
	if err != nil {
		t.Fatal(err)
	}
	if err := mod.Kick(ctx, "alice", "spam"); err != nil {
		t.Fatal(err)
	}
	if pk := cl.expect(packets.Disconnect); pk.ReasonCode != packets.ErrAdministrativeAction.Code {
		t.Fatalf("DISCONNECT %#x, want 0x98", pk.ReasonCode)
	}
	cl.ended()
}
