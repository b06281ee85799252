-- Message state (chat.MessageStore): edits, deletions and reactions give a
-- message the room's next rev (rooms.last_rev, gap-free like last_seq:
-- taken under the room's row lock), so that clients catch up with changes
-- as they do with messages; replies, mentions, and each user's read marker
-- per room.
ALTER TABLE rooms ADD COLUMN last_rev BIGINT NOT NULL DEFAULT 0;

ALTER TABLE messages ADD COLUMN rev       BIGINT NOT NULL DEFAULT 0; -- last change, 0: none
ALTER TABLE messages ADD COLUMN edited    BIGINT NOT NULL DEFAULT 0; -- last edit, Unix ms
ALTER TABLE messages ADD COLUMN reply_to  BIGINT;                    -- messages.id of the same room
ALTER TABLE messages ADD COLUMN mentions  TEXT;                      -- chat.EncodeMentions
ALTER TABLE messages ADD COLUMN reactions TEXT;                      -- JSON summary (chat.Reaction list)

CREATE INDEX messages_rev ON messages (room_id, rev) WHERE rev > 0;

-- One row per user and emoji; id keeps the order they came in.
CREATE TABLE reactions (
	id       BIGSERIAL PRIMARY KEY,
	room_id  BIGINT NOT NULL REFERENCES rooms (id),
	seq      BIGINT NOT NULL,
	emoji    TEXT   NOT NULL,
	user_key TEXT   NOT NULL, -- chat.NickKey
	nickname TEXT   NOT NULL,
	ts       BIGINT NOT NULL,
	UNIQUE (room_id, seq, emoji, user_key)
);

-- A user's position in a room: the last message read and delivered.
CREATE TABLE reads (
	user_key      TEXT   NOT NULL, -- chat.NickKey
	room_id       BIGINT NOT NULL REFERENCES rooms (id),
	nickname      TEXT   NOT NULL, -- as last seen, for "seen by"
	read_seq      BIGINT NOT NULL,
	delivered_seq BIGINT NOT NULL,
	ts            BIGINT NOT NULL, -- last change, Unix ms
	PRIMARY KEY (user_key, room_id)
);
CREATE INDEX reads_room ON reads (room_id, read_seq);
