package redis_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/internal/testutil"
	"github.com/banter-chat/banter/redis"
	"github.com/redis/rueidis"
)

// BenchmarkBus measures what one chat message costs the bus, for the
// capacity model (docs/scale.md): one node publishes messages (a typical
// 60-byte text) round robin on 64 rooms, S other nodes are subscribed to
// all of them. On a private redis-server, or a private Redis Cluster of
// three shards, so that nobody else's traffic is counted. Reported: Redis
// CPU µs per message (getrusage, from INFO; every master of a cluster),
// the nodes' CPU µs per message (the publisher's and the subscribers',
// this process) and messages/s through one publishing node.
//
//	go test -run '^$' -bench Bus -benchtime 20000x ./redis/
func BenchmarkBus(b *testing.B) {
	for _, mode := range []string{"single", "cluster"} {
		for _, subs := range []int{1, 3} {
			b.Run(fmt.Sprintf("%s/subscribers=%d", mode, subs), func(b *testing.B) {
				url := ""
				if mode == "single" {
					url = testutil.StartRedisServer(b)
				} else {
					url = testutil.StartRedisCluster(b, 3).URL()
				}
				benchBus(b, url, subs)
			})
		}
	}
}

func benchBus(b *testing.B, url string, subs int) {
	ctx := context.Background()
	const prefix = "bench:"
	rooms := make([]string, 64)
	for i := range rooms {
		rooms[i] = "room-" + strconv.Itoa(i)
	}
	openBus := func() *redis.Bus {
		bus, err := redis.Open(ctx, url, redis.Config{Prefix: prefix})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = bus.Close() })
		return bus
	}
	pub := openBus()
	var got atomic.Int64
	for range subs {
		s := openBus()
		for _, r := range rooms {
			if _, err := s.Subscribe(r, func(ev *chat.Event) {
				if ev.Kind == chat.EventMessage {
					got.Add(1)
				}
			}); err != nil {
				b.Fatal(err)
			}
		}
		testutil.Eventually(b, 10*time.Second, func() bool {
			for _, r := range rooms {
				if !s.Subscribed(r) {
					return false
				}
			}
			return true
		}, "subscriptions not confirmed")
	}
	cpu0 := redisCPU(b, pub.Client())
	self0 := selfCPU(b)
	var n atomic.Int64
	start := time.Now()
	b.ResetTimer()
	b.SetParallelism(16) // 16 × GOMAXPROCS senders: a node's concurrent Sends
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			room := rooms[i%int64(len(rooms))]
			ev := &chat.Event{Kind: chat.EventMessage, Room: room, Message: &chat.Message{
				ID: strconv.FormatInt(i, 10), Room: room, Seq: i, Sender: "alice", TS: 1_796_700_000_000,
				Text: "a typical chat message of about sixty bytes, give or take", ClientID: "c" + strconv.FormatInt(i, 10)}}
			if err := pub.Publish(ctx, room, ev); err != nil {
				b.Error(err)
				return
			}
		}
	})
	want := int64(b.N) * int64(subs)
	deadline := time.Now().Add(30 * time.Second)
	for got.Load() < want && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if got.Load() < want {
		b.Fatalf("subscribers got %d of %d messages", got.Load(), want)
	}
	cpu := redisCPU(b, pub.Client()) - cpu0
	self := selfCPU(b) - self0
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "redis-µs/msg")
	// The nodes' side: encoding and publishing once, receiving and
	// decoding on each subscribed node (all in this process).
	b.ReportMetric(float64(self.Microseconds())/float64(b.N), "nodes-µs/msg")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
}

// selfCPU is this process's CPU time so far.
func selfCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// redisCPU is the CPU every master of the Redis used so far (INFO cpu).
func redisCPU(b *testing.B, c rueidis.Client) time.Duration {
	b.Helper()
	nodes := map[string]rueidis.Client{"": c}
	if c.Mode() == rueidis.ClientModeCluster {
		nodes = c.Nodes()
	}
	var total time.Duration
	for _, n := range nodes {
		info, err := n.Do(context.Background(), n.B().Info().Section("cpu").Build()).ToString()
		if err != nil {
			b.Fatal(err)
		}
		for line := range strings.SplitSeq(info, "\n") {
			k, v, _ := strings.Cut(strings.TrimSpace(line), ":")
			if k == "used_cpu_sys" || k == "used_cpu_user" {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					b.Fatal(err)
				}
				total += time.Duration(f * float64(time.Second))
			}
		}
	}
	return total
}

// BenchmarkRoster measures what presence costs Redis, for the capacity
// model: per user connecting (its nickname claim, then one room joined),
// Redis CPU µs per claim and per join, and Redis memory per user with its
// membership. A join returns the room's other members, so it costs more in
// a larger room (room=N: the users join N to a room, which fill up one
// after the other). On a private redis-server; a Redis Cluster runs the
// same scripts on the roster's one shard.
//
//	go test -run '^$' -bench Roster -benchtime 5000x ./redis/
func BenchmarkRoster(b *testing.B) {
	for _, room := range []int{10, 1000} {
		b.Run(fmt.Sprintf("room=%d", room), func(b *testing.B) {
			url := testutil.StartRedisServer(b)
			ctx := context.Background()
			bus, err := redis.Open(ctx, url, redis.Config{Prefix: "bench:"})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = bus.Close() })
			ro, err := redis.NewRoster(ctx, bus, redis.RosterConfig{Heartbeat: time.Hour, Address: "http://node"})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = ro.Close() })
			c := bus.Client()
			mem := func() int64 {
				info, err := c.Do(ctx, c.B().Info().Section("memory").Build()).ToString()
				if err != nil {
					b.Fatal(err)
				}
				for line := range strings.SplitSeq(info, "\n") {
					if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
						n, _ := strconv.ParseInt(v, 10, 64)
						return n
					}
				}
				return 0
			}
			mem0 := mem()
			users := make([]chat.User, b.N)
			for i := range users {
				users[i] = chat.User{ID: "s" + strconv.Itoa(i), Nickname: "user-" + strconv.Itoa(i), Since: 1}
			}
			b.ResetTimer()
			cpu0 := redisCPU(b, c)
			for _, u := range users {
				if _, err := ro.Claim(ctx, chat.Claim{User: u, Token: "digest-" + u.Nickname}); err != nil {
					b.Fatal(err)
				}
			}
			cpu1 := redisCPU(b, c)
			for i, u := range users {
				if _, err := ro.Join(ctx, "room-"+strconv.Itoa(i/room), u.ID, u.Nickname); err != nil {
					b.Fatal(err)
				}
			}
			cpu2 := redisCPU(b, c)
			b.StopTimer()
			b.ReportMetric(float64((cpu1-cpu0).Microseconds())/float64(b.N), "claim-redis-µs")
			// Rooms fill up as the users join: on average half full.
			b.ReportMetric(float64((cpu2-cpu1).Microseconds())/float64(b.N), "join-redis-µs")
			b.ReportMetric(float64(mem()-mem0)/float64(b.N), "redis-B/user")
		})
	}
}
