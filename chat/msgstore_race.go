//go:build race

package chat

import "context"

// The MessageStore methods of lockCheckedStore (lockorder_race.go): called
// without the Service's locks.

func (c lockCheckedStore) MessageByID(ctx context.Context, id string) (Message, error) {
	assertNoLocks("Store.MessageByID")
	return c.Store.MessageByID(ctx, id)
}

func (c lockCheckedStore) Edit(ctx context.Context, e Edit) (Message, error) {
	assertNoLocks("Store.Edit")
	return c.Store.Edit(ctx, e)
}

func (c lockCheckedStore) React(ctx context.Context, r ReactionChange) (Message, bool, error) {
	assertNoLocks("Store.React")
	return c.Store.React(ctx, r)
}

func (c lockCheckedStore) Changes(ctx context.Context, room string, afterRev int64, limit int) ([]Message, error) {
	assertNoLocks("Store.Changes")
	return c.Store.Changes(ctx, room, afterRev, limit)
}

func (c lockCheckedStore) Mark(ctx context.Context, room, user, nickname string, read, delivered int64) (ReadMark, bool, error) {
	assertNoLocks("Store.Mark")
	return c.Store.Mark(ctx, room, user, nickname, read, delivered)
}

func (c lockCheckedStore) RoomState(ctx context.Context, room, user string, readers int) (RoomState, error) {
	assertNoLocks("Store.RoomState")
	return c.Store.RoomState(ctx, room, user, readers)
}

func (c lockCheckedStore) Unread(ctx context.Context, user string, rooms []string) ([]Unread, error) {
	assertNoLocks("Store.Unread")
	return c.Store.Unread(ctx, user, rooms)
}

func (c lockCheckedStore) SeenBy(ctx context.Context, room string, seq int64, limit int) (Seen, error) {
	assertNoLocks("Store.SeenBy")
	return c.Store.SeenBy(ctx, room, seq, limit)
}
