package concert_test

import (
	"context"
	"sync"
	"sync/atomic"
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

// slowStore answers Concert after a pause, counting the calls.
type slowStore struct {
	concert.Store
	calls atomic.Int64
}

func (s *slowStore) Concert(_ context.Context, id string) (concert.Concert, error) {
	s.calls.Add(1)
	time.Sleep(20 * time.Millisecond)
	return concert.Concert{ID: id}, nil
}

func TestCacheMissesShareOneRead(t *testing.T) {
	store := &slowStore{}
	cache := concert.NewCache(store, boxoffice.NewManualClock(t0), time.Second)
	const readers = 200
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range readers {
		wg.Go(func() {
			<-start
			if c, err := cache.Concert(context.Background(), "c1"); err != nil || c.ID != "c1" {
				t.Errorf("Concert: got %+v, %v", c, err)
			}
		})
	}
	close(start)
	wg.Wait()
	// Readers that arrive while a read is in flight share the next one:
	// at most two reads, never one per reader.
	if n := store.calls.Load(); n > 2 {
		t.Errorf("%d concurrent misses made %d store reads, want at most 2", readers, n)
	}
}
