package sqlite_test

import (
	"path/filepath"
	"testing"

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
