package redis

import (
	"context"
	"slices"
)

// Kept lists, sorted, every room indexed under the store's prefix.
func (s *QueueStore) Kept(ctx context.Context) ([]string, error) {
	ids, err := s.client.SMembers(ctx, s.index).Result()
	if err != nil {
		return nil, fail("list waiting rooms", err)
	}
	slices.Sort(ids)
	return ids, nil
}

// End removes every key of the room with one UNLINK of roomKeys (one
// cluster slot: they share the room's hash tag), then takes the room out
// of the index. A room indexed but without keys is only unindexed; a
// removal cut short between the two leaves an indexed room without keys,
// which the next End finishes. Spent proofs of work (:proof:<name>) are
// not among roomKeys: they expire with their challenges.
func (s *QueueStore) End(ctx context.Context, concertID string) error {
	if err := s.client.Unlink(ctx, s.roomKeys(concertID)...).Err(); err != nil {
		return failWrite("end waiting room", err)
	}
	if err := s.client.SRem(ctx, s.index, concertID).Err(); err != nil {
		return failWrite("unindex waiting room", err)
	}
	if _, ok := s.keys.LoadAndDelete(concertID); ok {
		s.cached.Add(-1)
	}
	return nil
}
