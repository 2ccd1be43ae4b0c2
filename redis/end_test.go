package redis

import (
	"context"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/boxoffice/boxoffice/queue"
)

func emptySnapshot(context.Context) (queue.Snapshot, error) { return queue.Snapshot{}, nil }

// scanKeys lists the keys matching pattern.
func scanKeys(t *testing.T, c goredis.UniversalClient, pattern string) []string {
	t.Helper()
	var keys []string
	iter := c.Scan(t.Context(), 0, pattern, 1000).Iterator()
	for iter.Next(t.Context()) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return keys
}

// hasRoom reports whether key is one of the room's.
func hasRoom(key, concertID string) bool { return strings.Contains(key, "{"+concertID+"}") }

// TestEndLeavesNoKey ends rooms that have every kind of key (places,
// sessions, a draw, waits, a log, a lease, supply) and finds nothing left
// under the store's prefix, the index included, while another room stays.
func TestEndLeavesNoKey(t *testing.T) {
	c := testClient(t)
	prefix := testPrefix(t, c)
	s := NewQueueStore(c, prefix)
	ctx := t.Context()
	t0 := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	settings := queue.Settings{Strategy: queue.Rate, AdmitPerSecond: 2, SessionSeconds: 600, IdleSeconds: 60, MaxSessionSeconds: 900}
	ids := []string{"01970000-0000-7000-8000-0000000000a1", "01970000-0000-7000-8000-0000000000a2", "01970000-0000-7000-8000-0000000000a3"}
	for _, id := range ids {
		room := queue.Room{ConcertID: id, OpensAt: t0.Add(time.Second), Settings: settings, Seed: []byte("seed")}
		if err := s.Restore(ctx, room, emptySnapshot, "test", time.Second, t0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Join(ctx, room, []string{"a", "b", "c", "d"}, t0); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if _, err := s.Admit(ctx, id, "test", time.Second, t0.Add(time.Duration(i+1)*time.Second)); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.SetSupply(ctx, id, queue.Supply{Available: true}, t0); err != nil {
			t.Fatal(err)
		}
	}
	if st, err := s.Stats(ctx, ids[0], t0.Add(3*time.Second)); err != nil || !st.Drawn || st.AdmittedTotal == 0 || st.Waits.Count() == 0 {
		t.Fatalf("before the end: got %+v, %v, want drawn, admissions and waits", st, err)
	}
	for _, id := range ids[:2] {
		if err := s.End(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	left := scanKeys(t, c, prefix+"*")
	for _, k := range left {
		if k != s.index && !hasRoom(k, ids[2]) {
			t.Errorf("key left after the end: %s", k)
		}
	}
	if len(left) == 0 {
		t.Fatalf("the room not ended lost its keys too")
	}
	if err := s.End(ctx, ids[2]); err != nil {
		t.Fatal(err)
	}
	if left := scanKeys(t, c, prefix+"*"); len(left) != 0 {
		t.Errorf("keys left after every room ended: %v", left)
	}
}
