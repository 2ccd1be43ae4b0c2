package redis

import (
	"context"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/boxoffice/boxoffice"
)

// Broadcast carries messages to every instance that shares one Redis, the
// sender included, over one pub/sub channel: every instance receives them
// in one order, the order in which Redis received them, and the messages
// of one Broadcast in the order they were published. On Redis Cluster the
// channel is a sharded one (SPUBLISH, Redis 7), so that every message
// goes through the channel's one shard, which gives the order. Delivery is
// at most once: messages sent or due while a connection is down are lost.
// It is safe for concurrent use.
type Broadcast struct {
	client  goredis.UniversalClient
	channel string

	mu      sync.Mutex
	pending []message
	wake    chan struct{}
}

type message struct {
	text string
	sent chan struct{}
}

// maxPending bounds the messages waiting to be sent; past it new ones are
// dropped.
const maxPending = 10000

// NewBroadcast returns a broadcast on the pub/sub channel named channel.
func NewBroadcast(client goredis.UniversalClient, channel string) *Broadcast {
	return &Broadcast{client: client, channel: channel, wake: make(chan struct{}, 1)}
}

// Publish queues msg to be sent to every instance and returns at once: a
// channel closed once msg reached Redis or was given up. Messages are
// sent, in the order they were published, while Listen runs.
func (b *Broadcast) Publish(msg string) <-chan struct{} {
	m := message{text: msg, sent: make(chan struct{})}
	b.mu.Lock()
	if len(b.pending) < maxPending {
		b.pending = append(b.pending, m)
	} else {
		close(m.sent)
	}
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
	return m.sent
}

// Listen subscribes to the channel and calls f with every message received,
// one at a time and in order, until ctx ends; meanwhile it sends what
// Publish queued. A lost connection is made again by itself.
func (b *Broadcast) Listen(ctx context.Context, f func(msg string)) {
	subscribe := b.client.Subscribe
	if b.sharded() {
		subscribe = b.client.SSubscribe
	}
	sub := subscribe(ctx, b.channel)
	defer sub.Close()
	// Wait for the subscription, so that this instance hears its own
	// messages; if Redis does not answer, the channel below subscribes
	// again when it can.
	wait, cancel := context.WithTimeout(ctx, 2*time.Second)
	_, _ = sub.Receive(wait)
	cancel()
	msgs := sub.Channel(goredis.WithChannelSize(4096))
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { b.send(ctx) })
	if cc, ok := b.client.(*goredis.ClusterClient); ok {
		wg.Go(func() { b.follow(ctx, cc, sub) })
	}
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-msgs:
			if !ok {
				return
			}
			f(m.Payload)
		}
	}
}

// follow pings the subscription every followEvery until ctx ends, and
// has the cluster client load the cluster's layout again when the ping
// fails: the subscription is made again on the node the client believes
// serves the channel, and after a failover only a new layout names the
// replica that took over.
func (b *Broadcast) follow(ctx context.Context, cc *goredis.ClusterClient, sub *goredis.PubSub) {
	boxoffice.Every(ctx, followEvery, func() {
		if err := sub.Ping(ctx); err != nil && ctx.Err() == nil {
			cc.ReloadState(ctx)
		}
	})
}

// followEvery is how often a subscription on a cluster is checked.
const followEvery = 500 * time.Millisecond

// sharded reports whether the channel is a sharded one: on a cluster,
// where a plain PUBLISH may go through any node.
func (b *Broadcast) sharded() bool {
	_, ok := b.client.(*goredis.ClusterClient)
	return ok
}

// send publishes the queued messages, each batch in one pipeline, until
// ctx ends.
func (b *Broadcast) send(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-b.wake:
		}
		b.mu.Lock()
		msgs := b.pending
		b.pending = nil
		b.mu.Unlock()
		if len(msgs) == 0 {
			continue
		}
		pipe := b.client.Pipeline()
		for _, m := range msgs {
			if b.sharded() {
				pipe.SPublish(ctx, b.channel, m.text)
			} else {
				pipe.Publish(ctx, b.channel, m.text)
			}
		}
		_, _ = pipe.Exec(ctx) // at most once: a failed batch is dropped
		for _, m := range msgs {
			close(m.sent)
		}
	}
}
