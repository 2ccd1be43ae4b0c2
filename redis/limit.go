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
// least 1), and GroupFactor times both per group of keys, like the
// in-process limiter of package http. A key's state is one Redis string,
// <prefix>rl:{<key>}, or <prefix>rl:{<group>}<key> beside its group's
// <prefix>rl:{<group>} (one cluster slot), that expires once the burst has
// refilled. It is safe for concurrent use.
type Limiter struct {
	client              goredis.UniversalClient
	prefix              string
	interval, tolerance float64 // µs
}

// GroupFactor is how many times a key's rate and burst its group allows.
const GroupFactor = 4

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

// Allow takes one request from key's allowance, and from group's when group
// is not empty, at now. When either is spent it takes nothing and returns
// false and how long until the next request would be allowed. Errors:
// UNAVAILABLE when Redis does not answer.
func (l *Limiter) Allow(ctx context.Context, key, group string, now time.Time) (bool, time.Duration, error) {
	if l.interval == 0 {
		return true, 0, nil
	}
	interval := strconv.FormatFloat(l.interval, 'g', -1, 64)
	tolerance := strconv.FormatFloat(l.tolerance, 'g', -1, 64)
	keys := []string{l.prefix + "rl:{" + key + "}"}
	args := []any{now.UnixMicro(), interval, tolerance}
	if group != "" {
		// The group's interval is a GroupFactor-th of the key's and its
		// burst GroupFactor times: the same tolerance.
		keys = []string{l.prefix + "rl:{" + group + "}" + key, l.prefix + "rl:{" + group + "}"}
		args = append(args, strconv.FormatFloat(l.interval/GroupFactor, 'g', -1, 64), tolerance)
	}
	wait, err := limitScript.Run(ctx, l.client, keys, args...).Int64()
	if err != nil {
		return false, 0, fail("rate limit", err)
	}
	if wait > 0 {
		return false, time.Duration(wait) * time.Microsecond, nil
	}
	return true, 0, nil
}
