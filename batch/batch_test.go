package batch_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice/batch"
)

func TestAloneIsCalledAtOnce(t *testing.T) {
	var calls atomic.Int32
	g := batch.New(10, time.Second, func(_ context.Context, key string, reqs []int) ([]int, error) {
		calls.Add(1)
		out := make([]int, len(reqs))
		for i, r := range reqs {
			out[i] = r * 2
		}
		return out, nil
	})
	for i := range 5 {
		got, err := g.Do(context.Background(), "k", i)
		if err != nil || got != i*2 {
			t.Fatalf("Do(%d) = %d, %v; want %d", i, got, err, i*2)
		}
	}
	if calls.Load() != 5 {
		t.Errorf("calls: got %d, want 5 (one per sequential request)", calls.Load())
	}
}

// TestConcurrentRequestsShareCalls holds the first call open while more
// requests arrive: they must be answered by one following call, each with
// its own answer.
func TestConcurrentRequestsShareCalls(t *testing.T) {
	release := make(chan struct{})
	var calls atomic.Int32
	var sizes sync.Map
	g := batch.New(1000, time.Second, func(_ context.Context, key string, reqs []int) ([]int, error) {
		n := calls.Add(1)
		sizes.Store(n, len(reqs))
		if n == 1 {
			<-release
		}
		out := make([]int, len(reqs))
		for i, r := range reqs {
			out[i] = r + 1000
		}
		return out, nil
	})
	var wg sync.WaitGroup
	wg.Go(func() {
		if got, _ := g.Do(context.Background(), "k", 0); got != 1000 {
			t.Errorf("first: got %d", got)
		}
	})
	for calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	const n = 200
	var queued atomic.Int32
	for i := 1; i <= n; i++ {
		wg.Go(func() {
			queued.Add(1)
			if got, err := g.Do(context.Background(), "k", i); err != nil || got != i+1000 {
				t.Errorf("Do(%d) = %d, %v; want %d", i, got, err, i+1000)
			}
		})
	}
	for queued.Load() < n {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // let the last of them enqueue
	close(release)
	wg.Wait()
	if c := calls.Load(); c != 2 {
		t.Errorf("calls: got %d, want 2 (the one in flight, then one for everyone who waited)", c)
	}
	if s, _ := sizes.Load(int32(2)); s != n {
		t.Errorf("second call had %v requests, want %d", s, n)
	}
}

func TestMaxPerCall(t *testing.T) {
	release := make(chan struct{})
	var calls atomic.Int32
	g := batch.New(3, time.Second, func(_ context.Context, key string, reqs []int) ([]int, error) {
		if calls.Add(1) == 1 {
			<-release
		}
		if len(reqs) > 3 {
			t.Errorf("call with %d requests, max 3", len(reqs))
		}
		return reqs, nil
	})
	var wg sync.WaitGroup
	wg.Go(func() { g.Do(context.Background(), "k", 0) })
	for calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	for i := range 10 {
		wg.Go(func() { g.Do(context.Background(), "k", i) })
	}
	time.Sleep(20 * time.Millisecond)
	close(release)
	wg.Wait()
	if c := calls.Load(); c != 5 {
		t.Errorf("calls: got %d, want 5 (1 + 10 requests in calls of 3)", c)
	}
}

func TestKeysAreIndependent(t *testing.T) {
	block := make(chan struct{})
	g := batch.New(10, time.Second, func(_ context.Context, key string, reqs []string) ([]string, error) {
		if key == "slow" {
			<-block
		}
		return reqs, nil
	})
	go g.Do(context.Background(), "slow", "x")
	done := make(chan struct{})
	go func() {
		g.Do(context.Background(), "fast", "y")
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a request for one key waited for another key's call")
	}
	close(block)
}

func TestErrorsReachEveryRequest(t *testing.T) {
	boom := errors.New("boom")
	g := batch.New(10, time.Second, func(context.Context, string, []int) ([]int, error) { return nil, boom })
	if _, err := g.Do(context.Background(), "k", 1); !errors.Is(err, boom) {
		t.Errorf("got %v, want boom", err)
	}
	short := batch.New(10, time.Second, func(context.Context, string, []int) ([]int, error) { return nil, nil })
	if _, err := short.Do(context.Background(), "k", 1); err == nil {
		t.Error("a call that returned no answer gave no error")
	}
}

func TestCanceledWaiter(t *testing.T) {
	release := make(chan struct{})
	g := batch.New(10, time.Second, func(_ context.Context, _ string, reqs []int) ([]int, error) {
		<-release
		return reqs, nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := g.Do(ctx, "k", 1); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
	close(release)
	// The group keeps working.
	if got, err := g.Do(context.Background(), "k", 7); err != nil || got != 7 {
		t.Errorf("got %d, %v; want 7", got, err)
	}
}

// TestAbandonedBeforeCall: a request that gives up while it waits for the
// call in flight to end is dropped, and says it was never called.
func TestAbandonedBeforeCall(t *testing.T) {
	release := make(chan struct{})
	var seen sync.Map
	g := batch.New(10, time.Minute, func(_ context.Context, _ string, reqs []int) ([]int, error) {
		for _, r := range reqs {
			seen.Store(r, true)
		}
		if reqs[0] == 1 {
			<-release
		}
		return reqs, nil
	})
	first := make(chan error, 1)
	go func() {
		_, err := g.Do(context.Background(), "k", 1)
		first <- err
	}()
	for _, ok := seen.Load(1); !ok; _, ok = seen.Load(1) {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := g.Do(ctx, "k", 2)
	var ae *batch.AbandonedError
	if !errors.As(err, &ae) || ae.Called || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want an AbandonedError, not called, wrapping DeadlineExceeded", err)
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if got, err := g.Do(context.Background(), "k", 3); err != nil || got != 3 {
		t.Fatalf("got %d, %v; want 3", got, err)
	}
	if _, ok := seen.Load(2); ok {
		t.Error("the abandoned request was called, want it dropped")
	}
}

// TestAbandonedInCall: a request that gives up during its call says it was
// called; once every request of a call gave up, the call's context ends.
func TestAbandonedInCall(t *testing.T) {
	ended := make(chan error, 1)
	g := batch.New(10, time.Minute, func(ctx context.Context, _ string, reqs []int) ([]int, error) {
		<-ctx.Done()
		ended <- ctx.Err()
		return nil, ctx.Err()
	})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		time.Sleep(20 * time.Millisecond)
		cancel()
	}()
	_, err := g.Do(ctx, "k", 1)
	var ae *batch.AbandonedError
	if !errors.As(err, &ae) || !ae.Called || !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want an AbandonedError, called, wrapping Canceled", err)
	}
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("the call went on after its only request gave up")
	}
}

// TestCallEndsWithLastDeadline: a call lasts no longer than the latest
// deadline of its requests, however long the group's timeout.
func TestCallEndsWithLastDeadline(t *testing.T) {
	deadlines := make(chan time.Time, 1)
	g := batch.New(10, time.Hour, func(ctx context.Context, _ string, reqs []int) ([]int, error) {
		d, _ := ctx.Deadline()
		deadlines <- d
		return reqs, nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	want, _ := ctx.Deadline()
	if _, err := g.Do(ctx, "k", 1); err != nil {
		t.Fatal(err)
	}
	if got := <-deadlines; !got.Equal(want) {
		t.Errorf("call deadline %v, want the request's %v", got, want)
	}
	if _, err := g.Do(context.Background(), "k", 1); err != nil {
		t.Fatal(err)
	}
	if got := <-deadlines; time.Until(got) < 59*time.Minute {
		t.Errorf("call deadline in %v for a request without one, want the group's hour", time.Until(got))
	}
}

func BenchmarkDo(b *testing.B) {
	g := batch.New(256, time.Second, func(_ context.Context, _ int, reqs []int) ([]int, error) {
		return reqs, nil
	})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			g.Do(context.Background(), 1, 1)
		}
	})
}

// TestObserve holds the first call open while three requests queue: the
// observer is told of both calls, with the second's requests' waits
// bounded by when they were made and by when the first call ended.
func TestObserve(t *testing.T) {
	release := make(chan struct{})
	var calls atomic.Int32
	g := batch.New(10, time.Second, func(_ context.Context, key string, reqs []int) ([]int, error) {
		if calls.Add(1) == 1 {
			<-release
		}
		return reqs, nil
	})
	var mu sync.Mutex
	var seen []batch.Call
	g.Observe(func(c batch.Call) {
		mu.Lock()
		defer mu.Unlock()
		c.Waited = append([]time.Duration(nil), c.Waited...)
		seen = append(seen, c)
	})
	var wg sync.WaitGroup
	wg.Go(func() { g.Do(context.Background(), "k", 0) })
	for calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	before := time.Now()
	for i := 1; i <= 3; i++ {
		wg.Go(func() { g.Do(context.Background(), "k", i) })
	}
	time.Sleep(20 * time.Millisecond) // let them enqueue
	const held = 30 * time.Millisecond
	time.Sleep(held)
	close(release)
	wg.Wait()
	bound := time.Since(before)

	if len(seen) != 2 {
		t.Fatalf("observed %d calls, want 2", len(seen))
	}
	if first := seen[0]; first.Requests != 1 || len(first.Waited) != 1 || first.Took < held {
		t.Errorf("first call: got %d requests, %d waits, took %v; want 1, 1, at least %v", first.Requests, len(first.Waited), first.Took, held)
	}
	second := seen[1]
	if second.Requests != 3 || len(second.Waited) != 3 {
		t.Fatalf("second call: got %d requests, %d waits; want 3, 3", second.Requests, len(second.Waited))
	}
	for i, w := range second.Waited {
		if w < held || w > bound {
			t.Errorf("second call, request %d: waited %v, want between %v and %v", i, w, held, bound)
		}
	}
}
