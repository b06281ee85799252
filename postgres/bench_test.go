package postgres_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/banter-chat/banter/chat/storetest"
	"github.com/banter-chat/banter/postgres"
	"github.com/jackc/pgx/v5"
)

// BenchmarkAppend measures durable appends from 1 and 64 concurrent
// appenders spread over 8 rooms, on a fresh schema of the test database;
// msgs/batch shows group commit at work, and pg-cpu-µs/msg what the
// PostgreSQL server spent per append (its backends for this store, found
// by application_name; the server must run on this machine, else the
// figure is left out): the capacity model's store cost (docs/scale.md).
//
//	go test -run '^$' -bench Append -benchtime 5000x ./postgres/
func BenchmarkAppend(b *testing.B) {
	for _, bc := range []struct {
		name      string
		appenders int
	}{
		{"appenders=1", 1},
		{"appenders=64", 64},
	} {
		b.Run(bc.name, func(b *testing.B) {
			schema := freshSchema(b)
			sep := "?"
			if strings.Contains(testURL(), "?") {
				sep = "&"
			}
			db, err := postgres.Open(context.Background(), testURL()+sep+"application_name="+schema, postgres.Config{Schema: schema})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = db.Close() })
			before := backendsCPU(b, schema)
			storetest.BenchAppend(b, db, bc.appenders)
			st := db.Stats()
			b.ReportMetric(float64(st.Appends)/float64(max(1, st.Batches)), "msgs/batch")
			if before != nil {
				var cpu time.Duration
				for pid, t := range backendsCPU(b, schema) {
					cpu += t - before[pid] // a backend opened during the run counts whole
				}
				b.ReportMetric(float64(cpu.Microseconds())/float64(max(1, st.Appends)), "pg-cpu-µs/msg")
			}
		})
	}
}

// backendsCPU returns the time on a CPU of each backend serving
// application_name app (/proc/PID/schedstat), or nil if they cannot be
// read (a server on another machine).
func backendsCPU(b *testing.B, app string) map[int]time.Duration {
	b.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testURL())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE application_name = $1`, app)
	if err != nil {
		b.Fatal(err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		b.Fatal(err)
	}
	out := map[int]time.Duration{}
	for _, pid := range pids {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/schedstat", pid))
		if err != nil {
			return nil
		}
		ns, err := strconv.ParseInt(strings.Fields(string(data))[0], 10, 64)
		if err != nil {
			return nil
		}
		out[int(pid)] = time.Duration(ns)
	}
	return out
}
