package mqttgw_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	mqttgw "github.com/banter-chat/banter/gateway/mqtt"
	"github.com/mochi-mqtt/server/v2/packets"
)

// BenchmarkIdleClientMemory measures the Go memory (heap in use + stacks)
// the server spends per idle MQTT client: connected over TCP, subscribed
// to one room, keepalive 60 s. The clients are raw sockets in this
// process; the same number of plain TCP connections to a listener that
// only holds them is measured first and subtracted, so the figure is the
// broker, gateway and chat session, not the sockets (the kernel's ~4 KB
// per socket is not in it either). Run:
//
//	go test -run '^$' -bench IdleClientMemory -benchtime 1x ./gateway/mqtt/
//
// MQTT_BENCH_CLIENTS (default 2000) sets the number of clients.
func BenchmarkIdleClientMemory(b *testing.B) {
	n := 2000
	if v, err := strconv.Atoi(os.Getenv("MQTT_BENCH_CLIENTS")); err == nil && v > 0 {
		n = v
	}
	for range b.N {
		base := plainConnsMemory(b, n)
		e := start(b, mqttgw.Config{})
		before, stackBefore := memInUse(), stackInUse()
		conns := make([]net.Conn, 0, n)
		for i := range n {
			conns = append(conns, rawSubscriber(b, e.addr, i))
		}
		after, stackAfter := memInUse(), stackInUse()
		b.ReportMetric(float64(stackAfter-stackBefore)/float64(n), "stackB/client+sockets")
		per := float64(after-before-base) / float64(n)
		b.ReportMetric(per, "B/client")
		b.ReportMetric(float64(after-before)/float64(n), "B/client+sockets")
		for _, c := range conns {
			c.Close()
		}
	}
}

// rawSubscriber connects as user i, subscribes to banter/rooms/general and
// returns the connection, every answer read.
func rawSubscriber(b *testing.B, addr string, i int) net.Conn {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	id := fmt.Sprintf("u%d", i)
	cn := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: 4,
		Connect: packets.ConnectParams{ProtocolName: []byte("MQTT"), ClientIdentifier: id, Clean: true, Keepalive: 60,
			Username: []byte(id), UsernameFlag: true}}
	_ = cn.ConnectEncode(&buf)
	sub := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, ProtocolVersion: 4, PacketID: 1,
		Filters: packets.Subscriptions{{Filter: "banter/rooms/general", Qos: 1}}}
	_ = sub.SubscribeEncode(&buf)
	if _, err := nc.Write(buf.Bytes()); err != nil {
		b.Fatal(err)
	}
	_ = nc.SetReadDeadline(time.Now().Add(wait))
	r := bufio.NewReader(nc)
	for _, want := range []byte{packets.Connack, packets.Suback} {
		h, err := r.ReadByte()
		if err != nil || h>>4 != want {
			b.Fatalf("client %d: header %#x, %v", i, h, err)
		}
		n, _, err := packets.DecodeLength(r)
		if err == nil {
			_, err = io.CopyN(io.Discard, r, int64(n))
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	// Presence of the later joiners keeps arriving: a client that does not
	// read them is no longer idle, so drain in the background.
	go func() { _, _ = io.Copy(io.Discard, r) }()
	return nc
}

// plainConnsMemory is the memory of n connected TCP pairs whose server
// side is held and read by one goroutine each, like the reader goroutine
// every client above has.
func plainConnsMemory(b *testing.B, n int) int64 {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, n)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	before := memInUse()
	var all []net.Conn
	for range n {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		go func() { _, _ = io.Copy(io.Discard, c) }()
		all = append(all, c, <-accepted)
	}
	used := memInUse() - before
	for _, c := range all {
		c.Close()
	}
	return used
}

func memInUse() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse + m.StackInuse)
}

func stackInUse() int64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.StackInuse)
}
