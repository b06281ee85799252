package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"

	"github.com/banter-chat/banter/chat/sqlstore"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// ErrSchemaTooNew is returned by Open when the database was written by a
// newer Banter whose schema this binary does not know; running would risk
// corrupting it.
var ErrSchemaTooNew = sqlstore.ErrSchemaTooNew

// migrate brings the schema to the newest version, one transaction per
// migration so that a failure leaves the database at a known version.
// It runs on the writer connection before anything else, so no other
// connection of this process can observe a half-migrated schema; BEGIN
// IMMEDIATE (the writer's _txlock) keeps other processes out meanwhile.
func migrate(ctx context.Context, db *sql.DB) (int, error) {
	ms, err := sqlstore.LoadMigrations(migrationFS)
	if err != nil {
		return 0, err
	}
	if _, err := db.ExecContext(ctx, sqlstore.CreateVersionTable); err != nil {
		return 0, fmt.Errorf("create schema_version: %w", err)
	}
	for {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return 0, fmt.Errorf("migrate: %w", err)
		}
		var cur int
		err = tx.QueryRowContext(ctx, sqlstore.SelectVersion).Scan(&cur)
		if errors.Is(err, sql.ErrNoRows) {
			_, err = tx.ExecContext(ctx, sqlstore.InsertVersionZero)
		}
		if err != nil {
			_ = tx.Rollback()
			return 0, fmt.Errorf("read schema version: %w", err)
		}
		todo, err := sqlstore.Pending(ms, cur)
		if err != nil {
			_ = tx.Rollback()
			return cur, err
		}
		if len(todo) == 0 {
			return cur, tx.Commit()
		}
		m := todo[0]
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			_ = tx.Rollback()
			return cur, fmt.Errorf("migration %s: %w", m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE schema_version SET version = ?`, m.Version); err != nil {
			_ = tx.Rollback()
			return cur, fmt.Errorf("migration %s: %w", m.Name, err)
		}
		if err := tx.Commit(); err != nil {
			return cur, fmt.Errorf("migration %s: commit: %w", m.Name, err)
		}
	}
}
