package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"testing"
	"time"
)

func TestHistQuantiles(t *testing.T) {
	var h hist
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Millisecond)
	}
	for _, c := range []struct{ q, want float64 }{{0.5, 500}, {0.9, 900}, {0.99, 990}, {1, 1000}} {
		got := h.quantile(c.q)
		if math.Abs(got-c.want)/c.want > 0.02 {
			t.Errorf("q%.2f = %.1f ms, want %.0f ±2%%", c.q, got, c.want)
		}
	}
	if !math.IsNaN(new(hist).quantile(0.5)) {
		t.Error("empty histogram quantile is not NaN")
	}
	// Bucket bounds are increasing and each value falls under its bound.
	for us := int64(0); us < 1<<22; us = us*5/4 + 1 {
		i := histIndex(us)
		if histValue(i) < us || (i > 0 && histValue(i-1) >= us) {
			t.Fatalf("value %d µs in bucket %d bounded by %d (previous %d)", us, i, histValue(i), histValue(i-1))
		}
	}
}

func TestMainUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"nope"},
		{"fanout", "--rate", "0"},
		{"fanout", "--addr", "10.0.0.1:80"},
		{"idle", "--n", "0"},
		{"echo", "--clients", "0"},
		{"churn", "--bogus"},
		{"idle", "extra-arg"},
		{"idle", "--nodes", "127.0.0.1:1"},
		{"idle", "--nodes", "127.0.0.1:1=x"},
		{"idle", "--nodes", "10.0.0.1:80=1"},
		{"floor", "--n", "0"},
		{"floor", "--rounds", "5000"},
		{"report"},
		{"fanout", "--shape", "sync"},
		{"fanout", "--dialect", "v2"},
		{"fanout", "--rooms", "own"},
		{"joinstorm", "--proto", "xmpp"},
	} {
		err := Main(context.Background(), args, io.Discard, io.Discard)
		if !errors.Is(err, ErrUsage) {
			t.Errorf("%q: err = %v, want ErrUsage", args, err)
		}
	}
}

func TestProcFigures(t *testing.T) {
	if rss, err := procRSS(0); err != nil || rss <= 0 {
		t.Fatalf("own RSS = %d, %v", rss, err)
	}
	if _, err := procCPU(0); err != nil {
		t.Fatal(err)
	}
	if _, err := procRSS(1 << 30); err == nil {
		t.Fatal("no error for a missing process")
	}
}

func TestSelfCommand(t *testing.T) {
	old := os.Args
	defer func() { os.Args = old }()
	os.Args = []string{"banter", "bench", "idle", "--n", "5"}
	got, err := selfCommand([]string{"--n", "5"})
	if err != nil || len(got) != 2 || got[1] != "bench" {
		t.Fatalf("selfCommand = %q, %v", got, err)
	}
	if _, err := selfCommand([]string{"--other"}); err == nil {
		t.Fatal("args not from os.Args accepted")
	}
}

func TestParseNodes(t *testing.T) {
	c := common{addr: "127.0.0.1:3000"}
	addrs, pids, err := parseNodes("", &c)
	if err != nil || len(addrs) != 1 || addrs[0] != "127.0.0.1:3000" || len(pids) != 0 {
		t.Fatalf("no --nodes: %v %v %v", addrs, pids, err)
	}
	self := os.Getpid()
	spec := fmt.Sprintf("127.0.0.1:3001=%d, 127.0.0.1:3002=%d", self, self)
	addrs, pids, err = parseNodes(spec, &c)
	if err != nil || len(addrs) != 2 || addrs[1] != "127.0.0.1:3002" || len(pids) != 2 || pids[0] != self {
		t.Fatalf("--nodes %q: %v %v %v", spec, addrs, pids, err)
	}
	if c.addr != "127.0.0.1:3001" || c.serverPID != self {
		t.Fatalf("the first node is not the common one: %+v", c)
	}
	one, err := sumRSS(pids[:1])
	if err != nil {
		t.Fatal(err)
	}
	if two, err := sumRSS(pids); err != nil || two < 2*one-(1<<20) {
		t.Fatalf("sum of two = %d (one: %d), %v", two, one, err)
	}
}
