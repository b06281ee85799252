package sqlstore

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
)

// ErrSchemaTooNew is returned (wrapped) when a database was written by a
// newer Banter whose schema this binary does not know; running would risk
// corrupting it.
var ErrSchemaTooNew = errors.New("database schema is newer than this binary")

// Migration is one schema change: the SQL of migrations/NNNN_name.sql.
type Migration struct {
	Version int
	Name    string // the file name, for errors
	SQL     string
}

// The table holding a schema's version, one row. Both stores' SQL.
const (
	CreateVersionTable = `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`
	SelectVersion      = `SELECT version FROM schema_version`
	InsertVersionZero  = `INSERT INTO schema_version (version) VALUES (0)`
)

// LoadMigrations returns the migrations of fsys (a store's embedded
// migrations/*.sql) ordered by version. Files are named
// NNNN_description.sql; versions must be 1, 2, 3… without holes.
func LoadMigrations(fsys fs.FS) ([]Migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number and '_'", base)
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: base, SQL: string(body)})
	}
	slices.SortFunc(out, func(a, b Migration) int { return a.Version - b.Version })
	for i, m := range out {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration %s: want version %d", m.Name, i+1)
		}
	}
	return out, nil
}

// Pending returns the migrations a database at version cur still needs,
// or ErrSchemaTooNew when cur is past the newest one.
func Pending(ms []Migration, cur int) ([]Migration, error) {
	if cur > len(ms) {
		return nil, fmt.Errorf("%w: database version %d, newest known %d", ErrSchemaTooNew, cur, len(ms))
	}
	return ms[cur:], nil
}
