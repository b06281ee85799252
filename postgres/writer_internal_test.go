package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/banter-chat/banter/chat"
	"github.com/banter-chat/banter/internal/testutil"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// A batch is one pipeline without BEGIN or COMMIT: PostgreSQL runs it as
// one implicit transaction. If a statement fails after others succeeded,
// none of them may be stored: here a trigger refuses the second message of
// the batch, after the first was inserted in another room.
func TestCommitFailingMidBatchStoresNothing(t *testing.T) {
	ctx := context.Background()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "banter_test_" + hex.EncodeToString(b)
	db, err := Open(ctx, testutil.PostgresURL(), Config{Schema: schema})
	if err != nil {
		t.Fatalf("Open (is PostgreSQL running? scripts/deps.sh starts it): %v", err)
	}
	t.Cleanup(func() {
		_ = db.Close()
		conn, err := pgx.Connect(ctx, testutil.PostgresURL())
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+schema+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	pcfg, err := pgxpool.ParseConfig(testutil.PostgresURL())
	if err != nil {
		t.Fatal(err)
	}
	pcfg.ConnConfig.RuntimeParams["search_path"] = schema
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, `
		CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.text = 'boom' THEN RAISE EXCEPTION 'refused by the test'; END IF;
			RETURN NEW;
		END $$;
		CREATE TRIGGER refuse_boom BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION refuse_boom();`); err != nil {
		t.Fatal(err)
	}
	drafts := []chat.Draft{
		{Room: "a", Sender: "al", Text: "first", TS: 1},
		{Room: "b", Sender: "al", Text: "boom", TS: 1},
	}
	w := writer{w: pool}
	err = w.Commit(ctx, drafts, make([]chat.Message, len(drafts)))
	if err == nil || !strings.Contains(err.Error(), "refused by the test") {
		t.Fatalf("Commit = %v, want the trigger's error", err)
	}
	for _, room := range []string{"a", "b"} {
		if seq, err := db.LastSeq(ctx, room); err != nil || seq != 0 {
			t.Fatalf("LastSeq(%s) after the failed batch = %d, %v; want 0: nothing stored", room, seq, err)
		}
	}
	// The connection is usable again, and the next batch is stored.
	drafts[1].Text = "second"
	out := make([]chat.Message, len(drafts))
	if err := w.Commit(ctx, drafts, out); err != nil {
		t.Fatal(err)
	}
	if out[0].Seq != 1 || out[1].Seq != 1 || out[1].Text != "second" {
		t.Fatalf("after the failed batch: %+v, want seq 1 in both rooms", out)
	}
}
