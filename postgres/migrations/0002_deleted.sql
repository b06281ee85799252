-- Moderation: a deleted message stays as a tombstone (deleted, empty text)
-- so that seqs stay gap-free.
ALTER TABLE messages ADD COLUMN deleted BOOLEAN NOT NULL DEFAULT false;
