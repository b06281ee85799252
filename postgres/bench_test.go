package postgres_test

import (
	"testing"

	"github.com/banter-chat/banter/chat/storetest"
	"github.com/banter-chat/banter/postgres"
)

// BenchmarkAppend measures durable appends from 1 and 64 concurrent
// appenders spread over 8 rooms, on a fresh schema of the test database;
// msgs/batch shows group commit at work.
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
			db := open(b, freshSchema(b), postgres.Config{})
			storetest.BenchAppend(b, db, bc.appenders)
			st := db.Stats()
			b.ReportMetric(float64(st.Appends)/float64(max(1, st.Batches)), "msgs/batch")
		})
	}
}
