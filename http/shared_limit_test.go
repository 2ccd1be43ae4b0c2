package http_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"

	"github.com/boxoffice/boxoffice"
	boxhttp "github.com/boxoffice/boxoffice/http"
	"github.com/boxoffice/boxoffice/redis"
)

// TestSharedRateLimit checks that two instances given one shared limiter
// (as production mode wires the Redis one) spend one budget per client.
func TestSharedRateLimit(t *testing.T) {
	ctx := context.Background()
	client, prefix := sharedRedis(t)
	var opts boxhttp.Options
	e := newEnv(t, func(o *boxhttp.Options) {
		o.Limiter = redis.NewLimiter(client, prefix, 1) // a burst of 2
		opts = *o
	})
	opts.Registry = prometheus.NewRegistry()
	other := httptest.NewServer(boxhttp.NewServer(opts))
	t.Cleanup(other.Close)
	b := boxhttp.NewClient(other.URL, other.Client())

	c := e.concert(t, spec())
	kim := e.fan(t, "Kim", 0)
	e.clock.Advance(time.Minute) // the budget spent creating the fan is back
	if _, _, err := e.client.Join(ctx, kim.access, c.ConcertID); err != nil {
		t.Fatalf("join on the first instance: %v", err)
	}
	if _, _, err := b.Join(ctx, kim.access, c.ConcertID); err != nil {
		t.Fatalf("join on the second instance: %v", err)
	}
	_, _, err := e.client.Join(ctx, kim.access, c.ConcertID)
	wantCode(t, err, 429, boxoffice.CodeRateLimited)
}

// sharedRedis returns a Redis client and a key prefix of the test's own,
// whose keys are deleted when t ends.
func sharedRedis(t *testing.T) (goredis.UniversalClient, string) {
	t.Helper()
	ctx := context.Background()
	client, err := redis.Open(ctx, redisURL())
	if err != nil {
		unreachable(t, "Redis (BOXOFFICE_TEST_REDIS_URL)", err)
	}
	prefix := randomName("httplimit:") + ":"
	t.Cleanup(func() {
		defer client.Close()
		keys, _ := client.Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			client.Del(ctx, keys...)
		}
	})
	return client, prefix
}
