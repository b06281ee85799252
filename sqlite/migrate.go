package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// ErrSchemaTooNew is returned by Open when the database was written by a
// newer Banter whose schema this binary does not know; running would risk
// corrupting it.
var ErrSchemaTooNew = errors.New("sqlite: database schema is newer than this binary")

type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations ordered by version. Files are
// named NNNN_description.sql; versions must be 1, 2, 3… without holes.
func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("sqlite: migration %s: name must start with a number and '_'", base)
		}
		body, err := migrationFS.ReadFile(name)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: base, sql: string(body)})
	}
	slices.SortFunc(out, func(a, b migration) int { return a.version - b.version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("sqlite: migration %s: want version %d", m.name, i+1)
		}
	}
	return out, nil
}

// migrate brings the schema to the newest version, one transaction per
// migration so that a failure leaves the database at a known version.
// It runs on the writer connection before anything else, so no other
// connection of this process can observe a half-migrated schema; BEGIN
// IMMEDIATE (the writer's _txlock) keeps other processes out meanwhile.
func migrate(ctx context.Context, db *sql.DB) (int, error) {
	ms, err := migrations()
	if err != nil {
		return 0, err
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return 0, fmt.Errorf("sqlite: create schema_version: %w", err)
	}
	for {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return 0, fmt.Errorf("sqlite: migrate: %w", err)
		}
		var cur int
		err = tx.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&cur)
		if errors.Is(err, sql.ErrNoRows) {
			_, err = tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (0)`)
		}
		if err != nil {
			_ = tx.Rollback()
			return 0, fmt.Errorf("sqlite: read schema version: %w", err)
		}
		switch {
		case cur > len(ms):
			_ = tx.Rollback()
			return cur, fmt.Errorf("%w: database version %d, newest known %d", ErrSchemaTooNew, cur, len(ms))
		case cur == len(ms):
			return cur, tx.Commit()
		}
		m := ms[cur]
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			_ = tx.Rollback()
			return cur, fmt.Errorf("sqlite: migration %s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE schema_version SET version = ?`, m.version); err != nil {
			_ = tx.Rollback()
			return cur, fmt.Errorf("sqlite: migration %s: %w", m.name, err)
		}
		if err := tx.Commit(); err != nil {
			return cur, fmt.Errorf("sqlite: migration %s: commit: %w", m.name, err)
		}
	}
}
