package redis

import (
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/boxoffice/boxoffice"
)

// The quota's rules are tested with the in-process one's, by package
// http's TestQuota; here, what is Redis's own.
func TestQuota(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	t.Run("KeysOfAGroupInOneSlotAndExpiring", func(t *testing.T) {
		c := testClient(t)
		prefix := testPrefix(t, c)
		q := NewQuota(c, prefix+"su:", 2, time.Hour)
		if ok, _, err := q.Take(t.Context(), "20010db800010002", "20010db80001", now); !ok || err != nil {
			t.Fatalf("Take: got %v, %v; want allowed", ok, err)
		}
		for _, k := range []string{prefix + "su:{20010db80001}20010db800010002", prefix + "su:{20010db80001}"} {
			ttl, err := c.PTTL(t.Context(), k).Result()
			if err != nil || ttl <= 59*time.Minute || ttl > time.Hour {
				t.Errorf("key %s: TTL %v, %v; want about an hour", k, ttl, err)
			}
			if want := slot("{20010db80001}"); slot(k) != want {
				t.Errorf("key %s: slot %d, want the group's %d", k, slot(k), want)
			}
		}
	})
	t.Run("ErrUnavailable", func(t *testing.T) {
		c := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialerRetries: 1})
		t.Cleanup(func() { _ = c.Close() })
		q := NewQuota(c, "p:", 5, time.Minute)
		if _, _, err := q.Take(t.Context(), "k", "", now); boxoffice.ErrorCode(err) != boxoffice.CodeUnavailable {
			t.Errorf("Take: got %v, want UNAVAILABLE", err)
		}
		if _, err := q.Wait(t.Context(), "k", "", now); boxoffice.ErrorCode(err) != boxoffice.CodeUnavailable {
			t.Errorf("Wait: got %v, want UNAVAILABLE", err)
		}
	})
}
