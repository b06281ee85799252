package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/banter-chat/banter/chat/storetest"
	"github.com/banter-chat/banter/sqlite"
)

// BenchmarkAppend measures durable appends from 1 and 64 concurrent
// appenders spread over 8 rooms; msgs/batch shows group commit at work.
//
//	go test -run '^$' -bench Append -benchtime 20000x ./sqlite/
func BenchmarkAppend(b *testing.B) {
	for _, bc := range []struct {
		name      string
		appenders int
		fullSync  bool
	}{
		{"appenders=1", 1, false},
		{"appenders=64", 64, false},
		{"appenders=1/fullsync", 1, true},
		{"appenders=64/fullsync", 64, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			db, err := sqlite.Open(filepath.Join(b.TempDir(), "bench.db"), sqlite.Config{FullSync: bc.fullSync})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			storetest.BenchAppend(b, db, bc.appenders)
			st := db.Stats()
			b.ReportMetric(float64(st.Appends)/float64(max(1, st.Batches)), "msgs/batch")
		})
	}
}
