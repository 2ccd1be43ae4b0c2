package concert

import (
	"context"
	"sync"
	"time"

	"github.com/boxoffice/boxoffice"
)

// Cache remembers concerts read from a Store for a short time. A concert's
// dates, grades and sale rules never change after creation; its waiting
// room settings and SoldOut may, and are at most ttl old when read through
// the cache.
type Cache struct {
	store Store
	clock boxoffice.Clock
	ttl   time.Duration

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
	return &Cache{store: store, clock: clock, ttl: ttl, entries: make(map[string]cacheEntry)}
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
	con, err := c.store.Concert(ctx, id)
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
