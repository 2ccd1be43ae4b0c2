package http

import (
	"context"
	"sync"
	"time"
)

// flagCache remembers a boolean per key for ttl. When an entry goes stale,
// one caller reloads it while the others keep answering the stale value, so
// a hot key costs one load per ttl. A key never loaded is loaded by each
// caller that asks before the first load finishes.
type flagCache struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]*flagEntry
}

type flagEntry struct {
	value   bool
	expires time.Time
	loading bool
}

// maxFlags bounds a flagCache; past it, the cache starts over.
const maxFlags = 10000

func newFlagCache(ttl time.Duration) *flagCache {
	return &flagCache{ttl: ttl, m: make(map[string]*flagEntry)}
}

// get returns key's value at now, loading it when missing or stale. A
// failed reload of a stale entry keeps the stale value.
func (c *flagCache) get(ctx context.Context, key string, now time.Time, load func(context.Context) (bool, error)) (bool, error) {
	c.mu.Lock()
	e, ok := c.m[key]
	if ok && (now.Before(e.expires) || e.loading) {
		v := e.value
		c.mu.Unlock()
		return v, nil
	}
	if ok {
		e.loading = true
	}
	c.mu.Unlock()

	v, err := c.load(ctx, e, load)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		if ok {
			return e.value, nil
		}
		return false, err
	}
	if !ok && len(c.m) >= maxFlags {
		clear(c.m)
	}
	c.m[key] = &flagEntry{value: v, expires: now.Add(c.ttl)}
	return v, nil
}

// load runs f, clearing e's loading mark however f ends.
func (c *flagCache) load(ctx context.Context, e *flagEntry, f func(context.Context) (bool, error)) (bool, error) {
	if e != nil {
		defer func() {
			c.mu.Lock()
			e.loading = false
			c.mu.Unlock()
		}()
	}
	return f(ctx)
}
