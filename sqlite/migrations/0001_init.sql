-- Rooms exist once they have a message. last_seq is the room's sequence
-- counter: the writer reads it and stores the new value in the same
-- transaction as the messages, which keeps seq gap-free.
CREATE TABLE rooms (
	id        INTEGER PRIMARY KEY,
	name      TEXT    NOT NULL UNIQUE,
	last_seq  INTEGER NOT NULL,
	msg_count INTEGER NOT NULL,
	last_ts   INTEGER NOT NULL
);

-- AUTOINCREMENT so that a message id is never reused, even after the newest
-- messages are deleted (future retention).
CREATE TABLE messages (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	room_id    INTEGER NOT NULL REFERENCES rooms (id),
	seq        INTEGER NOT NULL,
	sender     TEXT    NOT NULL,
	sender_key TEXT    NOT NULL, -- chat.NickKey(sender), the de-duplication scope
	text       TEXT    NOT NULL,
	client_id  TEXT,             -- NULL when the client sent none
	ts         INTEGER NOT NULL, -- Unix milliseconds
	UNIQUE (room_id, seq)
);

CREATE UNIQUE INDEX messages_client_id ON messages (room_id, sender_key, client_id)
	WHERE client_id IS NOT NULL;
