package concert

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/batch"
)

// Cache remembers concerts read from a Store for a short time. A concert's
// dates, grades and sale rules never change after creation; its waiting
// room settings and SoldOut may, and are at most ttl old when read through
// the cache.
type Cache struct {
	store Store
	clock boxoffice.Clock
	ttl   time.Duration
	// reads makes the readers that miss a concert at once (every reader of
	// a busy concert, the instant its entry expires) share one store read.
	reads *batch.Group[string, struct{}, Concert]

	mu      sync.RWMutex
	entries map[string]cacheEntry
}

type cacheEntry struct {
	c       Concert
	expires time.Time
}

// maxCached bounds the cache; past it, the cache starts over.
const maxCached = 10000

// NewCache returns a cache in front of store.
func NewCache(store Store, clock boxoffice.Clock, ttl time.Duration) *Cache {
	c := &Cache{store: store, clock: clock, ttl: ttl, entries: make(map[string]cacheEntry)}
	c.reads = batch.New(1<<20, readTimeout, c.read)
	return c
}

// readTimeout bounds one store read of a concert shared by many readers.
const readTimeout = 10 * time.Second

func (c *Cache) read(ctx context.Context, id string, reqs []struct{}) ([]Concert, error) {
	con, err := c.store.Concert(ctx, id)
	if err != nil {
		return nil, err
	}
	out := make([]Concert, len(reqs))
	for i := range out {
		out[i] = con
	}
	return out, nil
}

// Concert returns the concert, from the cache when fresh. Errors: NOT_FOUND.
func (c *Cache) Concert(ctx context.Context, id string) (Concert, error) {
	now := c.clock.Now()
	c.mu.RLock()
	e, ok := c.entries[id]
	c.mu.RUnlock()
	if ok && now.Before(e.expires) {
		return e.c, nil
	}
	con, err := c.reads.Do(ctx, id, struct{}{})
	var abandoned *batch.AbandonedError
	if errors.As(err, &abandoned) && !errors.Is(err, context.Canceled) {
		return Concert{}, boxoffice.Unavailable("database", err) // a read: nothing changed
	}
	if err != nil {
		return Concert{}, err
	}
	c.mu.Lock()
	if len(c.entries) >= maxCached {
		clear(c.entries)
	}
	c.entries[id] = cacheEntry{c: con, expires: now.Add(c.ttl)}
	c.mu.Unlock()
	return con, nil
}

// Forget drops a concert so that the next read goes to the store.
func (c *Cache) Forget(id string) {
	c.mu.Lock()
	delete(c.entries, id)
	c.mu.Unlock()
}
