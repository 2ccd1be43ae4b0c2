// Package redis keeps the waiting rooms in Redis, shared by every instance
// of Boxoffice: the queue.Store of production mode, and a rate limiter
// shared by the instances. Each room's keys share one cluster slot and
// every change to a room is one script run (or one command), so a room runs
// unchanged on a single server or on Redis Cluster.
package redis

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/boxoffice/boxoffice"
)

// Open connects to the Redis at rawURL (redis:// or rediss://) and pings it.
// A URL that lists further nodes with addr= parameters (as in
// redis://host1:6379?addr=host2:6379&addr=host3:6379) opens a Redis Cluster
// client. Errors: UNAVAILABLE when Redis does not answer.
func Open(ctx context.Context, rawURL string) (goredis.UniversalClient, error) {
	c, err := newClient(rawURL)
	if err != nil {
		return nil, err
	}
	if err := c.Ping(ctx).Err(); err != nil {
		_ = c.Close()
		return nil, boxoffice.Unavailable("redis", err)
	}
	return c, nil
}

func newClient(rawURL string) (goredis.UniversalClient, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Error repeats the URL, which may hold a password.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("redis URL: %w", err)
	}
	if u.Query().Has("addr") {
		opt, err := goredis.ParseClusterURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("redis URL: %w", err)
		}
		return goredis.NewClusterClient(opt), nil
	}
	opt, err := goredis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("redis URL: %w", err)
	}
	return goredis.NewClient(opt), nil
}

// fail wraps a Redis failure of op: UNAVAILABLE when Redis could not be
// reached or cannot serve now, an internal error for anything else.
func fail(op string, err error) error {
	err = fmt.Errorf("%s: %w", op, err)
	if errors.Is(err, context.Canceled) {
		return err
	}
	var reply goredis.Error
	if errors.As(err, &reply) && !transient(reply.Error()) {
		return err
	}
	return boxoffice.Unavailable("redis", err)
}

// transient reports whether an error reply means that the server cannot
// serve for now, rather than that the command is wrong.
func transient(msg string) bool {
	for _, p := range []string{"LOADING", "BUSY", "CLUSTERDOWN", "TRYAGAIN", "MASTERDOWN", "READONLY", "MOVED", "ASK"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}
