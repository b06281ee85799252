package sqlite_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/chat/storetest"
	"github.com/banter-chat/banter/sqlite"
)

func open(t *testing.T, path string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(path, sqlite.Config{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

func TestConformance(t *testing.T) {
	storetest.Run(t,
		func(t *testing.T) chat.Store { return open(t, filepath.Join(t.TempDir(), "chat.db")) },
		storetest.WithReopen(func(t *testing.T, s chat.Store) chat.Store {
			db := s.(*sqlite.DB)
			if err := db.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			return open(t, db.Path())
		}))
}

// A batch whose transaction fails fails every append of it, with a clear
// error, and stores none of them: here another process holds the write lock
// longer than BusyTimeout. Once it lets go, appends work and seqs start at 1.
func TestFailedBatchStoresNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chat.db")
	var logs bytes.Buffer // written by the writer before it answers
	db, err := sqlite.Open(path, sqlite.Config{BusyTimeout: 50 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	other, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	ctx := context.Background()
	holder, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	if _, err := holder.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			_, err := db.Append(ctx, chat.Draft{Room: "r", Sender: "alice", Text: "lost?", ClientID: strconv.Itoa(i)})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		var ce *chat.Error
		if !errors.As(err, &ce) || ce.Code != chat.CodeUnavailable || !strings.Contains(err.Error(), "sqlite: append") {
			t.Fatalf("append while the database is locked: %v, want an unavailable error naming the cause", err)
		}
	}
	if !strings.Contains(logs.String(), "append batch failed") || !strings.Contains(logs.String(), "SQLITE_BUSY") {
		t.Fatalf("the failed batch was not logged with its cause: %q", logs.String())
	}
	if _, err := holder.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if seq, err := db.LastSeq(ctx, "r"); err != nil || seq != 0 {
		t.Fatalf("LastSeq after failed batches = %d, %v; want 0: nothing stored", seq, err)
	}
	m, err := db.Append(ctx, chat.Draft{Room: "r", Sender: "alice", Text: "kept", ClientID: "0"})
	if err != nil || m.Seq != 1 || m.Duplicate {
		t.Fatalf("append after the lock was released: %+v, %v; want seq 1, not a duplicate", m, err)
	}
	if st := db.Stats(); st.Appends != 1 || st.Batches != 1 {
		t.Fatalf("Stats = %+v, want 1 append in 1 batch", st)
	}
}
