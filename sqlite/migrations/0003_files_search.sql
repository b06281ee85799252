-- Files and search (issue 22).
--
-- A message's file is described in the message row (attachment: the JSON of
-- chat.Attachment, NULL for none) and its bytes live in this database, in
-- parts of chat.FileChunkBytes: written in the same transaction as the
-- message, so neither exists without the other, and covered by the same
-- backup as the history. Readers stream a file one part at a time.
ALTER TABLE messages ADD COLUMN attachment TEXT;

CREATE TABLE files (
	id         TEXT    PRIMARY KEY, -- chat.Attachment.ID
	message_id INTEGER NOT NULL UNIQUE REFERENCES messages (id)
);

CREATE TABLE file_chunks (
	file_id TEXT    NOT NULL REFERENCES files (id) ON DELETE CASCADE,
	n       INTEGER NOT NULL, -- 0, 1, 2…
	data    BLOB    NOT NULL,
	UNIQUE (file_id, n)
);

-- A file goes with its message: Store.Delete makes the message a tombstone
-- in one statement, and this removes the file (and, by cascade, its parts)
-- in the same transaction.
CREATE TRIGGER messages_delete_file AFTER UPDATE OF deleted ON messages
WHEN NEW.deleted AND NOT OLD.deleted
BEGIN
	DELETE FROM files WHERE message_id = NEW.id;
	UPDATE messages SET attachment = NULL WHERE id = NEW.id AND attachment IS NOT NULL;
END;

-- Signing keys shared by every process on this database (Store.Secret).
CREATE TABLE secrets (
	name  TEXT PRIMARY KEY,
	value BLOB NOT NULL
);

-- Full-text search: FTS5 over the text and the file name of every message
-- that is not a tombstone. Contentless (the text is already in messages),
-- with contentless_delete so that an edit or a deletion can drop a row.
-- unicode61 folds case; diacritics are kept, as PostgreSQL's 'simple'
-- configuration does, so both stores find the same messages.
CREATE VIRTUAL TABLE messages_fts USING fts5(
	body, content = '', contentless_delete = 1, tokenize = 'unicode61 remove_diacritics 0'
);

INSERT INTO messages_fts (rowid, body) SELECT id, text FROM messages WHERE NOT deleted;

CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages WHEN NOT NEW.deleted
BEGIN
	INSERT INTO messages_fts (rowid, body)
	VALUES (NEW.id, NEW.text || ' ' || coalesce(json_extract(NEW.attachment, '$.name'), ''));
END;

CREATE TRIGGER messages_fts_update AFTER UPDATE OF text, deleted, attachment ON messages
BEGIN
	DELETE FROM messages_fts WHERE rowid = OLD.id;
	INSERT INTO messages_fts (rowid, body)
	SELECT NEW.id, NEW.text || ' ' || coalesce(json_extract(NEW.attachment, '$.name'), '')
	WHERE NOT NEW.deleted;
END;
