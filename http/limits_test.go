package http_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"

	"github.com/boxoffice/boxoffice"
	boxhttp "github.com/boxoffice/boxoffice/http"
	"github.com/boxoffice/boxoffice/postgres"
	"github.com/boxoffice/boxoffice/redis"
	"github.com/boxoffice/boxoffice/sqlite"
	"github.com/boxoffice/boxoffice/wallet"
)

// The limits per client, in both modes: embedded (one server, its limits
// in process, users in SQLite) and production (two servers whose limits
// are in one shared Redis, users in PostgreSQL). The test's requests come
// from loopback, a trusted proxy, and name the client in X-Forwarded-For.

// limitEnv is one or two servers that share their limits; on names the
// server a request goes to, by its number.
type limitEnv struct {
	*env
	instances []*env
	users     *atomic.Int64 // users created
}

func (l *limitEnv) on(i int) *env { return l.instances[i%len(l.instances)] }

// countingWallets counts the users created.
type countingWallets struct {
	wallet.Store
	n *atomic.Int64
}

func (c countingWallets) CreateUser(ctx context.Context, u wallet.User) error {
	err := c.Store.CreateUser(ctx, u)
	if err == nil {
		c.n.Add(1)
	}
	return err
}

func trustLoopback(o *boxhttp.Options) {
	o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
}

// limitModes runs test in the embedded and the production form.
func limitModes(t *testing.T, test func(t *testing.T, l *limitEnv), opts ...envOption) {
	t.Run("Embedded", func(t *testing.T) {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "boxoffice.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(db.Close)
		n := new(atomic.Int64)
		e := newEnv(t, append([]envOption{trustLoopback, func(o *boxhttp.Options) {
			o.Wallet = wallet.NewService(countingWallets{sqlite.NewWalletStore(db), n}, o.Clock, wallet.DefaultLimits())
		}}, opts...)...)
		test(t, &limitEnv{env: e, instances: []*env{e}, users: n})
	})
	t.Run("Redis", func(t *testing.T) {
		client, prefix := sharedRedis(t)
		db := freshDB(t)
		n := new(atomic.Int64)
		var o boxhttp.Options
		e := newEnv(t, append([]envOption{trustLoopback, func(o *boxhttp.Options) {
			o.Wallet = wallet.NewService(countingWallets{postgres.NewWalletStore(db), n}, o.Clock, wallet.DefaultLimits())
		}}, append(opts, func(opts *boxhttp.Options) {
			opts.Limiter = redis.NewLimiter(client, prefix, opts.RateLimit)
			opts.Signups = redis.NewQuota(client, prefix+"su:", opts.SignupLimit, boxhttp.SignupWindow)
			opts.AdminFailures = redis.NewQuota(client, prefix+"af:", boxhttp.AdminFailureLimit, boxhttp.AdminFailureWindow)
			opts.Broadcast = redis.NewBroadcast(client, prefix+"streams")
			o = *opts
		})...)...)
		o.Registry = prometheus.NewRegistry()
		o.Broadcast = redis.NewBroadcast(client, prefix+"streams")
		srv := boxhttp.NewServer(o)
		ts := httptest.NewServer(srv)
		t.Cleanup(ts.Close)
		t.Cleanup(srv.CloseStreams)
		other := *e
		other.server, other.url, other.client = srv, ts.URL, boxhttp.NewClient(ts.URL, ts.Client())
		test(t, &limitEnv{env: e, instances: []*env{e, &other}, users: n})
	})
}

func withSignupLimit(n int) envOption { return func(o *boxhttp.Options) { o.SignupLimit = n } }

func TestSignupLimit(t *testing.T) {
	limitModes(t, func(t *testing.T, l *limitEnv) {
		req := 0
		signup := func(t *testing.T, from string, wantStatus int) answer {
			t.Helper()
			req++
			a := l.on(req).do(t, "POST", "/v1/users", `{"name":"Kim"}`, "X-Forwarded-For", from)
			if a.status != wantStatus {
				t.Fatalf("sign-up %d from %s: got %d %s, want %d", req, from, a.status, a.body, wantStatus)
			}
			return a
		}
		limited := func(t *testing.T, from string, wantRetry string) {
			t.Helper()
			before := l.users.Load()
			a := signup(t, from, 429)
			wantProblem(t, a, 429, boxoffice.CodeRateLimited)
			if got := a.header.Get("Retry-After"); got != wantRetry {
				t.Errorf("Retry-After = %q, want %q", got, wantRetry)
			}
			if n := l.users.Load(); n != before {
				t.Errorf("users: got %d, want %d: a refused sign-up created one", n, before)
			}
		}

		t.Run("PerAddress", func(t *testing.T) {
			for range 3 {
				signup(t, "198.51.100.7", 201)
			}
			limited(t, "198.51.100.7", "3600")
			signup(t, "198.51.100.8", 201)
			limited(t, "::ffff:198.51.100.7", "3600") // IPv4-mapped is IPv4
			l.clock.Advance(20 * time.Minute)
			limited(t, "198.51.100.7", "2400")
			l.clock.Advance(40 * time.Minute)
			signup(t, "198.51.100.7", 201)
			if n := l.users.Load(); n != 5 {
				t.Errorf("users: got %d, want 5", n)
			}
		})
		t.Run("IPv6OneSubnet", func(t *testing.T) {
			signup(t, "2001:db8:1:1::1", 201)
			signup(t, "2001:db8:1:1::2", 201)
			signup(t, "2001:db8:1:1:ffff:ffff:ffff:ffff", 201)
			limited(t, "2001:db8:1:1::4", "3600")
		})
		t.Run("IPv6SubnetsOfOneSite", func(t *testing.T) {
			// 2001:db8:1:1::/64 spent its 3; three more /64s take the
			// /48's 12.
			for _, from := range []string{"2001:db8:1:2::1", "2001:db8:1:3::1", "2001:db8:1:ffff::1"} {
				for range 3 {
					signup(t, from, 201)
				}
			}
			limited(t, "2001:db8:1:4::1", "3600")
		})
		t.Run("IPv6OtherSite", func(t *testing.T) {
			signup(t, "2001:db8:2:1::1", 201)
			signup(t, "2001:db8:ffff:1::1", 201)
		})
		t.Run("MalformedBodyDoesNotCount", func(t *testing.T) {
			for range 5 {
				a := l.on(req).do(t, "POST", "/v1/users", `{"name":`, "X-Forwarded-For", "198.51.100.200")
				wantProblem(t, a, 400, boxoffice.CodeInvalidRequest)
			}
			signup(t, "198.51.100.200", 201)
		})
	}, withSignupLimit(3))
}

func TestSignupLimitOff(t *testing.T) {
	e := newEnv(t, withSignupLimit(0))
	for range 40 {
		e.fan(t, "Kim", 0)
	}
}

func TestRateLimitIPv6(t *testing.T) {
	limitModes(t, func(t *testing.T, l *limitEnv) {
		req := 0
		// DELETE /v1/queue without credentials: 401 when let through.
		send := func(t *testing.T, from string, wantStatus int, wantRetry string) {
			t.Helper()
			req++
			a := l.on(req).do(t, "DELETE", "/v1/queue", "", "X-Forwarded-For", from)
			if a.status != wantStatus {
				t.Fatalf("request %d from %s: got %d %s, want %d", req, from, a.status, a.body, wantStatus)
			}
			if wantStatus == 429 {
				wantProblem(t, a, 429, boxoffice.CodeRateLimited)
				if got := a.header.Get("Retry-After"); got != wantRetry {
					t.Errorf("Retry-After = %q, want %q", got, wantRetry)
				}
			}
		}
		// One a second: a burst of 2 per /64 (or IPv4 address), 8 per /48.
		t.Run("IPv4", func(t *testing.T) {
			send(t, "198.51.100.7", 401, "")
			send(t, "198.51.100.7", 401, "")
			send(t, "::ffff:198.51.100.7", 429, "1")
			send(t, "198.51.100.8", 401, "")
		})
		t.Run("IPv6OneSubnet", func(t *testing.T) {
			send(t, "2001:db8:1:1::1", 401, "")
			send(t, "2001:db8:1:1::2", 401, "")
			send(t, "2001:db8:1:1:ffff::3", 429, "1")
		})
		t.Run("IPv6SubnetsOfOneSite", func(t *testing.T) {
			for _, from := range []string{"2001:db8:1:2::1", "2001:db8:1:3::1", "2001:db8:1:ffff::1"} {
				send(t, from, 401, "")
				send(t, from, 401, "")
			}
			send(t, "2001:db8:1:4::1", 429, "1")
		})
		t.Run("IPv6OtherSite", func(t *testing.T) {
			send(t, "2001:db8:2:4::1", 401, "")
			send(t, "2001:db8:2:4::1", 401, "")
		})
		t.Run("Refills", func(t *testing.T) {
			l.clock.Advance(250 * time.Millisecond) // a quarter second: one for the /48
			send(t, "2001:db8:1:4::1", 401, "")
			send(t, "2001:db8:1:4::1", 429, "1")
		})
	}, withRateLimit(1), withSignupLimit(0))
}

func TestAdminFailures(t *testing.T) {
	limitModes(t, func(t *testing.T, l *limitEnv) {
		c := l.concert(t, spec())
		path := "/v1/admin/concerts/" + c.ConcertID + "/stats"
		req := 0
		admin := func(t *testing.T, from, key string, wantStatus int, wantRetry string) {
			t.Helper()
			req++
			a := l.on(req).do(t, "GET", path, "", "X-Forwarded-For", from, "Authorization", bearer(key))
			if a.status != wantStatus {
				t.Fatalf("admin request %d from %s: got %d %s, want %d", req, from, a.status, a.body, wantStatus)
			}
			switch wantStatus {
			case 429:
				wantProblem(t, a, 429, boxoffice.CodeRateLimited)
				if got := a.header.Get("Retry-After"); got != wantRetry {
					t.Errorf("Retry-After = %q, want %q", got, wantRetry)
				}
			case 401:
				wantProblem(t, a, 401, boxoffice.CodeUnauthenticated)
			}
		}
		const wrong = "not-the-admin-key"
		t.Run("TenFailuresAMinute", func(t *testing.T) {
			for i := range 10 {
				if i%3 == 0 { // successes do not count
					admin(t, "198.51.100.7", adminKey, 200, "")
				}
				admin(t, "198.51.100.7", wrong, 401, "")
				l.clock.Advance(time.Second)
			}
			admin(t, "198.51.100.7", wrong, 429, "50")
			admin(t, "198.51.100.7", adminKey, 429, "50") // even with the right key
			admin(t, "198.51.100.8", adminKey, 200, "")   // another address
			admin(t, "198.51.100.8", wrong, 401, "")
			// Missing keys are failures too; a minute after the first
			// failure one more is allowed.
			l.clock.Advance(49 * time.Second)
			admin(t, "198.51.100.7", "", 429, "1")
			l.clock.Advance(time.Second)
			admin(t, "198.51.100.7", adminKey, 200, "")
			a := l.on(0).do(t, "GET", path, "", "X-Forwarded-For", "198.51.100.7")
			wantProblem(t, a, 401, boxoffice.CodeUnauthenticated)
			admin(t, "198.51.100.7", adminKey, 429, "1")
		})
		t.Run("IPv6", func(t *testing.T) {
			for i := range 10 {
				admin(t, fmt.Sprintf("2001:db8:1:1::%x", i+1), wrong, 401, "")
			}
			admin(t, "2001:db8:1:1::ffff", adminKey, 429, "60")
			admin(t, "2001:db8:1:2::1", adminKey, 200, "")
			for _, from := range []string{"2001:db8:1:2::1", "2001:db8:1:3::1", "2001:db8:1:4::1"} {
				for range 10 {
					admin(t, from, wrong, 401, "")
				}
			}
			admin(t, "2001:db8:1:5::1", adminKey, 429, "60") // the /48's 40
			admin(t, "2001:db8:2:5::1", adminKey, 200, "")
		})
	})
}

// TestLimitsWithoutRedis checks that a quota that cannot decide lets the
// request through: a Redis outage does not lock fans out of sign-up nor
// operators out of the admin routes.
func TestLimitsWithoutRedis(t *testing.T) {
	dead := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialerRetries: 1})
	t.Cleanup(func() { _ = dead.Close() })
	e := newEnv(t, withSignupLimit(1), func(o *boxhttp.Options) {
		o.Signups = redis.NewQuota(dead, "p:su:", 1, boxhttp.SignupWindow)
		o.AdminFailures = redis.NewQuota(dead, "p:af:", boxhttp.AdminFailureLimit, boxhttp.AdminFailureWindow)
	})
	for range 3 {
		e.fan(t, "Kim", 0)
	}
	for range 12 {
		wantProblem(t, e.do(t, "GET", "/v1/admin/concerts/"+boxoffice.NewID()+"/stats", "", "Authorization", bearer("wrong")), 401, boxoffice.CodeUnauthenticated)
	}
	e.concert(t, spec())
}
