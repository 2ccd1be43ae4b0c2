package queue_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/memory"
	"github.com/boxoffice/boxoffice/queue"
	"github.com/boxoffice/boxoffice/redis"
)

var watchT0 = time.Date(2026, 6, 1, 3, 0, 0, 0, time.UTC)

// watchStores runs test on the memory store and on the Redis store.
func watchStores(t *testing.T, test func(t *testing.T, store queue.Store)) {
	t.Run("Memory", func(t *testing.T) { test(t, memory.NewQueueStore()) })
	t.Run("Redis", func(t *testing.T) { test(t, redisStore(t)) })
}

func redisURL() string {
	if u := os.Getenv("BOXOFFICE_TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// redisStore is a Redis queue store under a key prefix of its own, whose
// keys are deleted when t ends.
func redisStore(t *testing.T) queue.Store {
	t.Helper()
	ctx := context.Background()
	c, err := redis.Open(ctx, redisURL())
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Redis (BOXOFFICE_TEST_REDIS_URL) is unreachable: %v", err)
		}
		t.Skipf("Redis (BOXOFFICE_TEST_REDIS_URL) is unreachable: %v", err)
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	prefix := "watchtest:" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		defer c.Close()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("clean Redis keys %s*: %v", prefix, err)
		}
	})
	return redis.NewQueueStore(c, prefix)
}

// batchStore records the size of every Statuses call.
type batchStore struct {
	queue.Store
	mu      sync.Mutex
	batches []int
}

func (s *batchStore) Statuses(ctx context.Context, concertID string, ts []queue.Ticket, now time.Time) ([]queue.Status, error) {
	s.mu.Lock()
	s.batches = append(s.batches, len(ts))
	s.mu.Unlock()
	return s.Store.Statuses(ctx, concertID, ts, now)
}

func (s *batchStore) sizes() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.batches...)
}

// watchEnv is a Service and a Watcher whose room goroutines run one
// refresh pass per value sent on pace.
type watchEnv struct {
	t     *testing.T
	clock *boxoffice.ManualClock
	store *batchStore
	svc   *queue.Service
	w     *queue.Watcher
	pace  chan time.Time
	room  queue.Room
}

func newWatchEnv(t *testing.T, store queue.Store, s queue.Settings) *watchEnv {
	t.Helper()
	e := &watchEnv{t: t, clock: boxoffice.NewManualClock(watchT0), store: &batchStore{Store: store}, pace: make(chan time.Time)}
	e.svc = queue.NewService(e.store, e.clock, "watch", 100*time.Millisecond, nil, nil, nil)
	e.w = queue.NewWatcher(e.svc, 250*time.Millisecond)
	e.w.Pace = e.pace
	t.Cleanup(e.w.Close)
	e.room = queue.Room{ConcertID: boxoffice.NewID(), OpensAt: watchT0.Add(-time.Hour), Settings: s}
	return e
}

// rate1 admits one fan per second at steps; no test here steps unless it
// means to admit.
func rate1() queue.Settings {
	return queue.Settings{Strategy: queue.Rate, AdmitPerSecond: 1, SessionSeconds: 600, IdleSeconds: 60}
}

func (e *watchEnv) join(user string) queue.Ticket {
	e.t.Helper()
	st, _, err := e.svc.Join(context.Background(), e.room, user)
	if err != nil {
		e.t.Fatalf("join %s: %v", user, err)
	}
	return st.Ticket
}

// joinN joins n fans and returns their tickets in order.
func (e *watchEnv) joinN(prefix string, n int) []queue.Ticket {
	ts := make([]queue.Ticket, n)
	for i := range ts {
		ts[i] = e.join(fmt.Sprintf("%s%05d", prefix, i))
	}
	return ts
}

func (e *watchEnv) leave(tk queue.Ticket) {
	e.t.Helper()
	if err := e.svc.Leave(context.Background(), tk); err != nil {
		e.t.Fatalf("leave %v: %v", tk, err)
	}
}

func (e *watchEnv) watch(ctx context.Context, t queue.Ticket) <-chan queue.Status {
	e.t.Helper()
	ch, err := e.w.Watch(ctx, t)
	if err != nil {
		e.t.Fatalf("watch %v: %v", t, err)
	}
	return ch
}

// pass returns once a whole refresh pass has run after the call: the
// second value is taken only when the pass started by the first is over.
// (The pass the second value starts may still be running.)
// A pass that ends the room's last watch stops its goroutine; pass then
// returns once the room is no longer watched, whichever tick it was to
// send (the room may have stopped before the first).
func (e *watchEnv) pass() {
	for range 2 {
		if !e.tick() {
			return
		}
	}
}

// tick sends one tick, or reports false once the watcher has no room to
// take it.
func (e *watchEnv) tick() bool {
	for {
		select {
		case e.pace <- e.clock.Now():
			return true
		case <-time.After(10 * time.Millisecond):
			if e.w.Rooms() == 0 {
				return false
			}
		}
	}
}

// next receives the value ch holds now, failing unless there is one.
func next(t *testing.T, ch <-chan queue.Status) queue.Status {
	t.Helper()
	select {
	case st, ok := <-ch:
		if !ok {
			t.Fatal("got a closed channel, want a status")
		}
		return st
	default:
		t.Fatal("got no status, want one")
	}
	return queue.Status{}
}

// none fails unless ch holds nothing.
func none(t *testing.T, ch <-chan queue.Status) {
	t.Helper()
	select {
	case st, ok := <-ch:
		if ok {
			t.Fatalf("got %s at %d, want no new status", st.State, st.Position)
		}
		t.Fatal("got a closed channel, want it open and empty")
	default:
	}
}

// closed fails unless ch is closed with nothing left in it, waiting for
// the closing when it is done by another goroutine.
func closed(t *testing.T, ch <-chan queue.Status) {
	t.Helper()
	select {
	case st, ok := <-ch:
		if ok {
			t.Fatalf("got %s, want the channel closed", st.State)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("channel still open after 10 s, want it closed")
	}
}

func want(t *testing.T, st queue.Status, state queue.State, position int64) {
	t.Helper()
	if st.State != state || st.Position != position {
		t.Fatalf("got %s at %d, want %s at %d", st.State, st.Position, state, position)
	}
}

func TestWatch(t *testing.T) {
	watchStores(t, func(t *testing.T, store queue.Store) {
		t.Run("CurrentStatusAtOnce", func(t *testing.T) {
			e := newWatchEnv(t, store, rate1())
			e.join("a")
			b := e.join("b")
			ch := e.watch(t.Context(), b)
			want(t, next(t, ch), queue.Waiting, 2)
			none(t, ch)
		})
		t.Run("SendsOnlyChanges", func(t *testing.T) {
			e := newWatchEnv(t, store, rate1())
			a, b := e.join("a"), e.join("b")
			ch := e.watch(t.Context(), b)
			next(t, ch)
			e.clock.Advance(time.Second)
			e.pass()
			e.pass()
			none(t, ch)
			e.leave(a)
			e.clock.Advance(time.Second)
			e.pass()
			want(t, next(t, ch), queue.Waiting, 1)
		})
		t.Run("KeepsOnlyTheLatest", func(t *testing.T) {
			e := newWatchEnv(t, store, rate1())
			ahead := e.joinN("ahead", 2)
			b := e.join("b")
			ch := e.watch(t.Context(), b)
			want(t, next(t, ch), queue.Waiting, 3)
			for _, a := range ahead {
				e.leave(a)
				e.clock.Advance(time.Second)
				e.pass()
			}
			want(t, next(t, ch), queue.Waiting, 1)
			none(t, ch)
		})
		t.Run("AdmittedEndsTheWatch", func(t *testing.T) {
			e := newWatchEnv(t, store, rate1())
			a := e.join("a")
			ch := e.watch(t.Context(), a)
			next(t, ch)
			e.svc.Step(t.Context())
			e.clock.Advance(time.Second)
			e.pass()
			st := next(t, ch)
			if st.State != queue.Admitted || st.SessionExpiresAt.IsZero() {
				t.Fatalf("got %s, session until %v; want ADMITTED with a session expiry", st.State, st.SessionExpiresAt)
			}
			closed(t, ch)
			if n, r := e.w.Watching(), e.w.Rooms(); n != 0 || r != 0 {
				t.Errorf("got %d subscriptions in %d rooms, want none", n, r)
			}
		})
		t.Run("LeftEndsTheWatchExpired", func(t *testing.T) {
			e := newWatchEnv(t, store, rate1())
			a := e.join("a")
			ch := e.watch(t.Context(), a)
			next(t, ch)
			e.leave(a)
			e.clock.Advance(time.Second)
			e.pass()
			want(t, next(t, ch), queue.Expired, 0)
			closed(t, ch)
		})
		t.Run("EndedTicketAtOnce", func(t *testing.T) {
			e := newWatchEnv(t, store, rate1())
			a := e.join("a")
			e.leave(a)
			ch := e.watch(t.Context(), a)
			want(t, next(t, ch), queue.Expired, 0)
			closed(t, ch)
			unknown := queue.Ticket{ConcertID: boxoffice.NewID(), UserID: "a", Seq: 1}
			ch = e.watch(t.Context(), unknown)
			want(t, next(t, ch), queue.Expired, 0)
			closed(t, ch)
			if r := e.w.Rooms(); r != 0 {
				t.Errorf("got %d rooms watched, want 0", r)
			}
		})
		t.Run("ContextEndsTheWatch", func(t *testing.T) {
			e := newWatchEnv(t, store, rate1())
			ctx, cancel := context.WithCancel(t.Context())
			ch := e.watch(ctx, e.join("a"))
			next(t, ch)
			cancel()
			closed(t, ch)
			if n, r := e.w.Watching(), e.w.Rooms(); n != 0 || r != 0 {
				t.Errorf("got %d subscriptions in %d rooms, want none", n, r)
			}
		})
		t.Run("OneGoroutinePerRoom", func(t *testing.T) {
			e := newWatchEnv(t, store, rate1())
			other := e.room
			other.ConcertID = boxoffice.NewID()
			ctx, cancel := context.WithCancel(t.Context())
			e.watch(ctx, e.join("a"))
			e.watch(ctx, e.join("b"))
			st, _, err := e.svc.Join(t.Context(), other, "c")
			if err != nil {
				t.Fatal(err)
			}
			e.watch(ctx, st.Ticket)
			if n, r := e.w.Watching(), e.w.Rooms(); n != 3 || r != 2 {
				t.Errorf("got %d subscriptions in %d rooms, want 3 in 2", n, r)
			}
			cancel()
			done := make(chan struct{})
			go func() { e.w.Close(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Close still waiting after 10 s, want the rooms' goroutines stopped")
			}
			if n, r := e.w.Watching(), e.w.Rooms(); n != 0 || r != 0 {
				t.Errorf("got %d subscriptions in %d rooms, want none", n, r)
			}
		})
		t.Run("CloseEndsEveryWatch", func(t *testing.T) {
			e := newWatchEnv(t, store, rate1())
			ch := e.watch(t.Context(), e.join("a"))
			next(t, ch)
			e.w.Close()
			closed(t, ch)
			ch = e.watch(t.Context(), e.join("b"))
			want(t, next(t, ch), queue.Waiting, 2)
			closed(t, ch)
		})
	})
}

// TestWatchAdaptive checks that fans far back are refreshed less often
// than fans near the head, and never less than half the idle limit.
func TestWatchAdaptive(t *testing.T) {
	watchStores(t, func(t *testing.T, store queue.Store) {
		t.Run("FarBackLessOften", func(t *testing.T) {
			// At one admission a second, the head expects 1 s and is due
			// every tick; the 100th expects 100 s and is due every 10 s.
			e := newWatchEnv(t, store, rate1())
			head := e.join("head")
			x := e.join("x")
			e.joinN("filler", 97)
			far := e.join("far")
			chHead, chFar := e.watch(t.Context(), head), e.watch(t.Context(), far)
			want(t, next(t, chHead), queue.Waiting, 1)
			want(t, next(t, chFar), queue.Waiting, 100)
			e.leave(x)
			for range 4 {
				e.clock.Advance(time.Second)
				e.pass()
			}
			none(t, chHead)
			none(t, chFar) // moved to 99, but not due until 10 s
			e.clock.Advance(6 * time.Second)
			e.pass()
			want(t, next(t, chFar), queue.Waiting, 99)
		})
		t.Run("PlacesKeptWithinHalfTheIdleLimit", func(t *testing.T) {
			// One session fills MAX_ACTIVE 1 for ten minutes: the fans
			// behind expect to wait for ages, yet are refreshed within 2 s
			// of an idle limit of 4 s. An unwatched fan is dropped. (A pass
			// with nobody due refreshes one fan: 30 of them would each
			// wait longer than the limit for their turn.)
			s := queue.Settings{Strategy: queue.MaxActive, MaxActive: 1, SessionSeconds: 600, IdleSeconds: 4}
			e := newWatchEnv(t, store, s)
			e.join("admitted")
			e.svc.Step(t.Context())
			watched := e.joinN("watched", 30)
			unwatched := e.join("unwatched")
			for _, tk := range watched {
				next(t, e.watch(t.Context(), tk))
			}
			for range 10 {
				e.clock.Advance(time.Second)
				e.pass()
			}
			e.svc.Step(t.Context())
			for _, tk := range watched {
				st, err := e.svc.Status(t.Context(), tk)
				if err != nil {
					t.Fatal(err)
				}
				if st.State != queue.Waiting {
					t.Errorf("watched %s after 10 s: got %s, want WAITING", tk.UserID, st.State)
				}
			}
			if st, _ := e.svc.Status(t.Context(), unwatched); st.State != queue.Expired {
				t.Errorf("unwatched after 10 s: got %s, want EXPIRED (dropped for idleness)", st.State)
			}
		})
	})
}

// TestWatchSoldOut checks that every waiting fan hears SOLD_OUT in the pass
// that first sees it, however far back, in batches of StatusBatch.
func TestWatchSoldOut(t *testing.T) {
	watchStores(t, func(t *testing.T, store queue.Store) {
		e := newWatchEnv(t, store, rate1())
		n := 2*queue.StatusBatch + 500
		if testing.Short() {
			n = 30
		}
		ts := e.joinN("fan", n)
		chs := make([]<-chan queue.Status, n)
		for i, tk := range ts {
			chs[i] = e.watch(t.Context(), tk)
			next(t, chs[i])
		}
		if err := store.SetSupply(t.Context(), e.room.ConcertID, queue.Supply{}, e.clock.Now()); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Second)
		e.pass()
		for i, ch := range chs {
			select {
			case st := <-ch:
				if st.State != queue.SoldOut {
					t.Fatalf("fan %d: got %s, want SOLD_OUT", i, st.State)
				}
			default:
				t.Fatalf("fan %d: got nothing, want SOLD_OUT in the same pass", i)
			}
			closed(t, ch)
		}
		for _, b := range e.store.sizes() {
			if b > queue.StatusBatch {
				t.Fatalf("got a Statuses call of %d tickets, want at most %d", b, queue.StatusBatch)
			}
		}
		if got := e.w.Watching(); got != 0 {
			t.Errorf("got %d subscriptions, want 0", got)
		}
	})
}

// TestWatchPrequeue checks that a prequeue fan is refreshed at the
// opening, when the draw gives it a position.
func TestWatchPrequeue(t *testing.T) {
	watchStores(t, func(t *testing.T, store queue.Store) {
		e := newWatchEnv(t, store, rate1())
		e.room.OpensAt = watchT0.Add(5 * time.Minute)
		ch := e.watch(t.Context(), e.join("early"))
		if st := next(t, ch); st.State != queue.Prequeue || st.Position != 0 || st.Prequeued != 1 {
			t.Fatalf("got %s at %d with %d prequeued, want PREQUEUE at 0 with 1", st.State, st.Position, st.Prequeued)
		}
		// Refreshed about every 10 s, which keeps the place; the estimate
		// counts down to the opening.
		for e.clock.Now().Before(e.room.OpensAt) {
			e.clock.Advance(5 * time.Second)
			e.pass()
		}
		want(t, next(t, ch), queue.Waiting, 1)
	})
}

// TestWatchFunc checks that notify follows every value put on the channel
// after the first, and its closing.
func TestWatchFunc(t *testing.T) {
	watchStores(t, func(t *testing.T, store queue.Store) {
		e := newWatchEnv(t, store, rate1())
		ahead, kim := e.join("ahead"), e.join("kim")
		var notified atomic.Int32
		ch, err := e.w.WatchFunc(context.Background(), kim, func() { notified.Add(1) })
		if err != nil {
			t.Fatal(err)
		}
		want(t, next(t, ch), queue.Waiting, 2)
		e.pass()
		if n := notified.Load(); n != 0 {
			t.Fatalf("notified %d times with nothing changed, want 0", n)
		}
		e.leave(ahead)
		e.pass()
		if n := notified.Load(); n != 1 {
			t.Fatalf("notified %d times after a change, want 1", n)
		}
		want(t, next(t, ch), queue.Waiting, 1)
		e.leave(kim)
		e.pass()
		want(t, next(t, ch), queue.Expired, 0)
		closed(t, ch)
		if n := notified.Load(); n != 2 {
			t.Fatalf("notified %d times after the final standing, want 2", n)
		}
	})
}
