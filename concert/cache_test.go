package concert_test

import (
	"context"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/concert"
	"github.com/boxoffice/boxoffice/queue"
)

// countingStore answers Concert and counts the calls; the cache needs nothing else.
type countingStore struct {
	concert.Store
	calls int
	title string
}

func (s *countingStore) Concert(_ context.Context, id string) (concert.Concert, error) {
	s.calls++
	if id != "c1" {
		return concert.Concert{}, boxoffice.Errorf(boxoffice.CodeNotFound, "no %s", id)
	}
	return concert.Concert{ID: id, Title: s.title, WaitingRoom: queue.DefaultSettings()}, nil
}

func TestCache(t *testing.T) {
	ctx := context.Background()
	clock := boxoffice.NewManualClock(t0)
	store := &countingStore{title: "a"}
	cache := concert.NewCache(store, clock, time.Second)

	get := func() string {
		t.Helper()
		c, err := cache.Concert(ctx, "c1")
		if err != nil {
			t.Fatal(err)
		}
		return c.Title
	}
	get()
	store.title = "b"
	if got := get(); got != "a" || store.calls != 1 {
		t.Errorf("within ttl: got %q after %d reads, want cached \"a\" after 1", got, store.calls)
	}
	clock.Advance(time.Second)
	if got := get(); got != "b" || store.calls != 2 {
		t.Errorf("after ttl: got %q after %d reads, want \"b\" after 2", got, store.calls)
	}
	store.title = "c"
	cache.Forget("c1")
	if got := get(); got != "c" {
		t.Errorf("after Forget: got %q, want \"c\"", got)
	}
	if _, err := cache.Concert(ctx, "nope"); boxoffice.ErrorCode(err) != boxoffice.CodeNotFound {
		t.Errorf("unknown: got %v, want NOT_FOUND", err)
	}
}
