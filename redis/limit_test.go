package redis

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/boxoffice/boxoffice"
)

func TestLimiter(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	newLimiter := func(t *testing.T, perSecond float64) (*Limiter, goredis.UniversalClient, string) {
		c := testClient(t)
		prefix := testPrefix(t, c)
		return NewLimiter(c, prefix, perSecond), c, prefix
	}
	allow := func(t *testing.T, l *Limiter, key string, at time.Time, wantOK bool, wantRetry time.Duration) {
		t.Helper()
		ok, retry, err := l.Allow(t.Context(), key, "", at)
		if err != nil {
			t.Fatalf("Allow at %v: %v", at.Sub(now), err)
		}
		if ok != wantOK || retry != wantRetry {
			t.Errorf("Allow at +%v: got %v retry %v, want %v retry %v", at.Sub(now), ok, retry, wantOK, wantRetry)
		}
	}

	t.Run("ExactBurstUnderConcurrency", func(t *testing.T) {
		// Five a second: a burst of ten, from any number of instances.
		l, c, prefix := newLimiter(t, 5)
		others := []*Limiter{l, NewLimiter(testClient(t), prefix, 5), NewLimiter(c, prefix, 5)}
		var allowed atomic.Int64
		var wg sync.WaitGroup
		for i := range 100 {
			wg.Go(func() {
				ok, retry, err := others[i%3].Allow(t.Context(), "203.0.113.7", "", now)
				switch {
				case err != nil:
					t.Errorf("Allow: %v", err)
				case ok:
					allowed.Add(1)
				case retry != 200*time.Millisecond:
					t.Errorf("refused: got retry after %v, want 200ms", retry)
				}
			})
		}
		wg.Wait()
		if got := allowed.Load(); got != 10 {
			t.Errorf("allowed: got %d of 100, want 10", got)
		}
	})
	t.Run("RefillsWithTime", func(t *testing.T) {
		l, _, _ := newLimiter(t, 5)
		for range 10 {
			allow(t, l, "k", now, true, 0)
		}
		allow(t, l, "k", now.Add(199*time.Millisecond), false, time.Millisecond)
		allow(t, l, "k", now.Add(200*time.Millisecond), true, 0)
		allow(t, l, "k", now.Add(200*time.Millisecond), false, 200*time.Millisecond)
		// A long pause refills the burst, no more.
		for range 10 {
			allow(t, l, "k", now.Add(time.Hour), true, 0)
		}
		allow(t, l, "k", now.Add(time.Hour), false, 200*time.Millisecond)
	})
	t.Run("FractionalRate", func(t *testing.T) {
		l, _, _ := newLimiter(t, 0.5) // burst 1
		allow(t, l, "k", now, true, 0)
		allow(t, l, "k", now, false, 2*time.Second)
		allow(t, l, "k", now.Add(2*time.Second), true, 0)
	})
	t.Run("KeysApart", func(t *testing.T) {
		l, _, _ := newLimiter(t, 1) // burst 2
		allow(t, l, "a", now, true, 0)
		allow(t, l, "a", now, true, 0)
		allow(t, l, "a", now, false, time.Second)
		allow(t, l, "b", now, true, 0)
	})
	t.Run("GroupAllowsFourTimesTheBurst", func(t *testing.T) {
		l, c, prefix := newLimiter(t, 1) // a burst of 2 per key, 8 per group
		allowed := 0
		for i := range 10 {
			for range 2 {
				if ok, _, err := l.Allow(t.Context(), "k"+strconv.Itoa(i), "g", now); err != nil {
					t.Fatal(err)
				} else if ok {
					allowed++
				}
			}
		}
		if allowed != 8 {
			t.Errorf("10 keys of one group allowed %d requests at once, want 8", allowed)
		}
		ok, retry, _ := l.Allow(t.Context(), "k9", "g", now)
		if ok || retry != 250*time.Millisecond {
			t.Errorf("got %v, retry %v, want refused, retry 250ms (one token at 4/s)", ok, retry)
		}
		allow(t, l, "k9", now.Add(250*time.Millisecond), true, 0) // no group: its own key only
		if ok, _, _ := l.Allow(t.Context(), "k8", "g", now.Add(250*time.Millisecond)); !ok {
			t.Error("refused after 250ms, want allowed")
		}
		// Both keys of a group share its slot.
		for _, k := range []string{prefix + "rl:{g}k0", prefix + "rl:{g}"} {
			if n, err := c.Exists(t.Context(), k).Result(); err != nil || n != 1 {
				t.Errorf("key %s: got %d, %v, want it to exist", k, n, err)
			}
			if slot(k) != slot("{g}") {
				t.Errorf("key %s: slot %d, want the group's %d", k, slot(k), slot("{g}"))
			}
		}
	})
	t.Run("KeyLimitHoldsInsideGroup", func(t *testing.T) {
		l, _, _ := newLimiter(t, 1)
		for range 2 {
			if ok, _, _ := l.Allow(t.Context(), "k", "g", now); !ok {
				t.Fatal("refused within the burst, want allowed")
			}
		}
		for range 10 { // refused by the key: the group keeps its tokens
			if ok, retry, _ := l.Allow(t.Context(), "k", "g", now); ok || retry != time.Second {
				t.Fatalf("got %v, retry %v, want refused, retry 1s", ok, retry)
			}
		}
		for i := range 6 {
			if ok, _, _ := l.Allow(t.Context(), "o"+strconv.Itoa(i/2), "g", now); !ok {
				t.Fatalf("request %d of other keys refused, want the group's 6 left allowed", i+1)
			}
		}
		if ok, _, _ := l.Allow(t.Context(), "o9", "h", now); !ok {
			t.Error("key of another group refused, want allowed")
		}
	})
	t.Run("ExpiresOnceRefilled", func(t *testing.T) {
		l, c, prefix := newLimiter(t, 5)
		for range 10 {
			allow(t, l, "k", now, true, 0)
		}
		ttl, err := c.PTTL(t.Context(), prefix+"rl:{k}").Result()
		if err != nil {
			t.Fatal(err)
		}
		if ttl <= 0 || ttl > 2*time.Second {
			t.Errorf("TTL after a burst of 10 at 5/s: got %v, want within 2s", ttl)
		}
	})
	t.Run("OffWithoutRedis", func(t *testing.T) {
		c := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
		t.Cleanup(func() { _ = c.Close() })
		ok, _, err := NewLimiter(c, "p:", 0).Allow(t.Context(), "k", "", now)
		if !ok || err != nil {
			t.Errorf("rate 0: got %v, %v, want allowed", ok, err)
		}
	})
	t.Run("ErrUnavailable", func(t *testing.T) {
		c := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialerRetries: 1})
		t.Cleanup(func() { _ = c.Close() })
		_, _, err := NewLimiter(c, "p:", 5).Allow(t.Context(), "k", "", now)
		if got := boxoffice.ErrorCode(err); got != boxoffice.CodeUnavailable {
			t.Errorf("got %v (code %q), want UNAVAILABLE", err, got)
		}
	})
}
