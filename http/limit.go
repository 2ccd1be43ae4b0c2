package http

import (
	"context"
	"encoding/hex"
	"hash/maphash"
	"math"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Limiter decides whether a client may make one more request. It returns
// ok, or how long the client should wait before retrying. group, when not
// empty, names a wider bucket that key shares with other keys (an IPv6
// /48 over its /64s): it allows GroupFactor times key's rate and burst, and
// a request is allowed only when both buckets allow it. An error means the
// limiter could not decide; the request is then let through.
type Limiter interface {
	Allow(ctx context.Context, key, group string, now time.Time) (ok bool, retryAfter time.Duration, err error)
}

// GroupFactor is how many times a key's allowance a group of keys has
// together: an IPv6 /48 gets four times what one of its /64s gets.
const GroupFactor = 4

// LocalLimiter is a Limiter for one process: a token bucket per key that
// refills at a fixed rate, with a burst of twice the rate (at least 1), and
// a bucket per group at GroupFactor times both. Its memory is bounded: past
// the bound, buckets that have refilled completely (idle keys) are
// forgotten first, which changes no decision. It is safe for concurrent
// use.
type LocalLimiter struct {
	keys, groups bucketSet
}

// bucketSet is the buckets of one rate and burst, in shards.
type bucketSet struct {
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
// per key, remembering at most about maxKeys keys and as many groups
// (DefaultLimiterKeys when maxKeys <= 0). A rate <= 0 allows everything.
func NewLocalLimiter(perSecond float64, maxKeys int) *LocalLimiter {
	if maxKeys <= 0 {
		maxKeys = DefaultLimiterKeys
	}
	burst := math.Max(1, 2*perSecond)
	l := &LocalLimiter{}
	l.keys.init(perSecond, burst, maxKeys)
	l.groups.init(GroupFactor*perSecond, GroupFactor*burst, maxKeys)
	return l
}

func (bs *bucketSet) init(rate, burst float64, maxKeys int) {
	bs.rate, bs.burst = rate, burst
	bs.perShard = max(1, maxKeys/limiterShards)
	bs.seed = maphash.MakeSeed()
	for i := range bs.shards {
		bs.shards[i].buckets = make(map[string]tokenBucket)
	}
}

// Allow takes one token from key's bucket and one from group's, or none
// when either is empty. It never returns an error.
func (l *LocalLimiter) Allow(_ context.Context, key, group string, now time.Time) (bool, time.Duration, error) {
	if l.keys.rate <= 0 {
		return true, 0, nil
	}
	t := now.UnixNano()
	ks := l.keys.shard(key)
	ks.mu.Lock()
	defer ks.mu.Unlock()
	kb := l.keys.refill(ks, key, t)
	wait := l.keys.wait(kb)
	if group == "" {
		if wait == 0 {
			kb.tokens--
		}
		ks.buckets[key] = kb
		return wait == 0, wait, nil
	}
	// Shards of keys are always locked before shards of groups.
	gs := l.groups.shard(group)
	gs.mu.Lock()
	defer gs.mu.Unlock()
	gb := l.groups.refill(gs, group, t)
	wait = max(wait, l.groups.wait(gb))
	if wait == 0 {
		kb.tokens--
		gb.tokens--
	}
	ks.buckets[key] = kb
	gs.buckets[group] = gb
	return wait == 0, wait, nil
}

func (bs *bucketSet) shard(key string) *limiterShard {
	return &bs.shards[maphash.String(bs.seed, key)%limiterShards]
}

// refill returns key's bucket refilled to t; sh is key's shard, locked.
func (bs *bucketSet) refill(sh *limiterShard, key string, t int64) tokenBucket {
	b, found := sh.buckets[key]
	if !found {
		if len(sh.buckets) >= bs.perShard {
			bs.evict(sh, t)
		}
		return tokenBucket{tokens: bs.burst, last: t}
	}
	if t > b.last {
		b.tokens = math.Min(bs.burst, b.tokens+float64(t-b.last)/1e9*bs.rate)
		b.last = t
	}
	return b
}

// wait is how long until b holds a token: 0 when it holds one now.
func (bs *bucketSet) wait(b tokenBucket) time.Duration {
	if b.tokens >= 1 {
		return 0
	}
	return time.Duration((1 - b.tokens) / bs.rate * float64(time.Second))
}

// evict forgets the buckets that are full at t, and if that frees nothing,
// half of the shard: a forgotten bucket starts full again.
func (bs *bucketSet) evict(sh *limiterShard, t int64) {
	for k, b := range sh.buckets {
		if b.tokens+float64(t-b.last)/1e9*bs.rate >= bs.burst {
			delete(sh.buckets, k)
		}
	}
	if len(sh.buckets) < bs.perShard {
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

// Len returns how many keys and groups the limiter remembers.
func (l *LocalLimiter) Len() int {
	return l.keys.len() + l.groups.len()
}

func (bs *bucketSet) len() int {
	n := 0
	for i := range bs.shards {
		sh := &bs.shards[i]
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

// clientKeys are the limit keys of an address: the IPv4 address, or for
// an IPv6 address its /64 network (one subscriber's usual allocation) with
// its /48 (one site's) as group, written as the network's hex digits (16
// for a /64, 12 for a /48), so that both take one allocation. An
// IPv4-mapped IPv6 address is IPv4.
func clientKeys(a netip.Addr) (key, group string) {
	a = a.Unmap()
	if !a.Is6() {
		return a.String(), ""
	}
	b := a.As16()
	var buf [16]byte
	hex.Encode(buf[:], b[:8])
	key = string(buf[:])
	return key, key[:12]
}
