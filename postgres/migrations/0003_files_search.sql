-- Files and search (issue 22).
--
-- A message's file is described in the message row (attachment: the JSON of
-- chat.Attachment, NULL for none) and its bytes live in this database, in
-- parts of chat.FileChunkBytes: written in the same transaction as the
-- message, and readable by every node of a cluster. Readers stream a file
-- one part at a time.
ALTER TABLE messages ADD COLUMN attachment TEXT;

CREATE TABLE files (
	id         TEXT   PRIMARY KEY, -- chat.Attachment.ID
	message_id BIGINT NOT NULL UNIQUE REFERENCES messages (id)
);

CREATE TABLE file_chunks (
	file_id TEXT    NOT NULL REFERENCES files (id) ON DELETE CASCADE,
	n       INTEGER NOT NULL, -- 0, 1, 2…
	data    BYTEA   NOT NULL,
	PRIMARY KEY (file_id, n)
);
-- The parts are already compressed or small: no TOAST compression work.
ALTER TABLE file_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

-- A file goes with its message: Store.Delete makes the message a tombstone
-- in one statement, and this removes the file (and, by cascade, its parts)
-- in the same transaction.
CREATE FUNCTION delete_message_file() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	DELETE FROM files WHERE message_id = NEW.id;
	RETURN NULL;
END
$$;
CREATE TRIGGER messages_delete_file AFTER UPDATE OF deleted ON messages
	FOR EACH ROW WHEN (NEW.deleted AND NOT OLD.deleted) EXECUTE FUNCTION delete_message_file();

-- Signing keys shared by every node (Store.Secret).
CREATE TABLE secrets (
	name  TEXT  PRIMARY KEY,
	value BYTEA NOT NULL
);

-- Full-text search: the 'simple' configuration (no stemming, no stop
-- words: chat is multilingual) over the text and the file name, with ASCII
-- punctuation made white space first so that words split as SQLite's
-- unicode61 tokenizer splits them ("report-2024.pdf" is report, 2024, pdf).
-- A GIN index over that expression, for the messages that are not
-- tombstones; queries use the same function.
CREATE FUNCTION search_document(body TEXT, attachment TEXT) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT to_tsvector('simple'::regconfig, translate(
		body || ' ' || coalesce(attachment::json ->> 'name', ''),
		'!"#$%&''()*+,-./:;<=>?@[\]^_`{|}~',
		'                                '))
$$;
CREATE INDEX messages_search ON messages USING gin (search_document(text, attachment)) WHERE NOT deleted;
