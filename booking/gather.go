package booking

import (
	"context"
	"errors"
	"hash/maphash"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/batch"
)

// Gathered writes. A hold, payment or cancel is not sent to the store on
// its own: it joins the batch of its lane, and the store makes the whole
// batch together (Store.HoldBatch, Store.SettleBatch), in the order the
// requests arrived. A lane has at most one batch in the store at a time;
// the requests that arrive meanwhile go together in the next one, so a
// quiet system sends each request at once (a batch of one) and a busy one
// pays one transaction and one commit for up to MaxBatch of them.
//
// Holds are laned by concert, date and first seat, so that two batches in
// flight at once rarely want the same seats (only holds of several seats
// can meet in two lanes) while the holds of one hot date, the on-sale's
// case, still spread over every lane; payments and cancels by reservation,
// so that the payment and the cancel of one reservation go in arrival
// order through one lane. Batches of different lanes run at once; the
// store's lock order keeps them from deadlocking.

// Lanes is the number of lanes of holds, and of payments and cancels:
// how many batches of each may be in the store at once. Two lanes of
// batches of up to MaxBatch measured faster than four of 64, one of 512
// and two of 1,024 (docs/benchmarks.md, "Lanes"): fewer, larger batches
// share each batch's fixed work among more requests, and two lanes of each
// still keep both of a small machine's cores busy.
const Lanes = 2

// MaxBatch bounds the requests of one batch.
const MaxBatch = 256

// batchTimeout bounds one batch in the store (each request's own deadline
// bounds it too, see batch.Group).
const batchTimeout = 10 * time.Second

var laneSeed = maphash.MakeSeed()

// HoldLane is the lane of a hold of seats (sorted) of a date of a concert.
func HoldLane(concertID, day string, seats []int) uint32 {
	var h maphash.Hash
	h.SetSeed(laneSeed)
	h.WriteString(concertID)
	h.WriteByte(0)
	h.WriteString(day)
	if len(seats) > 0 {
		h.WriteByte(byte(seats[0]))
	}
	return uint32(h.Sum64() % Lanes)
}

// SettleLane is the lane of a payment or cancel of a reservation.
func SettleLane(reservationID string) uint32 {
	return uint32(maphash.String(laneSeed, reservationID) % Lanes)
}

// ObserveBatches has f told of every batch of holds ("hold") and of
// payments and cancels ("settle") once the store has made it. It must be
// called before the first hold, payment or cancel.
func (s *Service) ObserveBatches(f func(kind string, c batch.Call)) {
	s.holds.Observe(func(c batch.Call) { f("hold", c) })
	s.settles.Observe(func(c batch.Call) { f("settle", c) })
}

// hold makes req in the next batch of its lane.
func (s *Service) hold(ctx context.Context, req HoldRequest) (Reservation, error) {
	res, err := s.holds.Do(ctx, HoldLane(req.ConcertID, req.Day, req.Seats), req)
	if err != nil {
		return Reservation{}, abandoned(err)
	}
	return res.Reservation, res.Err
}

// settle makes req in the next batch of its lane. The error is the
// batch's; the request's own is in the result.
func (s *Service) settle(ctx context.Context, req SettleRequest) (SettleResult, error) {
	res, err := s.settles.Do(ctx, SettleLane(req.Pay.ReservationID), req)
	return res, abandoned(err)
}

func (s *Service) runHolds(ctx context.Context, _ uint32, reqs []HoldRequest) ([]HoldResult, error) {
	return s.store.HoldBatch(ctx, reqs), nil
}

func (s *Service) runSettles(ctx context.Context, _ uint32, reqs []SettleRequest) ([]SettleResult, error) {
	return s.store.SettleBatch(ctx, reqs), nil
}

// abandoned translates a request that gave up waiting for its batch: one
// dropped before its batch was sent changed nothing (UNAVAILABLE); one
// whose batch was in the store may have been made (OUTCOME_UNKNOWN). The
// caller's own cancellation stays itself.
func abandoned(err error) error {
	var a *batch.AbandonedError
	switch {
	case err == nil:
		return nil
	case !errors.As(err, &a) || errors.Is(err, context.Canceled):
		return err
	case a.Called:
		return boxoffice.OutcomeUnknown("database", err)
	}
	return boxoffice.Unavailable("database", err)
}
