package redis

import (
	"testing"

	goredis "github.com/redis/go-redis/v9"
)

func TestBroadcast(t *testing.T) {
	c := testClient(t)
	testBroadcast(t, func(t *testing.T) goredis.UniversalClient { return testClient(t) }, testPrefix(t, c)+"streams")
}
