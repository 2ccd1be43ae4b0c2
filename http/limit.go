package http

import (
	"context"
	"hash/maphash"
	"math"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Limiter decides whether a client may make one more request. It returns
// ok, or how long the client should wait before retrying. An error means the
// limiter could not decide; the request is then let through.
type Limiter interface {
	Allow(ctx context.Context, key string, now time.Time) (ok bool, retryAfter time.Duration, err error)
}

// LocalLimiter is a Limiter for one process: a token bucket per key that
// refills at a fixed rate, with a burst of twice the rate (at least 1). Its
// memory is bounded: past the bound, buckets that have refilled completely
// (idle keys) are forgotten first, which changes no decision. It is safe for
// concurrent use.
type LocalLimiter struct {
	rate, burst float64
	perShard    int
	seed        maphash.Seed
	shards      [limiterShards]limiterShard
}

const limiterShards = 64

type limiterShard struct {
	mu      sync.Mutex
	buckets map[string]tokenBucket
	_       [40]byte // keep shards on separate cache lines
}

type tokenBucket struct {
	tokens float64
	last   int64 // unix nanoseconds of the last refill
}

// DefaultLimiterKeys is the number of clients a LocalLimiter remembers when
// asked for no particular bound.
const DefaultLimiterKeys = 100_000

// NewLocalLimiter returns a limiter allowing perSecond requests per second
// per key, remembering at most about maxKeys keys (DefaultLimiterKeys when
// maxKeys <= 0). A rate <= 0 allows everything.
func NewLocalLimiter(perSecond float64, maxKeys int) *LocalLimiter {
	if maxKeys <= 0 {
		maxKeys = DefaultLimiterKeys
	}
	l := &LocalLimiter{
		rate:     perSecond,
		burst:    math.Max(1, 2*perSecond),
		perShard: max(1, maxKeys/limiterShards),
		seed:     maphash.MakeSeed(),
	}
	for i := range l.shards {
		l.shards[i].buckets = make(map[string]tokenBucket)
	}
	return l
}

// Allow takes one token from key's bucket. It never returns an error.
func (l *LocalLimiter) Allow(_ context.Context, key string, now time.Time) (bool, time.Duration, error) {
	if l.rate <= 0 {
		return true, 0, nil
	}
	t := now.UnixNano()
	sh := &l.shards[maphash.String(l.seed, key)%limiterShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	b, found := sh.buckets[key]
	if !found {
		if len(sh.buckets) >= l.perShard {
			l.evict(sh, t)
		}
		b = tokenBucket{tokens: l.burst, last: t}
	} else if t > b.last {
		b.tokens = math.Min(l.burst, b.tokens+float64(t-b.last)/1e9*l.rate)
		b.last = t
	}
	if b.tokens >= 1 {
		b.tokens--
		sh.buckets[key] = b
		return true, 0, nil
	}
	sh.buckets[key] = b
	wait := time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	return false, wait, nil
}

// evict forgets the buckets that are full at t, and if that frees nothing,
// half of the shard: a forgotten bucket starts full again.
func (l *LocalLimiter) evict(sh *limiterShard, t int64) {
	for k, b := range sh.buckets {
		if b.tokens+float64(t-b.last)/1e9*l.rate >= l.burst {
			delete(sh.buckets, k)
		}
	}
	if len(sh.buckets) < l.perShard {
		return
	}
	n := len(sh.buckets) / 2
	for k := range sh.buckets {
		if n == 0 {
			break
		}
		delete(sh.buckets, k)
		n--
	}
}

// Len returns how many keys the limiter remembers.
func (l *LocalLimiter) Len() int {
	n := 0
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		n += len(sh.buckets)
		sh.mu.Unlock()
	}
	return n
}

// retrySeconds rounds a wait up to whole seconds, at least one.
func retrySeconds(d time.Duration) int {
	s := int(math.Ceil(d.Seconds()))
	return max(1, s)
}

// clientAddr returns the address a request is attributed to: the peer, or,
// when the peer is a trusted proxy, the right-most X-Forwarded-For address
// that is not a trusted proxy. A malformed X-Forwarded-For entry ends the
// walk at the trusted hop to its right. ok is false when the peer address
// cannot be parsed.
func clientAddr(remoteAddr string, forwardedFor []string, trusted []netip.Prefix) (addr netip.Addr, ok bool) {
	addr, ok = parseAddr(remoteAddr)
	if !ok {
		return netip.Addr{}, false
	}
	if !isTrusted(addr, trusted) {
		return addr, true
	}
	for i := len(forwardedFor) - 1; i >= 0; i-- {
		v := forwardedFor[i]
		for end := len(v); end >= 0; {
			start := strings.LastIndexByte(v[:end], ',') + 1
			part := strings.TrimSpace(v[start:end])
			end = start - 1
			if part == "" {
				continue
			}
			hop, ok := parseAddr(part)
			if !ok {
				return addr, true
			}
			addr = hop
			if !isTrusted(hop, trusted) {
				return addr, true
			}
		}
	}
	return addr, true
}

// parseAddr parses "ip", "ip:port", "[ipv6]:port" or "[ipv6]".
func parseAddr(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientKey is the rate-limit key of an address: the IPv4 address, or the
// /64 network of an IPv6 address (one subscriber's usual allocation).
func clientKey(a netip.Addr) string {
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
