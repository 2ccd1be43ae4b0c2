package main

import (
	"context"
	"io"
	nethttp "net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/boxoffice/boxoffice"
	boxhttp "github.com/boxoffice/boxoffice/http"
	"github.com/boxoffice/boxoffice/internal/testserver"
)

// The tests here run the real wiring: Main, as `boxoffice serve` runs it.

var (
	testDatabaseURL = testserver.DatabaseURL
	testRedisURL    = testserver.RedisURL
	unreachable     = testserver.Unreachable
	randomHex       = testserver.RandomHex
)

// freshRedisPrefix returns a key prefix no other test uses; its keys are
// deleted when t ends.
func freshRedisPrefix(t testing.TB) string { return testserver.RedisPrefix(t, "test") }

// freshSchema returns a database URL on an empty schema of its own,
// dropped when t ends.
func freshSchema(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testDatabaseURL())
	if err != nil {
		unreachable(t, "PostgreSQL (BOXOFFICE_TEST_DATABASE_URL)", err)
	}
	schema := "t_" + randomHex(8)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		conn.Close(ctx)
		t.Fatal(err)
	}
	conn.Close(ctx)
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), testDatabaseURL())
		if err != nil {
			return
		}
		defer conn.Close(context.Background())
		_, _ = conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	})
	u, err := url.Parse(testDatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	// Tests of several packages, each with several instances, share one
	// PostgreSQL: a small pool per instance keeps them all well within
	// its max_connections, and still lets requests race on row locks.
	q.Set("pool_max_conns", "8")
	u.RawQuery = q.Encode()
	return u.String()
}

// mode is one way to run Boxoffice: which stores back it.
type mode struct {
	name string
	// config returns a configuration for one deployment; every instance of
	// the deployment shares it.
	config func(t *testing.T) Config
	// multiInstance reports whether several instances may share it.
	multiInstance bool
}

var production = mode{
	name: "PostgreSQLAndRedis",
	config: func(t *testing.T) Config {
		cfg := testConfig()
		cfg.DatabaseURL = freshSchema(t)
		cfg.RedisURL = testRedisURL()
		cfg.RedisPrefix = freshRedisPrefix(t)
		return cfg
	},
	multiInstance: true,
}

// embedded is the zero-setup mode: a SQLite file and an in-process room.
var embedded = mode{
	name: "Embedded",
	config: func(t *testing.T) Config {
		cfg := testConfig()
		cfg.DataFile = filepath.Join(t.TempDir(), "boxoffice.db")
		return cfg
	},
}

// modes are every supported way to run; the end-to-end test walks each.
var modes = []mode{embedded, production}

func testConfig() Config {
	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.RateLimit = 0
	cfg.SignupLimit = 0
	cfg.Demo = false
	cfg.AdmitTick = 10 * time.Millisecond
	cfg.ShutdownGrace = 5 * time.Second
	cfg.LogLevel = "warn"
	return cfg
}

// startMain runs a Main for cfg on clock until t ends.
func startMain(t *testing.T, cfg Config, clock boxoffice.Clock) *Main {
	t.Helper()
	var logs io.Writer = io.Discard
	if testing.Verbose() {
		logs = os.Stderr
	}
	m := NewMain(cfg, logs)
	if clock != nil {
		m.Clock = clock
	}
	if err := m.Run(context.Background()); err != nil {
		m.Close()
		if strings.Contains(err.Error(), "unavailable") {
			unreachable(t, "a backing service", err)
		}
		t.Fatalf("run: %v", err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return m
}

// cluster starts n instances of one deployment sharing its stores, all on
// clock, and returns a client of each.
func cluster(t *testing.T, md mode, n int, clock boxoffice.Clock, tune func(*Config)) ([]*boxhttp.Client, string) {
	t.Helper()
	cfg := md.config(t)
	cfg.AdminKey = "admin-" + randomHex(16)
	cfg.Secret = "secret-" + randomHex(16)
	if tune != nil {
		tune(&cfg)
	}
	clients := make([]*boxhttp.Client, n)
	for i := range clients {
		m := startMain(t, cfg, clock)
		clients[i] = testClient(t, m.URL())
	}
	return clients, cfg.AdminKey
}

// testClient returns a client of its own connections, closed before the
// servers stop: a connection the client dialled but never used would
// otherwise hold a graceful shutdown for seconds.
func testClient(t *testing.T, url string) *boxhttp.Client {
	tr := nethttp.DefaultTransport.(*nethttp.Transport).Clone()
	tr.MaxIdleConnsPerHost = 100
	t.Cleanup(tr.CloseIdleConnections)
	return boxhttp.NewClient(url, &nethttp.Client{Transport: tr})
}
