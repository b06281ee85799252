package bench

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgMeter measures the CPU the PostgreSQL backends serving the cluster's
// nodes use: the nodes connect with an application_name of their own (in
// their store URL), pg_stat_activity names those backends' process ids, and
// /proc/PID/schedstat gives each one's time on a CPU to the nanosecond. The
// server must run on this machine (it does in scripts/bench.sh).
type pgMeter struct {
	conn    *pgx.Conn
	appName string
}

func newPGMeter(ctx context.Context, storeURL string) (*pgMeter, error) {
	u, err := url.Parse(storeURL)
	if err != nil {
		return nil, fmt.Errorf("%w: --postgres: %v", ErrUsage, err)
	}
	app := u.Query().Get("application_name")
	if app == "" {
		return nil, fmt.Errorf("%w: --postgres %q: needs the nodes' application_name parameter, to find their backends", ErrUsage, storeURL)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, storeURL)
	if err != nil {
		return nil, fmt.Errorf("bench: --postgres: %w", err)
	}
	return &pgMeter{conn: conn, appName: app}, nil
}

func (m *pgMeter) close() { _ = m.conn.Close(context.Background()) }

// sample returns the CPU time of every backend of the nodes, by pid.
func (m *pgMeter) sample(ctx context.Context) (map[int]time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rows, err := m.conn.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE application_name = $1`, m.appName)
	if err != nil {
		return nil, fmt.Errorf("bench: pg_stat_activity: %w", err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil, fmt.Errorf("bench: pg_stat_activity: %w", err)
	}
	out := make(map[int]time.Duration, len(pids))
	for _, pid := range pids {
		if d, err := schedCPU(int(pid)); err == nil {
			out[int(pid)] = d
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("bench: no readable PostgreSQL backend named %q (is the server on this machine?)", m.appName)
	}
	return out, nil
}

// schedCPU is a process's time on a CPU (its main thread: a PostgreSQL
// backend has one), from /proc/PID/schedstat, in nanoseconds.
func schedCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/schedstat", pid))
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) < 1 {
		return 0, fmt.Errorf("bench: /proc/%d/schedstat: %q", pid, b)
	}
	ns, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bench: /proc/%d/schedstat: %w", pid, err)
	}
	return time.Duration(ns), nil
}

// pgCPU is the CPU the backends alive at both samples used in between
// (the nodes' pools keep their connections).
func pgCPU(before, after map[int]time.Duration) time.Duration {
	var d time.Duration
	for pid, a := range after {
		if b, ok := before[pid]; ok {
			d += a - b
		}
	}
	return d
}
