// Package batch serves many concurrent requests with one call. Requests for
// a key that arrive while a call for that key is in flight wait and are
// served together by the next call, which starts as soon as the one in
// flight ends. With nothing in flight a request is called at once, so a
// quiet system pays no delay; a busy one makes one round trip where it
// would make dozens.
//
// Every answer comes from a call that started after its request arrived,
// so a read served from a batch never sees older state than a read made
// alone would.
package batch

import (
	"context"
	"sync"
	"time"
)

// Group batches calls per key. The zero value is not usable; use New.
type Group[K comparable, Req, Resp any] struct {
	call    func(ctx context.Context, key K, reqs []Req) ([]Resp, error)
	max     int
	timeout time.Duration

	waiters sync.Pool // of *waiter[Req, Resp]

	mu      sync.Mutex
	pending map[K]*round[Req, Resp]
}

// round is the requests gathered for one key.
type round[Req, Resp any] struct {
	running bool                 // a call for the key is in flight
	waiting []*waiter[Req, Resp] // requests for the next call
	spare   []*waiter[Req, Resp] // reused backing array
}

type waiter[Req, Resp any] struct {
	req  Req
	resp Resp
	err  error
	done chan struct{}
}

// New returns a Group whose calls take at most max requests each and run
// with a context that ends after timeout. call must return one answer per
// request, in order, or an error that every request of the call receives.
func New[K comparable, Req, Resp any](max int, timeout time.Duration, call func(ctx context.Context, key K, reqs []Req) ([]Resp, error)) *Group[K, Req, Resp] {
	if max < 1 {
		max = 1
	}
	g := &Group[K, Req, Resp]{call: call, max: max, timeout: timeout, pending: make(map[K]*round[Req, Resp])}
	g.waiters.New = func() any { return &waiter[Req, Resp]{done: make(chan struct{}, 1)} }
	return g
}

// Do runs req for key in the next call, and returns its answer. If ctx ends
// first Do returns ctx.Err(); the request may still be carried out.
func (g *Group[K, Req, Resp]) Do(ctx context.Context, key K, req Req) (Resp, error) {
	w := g.waiters.Get().(*waiter[Req, Resp])
	w.req = req
	g.mu.Lock()
	r := g.pending[key]
	if r == nil {
		r = &round[Req, Resp]{}
		g.pending[key] = r
	}
	r.waiting = append(r.waiting, w)
	start := !r.running
	r.running = true
	g.mu.Unlock()
	if start {
		go g.loop(key, r)
	}

	var zero Resp
	select {
	case <-w.done:
	case <-ctx.Done():
		// The answer will arrive on the buffered channel and be dropped;
		// the waiter is not reused.
		return zero, ctx.Err()
	}
	resp, err := w.resp, w.err
	*w = waiter[Req, Resp]{done: w.done}
	g.waiters.Put(w)
	if err != nil {
		return zero, err
	}
	return resp, nil
}

// loop makes calls for key until no request is waiting.
func (g *Group[K, Req, Resp]) loop(key K, r *round[Req, Resp]) {
	reqs := make([]Req, 0, g.max)
	for {
		g.mu.Lock()
		if len(r.waiting) == 0 {
			r.running = false
			delete(g.pending, key)
			g.mu.Unlock()
			return
		}
		n := min(len(r.waiting), g.max)
		batch := append(r.spare[:0], r.waiting[:n]...)
		r.waiting = append(r.waiting[:0], r.waiting[n:]...)
		g.mu.Unlock()

		reqs = reqs[:0]
		for _, w := range batch {
			reqs = append(reqs, w.req)
		}
		ctx, cancel := context.WithTimeout(context.Background(), g.timeout)
		resps, err := g.call(ctx, key, reqs)
		cancel()
		if err == nil && len(resps) != len(reqs) {
			err = errCount
		}
		for i, w := range batch {
			if err != nil {
				w.err = err
			} else {
				w.resp = resps[i]
			}
			w.done <- struct{}{}
		}
		clear(batch)
		g.mu.Lock()
		r.spare = batch
		g.mu.Unlock()
	}
}

type countError struct{}

func (countError) Error() string { return "batch: call returned the wrong number of answers" }

var errCount error = countError{}
