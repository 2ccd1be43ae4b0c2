package testserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	goredis "github.com/redis/go-redis/v9"
)

// DatabaseURL is the PostgreSQL the tests share:
// BOXOFFICE_TEST_DATABASE_URL, or the local one.
func DatabaseURL() string {
	if u := os.Getenv("BOXOFFICE_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// RedisURL is the Redis the tests share: BOXOFFICE_TEST_REDIS_URL, or the
// local one.
func RedisURL() string {
	if u := os.Getenv("BOXOFFICE_TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// NATSURL is the NATS with JetStream the tests share:
// BOXOFFICE_TEST_NATS_URL, or the local one.
func NATSURL() string {
	if u := os.Getenv("BOXOFFICE_TEST_NATS_URL"); u != "" {
		return u
	}
	return "nats://127.0.0.1:4222"
}

// SharedNATS returns NATSURL once it answers; Unreachable otherwise.
func SharedNATS(t testing.TB) string {
	t.Helper()
	nc, err := natsgo.Connect(NATSURL(), natsgo.Timeout(2*time.Second))
	if err != nil {
		Unreachable(t, "NATS (BOXOFFICE_TEST_NATS_URL)", err)
	}
	nc.Close()
	return NATSURL()
}

// Unreachable skips t when a backing service it needs is missing, or fails
// it when CI=true: CI never passes by skipping.
func Unreachable(t testing.TB, what string, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is unreachable: %v", what, err)
	}
	t.Skipf("%s is unreachable (%v); these tests need it and fail instead of skipping when CI=true", what, err)
}

// RandomHex returns n random bytes in hex, for names no other test uses.
func RandomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// RedisPrefix returns a key prefix of the shared Redis that no other test
// uses, tag:random:; its keys, and nothing else, are deleted when t ends.
func RedisPrefix(t testing.TB, tag string) string {
	t.Helper()
	opts, err := goredis.ParseURL(RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	client := goredis.NewClient(opts)
	if err := client.Ping(context.Background()).Err(); err != nil {
		client.Close()
		Unreachable(t, "Redis (BOXOFFICE_TEST_REDIS_URL)", err)
	}
	prefix := tag + ":" + RandomHex(6) + ":"
	t.Cleanup(func() {
		defer client.Close()
		ctx := context.Background()
		iter := client.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if len(keys) > 0 {
			client.Del(ctx, keys...)
		}
	})
	return prefix
}
