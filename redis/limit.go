package redis

import (
	"context"
	_ "embed"
	"math"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

//go:embed lua/limit.lua
var limitLua string

var limitScript = goredis.NewScript(limitLua)

// Limiter limits the requests of each client across every instance that
// shares one Redis: a generic cell rate algorithm in one script, allowing
// perSecond requests per second per key with a burst of twice that (at
// least 1), like the in-process limiter of package http. A key's state is
// one Redis string, <prefix>rl:{<key>}, that expires once the key's burst
// has refilled. It is safe for concurrent use.
type Limiter struct {
	client              goredis.UniversalClient
	prefix              string
	interval, tolerance float64 // µs
}

// NewLimiter returns a limiter allowing perSecond requests per second per
// key, keeping its keys under prefix. A rate <= 0 allows everything
// without asking Redis.
func NewLimiter(client goredis.UniversalClient, prefix string, perSecond float64) *Limiter {
	l := &Limiter{client: client, prefix: prefix}
	if perSecond > 0 {
		l.interval = 1e6 / perSecond
		l.tolerance = math.Max(1, 2*perSecond) * l.interval
	}
	return l
}

// Allow takes one request from key's allowance at now. When the allowance
// is spent it returns false and how long until the next request would be
// allowed. Errors: UNAVAILABLE when Redis does not answer.
func (l *Limiter) Allow(ctx context.Context, key string, now time.Time) (bool, time.Duration, error) {
	if l.interval == 0 {
		return true, 0, nil
	}
	wait, err := limitScript.Run(ctx, l.client, []string{l.prefix + "rl:{" + key + "}"}, now.UnixMicro(),
		strconv.FormatFloat(l.interval, 'g', -1, 64), strconv.FormatFloat(l.tolerance, 'g', -1, 64)).Int64()
	if err != nil {
		return false, 0, fail("rate limit", err)
	}
	if wait > 0 {
		return false, time.Duration(wait) * time.Microsecond, nil
	}
	return true, 0, nil
}
