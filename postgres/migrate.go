package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"

	"github.com/banter-chat/banter/chat/sqlstore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// ErrSchemaTooNew is returned by Open when the database was written by a
// newer Banter whose schema this binary does not know; running would risk
// corrupting it.
var ErrSchemaTooNew = sqlstore.ErrSchemaTooNew

// migrate brings the schema (the connection's search_path) to the newest
// version in one transaction: PostgreSQL DDL is transactional, so a failure
// leaves the previous version intact. Nodes of a cluster often start
// together: a transaction-scoped advisory lock keyed on the schema makes
// them migrate one after the other, and the later ones find nothing to do.
func migrate(ctx context.Context, pool *pgxpool.Pool, schema string) (int, error) {
	ms, err := sqlstore.LoadMigrations(migrationFS)
	if err != nil {
		return 0, err
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('banter-migrate:' || $1))`, schema); err != nil {
		return 0, fmt.Errorf("migrate lock: %w", err)
	}
	if schema != "" {
		if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{schema}.Sanitize()); err != nil {
			return 0, fmt.Errorf("create schema %s: %w", schema, err)
		}
		// The session's search_path named it before it existed.
		if _, err := tx.Exec(ctx, `SELECT set_config('search_path', $1, true)`, pgx.Identifier{schema}.Sanitize()); err != nil {
			return 0, fmt.Errorf("set search_path: %w", err)
		}
	}
	if _, err := tx.Exec(ctx, sqlstore.CreateVersionTable); err != nil {
		return 0, fmt.Errorf("create schema_version: %w", err)
	}
	var cur int
	err = tx.QueryRow(ctx, sqlstore.SelectVersion).Scan(&cur)
	if errors.Is(err, pgx.ErrNoRows) {
		_, err = tx.Exec(ctx, sqlstore.InsertVersionZero)
	}
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	todo, err := sqlstore.Pending(ms, cur)
	if err != nil {
		return cur, err
	}
	for _, m := range todo {
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return cur, fmt.Errorf("migration %s: %w", m.Name, err)
		}
		cur = m.Version
	}
	if _, err := tx.Exec(ctx, `UPDATE schema_version SET version = $1`, cur); err != nil {
		return cur, fmt.Errorf("migrate: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return cur, fmt.Errorf("migrate: commit: %w", err)
	}
	return cur, nil
}
