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
	"slices"
	"sync"
	"time"
)

// Group batches calls per key. The zero value is not usable; use New.
type Group[K comparable, Req, Resp any] struct {
	call    func(ctx context.Context, key K, reqs []Req) ([]Resp, error)
	max     int
	timeout time.Duration

	waiters sync.Pool // of *waiter[Req, Resp]
	observe func(Call)

	mu      sync.Mutex
	pending map[K]*round[Req, Resp]
}

// round is the requests gathered for one key.
type round[Req, Resp any] struct {
	running bool                 // a call for the key is in flight
	waiting []*waiter[Req, Resp] // requests for the next call
	spare   []*waiter[Req, Resp] // reused backing array
	live    int                  // requests of the call in flight still waiting for it
	cancel  context.CancelFunc   // ends the call in flight
}

type waiter[Req, Resp any] struct {
	req      Req
	resp     Resp
	err      error
	deadline time.Time // the request's, zero if none
	queued   time.Time // when it was queued, if the group is observed
	state    state     // guarded by Group.mu
	done     chan struct{}
}

// state is where a request is: waiting for a call, in a call, answered.
type state int

const (
	queued state = iota
	called
	answered
)

// AbandonedError is what Do returns when its context ends before the
// answer. Called tells whether the request had been passed to a call, which
// may still carry it out, or was dropped before any call, so that nothing
// was done for it. It wraps the context's error.
type AbandonedError struct {
	Called bool
	Err    error
}

func (e *AbandonedError) Error() string {
	if e.Called {
		return "batch: gave up waiting for the call: " + e.Err.Error()
	}
	return "batch: gave up before the call: " + e.Err.Error()
}

func (e *AbandonedError) Unwrap() error { return e.Err }

// Call is what one call of a Group did, as its observer is told.
type Call struct {
	Requests int           // the requests it was given
	Took     time.Duration // from its start to its return
	// Waited is how long each request waited for the call to start, in
	// the order of the requests. It is reused once the observer returns.
	Waited []time.Duration
}

// New returns a Group whose calls take at most max requests each and run
// with a context that ends after timeout, when the last deadline of its
// requests passes, or when every request of the call has given up,
// whichever comes first. call must return one answer per request, in
// order, or an error that every request of the call receives.
func New[K comparable, Req, Resp any](max int, timeout time.Duration, call func(ctx context.Context, key K, reqs []Req) ([]Resp, error)) *Group[K, Req, Resp] {
	if max < 1 {
		max = 1
	}
	g := &Group[K, Req, Resp]{call: call, max: max, timeout: timeout, pending: make(map[K]*round[Req, Resp])}
	g.waiters.New = func() any { return &waiter[Req, Resp]{done: make(chan struct{}, 1)} }
	return g
}

// Observe has f told of every call of g, from the goroutine that made it,
// once it has returned and before its requests are answered. It must be
// set before g's first Do.
func (g *Group[K, Req, Resp]) Observe(f func(Call)) {
	g.observe = f
}

// Do runs req for key in the next call, and returns its answer. If ctx ends
// first Do returns an *AbandonedError: a request not yet passed to a call
// is dropped, one in a call may still be carried out.
func (g *Group[K, Req, Resp]) Do(ctx context.Context, key K, req Req) (Resp, error) {
	w := g.waiters.Get().(*waiter[Req, Resp])
	w.req = req
	w.deadline, _ = ctx.Deadline()
	if g.observe != nil {
		w.queued = time.Now()
	}
	g.mu.Lock()
	r := g.pending[key]
	if r == nil {
		r = &round[Req, Resp]{}
		g.pending[key] = r
	}
	w.state = queued
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
		g.mu.Lock()
		switch w.state {
		case queued:
			r.waiting = slices.DeleteFunc(r.waiting, func(x *waiter[Req, Resp]) bool { return x == w })
			g.mu.Unlock()
			g.recycle(w)
			return zero, &AbandonedError{Err: ctx.Err()}
		case called:
			if r.live--; r.live == 0 {
				r.cancel()
			}
			g.mu.Unlock()
			// The answer will arrive on the buffered channel and be
			// dropped; the waiter is not reused.
			return zero, &AbandonedError{Called: true, Err: ctx.Err()}
		}
		g.mu.Unlock()
		<-w.done // answered meanwhile
	}
	resp, err := w.resp, w.err
	g.recycle(w)
	if err != nil {
		return zero, err
	}
	return resp, nil
}

func (g *Group[K, Req, Resp]) recycle(w *waiter[Req, Resp]) {
	*w = waiter[Req, Resp]{done: w.done}
	g.waiters.Put(w)
}

// loop makes calls for key until no request is waiting.
func (g *Group[K, Req, Resp]) loop(key K, r *round[Req, Resp]) {
	reqs := make([]Req, 0, g.max)
	var waited []time.Duration
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
		// The call is of no use past the last deadline of its requests.
		deadline := time.Now().Add(g.timeout)
		var last time.Time
		for _, w := range batch {
			w.state = called
			if w.deadline.IsZero() {
				last = deadline
			} else if w.deadline.After(last) {
				last = w.deadline
			}
		}
		ctx, cancel := context.WithDeadline(context.Background(), minTime(deadline, last))
		r.live, r.cancel = len(batch), cancel
		g.mu.Unlock()

		reqs = reqs[:0]
		for _, w := range batch {
			reqs = append(reqs, w.req)
		}
		var start time.Time
		if g.observe != nil {
			start = time.Now()
			waited = waited[:0]
			for _, w := range batch {
				waited = append(waited, start.Sub(w.queued))
			}
		}
		resps, err := g.call(ctx, key, reqs)
		cancel()
		if err == nil && len(resps) != len(reqs) {
			err = errCount
		}
		if g.observe != nil {
			g.observe(Call{Requests: len(reqs), Took: time.Since(start), Waited: waited})
		}
		g.mu.Lock()
		for i, w := range batch {
			if err != nil {
				w.err = err
			} else {
				w.resp = resps[i]
			}
			w.state = answered
			w.done <- struct{}{}
		}
		clear(batch)
		r.spare = batch
		r.live, r.cancel = 0, nil
		g.mu.Unlock()
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

type countError struct{}

func (countError) Error() string { return "batch: call returned the wrong number of answers" }

var errCount error = countError{}
