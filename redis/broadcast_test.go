package redis

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestBroadcast(t *testing.T) {
	c := testClient(t)
	channel := testPrefix(t, c) + "streams"
	const perSender = 200
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	type listener struct {
		b    *Broadcast
		mu   sync.Mutex
		got  []string
		done chan struct{}
	}
	var ls []*listener
	var wg sync.WaitGroup
	for range 2 {
		l := &listener{b: NewBroadcast(testClient(t), channel), done: make(chan struct{})}
		ls = append(ls, l)
		wg.Go(func() {
			l.b.Listen(ctx, func(msg string) {
				l.mu.Lock()
				defer l.mu.Unlock()
				l.got = append(l.got, msg)
				if len(l.got) == 2*perSender {
					close(l.done)
				}
			})
		})
	}
	// Both listen before anything is published.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		n, err := c.PubSubNumSub(ctx, channel).Result()
		if err != nil {
			t.Fatal(err)
		}
		if n[channel] == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("subscribers: got %d within 10s, want 2", n[channel])
		}
	}
	// The senders' messages interleave.
	for i := range perSender {
		for j, l := range ls {
			sent := l.b.Publish(fmt.Sprintf("%d-%03d", j, i))
			if i == perSender-1 {
				select {
				case <-sent:
				case <-time.After(10 * time.Second):
					t.Fatal("last message not sent within 10s")
				}
			}
		}
	}
	for j, l := range ls {
		select {
		case <-l.done:
		case <-time.After(10 * time.Second):
			l.mu.Lock()
			t.Fatalf("listener %d: got %d messages within 10s, want %d", j, len(l.got), 2*perSender)
		}
	}
	if !slices.Equal(ls[0].got, ls[1].got) {
		t.Error("the listeners heard the messages in different orders")
	}
	for j := range ls {
		var own []string
		for _, m := range ls[0].got {
			if m[0] == byte('0'+j) {
				own = append(own, m)
			}
		}
		if !slices.IsSorted(own) || len(own) != perSender {
			t.Errorf("sender %d: its %d messages were heard out of the order they were published in", j, len(own))
		}
	}
	cancel()
	wg.Wait() // Listen returns once its context ends
}
