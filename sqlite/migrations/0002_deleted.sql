-- Moderation: a deleted message stays as a tombstone (deleted = 1, empty
-- text) so that seqs stay gap-free.
ALTER TABLE messages ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
