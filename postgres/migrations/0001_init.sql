-- Rooms exist once they have a message. last_seq is the room's sequence
-- counter. Every append transaction first locks the rows of its rooms (in
-- name order, so that nodes never deadlock), then assigns seq from last_seq
-- and updates it: appends to one room are serialized across all nodes and
-- seq stays gap-free.
CREATE TABLE rooms (
	id        BIGSERIAL PRIMARY KEY,
	name      TEXT   NOT NULL UNIQUE,
	last_seq  BIGINT NOT NULL,
	msg_count BIGINT NOT NULL,
	last_ts   BIGINT NOT NULL
);

-- A sequence, so that a message id is never reused (future retention).
CREATE TABLE messages (
	id         BIGSERIAL PRIMARY KEY,
	room_id    BIGINT NOT NULL REFERENCES rooms (id),
	seq        BIGINT NOT NULL,
	sender     TEXT   NOT NULL,
	sender_key TEXT   NOT NULL, -- chat.NickKey(sender), the de-duplication scope
	text       TEXT   NOT NULL,
	client_id  TEXT,            -- NULL when the client sent none
	ts         BIGINT NOT NULL, -- Unix milliseconds
	UNIQUE (room_id, seq)
);

CREATE UNIQUE INDEX messages_client_id ON messages (room_id, sender_key, client_id)
	WHERE client_id IS NOT NULL;
