package redis

import (
	"context"
	_ "embed"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

//go:embed lua/quota.lua
var quotaLua string

var quotaScript = goredis.NewScript(quotaLua)

// Quota counts the events of each client over a sliding window across
// every instance that shares one Redis: at most limit events in any window
// per key, and GroupFactor times that per group of keys, like the
// in-process quota of package http. A key's state is one Redis list of the
// instants of its latest events, <prefix>{<key>}, or <prefix>{<group>}<key>
// beside its group's <prefix>{<group>} (one cluster slot), that expires a
// window after its latest event. It is safe for concurrent use.
type Quota struct {
	client goredis.UniversalClient
	prefix string
	limit  int
	window time.Duration
}

// NewQuota returns a quota of limit events per window per key, keeping its
// keys under prefix. A limit <= 0 allows everything without asking Redis.
func NewQuota(client goredis.UniversalClient, prefix string, limit int, window time.Duration) *Quota {
	return &Quota{client: client, prefix: prefix, limit: limit, window: window}
}

// Take records one event of key, and of group when not empty, at now,
// unless either already had its limit within the window: it then records
// nothing and returns false and how long until one more event is allowed.
// Errors: UNAVAILABLE when Redis does not answer.
func (q *Quota) Take(ctx context.Context, key, group string, now time.Time) (bool, time.Duration, error) {
	wait, err := q.run(ctx, key, group, now, "1")
	if err != nil {
		return false, 0, err
	}
	return wait == 0, wait, nil
}

// Wait returns how long until key and group allow one more event, 0 when
// they allow one now. It records nothing. Errors: UNAVAILABLE when Redis
// does not answer.
func (q *Quota) Wait(ctx context.Context, key, group string, now time.Time) (time.Duration, error) {
	return q.run(ctx, key, group, now, "0")
}

func (q *Quota) run(ctx context.Context, key, group string, now time.Time, take string) (time.Duration, error) {
	if q.limit <= 0 {
		return 0, nil
	}
	keys := []string{q.prefix + "{" + key + "}"}
	args := []any{now.UnixMicro(), q.window.Microseconds(), take, q.limit}
	if group != "" {
		keys = []string{q.prefix + "{" + group + "}" + key, q.prefix + "{" + group + "}"}
		args = append(args, GroupFactor*q.limit)
	}
	wait, err := quotaScript.Run(ctx, q.client, keys, args...).Int64()
	if err != nil {
		return 0, fail("quota", err)
	}
	return time.Duration(wait) * time.Microsecond, nil
}
