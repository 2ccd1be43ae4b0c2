package http_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	boxhttp "github.com/boxoffice/boxoffice/http"
	"github.com/boxoffice/boxoffice/redis"
)

// quotas runs test on the in-process quota and on the Redis one, each made
// by newQuota for a limit and window.
func quotas(t *testing.T, test func(t *testing.T, newQuota func(limit int, window time.Duration) boxhttp.Quota)) {
	t.Run("Local", func(t *testing.T) {
		test(t, func(limit int, window time.Duration) boxhttp.Quota { return boxhttp.NewLocalQuota(limit, window) })
	})
	t.Run("Redis", func(t *testing.T) {
		client, prefix := sharedRedis(t)
		n := 0
		test(t, func(limit int, window time.Duration) boxhttp.Quota {
			n++
			return redis.NewQuota(client, prefix+strconv.Itoa(n)+":", limit, window)
		})
	})
}

func TestQuota(t *testing.T) {
	quotas(t, func(t *testing.T, newQuota func(int, time.Duration) boxhttp.Quota) {
		ctx := context.Background()
		take := func(t *testing.T, q boxhttp.Quota, key, group string, at time.Time, wantOK bool, wantWait time.Duration) {
			t.Helper()
			ok, wait, err := q.Take(ctx, key, group, at)
			if err != nil {
				t.Fatalf("Take at +%v: %v", at.Sub(base), err)
			}
			if ok != wantOK || wait != wantWait {
				t.Errorf("Take %s at +%v: got %v, wait %v; want %v, wait %v", key, at.Sub(base), ok, wait, wantOK, wantWait)
			}
		}
		t.Run("LimitPerWindow", func(t *testing.T) {
			q := newQuota(3, time.Hour)
			for range 3 {
				take(t, q, "k", "", base, true, 0)
			}
			take(t, q, "k", "", base, false, time.Hour)
			take(t, q, "k", "", base.Add(10*time.Minute), false, 50*time.Minute)
			take(t, q, "other", "", base, true, 0)
			for range 3 {
				take(t, q, "k", "", base.Add(time.Hour), true, 0)
			}
			take(t, q, "k", "", base.Add(time.Hour), false, time.Hour)
		})
		t.Run("SlidingWindow", func(t *testing.T) {
			q := newQuota(3, time.Hour)
			take(t, q, "k", "", base, true, 0)
			take(t, q, "k", "", base.Add(20*time.Minute), true, 0)
			take(t, q, "k", "", base.Add(40*time.Minute), true, 0)
			take(t, q, "k", "", base.Add(59*time.Minute), false, time.Minute)
			take(t, q, "k", "", base.Add(time.Hour), true, 0)
			take(t, q, "k", "", base.Add(time.Hour), false, 20*time.Minute)
		})
		t.Run("WaitRecordsNothing", func(t *testing.T) {
			q := newQuota(2, time.Minute)
			for range 5 {
				if wait, err := q.Wait(ctx, "k", "g", base); err != nil || wait != 0 {
					t.Fatalf("Wait: got %v, %v; want 0", wait, err)
				}
			}
			take(t, q, "k", "g", base, true, 0)
			take(t, q, "k", "g", base.Add(time.Second), true, 0)
			if wait, err := q.Wait(ctx, "k", "g", base.Add(30*time.Second)); err != nil || wait != 30*time.Second {
				t.Errorf("Wait at the limit: got %v, %v; want 30s", wait, err)
			}
		})
		t.Run("GroupAllowsFourTimes", func(t *testing.T) {
			q := newQuota(2, time.Hour)
			for i := range 4 {
				for range 2 {
					take(t, q, "k"+strconv.Itoa(i), "g", base, true, 0)
				}
				take(t, q, "k"+strconv.Itoa(i), "g", base, false, time.Hour)
			}
			take(t, q, "k4", "g", base.Add(time.Minute), false, 59*time.Minute)
			take(t, q, "k4", "h", base.Add(time.Minute), true, 0)
		})
		t.Run("RefusedByKeyTakesNothingFromGroup", func(t *testing.T) {
			q := newQuota(1, time.Hour)
			take(t, q, "k", "g", base, true, 0)
			for range 5 {
				take(t, q, "k", "g", base, false, time.Hour)
			}
			for i := range 3 {
				take(t, q, "o"+strconv.Itoa(i), "g", base, true, 0)
			}
			take(t, q, "o9", "g", base, false, time.Hour)
		})
		t.Run("OffAtZero", func(t *testing.T) {
			q := newQuota(0, time.Hour)
			for range 100 {
				take(t, q, "k", "g", base, true, 0)
			}
		})
		t.Run("ExactUnderConcurrency", func(t *testing.T) {
			q := newQuota(5, time.Hour)
			var allowed atomic.Int64
			var wg sync.WaitGroup
			for range 50 {
				wg.Go(func() {
					ok, _, err := q.Take(ctx, "k", "g", base)
					if err != nil {
						t.Error(err)
					}
					if ok {
						allowed.Add(1)
					}
				})
			}
			wg.Wait()
			if n := allowed.Load(); n != 5 {
				t.Errorf("allowed %d of 50 at once, want 5", n)
			}
		})
	})
}
