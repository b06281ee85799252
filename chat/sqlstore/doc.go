// Package sqlstore is the skeleton shared by Banter's SQL chat.Store
// implementations (package sqlite, package postgres): the Append front, the
// group-commit writers, Close, argument checks, error mapping, the read
// paths, the migration loader and row scanning. A store package supplies a
// Backend (its SQL and its transaction bodies) and embeds the *Store that
// New returns in its DB type, so its chat.Store methods are this package's.
//
// # Durability contract
//
// Durable before acknowledged: Append returns a message only after the
// transaction that stored it committed (what "committed" survives is the
// backend's: SQLite's WAL survives the death of the process, PostgreSQL's
// synchronous commit a crash of the machine). An Append that returns an
// error stored nothing: a caller whose context ends while its message is
// still queued gets the context error and the writers skip it; once a
// writer has claimed it, the transaction's outcome is the answer however
// long the caller's context lives. (PostgreSQL alone can fail to learn the
// outcome of a COMMIT; see package postgres.)
//
// Group commit: Append queues its draft (Config.QueueSize; a full queue
// blocks Append, honouring its context) for Config.Writers writer
// goroutines. A writer takes whatever is queued, up to Config.MaxBatch
// drafts, and hands it to Writer.Commit as one transaction: N concurrent
// appenders pay for about one commit, not N. A failed transaction fails
// every Append of its batch and stores none of them.
//
// Client-id de-duplication: a draft with a ClientID that its user (NickKey
// of the sender) already used in the room is answered with the original
// message, Duplicate set, and stores nothing, whether the original was
// committed long ago, by another node, or earlier in the same batch. Each
// Backend enforces it inside its transaction (a unique index on room,
// sender key and client id).
//
// Close refuses new appends (ErrUnavailable), lets the writers commit what
// is already queued, then closes the Backend.
//
// # Concurrency
//
// Every method of Store is safe for concurrent use. Backend methods are
// called concurrently (reads, Delete) with the writers' Commit; each
// Writer is used by one goroutine only.
package sqlstore
