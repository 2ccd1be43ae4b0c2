package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"

	"github.com/boxoffice/boxoffice/loadtest"
)

// loadtestMode is one way to deploy Boxoffice for the on-sale test.
type loadtestMode struct {
	name   string
	config func(t *testing.T) Config
	stream bool // waiting fans follow the event stream instead of polling
}

// loadtestModes are the deployments the on-sale runs against; another
// mode is one more line.
var loadtestModes = []loadtestMode{
	{"PostgreSQLAndRedis", loadtestProductionConfig, false},
	{"EmbeddedStreaming", loadtestEmbeddedConfig, true},
}

// TestLoadtestOnsale runs a short on-sale through the real wiring and fails
// if any of its invariants breaks. It checks invariants only, never timings.
func TestLoadtestOnsale(t *testing.T) {
	if testing.Short() {
		t.Skip("the on-sale takes several seconds")
	}
	want := []string{
		"sold out",
		"no seat sold twice",
		"every sold seat has exactly one payment",
		"money conserved",
		"admission order matched join order",
		"no 5xx answers",
	}
	for _, md := range loadtestModes {
		t.Run(md.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
			defer cancel()
			m := NewMain(md.config(t), io.Discard)
			if err := m.Run(ctx); err != nil {
				m.Close()
				t.Fatalf("run: %v", err)
			}
			defer m.Close()

			o := loadtest.DefaultOptions()
			o.Scenario = "onsale"
			o.Targets = []string{m.URL()}
			o.AdminKey = m.AdminKey()
			o.Fans = 300
			o.Dates = 2
			o.HoldSeconds = 2
			o.AdmitPerSecond = 100
			o.Connections = 50
			o.Think = 20 * time.Millisecond
			o.NoCeiling = true
			o.Stream = md.stream
			o.Timeout = 3 * time.Minute
			res, err := loadtest.Run(ctx, o)
			if err != nil {
				t.Fatalf("loadtest: %v", err)
			}
			got := map[string]loadtest.Check{}
			for _, c := range res.Checks {
				got[c.Name] = c
			}
			for _, name := range want {
				c, ok := got[name]
				switch {
				case !ok:
					t.Errorf("check %q: missing from the result", name)
				case !c.OK:
					t.Errorf("check %q failed: %s", name, c.Detail)
				}
			}
			if !res.Passed {
				t.Errorf("passed: got false, want true")
			}
			if res.Onsale == nil || res.Onsale.Fans != o.Fans {
				t.Fatalf("on-sale report: got %+v, want one of %d fans", res.Onsale, o.Fans)
			}
			if md.stream {
				var streams int64
				for _, r := range res.Rounds {
					for _, ph := range r.Phases {
						for _, ep := range ph.Endpoints {
							if ep.Route == "GET /v1/queue/events" {
								streams += ep.OK
							}
						}
					}
				}
				if streams == 0 {
					t.Errorf("no event stream was followed")
				}
			}
			if t.Failed() {
				res.WriteTable(os.Stderr)
			}
		})
	}
}

// loadtestEmbeddedConfig is the embedded store in a fresh file and the
// in-process waiting room.
func loadtestEmbeddedConfig(t *testing.T) Config {
	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.RateLimit = 0
	cfg.LogLevel = "warn"
	cfg.DataFile = filepath.Join(t.TempDir(), "boxoffice.db")
	return cfg
}

// loadtestProductionConfig is PostgreSQL on a fresh schema and Redis under
// a fresh key prefix, both removed when t ends.
func loadtestProductionConfig(t *testing.T) Config {
	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.RateLimit = 0
	cfg.LogLevel = "warn"
	cfg.DatabaseURL = loadtestSchema(t)
	cfg.RedisURL = loadtestRedisURL()
	cfg.RedisPrefix = loadtestRedisPrefix(t)
	return cfg
}

func loadtestDatabaseURL() string {
	if u := os.Getenv("BOXOFFICE_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

func loadtestRedisURL() string {
	if u := os.Getenv("BOXOFFICE_TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// loadtestMissing skips t for a missing service, or fails it when CI=true.
func loadtestMissing(t *testing.T, what string, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is unreachable: %v", what, err)
	}
	t.Skipf("%s is unreachable (%v); this test needs it, and fails instead of skipping when CI=true", what, err)
}

func loadtestHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// loadtestSchema creates an empty schema and returns the test database's
// URL with it as the search path; the schema is dropped when t ends.
func loadtestSchema(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, loadtestDatabaseURL())
	if err != nil {
		loadtestMissing(t, "PostgreSQL (BOXOFFICE_TEST_DATABASE_URL)", err)
	}
	defer conn.Close(ctx)
	schema := "loadtest_" + loadtestHex(6)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), loadtestDatabaseURL())
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(loadtestDatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// loadtestRedisPrefix returns a key prefix of its own; its keys are deleted
// when t ends.
func loadtestRedisPrefix(t *testing.T) string {
	t.Helper()
	opts, err := goredis.ParseURL(loadtestRedisURL())
	if err != nil {
		t.Fatal(err)
	}
	client := goredis.NewClient(opts)
	if err := client.Ping(context.Background()).Err(); err != nil {
		client.Close()
		loadtestMissing(t, "Redis (BOXOFFICE_TEST_REDIS_URL)", err)
	}
	prefix := "loadtest:" + loadtestHex(6) + ":"
	t.Cleanup(func() {
		defer client.Close()
		ctx := context.Background()
		var keys []string
		iter := client.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if len(keys) > 0 {
			client.Del(ctx, keys...)
		}
	})
	return prefix
}
