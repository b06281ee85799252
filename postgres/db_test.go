package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/chat/storetest"
	"github.com/banter-chat/banter/internal/testutil"
	"github.com/banter-chat/banter/postgres"
	"github.com/jackc/pgx/v5"
)

// testURL is the machine's PostgreSQL (scripts/deps.sh starts it);
// BANTER_TEST_POSTGRES overrides it.
func testURL() string { return testutil.PostgresURL() }

// freshSchema returns a schema name no one uses and drops it when the test
// ends.
func freshSchema(t testing.TB) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "banter_test_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, testURL())
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+schema+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schema
}

func open(t testing.TB, schema string, cfg postgres.Config) *postgres.DB {
	t.Helper()
	cfg.Schema = schema
	db, err := postgres.Open(context.Background(), testURL(), cfg)
	if err != nil {
		t.Fatalf("Open (is PostgreSQL running? scripts/deps.sh starts it): %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) chat.Store {
		return open(t, freshSchema(t), postgres.Config{})
	}, storetest.WithReopen(func(t *testing.T, s chat.Store) chat.Store {
		db := s.(*postgres.DB)
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		return open(t, db.Schema(), postgres.Config{})
	}))
}

// TestManyNodesOneRoom plays several nodes (separate DBs, separate pools)
// appending to the same rooms at once, with client ids reused across nodes:
// seq must stay gap-free per room and each client id stored once.
func TestManyNodesOneRoom(t *testing.T) {
	schema := freshSchema(t)
	const nodes, workers, perWorker = 3, 8, 30
	dbs := make([]*postgres.DB, nodes)
	for i := range dbs {
		dbs[i] = open(t, schema, postgres.Config{MaxBatch: 16})
	}
	rooms := []string{"alpha", "beta", "gamma"}
	var (
		mu   sync.Mutex
		got  = map[string][]chat.Message{}
		dups int
		wg   sync.WaitGroup
	)
	errs := make(chan error, nodes*workers)
	for n := range nodes {
		for w := range workers {
			wg.Go(func() {
				for i := range perWorker {
					room := rooms[(w+i)%len(rooms)]
					// Worker w on every node sends the same client ids as
					// the same user: one of each trio is new, two are
					// duplicates of it.
					d := chat.Draft{Room: room, Sender: fmt.Sprintf("u%d", w), Text: fmt.Sprintf("%d/%d/%d", n, w, i),
						ClientID: fmt.Sprintf("c%d", i)}
					m, err := dbs[n].Append(context.Background(), d)
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					if m.Duplicate {
						dups++
					} else {
						got[room] = append(got[room], m)
					}
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Append: %v", err)
	}
	total := 0
	for _, room := range rooms {
		ms := got[room]
		total += len(ms)
		slices.SortFunc(ms, func(a, b chat.Message) int { return int(a.Seq - b.Seq) })
		for i, m := range ms {
			if m.Seq != int64(i+1) {
				t.Fatalf("%s: seq %d at position %d: not gap-free", room, m.Seq, i)
			}
		}
		stored, err := dbs[0].Since(context.Background(), room, 0, chat.MaxPageLimit)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(stored, ms) {
			t.Fatalf("%s: stored messages differ from what Append returned", room)
		}
	}
	if total != workers*perWorker || dups != (nodes-1)*workers*perWorker {
		t.Fatalf("%d new + %d duplicates, want %d + %d", total, dups, workers*perWorker, (nodes-1)*workers*perWorker)
	}
	// Every (user, room, client id) is stored once whichever node got it.
	keys := map[string]bool{}
	for _, ms := range got {
		for _, m := range ms {
			k := m.Sender + "/" + m.ClientID
			if keys[k] {
				t.Fatalf("client id %s stored twice", k)
			}
			keys[k] = true
		}
	}
	var batches int64
	for _, db := range dbs {
		batches += db.Stats().Batches
	}
	t.Logf("%d messages, %d duplicates, %d batches", total, dups, batches)
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := postgres.Open(ctx, "mysql://nope", postgres.Config{}); err == nil {
		t.Fatal("Open of a non-postgres URL succeeded")
	}
	if _, err := postgres.Open(ctx, testURL(), postgres.Config{Schema: `bad"schema`}); err == nil {
		t.Fatal("Open with a bad schema name succeeded")
	}
	// A port nobody listens on: a clear error, not a hang.
	if _, err := postgres.Open(ctx, "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2", postgres.Config{}); err == nil {
		t.Fatal("Open of an unreachable server succeeded")
	}
}

func TestSchemaTooNew(t *testing.T) {
	schema := freshSchema(t)
	db := open(t, schema, postgres.Config{})
	_ = db.Close()
	conn, err := pgx.Connect(context.Background(), testURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), `UPDATE `+schema+`.schema_version SET version = 999`); err != nil {
		t.Fatal(err)
	}
	_, err = postgres.Open(context.Background(), testURL(), postgres.Config{Schema: schema})
	if !errors.Is(err, postgres.ErrSchemaTooNew) {
		t.Fatalf("Open of a newer schema: %v, want ErrSchemaTooNew", err)
	}
}

// TestSchemaFromURL: a search_path parameter in the URL selects the schema.
func TestSchemaFromURL(t *testing.T) {
	schema := freshSchema(t)
	db, err := postgres.Open(context.Background(), testURL()+"&search_path="+schema, postgres.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.Schema() != schema {
		t.Fatalf("Schema() = %q, want %q", db.Schema(), schema)
	}
	if _, err := db.Append(context.Background(), chat.Draft{Room: "r", Sender: "a", Text: "x"}); err != nil {
		t.Fatal(err)
	}
}
