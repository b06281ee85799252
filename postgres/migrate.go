package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// ErrSchemaTooNew is returned by Open when the database was written by a
// newer Banter whose schema this binary does not know; running would risk
// corrupting it.
var ErrSchemaTooNew = errors.New("postgres: database schema is newer than this binary")

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
			return nil, fmt.Errorf("postgres: migration %s: name must start with a number and '_'", base)
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
			return nil, fmt.Errorf("postgres: migration %s: want version %d", m.name, i+1)
		}
	}
	return out, nil
}

// migrate brings the schema (the connection's search_path) to the newest
// version in one transaction: PostgreSQL DDL is transactional, so a failure
// leaves the previous version intact. Nodes of a cluster often start
// together: a transaction-scoped advisory lock keyed on the schema makes
// them migrate one after the other, and the later ones find nothing to do.
func migrate(ctx context.Context, pool *pgxpool.Pool, schema string) (int, error) {
	ms, err := migrations()
	if err != nil {
		return 0, err
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("postgres: migrate: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('banter-migrate:' || $1))`, schema); err != nil {
		return 0, fmt.Errorf("postgres: migrate lock: %w", err)
	}
	if schema != "" {
		if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{schema}.Sanitize()); err != nil {
			return 0, fmt.Errorf("postgres: create schema %s: %w", schema, err)
		}
		// The session's search_path named it before it existed.
		if _, err := tx.Exec(ctx, `SELECT set_config('search_path', $1, true)`, pgx.Identifier{schema}.Sanitize()); err != nil {
			return 0, fmt.Errorf("postgres: set search_path: %w", err)
		}
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return 0, fmt.Errorf("postgres: create schema_version: %w", err)
	}
	var cur int
	err = tx.QueryRow(ctx, `SELECT version FROM schema_version`).Scan(&cur)
	if errors.Is(err, pgx.ErrNoRows) {
		_, err = tx.Exec(ctx, `INSERT INTO schema_version (version) VALUES (0)`)
	}
	if err != nil {
		return 0, fmt.Errorf("postgres: read schema version: %w", err)
	}
	if cur > len(ms) {
		return cur, fmt.Errorf("%w: database version %d, newest known %d", ErrSchemaTooNew, cur, len(ms))
	}
	for _, m := range ms[cur:] {
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return cur, fmt.Errorf("postgres: migration %s: %w", m.name, err)
		}
		cur = m.version
	}
	if _, err := tx.Exec(ctx, `UPDATE schema_version SET version = $1`, cur); err != nil {
		return cur, fmt.Errorf("postgres: migrate: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return cur, fmt.Errorf("postgres: migrate: commit: %w", err)
	}
	return cur, nil
}
