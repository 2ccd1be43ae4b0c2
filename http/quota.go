package http

import (
	"context"
	"sync"
	"time"
)

// Quota counts events of each key over a sliding window: at most a fixed
// number in any window, and GroupFactor times that per group of keys (an
// IPv6 /48 over its /64s). An error means the quota could not decide; the
// request is then let through.
type Quota interface {
	// Take records one event of key, and of group when not empty, at now,
	// unless either already had its limit within the window before now:
	// it then records nothing and returns how long until one more event
	// is allowed.
	Take(ctx context.Context, key, group string, now time.Time) (ok bool, retryAfter time.Duration, err error)
	// Wait returns how long until key and group allow one more event, 0
	// when they allow one now. It records nothing.
	Wait(ctx context.Context, key, group string, now time.Time) (time.Duration, error)
}

// LocalQuota is a Quota for one process. It keeps the instants of the
// latest events of each key, at most the limit, and remembers at most
// about DefaultLimiterKeys keys: past that, keys with no event within the
// window are forgotten first, which changes no decision. It is safe for
// concurrent use.
type LocalQuota struct {
	limit  int
	window time.Duration

	mu     sync.Mutex
	events map[string][]int64 // unix nanoseconds, oldest first
}

// NewLocalQuota returns a quota of limit events per window per key. A
// limit <= 0 allows everything.
func NewLocalQuota(limit int, window time.Duration) *LocalQuota {
	return &LocalQuota{limit: limit, window: window, events: make(map[string][]int64)}
}

// Take records one event of key and group unless either is at its limit.
// It never returns an error.
func (q *LocalQuota) Take(_ context.Context, key, group string, now time.Time) (bool, time.Duration, error) {
	if q.limit <= 0 {
		return true, 0, nil
	}
	t := now.UnixNano()
	q.mu.Lock()
	defer q.mu.Unlock()
	if wait := q.wait(key, group, t); wait > 0 {
		return false, wait, nil
	}
	if len(q.events) >= DefaultLimiterKeys {
		q.evict(t)
	}
	q.record(key, q.limit, t)
	if group != "" {
		q.record(group, GroupFactor*q.limit, t)
	}
	return true, 0, nil
}

// Wait returns how long until key and group allow one more event. It
// never returns an error.
func (q *LocalQuota) Wait(_ context.Context, key, group string, now time.Time) (time.Duration, error) {
	if q.limit <= 0 {
		return 0, nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.wait(key, group, now.UnixNano()), nil
}

// wait is how long from t until key and group allow one more event.
func (q *LocalQuota) wait(key, group string, t int64) time.Duration {
	wait := q.waitOf(key, q.limit, t)
	if group != "" {
		wait = max(wait, q.waitOf(group, GroupFactor*q.limit, t))
	}
	return wait
}

func (q *LocalQuota) waitOf(key string, limit int, t int64) time.Duration {
	ev := q.events[key]
	if len(ev) < limit {
		return 0
	}
	// The limit-th latest event leaves the window at this instant.
	return max(0, time.Duration(ev[len(ev)-limit]+int64(q.window)-t))
}

func (q *LocalQuota) record(key string, limit int, t int64) {
	ev := q.events[key]
	if n := len(ev); n > 0 && ev[n-1] > t {
		t = ev[n-1] // a clock going back keeps the order
	}
	if len(ev) >= limit {
		ev = append(ev[:0], ev[len(ev)-limit+1:]...)
	}
	q.events[key] = append(ev, t)
}

// evict forgets the keys with no event within the window, and if that
// frees nothing, half of them.
func (q *LocalQuota) evict(t int64) {
	for k, ev := range q.events {
		if ev[len(ev)-1]+int64(q.window) <= t {
			delete(q.events, k)
		}
	}
	n := len(q.events) / 2
	if len(q.events) < DefaultLimiterKeys {
		return
	}
	for k := range q.events {
		if n == 0 {
			break
		}
		delete(q.events, k)
		n--
	}
}

// Len returns how many keys and groups the quota remembers.
func (q *LocalQuota) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.events)
}

// The windows of the quotas per client address.
const (
	// SignupWindow is the window of Options.SignupLimit.
	SignupWindow = time.Hour
	// AdminFailureLimit failed admin authentications within
	// AdminFailureWindow refuse every admin request from the address
	// (RATE_LIMITED) until the oldest of them leaves the window.
	AdminFailureLimit  = 10
	AdminFailureWindow = time.Minute
)

// take takes one event of r's client from q. It answers RATE_LIMITED when
// the client is over its quota; when q cannot decide, the request is let
// through.
func (s *Server) take(ctx context.Context, q Quota, key, group, what string) error {
	ok, wait, err := q.Take(ctx, key, group, s.o.Clock.Now())
	if err != nil {
		s.o.Logger.Warn(what+" quota failed; request let through", "err", err)
		return nil
	}
	if !ok {
		p := rateLimitedProblem(retrySeconds(wait))
		p.Detail = "too many " + what + " from this address; retry later"
		return p
	}
	return nil
}
