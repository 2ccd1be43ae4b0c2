package http

import (
	"context"
	"fmt"
	nethttp "net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func TestLocalLimiter(t *testing.T) {
	ctx := context.Background()
	t.Run("BurstIsTwiceTheRate", func(t *testing.T) {
		l := NewLocalLimiter(5, 0)
		for i := range 10 {
			if ok, _, _ := l.Allow(ctx, "a", "", t0); !ok {
				t.Fatalf("request %d refused, want the first 10 allowed", i+1)
			}
		}
		ok, wait, err := l.Allow(ctx, "a", "", t0)
		if ok || err != nil {
			t.Fatalf("11th request: got ok=%v err=%v, want refused", ok, err)
		}
		if wait != 200*time.Millisecond {
			t.Errorf("retry after %v, want 200ms (one token at 5/s)", wait)
		}
	})
	t.Run("BurstAtLeastOne", func(t *testing.T) {
		l := NewLocalLimiter(0.1, 0)
		if ok, _, _ := l.Allow(ctx, "a", "", t0); !ok {
			t.Fatal("first request refused, want allowed")
		}
		ok, wait, _ := l.Allow(ctx, "a", "", t0)
		if ok {
			t.Fatal("second request allowed, want refused")
		}
		if wait != 10*time.Second {
			t.Errorf("retry after %v, want 10s", wait)
		}
		if ok, _, _ := l.Allow(ctx, "a", "", t0.Add(10*time.Second)); !ok {
			t.Error("request after 10s refused, want allowed")
		}
	})
	t.Run("Refills", func(t *testing.T) {
		l := NewLocalLimiter(1, 0)
		l.Allow(ctx, "a", "", t0)
		l.Allow(ctx, "a", "", t0)
		if ok, _, _ := l.Allow(ctx, "a", "", t0); ok {
			t.Fatal("third request at once allowed, want refused")
		}
		if ok, _, _ := l.Allow(ctx, "a", "", t0.Add(999*time.Millisecond)); ok {
			t.Error("request after 0.999s allowed, want refused")
		}
		if ok, _, _ := l.Allow(ctx, "a", "", t0.Add(time.Second)); !ok {
			t.Error("request after 1s refused, want allowed")
		}
	})
	t.Run("KeysAreIndependent", func(t *testing.T) {
		l := NewLocalLimiter(1, 0)
		l.Allow(ctx, "a", "", t0)
		l.Allow(ctx, "a", "", t0)
		if ok, _, _ := l.Allow(ctx, "b", "", t0); !ok {
			t.Error("other key refused, want allowed")
		}
	})
	t.Run("ClockGoingBackDoesNotRefill", func(t *testing.T) {
		l := NewLocalLimiter(1, 0)
		l.Allow(ctx, "a", "", t0)
		l.Allow(ctx, "a", "", t0)
		if ok, _, _ := l.Allow(ctx, "a", "", t0.Add(-time.Hour)); ok {
			t.Error("request with an earlier time allowed, want refused")
		}
	})
	t.Run("ZeroRateAllowsAll", func(t *testing.T) {
		l := NewLocalLimiter(0, 0)
		for range 1000 {
			if ok, _, _ := l.Allow(ctx, "a", "", t0); !ok {
				t.Fatal("refused, want allowed")
			}
		}
	})
	t.Run("MemoryIsBounded", func(t *testing.T) {
		l := NewLocalLimiter(1, 640)
		for i := range 10000 {
			l.Allow(ctx, strconv.Itoa(i), "", t0)
		}
		if n := l.Len(); n > 640 {
			t.Errorf("remembers %d keys, want at most 640", n)
		}
	})
	t.Run("IdleKeysEvictedFirst", func(t *testing.T) {
		l := NewLocalLimiter(1, limiterShards) // one key per shard
		for i := range 1000 {
			l.Allow(ctx, "idle"+strconv.Itoa(i), "", t0.Add(-time.Hour))
		}
		// The idle buckets have refilled by t0, so they go before the busy
		// key's, which then stays remembered and exhausted.
		for range 2 {
			if ok, _, _ := l.Allow(ctx, "busy", "", t0); !ok {
				t.Fatal("busy key refused within its burst, want allowed")
			}
		}
		if ok, _, _ := l.Allow(ctx, "busy", "", t0); ok {
			t.Error("exhausted key allowed, want refused (it was forgotten)")
		}
		if n := l.Len(); n > 2*limiterShards {
			t.Errorf("remembers %d keys, want at most %d", n, 2*limiterShards)
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		l := NewLocalLimiter(50, 0)
		var wg sync.WaitGroup
		var mu sync.Mutex
		allowed := 0
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 50 {
					if ok, _, _ := l.Allow(ctx, "shared", "", t0); ok {
						mu.Lock()
						allowed++
						mu.Unlock()
					}
				}
			}()
		}
		wg.Wait()
		if allowed != 100 {
			t.Errorf("allowed %d of 1000 simultaneous requests, want exactly the burst of 100", allowed)
		}
	})
}

func TestRetrySeconds(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want int
	}{
		{0, 1},
		{time.Millisecond, 1},
		{time.Second, 1},
		{1001 * time.Millisecond, 2},
		{10 * time.Second, 10},
	}
	for _, tt := range tests {
		if got := retrySeconds(tt.d); got != tt.want {
			t.Errorf("retrySeconds(%v) = %d, want %d", tt.d, got, tt.want)
		}
	}
}

func TestClientAddr(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	tests := []struct {
		name   string
		remote string
		xff    []string
		want   string
		wantOK bool
	}{
		{"PeerUntrustedIgnoresHeader", "203.0.113.9:5000", []string{"1.2.3.4"}, "203.0.113.9", true},
		{"TrustedPeerUsesHeader", "10.0.0.1:5000", []string{"198.51.100.7"}, "198.51.100.7", true},
		{"RightMostUntrusted", "10.0.0.1:5000", []string{"6.6.6.6, 198.51.100.7, 10.0.0.2"}, "198.51.100.7", true},
		{"SpoofedLeftIgnored", "10.0.0.1:5000", []string{"1.1.1.1", "198.51.100.7"}, "198.51.100.7", true},
		{"SeveralHeaders", "10.0.0.1:5000", []string{"198.51.100.7", "10.0.0.3"}, "198.51.100.7", true},
		{"AllTrustedTakesLeftMost", "10.0.0.1:5000", []string{"10.0.0.9, 10.0.0.8"}, "10.0.0.9", true},
		{"NoHeader", "10.0.0.1:5000", nil, "10.0.0.1", true},
		{"MalformedStopsAtTrustedHop", "10.0.0.1:5000", []string{"198.51.100.7, garbage, 10.0.0.2"}, "10.0.0.2", true},
		{"EntryWithPort", "10.0.0.1:5000", []string{"198.51.100.7:1234"}, "198.51.100.7", true},
		{"IPv6Peer", "[2001:db8::1]:443", nil, "2001:db8::1", true},
		{"IPv6Forwarded", "[fd00::1]:443", []string{"2001:db8::5"}, "2001:db8::5", true},
		{"MappedIPv4", "[::ffff:203.0.113.9]:80", nil, "203.0.113.9", true},
		{"EmptyEntries", "10.0.0.1:5000", []string{" , ,198.51.100.7,, "}, "198.51.100.7", true},
		{"BadPeer", "not-an-address", nil, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := clientAddr(tt.remote, tt.xff, trusted)
			if ok != tt.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tt.wantOK)
			}
			if ok && got.String() != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestClientKeys(t *testing.T) {
	tests := []struct{ name, addr, key, group string }{
		{"IPv4", "203.0.113.9", "203.0.113.9", ""},
		{"IPv6", "2001:db8:1:2:3:4:5:6", "20010db800010002", "20010db80001"},
		{"IPv6SameSubnet", "2001:db8:1:2:ffff::1", "20010db800010002", "20010db80001"},
		{"IPv6OtherSubnetSameSite", "2001:db8:1:3::1", "20010db800010003", "20010db80001"},
		{"IPv6OtherSite", "2001:db8:2:2::1", "20010db800020002", "20010db80002"},
		{"IPv6Zone", "fe80::1%eth0", "fe80000000000000", "fe8000000000"},
		{"MappedIPv4", "::ffff:203.0.113.9", "203.0.113.9", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, group := clientKeys(netip.MustParseAddr(tt.addr))
			if key != tt.key || group != tt.group {
				t.Errorf("clientKeys(%s) = %q, %q, want %q, %q", tt.addr, key, group, tt.key, tt.group)
			}
		})
	}
}

func TestLocalLimiterGroups(t *testing.T) {
	ctx := context.Background()
	// One a second: a burst of 2 per key, 8 per group.
	t.Run("GroupAllowsFourTimesTheBurst", func(t *testing.T) {
		l := NewLocalLimiter(1, 0)
		allowed := 0
		for i := range 10 {
			for range 2 {
				if ok, _, _ := l.Allow(ctx, "k"+strconv.Itoa(i), "g", t0); ok {
					allowed++
				}
			}
		}
		if allowed != 8 {
			t.Errorf("10 keys of one group allowed %d requests at once, want 8", allowed)
		}
		ok, wait, _ := l.Allow(ctx, "k9", "g", t0)
		if ok || wait != 250*time.Millisecond {
			t.Errorf("got %v, retry %v, want refused, retry 250ms (one token at 4/s)", ok, wait)
		}
		if ok, _, _ := l.Allow(ctx, "k9", "g", t0.Add(250*time.Millisecond)); !ok {
			t.Error("refused after 250ms, want allowed")
		}
	})
	t.Run("KeyLimitHoldsInsideGroup", func(t *testing.T) {
		l := NewLocalLimiter(1, 0)
		l.Allow(ctx, "k", "g", t0)
		l.Allow(ctx, "k", "g", t0)
		ok, wait, _ := l.Allow(ctx, "k", "g", t0)
		if ok || wait != time.Second {
			t.Errorf("got %v, retry %v, want refused, retry 1s", ok, wait)
		}
		if ok, _, _ := l.Allow(ctx, "other", "g", t0); !ok {
			t.Error("other key of the group refused, want allowed")
		}
	})
	t.Run("RefusalTakesNothing", func(t *testing.T) {
		l := NewLocalLimiter(1, 0)
		l.Allow(ctx, "k", "g", t0)
		l.Allow(ctx, "k", "g", t0)
		for range 10 {
			l.Allow(ctx, "k", "g", t0) // refused by the key: the group keeps its tokens
		}
		for i := range 6 {
			if ok, _, _ := l.Allow(ctx, "o"+strconv.Itoa(i/2), "g", t0); !ok {
				t.Fatalf("request %d of other keys refused, want the group's 6 left allowed", i+1)
			}
		}
	})
	t.Run("GroupsApart", func(t *testing.T) {
		l := NewLocalLimiter(1, 0)
		for i := range 8 {
			l.Allow(ctx, "k"+strconv.Itoa(i/2), "g", t0)
		}
		if ok, _, _ := l.Allow(ctx, "k9", "h", t0); !ok {
			t.Error("key of another group refused, want allowed")
		}
	})
}

// BenchmarkAllow is the per-address limiter's cost on a join or a hold:
// the client's address and keys, and one in-process bucket, for 1,000
// clients.
func BenchmarkAllow(b *testing.B) {
	for _, tt := range []struct{ name, format string }{
		{"IPv4", "198.51.%d.%d:40000"},
		{"IPv6", "[2001:db8:%x:%x::1]:40000"},
	} {
		b.Run(tt.name, func(b *testing.B) {
			s := NewServer(Options{RateLimit: 1e9})
			reqs := make([]*nethttp.Request, 1000)
			for i := range reqs {
				reqs[i] = httptest.NewRequest("POST", "/v1/reservations", nil)
				reqs[i].RemoteAddr = fmt.Sprintf(tt.format, i/256, i%256)
			}
			w := httptest.NewRecorder()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if !s.allow(w, reqs[i%len(reqs)]) {
					b.Fatal("refused")
				}
				i++
			}
		})
	}
}
