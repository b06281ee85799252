package testutil

import "os"

// PostgresURL is the machine's PostgreSQL for tests (scripts/deps.sh starts
// it: 127.0.0.1:5432, trust auth, database test); BANTER_TEST_POSTGRES
// points elsewhere.
func PostgresURL() string {
	if u := os.Getenv("BANTER_TEST_POSTGRES"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// RedisURL is the machine's Redis for tests (scripts/deps.sh starts it:
// 127.0.0.1:6379); BANTER_TEST_REDIS points elsewhere.
func RedisURL() string {
	if u := os.Getenv("BANTER_TEST_REDIS"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}
