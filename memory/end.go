package memory

import (
	"context"
	"slices"
)

// Kept lists, sorted, every room the store has.
func (s *QueueStore) Kept(context.Context) ([]string, error) {
	var ids []string
	s.rooms.Range(func(k, _ any) bool {
		ids = append(ids, k.(string))
		return true
	})
	slices.Sort(ids)
	return ids, nil
}

// End forgets the room: every place, session, count, draw and log entry.
func (s *QueueStore) End(_ context.Context, concertID string) error {
	s.mu.Lock()
	s.rooms.Delete(concertID)
	s.mu.Unlock()
	return nil
}
