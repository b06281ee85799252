package mqttgw_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/banter-chat/banter/chat"
	mqttgw "github.com/banter-chat/banter/gateway/mqtt"
	"github.com/banter-chat/banter/internal/testutil"
	"github.com/mochi-mqtt/server/v2/packets"
)

func isMessage(text string) func(*chat.Event) bool {
	return func(ev *chat.Event) bool { return ev.Kind == chat.EventMessage && ev.Message.Text == text }
}

func TestRoomMessagesBothWays(t *testing.T) {
	for _, v := range []byte{4, 5} {
		t.Run(map[byte]string{4: "3.1.1", 5: "5"}[v], func(t *testing.T) {
			e := start(t, mqttgw.Config{})
			bob := e.chatUser("bob", "general")
			alice, ack := dial(t, e.addr, connectOpts{id: "a1", user: "alice", clean: true, v: v})
			if ack.ReasonCode != 0 {
				t.Fatalf("CONNACK %#x", ack.ReasonCode)
			}
			if codes := alice.subscribe(1, "banter/rooms/general"); codes[0] != 1 {
				t.Fatalf("SUBACK %v", codes)
			}
			bob.next("alice joined", func(ev *chat.Event) bool {
				return ev.Kind == chat.EventPresence && ev.Presence.Nickname == "alice" && ev.Presence.Action == chat.PresenceJoined
			})

			// From another gateway to MQTT.
			sent := bob.send("general", "hi alice")
			got := alice.message("banter/rooms/general")
			if got.Text != "hi alice" || got.Sender != "bob" || got.Seq != sent.Seq || got.ID != sent.ID {
				t.Fatalf("got %+v, want %+v", got, sent)
			}

			// From MQTT: the PUBACK comes once the store has the message.
			puback := alice.publish(1, "banter/rooms/general", `{"text":"hi bob","clientId":"c1"}`)
			if puback.ReasonCode != 0 {
				t.Fatalf("PUBACK %#x", puback.ReasonCode)
			}
			msgs, err := e.store.Since(context.Background(), "general", sent.Seq, 10)
			if err != nil || len(msgs) != 1 || msgs[0].Text != "hi bob" || msgs[0].Sender != "alice" || msgs[0].ClientID != "c1" {
				t.Fatalf("stored at PUBACK: %+v %v", msgs, err)
			}
			bob.next("alice's message", isMessage("hi bob"))
			if echo := alice.message("banter/rooms/general"); echo.Text != "hi bob" {
				t.Fatalf("echo %+v", echo)
			}
			// A plain-text payload is the text; QoS 0 works too.
			alice.publish(0, "banter/rooms/general", "plain text")
			bob.next("plain text", isMessage("plain text"))
			alice.message("banter/rooms/general")
		})
	}
}

func TestPublishWithoutSubscribingJoins(t *testing.T) {
	e := start(t, mqttgw.Config{})
	bob := e.chatUser("bob", "news")
	alice, _ := dial(t, e.addr, connectOpts{id: "a1", user: "alice", clean: true})
	alice.publish(1, "banter/rooms/news", "one-shot")
	bob.next("one-shot", isMessage("one-shot"))
	alice.quiet() // joined for publishing, but not subscribed: nothing delivered
}

func TestUnauthorisedPublishAndSubscribe(t *testing.T) {
	e := start(t, mqttgw.Config{})
	dm, _ := chat.DMRoom("bob", "carol")

	// MQTT 5: refused in the PUBACK and SUBACK with a reason.
	alice, _ := dial(t, e.addr, connectOpts{id: "a5", user: "alice", clean: true, v: 5})
	if codes := alice.subscribe(1, "banter/rooms/"+dm, "banter/errors"); codes[0] != packets.ErrNotAuthorized.Code || codes[1] != 1 {
		t.Fatalf("SUBACK %v", codes)
	}
	if ack := alice.publish(1, "banter/rooms/"+dm, "let me in"); ack.ReasonCode != packets.ErrNotAuthorized.Code {
		t.Fatalf("PUBACK %#x", ack.ReasonCode)
	}
	alice.publishOn("banter/errors")
	ack := alice.publish(1, "banter/rooms/general", `{"text":"as bob","from":"bob"}`)
	if ack.ReasonCode != packets.ErrNotAuthorized.Code || !strings.Contains(ack.Properties.ReasonString, "forbidden") {
		t.Fatalf("PUBACK %#x %q", ack.ReasonCode, ack.Properties.ReasonString)
	}
	if ack := alice.publish(1, "banter/rooms/General", "x"); ack.ReasonCode != packets.ErrNotAuthorized.Code {
		t.Fatalf("non-canonical room: PUBACK %#x", ack.ReasonCode)
	}
	if ack := alice.publish(1, "elsewhere", "x"); ack.ReasonCode != packets.ErrNotAuthorized.Code {
		t.Fatalf("foreign topic: PUBACK %#x", ack.ReasonCode)
	}
	if ack := alice.publish(1, "banter/rooms/general", ""); ack.ReasonCode != packets.ErrPayloadFormatInvalid.Code {
		t.Fatalf("empty message: PUBACK %#x", ack.ReasonCode)
	}
	if n, _ := e.store.LastSeq(context.Background(), dm); n != 0 {
		t.Fatalf("%d messages in %s", n, dm)
	}
	if n, _ := e.store.LastSeq(context.Background(), "general"); n != 0 {
		t.Fatalf("%d messages in general", n)
	}

	// MQTT 3.1.1 cannot refuse a PUBACK: the connection is closed.
	mallory, _ := dial(t, e.addr, connectOpts{id: "m3", user: "mallory", clean: true})
	if codes := mallory.subscribe(1, "banter/rooms/"+dm); codes[0] != packets.ErrUnspecifiedError.Code {
		t.Fatalf("SUBACK %v", codes)
	}
	mallory.write(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}, PacketID: 9, TopicName: "banter/rooms/" + dm, Payload: []byte("x")})
	mallory.ended()
	if n, _ := e.store.LastSeq(context.Background(), dm); n != 0 {
		t.Fatalf("%d messages in %s", n, dm)
	}
}

func TestChatErrorsOnMQTT311GoToErrorsTopic(t *testing.T) {
	e := start(t, mqttgw.Config{})
	alice, _ := dial(t, e.addr, connectOpts{id: "a", user: "alice", clean: true})
	alice.subscribe(1, "banter/errors")
	if ack := alice.publish(1, "banter/rooms/general", `{"text":" ","clientId":"k1"}`); ack.ReasonCode != 0 {
		t.Fatalf("PUBACK %#x", ack.ReasonCode)
	}
	var got struct{ Topic, ClientID, Code string }
	_ = json.Unmarshal(alice.publishOn("banter/errors").Payload, &got)
	if got.Topic != "banter/rooms/general" || got.Code != "empty_message" {
		t.Fatalf("error %+v", got)
	}
	alice.publish(0, "banter/rooms/general", `{"text":`)
	_ = json.Unmarshal(alice.publishOn("banter/errors").Payload, &got)
	if got.Code != "invalid_argument" {
		t.Fatalf("error %+v", got)
	}
}

func TestClientIDBelongsToItsUser(t *testing.T) {
	e := start(t, mqttgw.Config{})
	alice, _ := dial(t, e.addr, connectOpts{id: "phone", user: "alice"})
	alice.write(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}})
	alice.ended()
	_, ack := dial(t, e.addr, connectOpts{id: "phone", user: "mallory"})
	if ack.ReasonCode == 0 {
		t.Fatal("mallory took alice's client id")
	}
	_, ack = dial(t, e.addr, connectOpts{id: "x", user: ""})
	if ack.ReasonCode == 0 {
		t.Fatal("no username accepted")
	}
	// The nickname is taken while another gateway holds it.
	e.chatUser("bob")
	_, ack = dial(t, e.addr, connectOpts{id: "y", user: "BOB", clean: true})
	if ack.ReasonCode == 0 {
		t.Fatal("taken nickname accepted")
	}
}

func TestPresenceAndTypingTopics(t *testing.T) {
	e := start(t, mqttgw.Config{})
	alice, _ := dial(t, e.addr, connectOpts{id: "a", user: "alice", clean: true})
	alice.subscribe(0, "banter/rooms/general/presence", "banter/rooms/general/typing")
	var p chat.Presence
	_ = json.Unmarshal(alice.publishOn("banter/rooms/general/presence").Payload, &p)
	if p.Nickname != "alice" || p.Action != chat.PresenceJoined {
		t.Fatalf("own join %+v", p)
	}
	bob := e.chatUser("bob", "general")
	_ = json.Unmarshal(alice.publishOn("banter/rooms/general/presence").Payload, &p)
	if p.Nickname != "bob" || p.Action != chat.PresenceJoined {
		t.Fatalf("bob's join %+v", p)
	}
	if err := bob.sess.Typing(context.Background(), "general", true); err != nil {
		t.Fatal(err)
	}
	var ty chat.Typing
	_ = json.Unmarshal(alice.publishOn("banter/rooms/general/typing").Payload, &ty)
	if len(ty.Nicknames) != 1 || ty.Nicknames[0] != "bob" {
		t.Fatalf("typing %+v", ty)
	}
	alice.publish(0, "banter/rooms/general/typing", `{"active":true}`)
	bob.next("alice typing", func(ev *chat.Event) bool {
		return ev.Kind == chat.EventTyping && len(ev.Typing.Nicknames) == 2
	})
	bob.send("general", "not delivered: alice only watches presence and typing")
	bob.sess.Disconnect("test")
	for {
		pk := alice.expect(packets.Publish)
		if pk.TopicName == "banter/rooms/general/presence" {
			_ = json.Unmarshal(pk.Payload, &p)
			if p.Nickname == "bob" && p.Action == chat.PresenceLeft {
				break
			}
		} else if pk.TopicName != "banter/rooms/general/typing" {
			t.Fatalf("unexpected %q", pk.TopicName)
		}
	}
	// Presence is subscribe-only: refused (MQTT 3.1.1: by closing).
	alice.write(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}, PacketID: 99,
		TopicName: "banter/rooms/general/presence", Payload: []byte("x")})
	alice.ended()
}

func TestKeepaliveExpiryClearsPresence(t *testing.T) {
	e := start(t, mqttgw.Config{})
	bob := e.chatUser("bob", "general")
	alice, _ := dial(t, e.addr, connectOpts{id: "a", user: "alice", clean: true, keepalive: 1})
	alice.subscribe(1, "banter/rooms/general")
	bob.next("alice joined", func(ev *chat.Event) bool {
		return ev.Kind == chat.EventPresence && ev.Presence.Nickname == "alice" && ev.Presence.Action == chat.PresenceJoined
	})
	// alice sends nothing more (no PINGREQ): after 1.5 keepalives the
	// server gives up on her.
	bob.next("alice left", func(ev *chat.Event) bool {
		return ev.Kind == chat.EventPresence && ev.Presence.Nickname == "alice" && ev.Presence.Action == chat.PresenceLeft
	})
	if _, online := e.svc.Lookup("alice"); online {
		t.Fatal("alice still online")
	}
	alice.ended()
}

func TestLastWillIsPublishedAsTheClient(t *testing.T) {
	e := start(t, mqttgw.Config{})
	bob := e.chatUser("bob", "general")
	alice, _ := dial(t, e.addr, connectOpts{id: "a", user: "alice", clean: true,
		willTopic: "banter/rooms/general", will: []byte(`{"text":"alice lost her connection"}`)})
	alice.subscribe(1, "banter/rooms/general")
	alice.nc.Close() // no DISCONNECT: the will is due
	ev := bob.next("the will", isMessage("alice lost her connection"))
	if ev.Message.Sender != "alice" {
		t.Fatalf("will sent by %q", ev.Message.Sender)
	}
	bob.next("alice left", func(ev *chat.Event) bool {
		return ev.Kind == chat.EventPresence && ev.Presence.Nickname == "alice" && ev.Presence.Action == chat.PresenceLeft
	})

	// A clean DISCONNECT discards the will.
	carol, _ := dial(t, e.addr, connectOpts{id: "c", user: "carol", clean: true,
		willTopic: "banter/rooms/general", will: []byte("carol vanished")})
	carol.subscribe(1, "banter/rooms/general")
	carol.write(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}})
	carol.ended()
	bob.next("carol left", func(ev *chat.Event) bool {
		return ev.Kind == chat.EventPresence && ev.Presence.Nickname == "carol" && ev.Presence.Action == chat.PresenceLeft
	})
	if n, _ := e.store.LastSeq(context.Background(), "general"); n != 1 {
		t.Fatalf("%d messages, want only alice's will", n)
	}
}

// TestPersistentSessionCatchUp: QoS 1 delivery survives a reconnect. The
// message written but not acknowledged is resent (DUP) and the ones sent
// while the client was away come from the store, in order, once.
func TestPersistentSessionCatchUp(t *testing.T) {
	for _, v := range []byte{4, 5} {
		t.Run(map[byte]string{4: "3.1.1", 5: "5"}[v], func(t *testing.T) {
			e := start(t, mqttgw.Config{})
			bob := e.chatUser("bob", "general")
			opts := connectOpts{id: "alice-phone", user: "alice", v: v, noAutoAck: true}
			if v == 5 {
				opts.clean = true // clean start; the session expiry below keeps it
			}
			alice, _ := dialPersistent(t, e.addr, opts)
			alice.subscribe(1, "banter/rooms/general")
			bob.send("general", "m1")
			m1 := alice.expect(packets.Publish)
			if m1.FixedHeader.Qos != 1 {
				t.Fatalf("QoS %d", m1.FixedHeader.Qos)
			}
			// Not acknowledged; the connection drops.
			alice.nc.Close()
			bob.next("alice left", func(ev *chat.Event) bool {
				return ev.Kind == chat.EventPresence && ev.Presence.Nickname == "alice" && ev.Presence.Action == chat.PresenceLeft
			})
			bob.send("general", "m2")
			bob.send("general", "m3")

			opts.clean, opts.noAutoAck = false, false
			again, ack := dialPersistent(t, e.addr, opts)
			if !ack.SessionPresent {
				t.Fatal("session not present")
			}
			dup := again.expect(packets.Publish)
			if !dup.FixedHeader.Dup || string(dup.Payload) != string(m1.Payload) {
				t.Fatalf("resent %s dup=%v", dup.Payload, dup.FixedHeader.Dup)
			}
			for _, want := range []string{"m2", "m3"} {
				if m := again.message("banter/rooms/general"); m.Text != want {
					t.Fatalf("got %q, want %q", m.Text, want)
				}
			}
			bob.send("general", "m4") // live again
			if m := again.message("banter/rooms/general"); m.Text != "m4" {
				t.Fatalf("got %q", m.Text)
			}
			again.quiet()
		})
	}
}

// dialPersistent connects with a session that outlives the connection
// (clean_session=false, or an MQTT 5 session expiry).
func dialPersistent(t *testing.T, addr string, o connectOpts) (*client, packets.Packet) {
	if o.v != 5 {
		o.clean = false
		return dial(t, addr, o)
	}
	return dialWithProps(t, addr, o, func(p *packets.Properties) {
		p.SessionExpiryInterval, p.SessionExpiryIntervalFlag = 3600, true
	})
}

func TestTakeoverKeepsUserOnline(t *testing.T) {
	e := start(t, mqttgw.Config{})
	bob := e.chatUser("bob", "general")
	first, _ := dial(t, e.addr, connectOpts{id: "alice-phone", user: "alice"})
	first.subscribe(1, "banter/rooms/general")
	bob.next("alice joined", func(ev *chat.Event) bool {
		return ev.Kind == chat.EventPresence && ev.Presence.Nickname == "alice"
	})
	// The phone reconnects before the server noticed the old connection
	// died: the new one takes over, alice never goes offline.
	second, ack := dial(t, e.addr, connectOpts{id: "alice-phone", user: "alice"})
	if ack.ReasonCode != 0 || !ack.SessionPresent {
		t.Fatalf("CONNACK %#x present=%v", ack.ReasonCode, ack.SessionPresent)
	}
	first.ended()
	bob.send("general", "still there?")
	if m := second.message("banter/rooms/general"); m.Text != "still there?" {
		t.Fatalf("got %q", m.Text)
	}
	if _, online := e.svc.Lookup("alice"); !online {
		t.Fatal("alice offline")
	}
}

func TestHistoryRequestResponse(t *testing.T) {
	e := start(t, mqttgw.Config{})
	bob := e.chatUser("bob", "general")
	for _, s := range []string{"one", "two", "three"} {
		bob.send("general", s)
	}
	type resp struct {
		ID       json.RawMessage
		Room     string
		Messages []chat.Message
		More     bool
		Error    *struct{ Code string }
	}

	// MQTT 3.1.1: banter/history both ways, the request id echoed.
	a3, _ := dial(t, e.addr, connectOpts{id: "a3", user: "alice", clean: true})
	a3.subscribe(1, "banter/history")
	a3.publish(1, "banter/history", `{"id":7,"room":"general","limit":2}`)
	var r resp
	_ = json.Unmarshal(a3.publishOn("banter/history").Payload, &r)
	if string(r.ID) != "7" || len(r.Messages) != 2 || r.Messages[0].Text != "two" || !r.More {
		t.Fatalf("latest page %+v", r)
	}
	a3.publish(1, "banter/history", `{"room":"general","after":1}`)
	r = resp{}
	_ = json.Unmarshal(a3.publishOn("banter/history").Payload, &r)
	if len(r.Messages) != 2 || r.Messages[0].Seq != 2 || r.More {
		t.Fatalf("since page %+v", r)
	}
	dm, _ := chat.DMRoom("bob", "carol")
	a3.publish(1, "banter/history", `{"room":"`+dm+`"}`)
	r = resp{}
	_ = json.Unmarshal(a3.publishOn("banter/history").Payload, &r)
	if r.Error == nil || r.Error.Code != "forbidden" {
		t.Fatalf("DM of others: %+v", r)
	}

	// MQTT 5: the response topic and correlation data of the request.
	b5, _ := dial(t, e.addr, connectOpts{id: "c5", user: "carol", clean: true, v: 5})
	b5.subscribe(1, "banter/replies/c5")
	b5.publish(1, "banter/history", `{"room":"general","before":3}`, func(p *packets.Properties) {
		p.ResponseTopic, p.CorrelationData = "banter/replies/c5", []byte("req-1")
	})
	pk := b5.publishOn("banter/replies/c5")
	r = resp{}
	_ = json.Unmarshal(pk.Payload, &r)
	if string(pk.Properties.CorrelationData) != "req-1" || len(r.Messages) != 2 || r.Messages[1].Text != "two" || r.More {
		t.Fatalf("response %+v corr %q", r, pk.Properties.CorrelationData)
	}
}

func TestDirectMessages(t *testing.T) {
	e := start(t, mqttgw.Config{})
	alice, _ := dial(t, e.addr, connectOpts{id: "a", user: "alice", clean: true})
	alice.subscribe(1, "banter/dm")
	bob := e.chatUser("bob")
	if _, err := bob.sess.DirectMessage(context.Background(), "alice", "psst", ""); err != nil {
		t.Fatal(err)
	}
	m := alice.message("banter/dm")
	if m.Text != "psst" || m.Sender != "bob" || m.Room != "dm:alice:bob" {
		t.Fatalf("DM %+v", m)
	}
	alice.publish(1, "banter/dm", `{"to":"Bob","text":"hello bob"}`)
	bob.next("alice's DM", isMessage("hello bob"))
	if m := alice.message("banter/dm"); m.Text != "hello bob" {
		t.Fatalf("echo %+v", m)
	}
}

func TestCloseDisconnectsMQTT5WithReason(t *testing.T) {
	e := start(t, mqttgw.Config{})
	alice, _ := dial(t, e.addr, connectOpts{id: "a", user: "alice", clean: true, v: 5})
	alice.subscribe(1, "banter/rooms/general")
	_ = e.svc.Close()
	pk := alice.expect(packets.Disconnect)
	if pk.ReasonCode != packets.ErrServerShuttingDown.Code {
		t.Fatalf("DISCONNECT %#x", pk.ReasonCode)
	}
	alice.ended()
}

func TestSlowConsumerIsDisconnected(t *testing.T) {
	e := start(t, mqttgw.Config{MaxInflight: 3})
	bob := e.chatUser("bob", "general")
	alice, _ := dial(t, e.addr, connectOpts{id: "a", user: "alice", clean: true, noAutoAck: true})
	alice.subscribe(1, "banter/rooms/general")
	if st := e.gw.Stats(); st.TCP != 1 || st.WebSocket != 0 || st.AcceptedTCP != 1 || st.SlowConsumers != 0 {
		t.Fatalf("Stats with alice connected: %+v", st)
	}
	for i := range 5 {
		bob.send("general", strings.Repeat("x", i+1))
	}
	alice.ended() // never acknowledged: past MaxInflight it is cut off
	bob.next("alice left", func(ev *chat.Event) bool {
		return ev.Kind == chat.EventPresence && ev.Presence.Nickname == "alice" && ev.Presence.Action == chat.PresenceLeft
	})
	if st := e.gw.Stats(); st.TCP != 0 || st.AcceptedTCP != 1 || st.Ended != 1 || st.SlowConsumers != 1 {
		t.Fatalf("Stats after the slow consumer was cut off: %+v", st)
	}
}

// TestResubscribeAfterReconnectWithUnackedMessage: the first SUBSCRIBE of
// a new connection (packet id 1) must not be refused because the server's
// unacknowledged message to the previous connection also has id 1 (mochi
// keeps both directions' ids in one map).
func TestResubscribeAfterReconnectWithUnackedMessage(t *testing.T) {
	e := start(t, mqttgw.Config{})
	bob := e.chatUser("bob", "general")
	opts := connectOpts{id: "phone", user: "alice", noAutoAck: true}
	first, _ := dial(t, e.addr, opts)
	first.subscribe(1, "banter/rooms/general")
	bob.send("general", "m1")
	if m := first.message("banter/rooms/general"); m.Text != "m1" {
		t.Fatalf("got %q", m.Text)
	}
	first.nc.Close()
	again, ack := dial(t, e.addr, opts)
	if !ack.SessionPresent {
		t.Fatal("session not present")
	}
	if dup := again.expect(packets.Publish); !dup.FixedHeader.Dup || dup.PacketID != 1 {
		t.Fatalf("resend dup=%v id=%d", dup.FixedHeader.Dup, dup.PacketID)
	}
	if codes := again.subscribe(1, "banter/rooms/general"); codes[0] != 1 {
		t.Fatalf("SUBACK %v", codes)
	}
	bob.send("general", "m2")
	if m := again.message("banter/rooms/general"); m.Text != "m2" {
		t.Fatalf("got %q", m.Text)
	}
}

// TestTakeoverTellsMQTT5: the connection a reconnect of the same client id
// takes over is told so (MQTT 5 DISCONNECT 0x8E) and its will is not
// performed: the user never went away.
func TestTakeoverTellsMQTT5(t *testing.T) {
	e := start(t, mqttgw.Config{})
	bob := e.chatUser("bob", "general")
	first, _ := dialPersistent(t, e.addr, connectOpts{id: "alice-5", user: "alice", v: 5,
		willTopic: "banter/rooms/general", will: []byte("alice vanished")})
	first.subscribe(1, "banter/rooms/general")
	second, ack := dialPersistent(t, e.addr, connectOpts{id: "alice-5", user: "alice", v: 5})
	if ack.ReasonCode != 0 || !ack.SessionPresent {
		t.Fatalf("CONNACK %#x present=%v", ack.ReasonCode, ack.SessionPresent)
	}
	if pk := first.expect(packets.Disconnect); pk.ReasonCode != packets.ErrSessionTakenOver.Code {
		t.Fatalf("DISCONNECT %#x, want 0x8E", pk.ReasonCode)
	}
	first.ended()
	bob.send("general", "after the takeover")
	if m := second.message("banter/rooms/general"); m.Text != "after the takeover" {
		t.Fatalf("got %q", m.Text)
	}
	if n, _ := e.store.LastSeq(context.Background(), "general"); n != 1 {
		t.Fatalf("%d messages: the will was performed", n)
	}
}

// TestMaxClients: past Config.MaxClients a CONNECT is refused with "server
// unavailable" (3.1.1 return code 3, MQTT 5 0x88) and the place comes back
// when a client leaves.
func TestMaxClients(t *testing.T) {
	e := start(t, mqttgw.Config{MaxClients: 1})
	first, ack := dial(t, e.addr, connectOpts{id: "one", user: "one", clean: true})
	if ack.ReasonCode != 0 {
		t.Fatalf("first CONNACK %#x", ack.ReasonCode)
	}
	for _, v := range []byte{4, 5} {
		c, ack := dial(t, e.addr, connectOpts{id: "two", user: "two", clean: true, v: v})
		want := byte(0x03)
		if v == 5 {
			want = packets.ErrServerUnavailable.Code
		}
		if ack.ReasonCode != want {
			t.Fatalf("v%d: CONNACK %#x, want %#x", v, ack.ReasonCode, want)
		}
		c.ended()
	}
	first.write(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}})
	first.ended()
	testutil.Eventually(t, wait, func() bool { return e.gw.Stats().TCP == 0 }, "the first client is gone")
	if _, ack := dial(t, e.addr, connectOpts{id: "two", user: "two", clean: true}); ack.ReasonCode != 0 {
		t.Fatalf("after a place came back: CONNACK %#x", ack.ReasonCode)
	}
}

// downStore is a store whose appends fail: the disk is gone.
type downStore struct{ chat.Store }

func (downStore) Append(context.Context, chat.Draft) (chat.Message, error) {
	return chat.Message{}, errors.New("disk I/O error")
}

// TestFailedPublishIsNeverAcknowledged: a QoS 1 message the store could not
// take is not acknowledged to an MQTT 3.1.1 client (which has no negative
// PUBACK): the connection is closed, so the client sends it again when it
// reconnects. (It got a positive PUBACK, and the message was lost.) MQTT 5
// gets PUBACK 0x80; a refusal (an empty message) is acknowledged and
// explained on banter/errors.
func TestFailedPublishIsNeverAcknowledged(t *testing.T) {
	e := startWith(t, chat.Config{Store: downStore{chat.NewMemStore()}}, mqttgw.Config{})
	c, _ := dial(t, e.addr, connectOpts{id: "f4", user: "f4", clean: true})
	if codes := c.subscribe(1, "banter/errors"); codes[0] != 1 {
		t.Fatalf("SUBACK %v", codes)
	}
	// A refusal: acknowledged, explained.
	if ack := c.publish(1, "banter/rooms/general", `{"text":""}`); ack.ReasonCode != 0 {
		t.Fatalf("PUBACK %#x", ack.ReasonCode)
	}
	if pk := c.publishOn("banter/errors"); !strings.Contains(string(pk.Payload), "empty_message") {
		t.Fatalf("error report %s", pk.Payload)
	}
	// The store fails: no PUBACK, the connection ends.
	c.write(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}, PacketID: 77,
		TopicName: "banter/rooms/general", Payload: []byte("lost?")})
	c.ended()
	for {
		select {
		case pk := <-c.in:
			if pk.FixedHeader.Type == packets.Puback {
				t.Fatalf("PUBACK %d for a message the store did not take", pk.PacketID)
			}
			continue
		default:
		}
		break
	}
	// MQTT 5: a negative PUBACK.
	c5, _ := dial(t, e.addr, connectOpts{id: "f5", user: "f5", clean: true, v: 5})
	if ack := c5.publish(1, "banter/rooms/general", "lost?"); ack.ReasonCode != packets.ErrUnspecifiedError.Code {
		t.Fatalf("MQTT 5 PUBACK %#x, want 0x80", ack.ReasonCode)
	}
}
