package chat_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/banter-chat/banter/chat"
)

func TestStats(t *testing.T) {
	// Seq 2 is lost on the bus: the room fills it from the Store.
	bus := lossyBus{chat.NewLocalBus(), func(ev *chat.Event) bool { return ev.Message.Seq == 2 }}
	svc := newService(t, chat.Config{Bus: bus, GapWait: time.Millisecond, RateBurst: 6, RatePerSecond: 0.001})
	if st := svc.Stats(); st.Sessions != 0 || st.Rooms != 0 || st.MessagesStored != 0 || len(st.Deliveries) != len(chat.DeliveryKinds) {
		t.Fatalf("fresh service: %+v", st)
	}
	alice := connect(t, svc, "alice", true)
	bob := connect(t, svc, "bob", false)
	join(t, alice, "r")
	join(t, bob, "r")
	for i := 1; i <= 3; i++ {
		send(t, alice, "r", fmt.Sprintf("m%d", i))
	}
	wantContiguous(t, "bob", seqsUntil(t, bob, "r", 3), 1, 3)
	if m, err := alice.Send(ctx, "r", "again", "c1"); err != nil || m.Duplicate {
		t.Fatalf("send with a client id: %+v, %v", m, err)
	}
	if m, err := alice.Send(ctx, "r", "again", "c1"); err != nil || !m.Duplicate {
		t.Fatalf("resend with the same client id: %+v, %v", m, err)
	}
	// The bucket holds 6: five sends so far (a duplicate takes a token
	// too), the sixth passes, the seventh is refused.
	send(t, alice, "r", "m5")
	if _, err := alice.Send(ctx, "r", "m6", ""); !errors.Is(err, chat.ErrRateLimited) {
		t.Fatalf("sixth send: %v, want rate limited", err)
	}

	st := svc.Stats()
	if st.Sessions != 2 || st.Rooms != 1 || st.SessionsStarted != 2 || st.SessionsEnded != 0 {
		t.Errorf("sessions and rooms: %+v", st)
	}
	if st.MessagesStored != 5 || st.Duplicates != 1 || st.RateLimited != 1 {
		t.Errorf("stored %d, duplicates %d, rate limited %d; want 5, 1, 1", st.MessagesStored, st.Duplicates, st.RateLimited)
	}
	if st.GapFills < 1 || st.Refilled != 1 {
		t.Errorf("gap fills %d, refilled %d; want >= 1 and 1", st.GapFills, st.Refilled)
	}
	// Messages reach both members: 5 stored × 2.
	if got := st.Deliveries[chat.EventMessage]; got != 10 {
		t.Errorf("message deliveries = %d, want 10", got)
	}
	// alice's join (to alice), bob's join (to both).
	if got := st.Deliveries[chat.EventPresence]; got != 3 {
		t.Errorf("presence deliveries = %d, want 3", got)
	}
	// alice watches users: herself, then bob, coming online.
	if got := st.Deliveries[chat.EventUser]; got != 2 {
		t.Errorf("user deliveries = %d, want 2", got)
	}

	bob.Disconnect("test")
	if st := svc.Stats(); st.Sessions != 1 || st.SessionsEnded != 1 || st.Rooms != 1 {
		t.Errorf("after bob left: %+v", st)
	}
	alice.Disconnect("test")
	if st := svc.Stats(); st.Sessions != 0 || st.SessionsEnded != 2 || st.Rooms != 0 {
		t.Errorf("after everyone left: %+v", st)
	}
}
