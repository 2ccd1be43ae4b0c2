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
	"net"
	"net/url"
	"strings"
	"syscall"

	goredis "github.com/redis/go-redis/v9"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/batch"
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
		opt.ContextTimeoutEnabled = true
		c := goredis.NewClusterClient(opt)
		c.AddHook(relayout{c})
		return c, nil
	}
	opt, err := goredis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("redis URL: %w", err)
	}
	// A command ends with its request's deadline, not only with the
	// client's own read and write timeouts.
	opt.ContextTimeoutEnabled = true
	return goredis.NewClient(opt), nil
}

// fail wraps a Redis failure of op, a read or a command whose effect does
// not matter to the client (a heartbeat, a session's extension): domain
// errors and the caller's own cancellation pass through; UNAVAILABLE when
// Redis could not be reached, broke the connection, passed the deadline or
// cannot serve now; an internal error for anything else.
func fail(op string, err error) error { return classify(op, err, false) }

// failWrite wraps a Redis failure of op, a change the client asked for
// (a join, a leave, new settings). It is fail, except that a change that
// may have reached Redis before the connection broke or the deadline passed
// is OUTCOME_UNKNOWN: only a failure known to have happened before the
// command was sent, or an error reply, is UNAVAILABLE.
func failWrite(op string, err error) error { return classify(op, err, true) }

func classify(op string, err error, write bool) error {
	var be *boxoffice.Error
	if errors.As(err, &be) {
		return err
	}
	err = fmt.Errorf("%s: %w", op, err)
	if errors.Is(err, context.Canceled) {
		return err // the caller gave up: not a failure of Redis
	}
	var reply goredis.Error
	if errors.As(err, &reply) {
		if !transient(reply.Error()) {
			return err
		}
		return boxoffice.Unavailable("redis", err) // refused: nothing done
	}
	if write && !notSent(err) {
		return boxoffice.OutcomeUnknown("redis", err)
	}
	return boxoffice.Unavailable("redis", err)
}

// notSent reports whether err happened before the command was sent:
// connecting failed, no connection was free in time, the client is closed,
// or the request gave up before its gathered call began.
func notSent(err error) bool {
	var opErr *net.OpError
	var abandoned *batch.AbandonedError
	switch {
	case errors.As(err, &abandoned):
		return !abandoned.Called
	case errors.As(err, &opErr) && opErr.Op == "dial",
		errors.Is(err, goredis.ErrPoolTimeout),
		errors.Is(err, goredis.ErrClosed),
		errors.Is(err, syscall.ECONNREFUSED):
		return true
	}
	return false
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

// relayout makes a cluster client load the cluster's layout again as soon
// as a command fails in a way a failover or a reshard explains: the node
// did not answer, or answered that it cannot serve the slot now. Without
// it the client learns of a new master only from a MOVED answer, which a
// dead master never gives, or after its reload interval (a minute):
// until then the dead master's rooms would stay UNAVAILABLE although its
// replica serves them. Reloads are gathered by the client (one at a time,
// 200 ms apart).
type relayout struct{ c *goredis.ClusterClient }

func (h relayout) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h relayout) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		err := next(ctx, cmd)
		h.check(err)
		return err
	}
}

func (h relayout) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		err := next(ctx, cmds)
		h.check(err)
		return err
	}
}

func (h relayout) check(err error) {
	if err == nil || errors.Is(err, context.Canceled) {
		return
	}
	var reply goredis.Error
	if errors.As(err, &reply) && !transient(reply.Error()) {
		return // an answer about the command (redis: nil, a script's error)
	}
	h.c.ReloadState(context.Background())
}
