package redis_test

import (
	"context"
	"testing"
	"time"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/internal/testutil"
	"github.com/banter-chat/banter/redis"
)

// TestMissedWhileUnsubscribed: a message published while a node's
// subscription is down (here: its pub/sub connection was cut, and it waits
// before reconnecting) reaches that node's members once the subscription is
// live again, without waiting for the room's next message: the Bus hands
// the room an EventSubscribed and the room reads the Store.
func TestMissedWhileUnsubscribed(t *testing.T) { eachRedis(t, testMissedWhileUnsubscribed) }

func testMissedWhileUnsubscribed(t *testing.T, be backend) {
	prefix := uniquePrefix(t, be)
	store := chat.NewMemStore()
	t.Cleanup(func() { _ = store.Close() })
	busA := open(t, be, prefix)
	busB, err := redis.Open(context.Background(), be.url, redis.Config{Prefix: prefix, RetryDelay: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = busB.Close() })
	ctx := context.Background()
	var svcs []*chat.Service
	for _, b := range []*redis.Bus{busA, busB} {
		svc, err := chat.New(chat.Config{Store: store, Bus: b})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = svc.Close() })
		svcs = append(svcs, svc)
	}
	alice, _ := svcs[0].Connect(ctx, chat.ConnectParams{Nickname: "alice", Sink: &sink{}})
	bobSink := &sink{}
	bob, err := svcs[1].Connect(ctx, chat.ConnectParams{Nickname: "bob", Sink: bobSink})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*chat.Session{alice, bob} {
		if _, err := s.Join(ctx, "lobby", chat.JoinOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, 5*time.Second, func() bool { return busB.Subscribed("lobby") }, "B never subscribed")

	killPubSub(t, be, busA, busB)
	testutil.Eventually(t, 5*time.Second, func() bool { return !busB.Subscribed("lobby") }, "B did not notice the cut")
	m, err := alice.Send(ctx, "lobby", "while B is deaf", "")
	if err != nil {
		t.Fatal(err)
	}
	if busB.Subscribed("lobby") {
		t.Fatal("B subscribed again before the message was sent: the test proves nothing (RetryDelay too short?)")
	}
	testutil.Eventually(t, 10*time.Second, func() bool {
		return bobSink.has(func(ev *chat.Event) bool { return ev.Kind == chat.EventMessage && ev.Message.ID == m.ID })
	}, "bob never got the message sent while his node's subscription was down")
}
