package booking_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/batch"
	"github.com/boxoffice/boxoffice/booking"
	"github.com/boxoffice/boxoffice/concert"
)

// batchStore records the batches it is given. A batch waits for gate, when
// set, before it is answered; every hold is granted, every payment made.
type batchStore struct {
	booking.Store // unused methods panic

	mu      sync.Mutex
	holds   [][]booking.HoldRequest
	settles [][]booking.SettleRequest
	started chan struct{} // receives when a batch starts, if set
	gate    chan struct{} // batches wait on it, if set
}

func (s *batchStore) wait() error {
	if s.started != nil {
		s.started <- struct{}{}
	}
	if s.gate != nil {
		<-s.gate // not ctx: a batch's answer must not race its requests' deadlines
	}
	return nil
}

func (s *batchStore) HoldBatch(_ context.Context, reqs []booking.HoldRequest) []booking.HoldResult {
	s.mu.Lock()
	s.holds = append(s.holds, slices.Clone(reqs))
	s.mu.Unlock()
	err := s.wait()
	out := make([]booking.HoldResult, len(reqs))
	for i, r := range reqs {
		out[i] = booking.HoldResult{Reservation: booking.Reservation{ID: r.ReservationID, UserID: r.UserID, Day: r.Day}, Err: err}
	}
	return out
}

func (s *batchStore) SettleBatch(_ context.Context, reqs []booking.SettleRequest) []booking.SettleResult {
	s.mu.Lock()
	s.settles = append(s.settles, slices.Clone(reqs))
	s.mu.Unlock()
	err := s.wait()
	out := make([]booking.SettleResult, len(reqs))
	for i, r := range reqs {
		out[i].Err = err
		if r.Cancel {
			out[i].Reservation = booking.Reservation{ID: r.Pay.ReservationID, Status: booking.Cancelled}
		} else {
			out[i].Payment = booking.Payment{ID: r.Pay.PaymentID, ReservationID: r.Pay.ReservationID, UserID: r.Pay.UserID}
		}
	}
	return out
}

type oneConcert struct{ c concert.Concert }

func (o oneConcert) Concert(_ context.Context, id string) (concert.Concert, error) {
	if id != o.c.ID {
		return concert.Concert{}, concert.NotFound(id)
	}
	return o.c, nil
}

func newGatherService(t *testing.T, store *batchStore) (*booking.Service, concert.Concert) {
	t.Helper()
	var dates []time.Time
	for d := range 20 {
		dates = append(dates, time.Date(2027, 1, 1+d, 19, 0, 0, 0, time.UTC))
	}
	c, err := concert.New(boxoffice.NewID(), concert.Spec{
		Title: "Gather", Venue: "Hall", Dates: dates,
		Grades:      []concert.GradeSpec{{Name: "A", Seats: "1-50", Price: 1_000}},
		SalesOpenAt: t0, HoldSeconds: 300, MaxSeatsPerUser: 4,
	}, t0)
	if err != nil {
		t.Fatal(err)
	}
	return booking.NewService(store, oneConcert{c}, boxoffice.NewManualClock(t0)), c
}

func TestGatherAloneGoesAtOnce(t *testing.T) {
	store := &batchStore{}
	svc, c := newGatherService(t, store)
	for i := range 3 {
		r, err := svc.Hold(context.Background(), "fan", c.ID, "2027-01-01", []int{i + 1}, time.Time{}, "")
		if err != nil || r.UserID != "fan" {
			t.Fatalf("Hold: %+v, %v", r, err)
		}
	}
	if len(store.holds) != 3 {
		t.Fatalf("batches: got %d, want 3 batches of one", len(store.holds))
	}
	for _, b := range store.holds {
		if len(b) != 1 {
			t.Errorf("batch of %d, want 1", len(b))
		}
	}
}

// TestGatherArrivalOrder holds a lane's first batch in the store while
// more requests arrive, one after the other: they go together in the next
// batch, in the order they arrived.
func TestGatherArrivalOrder(t *testing.T) {
	store := &batchStore{started: make(chan struct{}, 100), gate: make(chan struct{})}
	svc, c := newGatherService(t, store)
	const day = "2027-01-01"
	var wg sync.WaitGroup
	wg.Go(func() {
		if _, err := svc.Hold(context.Background(), "first", c.ID, day, []int{1}, time.Time{}, ""); err != nil {
			t.Errorf("first hold: %v", err)
		}
	})
	<-store.started
	const n = 10
	for i := range n {
		wg.Go(func() {
			if _, err := svc.Hold(context.Background(), fmt.Sprint("fan", i), c.ID, day, []int{1}, time.Time{}, ""); err != nil {
				t.Errorf("hold %d: %v", i, err)
			}
		})
		time.Sleep(5 * time.Millisecond) // arrives after the one before
	}
	close(store.gate)
	wg.Wait()
	if len(store.holds) != 2 || len(store.holds[1]) != n {
		t.Fatalf("batches: got %d (%v), want the first alone then %d together", len(store.holds), sizes(store.holds), n)
	}
	for i, r := range store.holds[1] {
		if r.UserID != fmt.Sprint("fan", i) {
			t.Errorf("request %d of the batch is %s's, want fan%d's", i, r.UserID, i)
		}
	}
}

func sizes(bs [][]booking.HoldRequest) []int {
	var ns []int
	for _, b := range bs {
		ns = append(ns, len(b))
	}
	return ns
}

// TestGatherLanes: a batch in the store holds up its own lane only, and
// the holds of one date spread over lanes by seat.
func TestGatherLanes(t *testing.T) {
	store := &batchStore{started: make(chan struct{}, 100), gate: make(chan struct{})}
	svc, c := newGatherService(t, store)
	const day = "2027-01-01"
	other := 0
	for n := 2; n <= concert.SeatsPerDate; n++ {
		if booking.HoldLane(c.ID, day, []int{n}) != booking.HoldLane(c.ID, day, []int{1}) {
			other = n
			break
		}
	}
	if other == 0 {
		t.Fatal("every seat of a date is in one lane")
	}
	var wg sync.WaitGroup
	wg.Go(func() { svc.Hold(context.Background(), "a", c.ID, day, []int{1}, time.Time{}, "") })
	<-store.started
	wg.Go(func() { svc.Hold(context.Background(), "b", c.ID, day, []int{other}, time.Time{}, "") })
	select {
	case <-store.started: // the other lane's batch went while the first waits
	case <-time.After(5 * time.Second):
		t.Error("a batch of another lane waited for the first")
	}
	close(store.gate)
	wg.Wait()
}

// TestGatherPayAndCancelShareALane: the payment and the cancel of one
// reservation go through one lane, in arrival order.
func TestGatherPayAndCancelShareALane(t *testing.T) {
	store := &batchStore{started: make(chan struct{}, 100), gate: make(chan struct{})}
	svc, _ := newGatherService(t, store)
	busy, id := boxoffice.NewID(), boxoffice.NewID()
	for booking.SettleLane(busy) != booking.SettleLane(id) {
		busy = boxoffice.NewID()
	}
	var wg sync.WaitGroup
	wg.Go(func() { svc.Pay(context.Background(), busy, "fan", "", "") })
	<-store.started
	wg.Go(func() { svc.Pay(context.Background(), id, "fan", "", "k") })
	time.Sleep(5 * time.Millisecond)
	wg.Go(func() {
		r, err := svc.Cancel(context.Background(), id, "fan", "")
		if err != nil || r.Status != booking.Cancelled {
			t.Errorf("Cancel: %+v, %v", r, err)
		}
	})
	time.Sleep(5 * time.Millisecond)
	close(store.gate)
	wg.Wait()
	if len(store.settles) != 2 || len(store.settles[1]) != 2 {
		t.Fatalf("batches: got %d, want the first alone then the payment and the cancel together", len(store.settles))
	}
	if b := store.settles[1]; b[0].Cancel || !b[1].Cancel || b[0].Pay.IdempotencyKey != "k" {
		t.Errorf("second batch: got %+v, want the payment then the cancel", b)
	}
}

// TestGatherGivingUp: a request whose deadline passes while it waits for
// its batch is UNAVAILABLE (nothing was done), and one whose batch was in
// the store OUTCOME_UNKNOWN.
func TestGatherGivingUp(t *testing.T) {
	store := &batchStore{started: make(chan struct{}, 100), gate: make(chan struct{})}
	svc, c := newGatherService(t, store)
	const day = "2027-01-01"
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	var called error
	var wg sync.WaitGroup
	wg.Go(func() { _, called = svc.Hold(ctx, "first", c.ID, day, []int{1}, time.Time{}, "") })
	<-store.started
	_, queued := svc.Hold(ctx, "second", c.ID, day, []int{1}, time.Time{}, "") // the same lane
	wg.Wait()
	close(store.gate)
	if !errors.Is(called, boxoffice.ErrOutcomeUnknown) {
		t.Errorf("request in the store: got %v, want OUTCOME_UNKNOWN", called)
	}
	if !errors.Is(queued, boxoffice.ErrUnavailable) {
		t.Errorf("request waiting for its batch: got %v, want UNAVAILABLE", queued)
	}
}

// TestGatherObserved: the observer is told of each batch of holds and of
// payments and cancels, by kind, with its requests.
func TestGatherObserved(t *testing.T) {
	store := &batchStore{}
	svc, c := newGatherService(t, store)
	var mu sync.Mutex
	var got []string
	svc.ObserveBatches(func(kind string, b batch.Call) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, fmt.Sprintf("%s:%d:%d", kind, b.Requests, len(b.Waited)))
	})
	if _, err := svc.Hold(context.Background(), "fan", c.ID, "2027-01-01", []int{1}, time.Time{}, ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Pay(context.Background(), boxoffice.NewID(), "fan", "", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Cancel(context.Background(), boxoffice.NewID(), "fan", ""); err != nil {
		t.Fatal(err)
	}
	if want := []string{"hold:1:1", "settle:1:1", "settle:1:1"}; !slices.Equal(got, want) {
		t.Errorf("observed %v, want %v", got, want)
	}
}
