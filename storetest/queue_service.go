package storetest

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/queue"
)

func testServiceSeed(t *testing.T, q *queueStore) {
	clock := boxoffice.NewManualClock(qT0)
	seed := []byte("service seed")
	svc := queue.NewService(q.s, clock, "svc", 100*time.Millisecond, nil, func(string) []byte { return seed }, nil)
	room := roomOpeningAt(10*time.Second, rateSettings(10))
	room.Seed = nil // the service brings it
	ts := make([]queue.Ticket, 20)
	for i := range ts {
		st, _, err := svc.Join(t.Context(), room, fanID(i))
		if err != nil {
			t.Fatalf("Join: %v", err)
		}
		ts[i] = st.Ticket
	}
	drawn := func() bool {
		st, err := svc.Stats(t.Context(), room.ConcertID)
		if err != nil {
			t.Fatal(err)
		}
		return st.Drawn
	}
	clock.Set(qAt(10*time.Second - time.Millisecond))
	svc.Step(t.Context())
	if c, revealed := svc.Lottery(room, drawn()); c != queue.Commitment(seed) || revealed != nil {
		t.Errorf("lottery before the opening: got %s and seed %q, want %s and no seed", c, revealed, queue.Commitment(seed))
	}
	clock.Set(qAt(10 * time.Second))
	if c, revealed := svc.Lottery(room, drawn()); revealed != nil {
		t.Errorf("lottery at the opening, before its first step: got %s and seed %q, want no seed until the draw is made", c, revealed)
	}
	svc.Step(t.Context())
	if c, revealed := svc.Lottery(room, drawn()); c != queue.Commitment(seed) || !bytes.Equal(revealed, seed) {
		t.Errorf("lottery once drawn: got %s and seed %q, want %s and %q", c, revealed, queue.Commitment(seed), seed)
	}
	rank := drawRanksWith(seed, ts)
	if maps.Equal(rank, drawRanks(ts)) {
		t.Fatalf("ranks under two seeds: got equal, want different")
	}
	for _, tk := range ts {
		st, err := svc.Status(t.Context(), tk)
		if err != nil {
			t.Fatal(err)
		}
		if rank[tk.UserID] == 1 { // admitted by the step that drew
			wantState(t, tk.UserID, st, queue.Admitted, 0)
		} else {
			wantState(t, tk.UserID, st, queue.Waiting, rank[tk.UserID]-1)
		}
	}
}

// supplySource is a supply function that counts its calls.
type supplySource struct {
	mu    sync.Mutex
	s     queue.Supply
	calls int
}

func (s *supplySource) get(context.Context, string) (queue.Supply, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	return s.s, nil
}

func (s *supplySource) set(sup queue.Supply) {
	s.mu.Lock()
	s.s = sup
	s.mu.Unlock()
}

func (s *supplySource) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

func testServiceSupply(t *testing.T, q *queueStore) {
	clock := boxoffice.NewManualClock(qT0)
	src := &supplySource{}
	a := queue.NewService(q.s, clock, "a", 100*time.Millisecond, nil, nil, src.get)
	b := queue.NewService(q.s, clock, "b", 100*time.Millisecond, nil, nil, src.get)
	room := openRoom(rateSettings(10))
	ts := q.joinAll(room, 20, qT0)
	steps := []struct {
		at    time.Duration
		calls int
	}{
		{0, 0},                      // nobody led the room before
		{100 * time.Millisecond, 1}, // a leads: reports before admitting
		{200 * time.Millisecond, 1}, // within SupplyEvery
		{350 * time.Millisecond, 2}, // SupplyEvery later
		{400 * time.Millisecond, 2},
	}
	for i, s := range steps {
		clock.Set(qAt(s.at))
		if i == 3 {
			src.set(queue.Supply{Available: true})
		}
		a.Step(t.Context())
		b.Step(t.Context())
		if got := src.count(); got != s.calls {
			t.Errorf("after the steps at +%v: got %d reports, want %d", s.at, got, s.calls)
		}
		if i == 1 {
			// The first report said sold out, before that step admitted.
			wantState(t, "waiting fan", q.status(ts[19], qAt(s.at)), queue.SoldOut, 0)
			_, _, err := joinOne(t.Context(), q.s, room, "newcomer", qAt(s.at))
			wantQueueCode(t, "join", err, boxoffice.CodeSoldOut)
			if st := q.stats(qAt(s.at)); st.AdmittedTotal != 1 {
				t.Errorf("admitted while sold out: got %d in all, want the 1 of the first step", st.AdmittedTotal)
			}
		}
	}
	if st := q.stats(qAt(400 * time.Millisecond)); st.SoldOut || st.AdmittedTotal <= 1 {
		t.Errorf("after seats returned: got sold out %v, %d admitted, want not sold out, more than 1", st.SoldOut, st.AdmittedTotal)
	}
}

// testServiceSupplyIdle: a room's supply is reported every SupplyEvery
// while fans wait in it at its steps, every SupplyIdleEvery once nobody
// does, and every SupplyEvery again from the step after a fan joins.
func testServiceSupplyIdle(t *testing.T, q *queueStore) {
	clock := boxoffice.NewManualClock(qT0)
	src := &supplySource{s: queue.Supply{Available: true}}
	a := queue.NewService(q.s, clock, "a", 100*time.Millisecond, nil, nil, src.get)
	room := openRoom(maxActiveSettings(100))
	q.joinAll(room, 3, qT0)
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	idle := queue.SupplyIdleEvery
	steps := []struct {
		at    time.Duration
		join  bool
		calls int
	}{
		{0, false, 0},                                  // nobody led the room before; admits the 3
		{ms(100), false, 1},                            // fans waited at the last step: reports
		{ms(400), false, 1},                            // nobody has waited since
		{ms(100) + idle - ms(1), false, 1},             // within SupplyIdleEvery
		{ms(100) + idle, false, 2},                     // SupplyIdleEvery later
		{ms(200) + idle, true, 2},                      // a fan joins: admitted, on the report of a step ago
		{ms(100) + idle + queue.SupplyEvery, false, 3}, // a fan waited at the last step
	}
	for _, s := range steps {
		clock.Set(qAt(s.at))
		if s.join {
			q.join(room, "newcomer", qAt(s.at))
		}
		a.Step(t.Context())
		if got := src.count(); got != s.calls {
			t.Errorf("after the step at +%v: got %d reports, want %d", s.at, got, s.calls)
		}
	}
	if st := q.stats(qAt(ms(100) + idle + queue.SupplyEvery)); st.AdmittedTotal != 4 {
		t.Errorf("admitted: got %d, want 4", st.AdmittedTotal)
	}
}

// RunQueueStoreShared checks queue.Store where several instances share one
// room: newStores returns n stores on the same data (for Redis, n clients
// with one key prefix), empty and cleaned up with t.Cleanup.
func RunQueueStoreShared(t *testing.T, newStores func(t *testing.T, n int) []queue.Store) {
	t.Run("Race/ThreeServicesNeverExceedMaxActive", func(t *testing.T) { testRaceServices(t, newStores(t, 3)) })
	t.Run("Proof/SpentOnceOverThreeStores", func(t *testing.T) { testProofShared(t, newStores(t, 3)) })
}

// tickingClock moves 5ms on every reading by Now.
type tickingClock struct{ ms atomic.Int64 }

func (c *tickingClock) Now() time.Time { return qAt(time.Duration(c.ms.Add(5)) * time.Millisecond) }

// peek reads the clock without moving it.
func (c *tickingClock) peek() time.Time { return qAt(time.Duration(c.ms.Load()) * time.Millisecond) }

func testRaceServices(t *testing.T, stores []queue.Store) {
	const limit, fans = 5, 300
	s := maxActiveSettings(limit)
	s.SessionSeconds = 1
	q := &queueStore{t: t, s: stores[0]}
	ts := q.joinAll(openRoom(s), fans, qT0)
	clock := &tickingClock{}
	src := &supplySource{s: queue.Supply{Available: true}}
	ctx := t.Context()

	var stop atomic.Bool
	var workers, samplers sync.WaitGroup
	active := &activeSampler{t: t}
	for i, store := range stores {
		svc := queue.NewService(store, clock, fmt.Sprintf("instance-%d", i), 100*time.Millisecond, nil, nil, src.get)
		svc.Lease = 0 // every step races every other instance's
		workers.Go(func() {
			for range 80 {
				svc.Step(ctx)
			}
		})
	}
	for w := range 2 {
		store := stores[1+w]
		workers.Go(func() {
			for i := range 200 {
				tk := ts[(i*7+w*3)%fans]
				st, err := store.Status(ctx, tk, clock.Now())
				if err != nil {
					t.Errorf("Status: %v", err)
					continue
				}
				if st.State != queue.Admitted {
					continue
				}
				if w == 0 {
					_ = store.Leave(ctx, tk.ConcertID, []queue.Ticket{tk}, clock.Now())
				} else if _, err := store.Use(ctx, tk, clock.Now()); err != nil && boxoffice.ErrorCode(err) != boxoffice.CodeQueueTokenExpired {
					t.Errorf("Use: %v", err)
				}
			}
		})
	}
	for i := range 3 {
		store := stores[i]
		samplers.Go(func() {
			// Sampling must not move time: a fast store would otherwise
			// be sampled through a minute of clock before the first
			// step, and every place would lapse as idle.
			for !stop.Load() {
				active.sample(store.Stats(ctx, qRoomID, clock.peek()))
			}
		})
	}
	workers.Wait()
	stop.Store(true)
	samplers.Wait()
	end := clock.Now()
	st, err := stores[0].Stats(ctx, qRoomID, end)
	active.sample(st, err)
	active.check(limit)
	if st.AdmittedTotal <= limit {
		t.Errorf("admitted total: got %d, want above %d (sessions refilled)", st.AdmittedTotal, limit)
	}
	if src.count() == 0 {
		t.Errorf("supply reports: got none, want some")
	}
	checkAdmissionLog(t, q, st.AdmittedTotal)
}

// checkAdmissionLog checks that the log of qRoomID numbers every admission
// once, and no ticket twice, and holds total admissions.
func checkAdmissionLog(t *testing.T, q *queueStore, total int64) {
	t.Helper()
	log := q.admissions(qRoomID)
	seen := map[queue.Ticket]bool{}
	for i, a := range log {
		tk := queue.Ticket{ConcertID: qRoomID, UserID: a.UserID, Seq: a.Seq}
		if a.N != int64(i+1) || seen[tk] {
			t.Fatalf("admission %d: got N %d for %v (seen before: %v), want N %d, each ticket once", i+1, a.N, tk, seen[tk], i+1)
		}
		seen[tk] = true
	}
	if int64(len(log)) != total {
		t.Errorf("admission log: got %d entries, want %d", len(log), total)
	}
}

// testServiceSettings checks that the leader hands the room the settings
// RoomOf gives, a change the store missed, and that a stale copy of older
// settings changes nothing.
func testServiceSettings(t *testing.T, q *queueStore) {
	clock := boxoffice.NewManualClock(qT0)
	room := openRoom(rateSettings(10))
	room.Version = 1
	ts := q.joinAll(room, 2, qT0)
	current := room
	svc := queue.NewService(q.s, clock, "a", 100*time.Millisecond, nil, nil, nil)
	svc.RoomOf = func(context.Context, string) (queue.Room, error) { return current, nil }
	step := func(d time.Duration) {
		clock.Set(qAt(d))
		svc.Step(t.Context())
	}
	step(0) // leads from now on
	current = openRoom(maxActiveSettings(4))
	current.Version = 2
	step(100 * time.Millisecond)
	wantRoom(t, "after a step with newer settings", q.status(ts[1], qAt(100*time.Millisecond)).Room, current)
	newer := current
	current = openRoom(rateSettings(1))
	current.Version = 1
	step(time.Second)
	wantRoom(t, "after a step with older settings", q.status(ts[1], qAt(time.Second)).Room, newer)
}
