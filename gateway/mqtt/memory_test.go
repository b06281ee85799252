package mqttgw_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	mqttgw "github.com/banter-chat/banter/gateway/mqtt"
	"github.com/mochi-mqtt/server/v2/packets"
)

// BenchmarkIdleClientMemory measures the Go memory the server spends per
// idle MQTT client: connected over TCP (MQTT 3.1.1, clean session,
// keepalive 60 s), subscribed at QoS 0 to a room of its own (rooms=each)
// or to one room for all (rooms=one). The clients live in a child process
// (this test binary again), so what is measured is the gateway and the
// chat session only; the kernel's ~4 KB per socket is not in it. Reported:
// heap in use + stacks after GC (what RSS follows) and live heap bytes,
// per client. Run:
//
//	go test -run '^$' -bench IdleClientMemory -benchtime 1x ./gateway/mqtt/
//
// MQTT_BENCH_CLIENTS (default 2000) sets the number of clients;
// MQTT_HEAP_PROFILE=file writes a heap profile (every allocation
// sampled) taken while the clients are connected:
//
//	go tool pprof -sample_index=inuse_space -top file
func BenchmarkIdleClientMemory(b *testing.B) {
	n := 2000
	if v, err := strconv.Atoi(os.Getenv("MQTT_BENCH_CLIENTS")); err == nil && v > 0 {
		n = v
	}
	profile := os.Getenv("MQTT_HEAP_PROFILE")
	for _, rooms := range []string{"each", "one"} {
		b.Run("rooms="+rooms, func(b *testing.B) {
			for range b.N {
				if profile != "" {
					runtime.MemProfileRate = 1
				}
				e := start(b, mqttgw.Config{})
				before := readMem()
				stop := startClients(b, e.addr, n, rooms)
				after := readMem()
				if profile != "" {
					writeHeapProfile(b, strings.Replace(profile, ".", "-"+rooms+".", 1))
					runtime.MemProfileRate = 512 << 10
				}
				b.ReportMetric(float64(after.inuse-before.inuse)/float64(n), "B/client")
				b.ReportMetric(float64(after.live-before.live)/float64(n), "live-B/client")
				b.ReportMetric(float64(after.stack-before.stack)/float64(n), "stack-B/client")
				b.ReportMetric(float64(after.goroutines-before.goroutines), "goroutines")
				stop()
			}
		})
	}
}

// BenchmarkConnectSubscribe measures the server's CPU per client that
// connects (MQTT 3.1.1, clean session) and subscribes at QoS 0, a room
// each or all into one room, the clients in a child process (as in
// BenchmarkIdleClientMemory): the server's process CPU time while they
// connect, divided by their number. -cpuprofile shows where it goes.
//
//	go test -run '^$' -bench ConnectSubscribe -benchtime 1x -cpuprofile cpu.out ./gateway/mqtt/
func BenchmarkConnectSubscribe(b *testing.B) {
	n := 2000
	if v, err := strconv.Atoi(os.Getenv("MQTT_BENCH_CLIENTS")); err == nil && v > 0 {
		n = v
	}
	for _, rooms := range []string{"each", "one"} {
		b.Run("rooms="+rooms, func(b *testing.B) {
			for range b.N {
				e := start(b, mqttgw.Config{})
				cpu0 := processCPU()
				t0 := time.Now()
				stop := startClients(b, e.addr, n, rooms)
				b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(n), "cpu-µs/client")
				b.ReportMetric(float64(n)/time.Since(t0).Seconds(), "clients/s")
				stop()
			}
		})
	}
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type memFigures struct {
	inuse, live, stack int64
	goroutines         int
}

func readMem() memFigures {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return memFigures{inuse: int64(m.HeapInuse + m.StackInuse), live: int64(m.HeapAlloc), stack: int64(m.StackInuse),
		goroutines: runtime.NumGoroutine()}
}

func writeHeapProfile(b *testing.B, path string) {
	runtime.GC()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		b.Fatal(err)
	}
}

// startClients starts the child process holding n clients of addr and
// returns once every one is connected and subscribed; stop ends them.
func startClients(b *testing.B, addr string, n int, rooms string) (stop func()) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestIdleClientsHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), "MQTT_IDLE_HELPER="+addr+","+strconv.Itoa(n)+","+rooms)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if sc.Text() == "READY" {
			return func() {
				stdin.Close()
				_ = cmd.Wait()
			}
		}
	}
	stdin.Close()
	_ = cmd.Wait()
	b.Fatalf("client process ended before its clients were ready")
	return nil
}

// TestIdleClientsHelper is the client process of BenchmarkIdleClientMemory
// (skipped otherwise): it connects the clients, prints READY, and holds
// them until its stdin closes.
func TestIdleClientsHelper(t *testing.T) {
	spec := os.Getenv("MQTT_IDLE_HELPER")
	if spec == "" {
		t.Skip("the client process of BenchmarkIdleClientMemory")
	}
	parts := strings.Split(spec, ",")
	n, _ := strconv.Atoi(parts[1])
	conns := make([]net.Conn, 0, n)
	for i := range n {
		room := "general"
		if parts[2] == "each" {
			room = fmt.Sprintf("r%d", i)
		}
		nc, err := rawSubscriber(parts[0], i, room)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, nc)
	}
	fmt.Println("READY")
	_, _ = io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		c.Close()
	}
}

// rawSubscriber connects as user i, subscribes to banter/rooms/<room> and
// returns the connection once the CONNACK and SUBACK are read.
func rawSubscriber(addr string, i int, room string) (net.Conn, error) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	id := fmt.Sprintf("u%d", i)
	cn := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: 4,
		Connect: packets.ConnectParams{ProtocolName: []byte("MQTT"), ClientIdentifier: id, Clean: true, Keepalive: 60,
			Username: []byte(id), UsernameFlag: true}}
	_ = cn.ConnectEncode(&buf)
	sub := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, ProtocolVersion: 4, PacketID: 1,
		Filters: packets.Subscriptions{{Filter: "banter/rooms/" + room, Qos: 0}}}
	_ = sub.SubscribeEncode(&buf)
	if _, err := nc.Write(buf.Bytes()); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	dl, _ := ctx.Deadline()
	_ = nc.SetReadDeadline(dl)
	// Read byte by byte: nothing after the SUBACK may be taken from the
	// socket (the client stays idle with what arrives later unread).
	r := bufio.NewReaderSize(nc, 16)
	for _, want := range []byte{packets.Connack, packets.Suback} {
		for {
			h, err := r.ReadByte()
			if err != nil {
				return nil, fmt.Errorf("client %d: %w", i, err)
			}
			n, _, err := packets.DecodeLength(r)
			if err == nil {
				_, err = io.CopyN(io.Discard, r, int64(n))
			}
			if err != nil {
				return nil, err
			}
			if h>>4 == want {
				break
			}
			if h>>4 != packets.Publish { // presence of earlier joiners may come first
				return nil, fmt.Errorf("client %d: header %#x before %d", i, h, want)
			}
		}
	}
	_ = nc.SetReadDeadline(time.Time{})
	return nc, nil
}
