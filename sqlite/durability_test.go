package sqlite_test

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/sqlite"
	_ "modernc.org/sqlite"
)

// The child half of TestAckedSurvivesSIGKILL: appends from several
// goroutines forever and prints the seq of every acknowledged message.
func TestHelperAppender(t *testing.T) {
	path := os.Getenv("BANTER_SQLITE_CHILD_DB")
	if path == "" {
		t.Skip("helper process for TestAckedSurvivesSIGKILL")
	}
	db, err := sqlite.Open(path, sqlite.Config{})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				m, err := db.Append(context.Background(), chat.Draft{Room: "r", Sender: "u" + strconv.Itoa(g), Text: "x", ClientID: strconv.Itoa(i)})
				if err != nil {
					fmt.Println("append:", err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Fprintln(out, m.Seq)
				out.Flush()
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// An acknowledged append survives SIGKILL of the process: the child prints
// a seq only after Append returned; once the parent has read enough of them
// it kills the child mid-stream and every printed seq must be in the file.
func TestAckedSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process")
	}
	path := filepath.Join(t.TempDir(), "kill.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperAppender$")
	cmd.Env = append(os.Environ(), "BANTER_SQLITE_CHILD_DB="+path)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[int64]bool{}
	sc := bufio.NewScanner(stdout)
	for len(acked) < 2000 && sc.Scan() {
		seq, err := strconv.ParseInt(sc.Text(), 10, 64)
		if err != nil {
			_ = cmd.Process.Kill()
			t.Fatalf("child said %q", sc.Text())
		}
		acked[seq] = true
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for sc.Scan() { // acks written before the kill landed
		if seq, err := strconv.ParseInt(sc.Text(), 10, 64); err == nil {
			acked[seq] = true
		}
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die of SIGKILL: %v", err)
	}
	if len(acked) < 2000 {
		t.Fatalf("child acknowledged only %d appends", len(acked))
	}
	db := open(t, path)
	last, err := db.LastSeq(context.Background(), "r")
	if err != nil {
		t.Fatal(err)
	}
	for seq := range acked {
		if seq > last {
			t.Fatalf("acknowledged seq %d lost: LastSeq after SIGKILL is %d", seq, last)
		}
	}
	msgs, err := db.Since(context.Background(), "r", 0, chat.MaxPageLimit)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range msgs {
		if m.Seq != int64(i+1) {
			t.Fatalf("after SIGKILL seqs have a gap at %d: %d", i+1, m.Seq)
		}
	}
}

func TestOpenRefusesBadPaths(t *testing.T) {
	for _, p := range []string{"", ":memory:", "file:x.db", "x.db?mode=ro", filepath.Join(t.TempDir(), "missing", "dir", "x.db")} {
		if db, err := sqlite.Open(p, sqlite.Config{}); err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded", p)
		}
	}
}

func TestSchemaVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v.db")
	db, err := sqlite.Open(path, sqlite.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	files, _ := filepath.Glob("migrations/*.sql")
	var v int
	if err := raw.QueryRow(`SELECT version FROM schema_version`).Scan(&v); err != nil || v != len(files) || v < 4 {
		t.Fatalf("schema version %d, %v; want %d (one per migration)", v, err, len(files))
	}
	var mode string
	if err := raw.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode %q, %v; want wal", mode, err)
	}
	// Reopening an up-to-date database changes nothing.
	db = open(t, path)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// A database from a newer binary is refused, untouched.
	if _, err := raw.Exec(`UPDATE schema_version SET version = 99`); err != nil {
		t.Fatal(err)
	}
	if db, err := sqlite.Open(path, sqlite.Config{}); !errors.Is(err, sqlite.ErrSchemaTooNew) {
		if err == nil {
			db.Close()
		}
		t.Fatalf("Open of a newer schema: %v, want ErrSchemaTooNew", err)
	}
}

func TestStatsCountBatches(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "s.db"))
	ctx := context.Background()
	for i := range 3 {
		if _, err := db.Append(ctx, chat.Draft{Room: "r", Sender: "a", Text: "x", ClientID: strconv.Itoa(i % 2)}); err != nil {
			t.Fatal(err)
		}
	}
	// Sequential appends cannot share a transaction.
	if st := db.Stats(); st != (sqlite.Stats{Appends: 2, Duplicates: 1, Batches: 3}) {
		t.Fatalf("Stats = %+v", st)
	}
}
