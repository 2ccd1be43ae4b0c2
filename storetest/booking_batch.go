package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/booking"
	"github.com/boxoffice/boxoffice/concert"
)

// runBookingBatches checks HoldBatch and SettleBatch: each request of a
// batch is answered as if made alone right after the one before it, and a
// request's failure is its own.
func runBookingBatches(t *testing.T, newStores func(t *testing.T) Stores) {
	t.Run("Batch/OneSeatWinnerAndLosers", func(t *testing.T) { testBatchOneSeat(t, newStores) })
	t.Run("Batch/OneUserTwoHoldsAgainstLimit", func(t *testing.T) { testBatchSeatLimit(t, newStores) })
	t.Run("Batch/PayThenCancel", func(t *testing.T) { testBatchPayThenCancel(t, newStores) })
	t.Run("Batch/CancelThenPay", func(t *testing.T) { testBatchCancelThenPay(t, newStores) })
	t.Run("Batch/KeyedHoldReplayed", func(t *testing.T) { testBatchKeyedHold(t, newStores) })
	t.Run("Batch/KeysOfEarlierHolds", func(t *testing.T) { testBatchEarlierKeys(t, newStores) })
	t.Run("Batch/CooldownWithinBatch", func(t *testing.T) { testBatchCooldown(t, newStores) })
	t.Run("Batch/SessionCapped", func(t *testing.T) { testBatchSessionCapped(t, newStores) })
	t.Run("Batch/KeyedPaymentReplayed", func(t *testing.T) { testBatchKeyedPay(t, newStores) })
	t.Run("Batch/OneWalletTwoPayments", func(t *testing.T) { testBatchOneWallet(t, newStores) })
	t.Run("Batch/OtherConcert", func(t *testing.T) { testBatchOtherConcert(t, newStores) })
	t.Run("Batch/OtherConcertAlone", func(t *testing.T) { testOtherConcertAlone(t, newStores) })
	t.Run("Batch/FailureStaysItsOwn", func(t *testing.T) { testBatchFailureStaysItsOwn(t, newStores) })
	t.Run("Batch/Race/OverlappingBatches", func(t *testing.T) { testBatchRace(t, newStores) })
}

var batchNow = BaseTime.Add(time.Hour)

func payReq(userID, reservationID, key string, now time.Time) booking.SettleRequest {
	return booking.SettleRequest{Pay: booking.PayRequest{
		PaymentID: boxoffice.NewID(), ReservationID: reservationID, UserID: userID, IdempotencyKey: key, Now: now,
	}}
}

func cancelReq(userID, reservationID string, now time.Time) booking.SettleRequest {
	return booking.SettleRequest{Pay: booking.PayRequest{ReservationID: reservationID, UserID: userID, Now: now}, Cancel: true}
}

func testBatchOneSeat(t *testing.T, newStores func(t *testing.T) Stores) {
	e := newBookingEnv(t, newStores, ConcertSpec())
	a, b, c, d := e.user(0), e.user(0), e.user(0), e.user(0)
	reqs := []booking.HoldRequest{
		e.holdReq(a, Day1, batchNow, 5),
		e.holdReq(b, Day1, batchNow, 5, 6),
		e.holdReq(c, Day1, batchNow, 5),
		e.holdReq(d, Day1, batchNow, 6),
		e.holdReq(b, Day1, batchNow, 7),
	}
	res := e.Bookings.HoldBatch(context.Background(), reqs)
	if len(res) != len(reqs) {
		t.Fatalf("HoldBatch: got %d results, want %d", len(res), len(reqs))
	}
	noErr(t, "first hold of seat 5", res[0].Err)
	if res[0].Reservation.ID != reqs[0].ReservationID || res[0].Reservation.UserID != a {
		t.Errorf("first hold of seat 5: got %+v", res[0].Reservation)
	}
	wantErr(t, "second hold of seat 5", res[1].Err, boxoffice.ErrSeatUnavailable)
	if want := booking.SeatsTaken(Day1, []int{5}).Error(); res[1].Err != nil && res[1].Err.Error() != want {
		t.Errorf("second hold of seat 5: got %q, want %q (its own seats only)", res[1].Err, want)
	}
	wantErr(t, "third hold of seat 5", res[2].Err, boxoffice.ErrSeatUnavailable)
	noErr(t, "hold of seat 6 after a refused hold of it", res[3].Err)
	noErr(t, "the loser's hold of another seat", res[4].Err)
	e.wantSeats(Day1, batchNow, concert.Held, 5, 6, 7)
	e.wantSeats(Day1, batchNow, concert.Available, 4, 8)
	_, err := e.Bookings.Reservation(context.Background(), reqs[1].ReservationID)
	wantErr(t, "Reservation of the refused hold", err, boxoffice.ErrNotFound)
	if inv := e.inventory(batchNow); inv.Held != 3 {
		t.Errorf("Inventory: got %d held, want 3", inv.Held)
	}
}

func testBatchSeatLimit(t *testing.T, newStores func(t *testing.T) Stores) {
	e := newBookingEnv(t, newStores, ConcertSpec()) // at most 4 seats per user and date
	a := e.user(0)
	reqs := []booking.HoldRequest{
		e.holdReq(a, Day1, batchNow, 1, 2, 3),
		e.holdReq(a, Day1, batchNow, 4, 5),
		e.holdReq(a, Day1, batchNow, 4),
		e.holdReq(a, Day1, batchNow, 6),
		e.holdReq(a, Day2, batchNow, 6),
	}
	res := e.Bookings.HoldBatch(context.Background(), reqs)
	noErr(t, "first hold", res[0].Err)
	wantErr(t, "second hold past the limit", res[1].Err, boxoffice.ErrSeatLimitExceeded)
	noErr(t, "third hold up to the limit", res[2].Err)
	wantErr(t, "fourth hold past the limit", res[3].Err, boxoffice.ErrSeatLimitExceeded)
	noErr(t, "hold of another date", res[4].Err)
	e.wantSeats(Day1, batchNow, concert.Held, 1, 2, 3, 4)
	e.wantSeats(Day1, batchNow, concert.Available, 5, 6)
	e.wantSeats(Day2, batchNow, concert.Held, 6)
}

func testBatchPayThenCancel(t *testing.T, newStores func(t *testing.T) Stores) {
	e := newBookingEnv(t, newStores, ConcertSpec())
	a := e.user(1_000_000)
	r := e.mustHold(a, Day1, batchNow, 20)
	at := batchNow.Add(time.Second)
	res := e.Bookings.SettleBatch(context.Background(), []booking.SettleRequest{
		payReq(a, r.ID, "", at),
		cancelReq(a, r.ID, at),
	})
	noErr(t, "payment", res[0].Err)
	if res[0].Payment.ReservationID != r.ID || res[0].Payment.Amount != 90_000 || res[0].Payment.Balance != 910_000 {
		t.Errorf("payment: got %+v", res[0].Payment)
	}
	wantErr(t, "cancel after the payment", res[1].Err, boxoffice.ErrAlreadyPaid)
	e.wantStatus(r.ID, booking.Paid)
	e.wantSeats(Day1, at, concert.Sold, 20)
	e.wantBalance(a, 910_000)
}

func testBatchCancelThenPay(t *testing.T, newStores func(t *testing.T) Stores) {
	e := newBookingEnv(t, newStores, ConcertSpec())
	a, b := e.user(1_000_000), e.user(1_000_000)
	r := e.mustHold(a, Day1, batchNow, 20)
	other := e.mustHold(b, Day1, batchNow, 21)
	at := batchNow.Add(time.Second)
	res := e.Bookings.SettleBatch(context.Background(), []booking.SettleRequest{
		cancelReq(a, r.ID, at),
		payReq(a, r.ID, "", at),
		payReq(b, other.ID, "", at),
		cancelReq(a, r.ID, at),
	})
	noErr(t, "cancel", res[0].Err)
	if res[0].Reservation.ID != r.ID || res[0].Reservation.Status != booking.Cancelled {
		t.Errorf("cancel: got %+v, want %s cancelled", res[0].Reservation, r.ID)
	}
	wantErr(t, "payment after the cancel", res[1].Err, boxoffice.ErrHoldExpired)
	noErr(t, "neighbour's payment", res[2].Err)
	noErr(t, "second cancel", res[3].Err)
	if res[3].Reservation.Status != booking.Cancelled {
		t.Errorf("second cancel: got %s, want %s", res[3].Reservation.Status, booking.Cancelled)
	}
	e.wantStatus(r.ID, booking.Cancelled)
	e.wantStatus(other.ID, booking.Paid)
	e.wantSeats(Day1, at, concert.Available, 20)
	e.wantSeats(Day1, at, concert.Sold, 21)
	e.wantBalance(a, 1_000_000)
	e.wantBalance(b, 910_000)
	if ps := e.payments(a); len(ps) != 0 {
		t.Errorf("payments of the cancelled hold's owner: got %d, want none", len(ps))
	}
}

func testBatchKeyedHold(t *testing.T, newStores func(t *testing.T) Stores) {
	e := newBookingEnv(t, newStores, ConcertSpec())
	a, b := e.user(0), e.user(0)
	first := e.holdReq(a, Day1, batchNow, 8, 9)
	first.IdempotencyKey = "k-1"
	again := e.holdReq(a, Day1, batchNow, 9, 8)
	again.IdempotencyKey = "k-1"
	other := e.holdReq(a, Day1, batchNow, 10)
	other.IdempotencyKey = "k-1"
	refused := e.holdReq(b, Day1, batchNow, 8)
	refused.IdempotencyKey = "k-2"
	refusedAgain := e.holdReq(b, Day1, batchNow, 8)
	refusedAgain.IdempotencyKey = "k-2"
	res := e.Bookings.HoldBatch(context.Background(), []booking.HoldRequest{first, again, other, refused, refusedAgain})
	noErr(t, "keyed hold", res[0].Err)
	noErr(t, "keyed hold replayed in the same batch", res[1].Err)
	if res[1].Reservation.ID != first.ReservationID || len(res[1].Reservation.Seats) != 2 {
		t.Errorf("replay: got %+v, want reservation %s", res[1].Reservation, first.ReservationID)
	}
	wantErr(t, "key used for other seats", res[2].Err, boxoffice.ErrIdempotencyKeyReused)
	wantErr(t, "keyed refusal", res[3].Err, boxoffice.ErrSeatUnavailable)
	wantErr(t, "keyed refusal replayed", res[4].Err, boxoffice.ErrSeatUnavailable)
	if res[3].Err != nil && res[4].Err != nil && res[3].Err.Error() != res[4].Err.Error() {
		t.Errorf("keyed refusal replayed: got %q, want %q", res[4].Err, res[3].Err)
	}
	e.wantSeats(Day1, batchNow, concert.Held, 8, 9)
	e.wantSeats(Day1, batchNow, concert.Available, 10)
	_, err := e.Bookings.Reservation(context.Background(), again.ReservationID)
	wantErr(t, "Reservation of the replay's own id", err, boxoffice.ErrNotFound)
}

// testBatchEarlierKeys: keys kept by earlier holds answer in a batch as
// alone, each user's keys their own.
func testBatchEarlierKeys(t *testing.T, newStores func(t *testing.T) Stores) {
	e := newBookingEnv(t, newStores, ConcertSpec())
	a, b := e.user(0), e.user(0)
	made := e.holdReq(a, Day1, batchNow, 12, 13)
	made.IdempotencyKey = "k"
	refused := e.holdReq(b, Day1, batchNow, 13)
	refused.IdempotencyKey = "k"
	first := e.Bookings.HoldBatch(context.Background(), []booking.HoldRequest{made, refused})
	noErr(t, "keyed hold", first[0].Err)
	wantErr(t, "keyed refusal", first[1].Err, boxoffice.ErrSeatUnavailable)

	again := func(req booking.HoldRequest) booking.HoldRequest {
		req.ReservationID = boxoffice.NewID()
		return req
	}
	other := again(made)
	other.Seats = []int{14}
	free := e.holdReq(b, Day1, batchNow, 15)
	free.IdempotencyKey = "k2"
	res := e.Bookings.HoldBatch(context.Background(), []booking.HoldRequest{again(made), again(refused), other, free, again(free)})
	noErr(t, "keyed hold replayed", res[0].Err)
	if r := res[0].Reservation; r.ID != made.ReservationID || len(r.Seats) != 2 || r.Status != booking.Held {
		t.Errorf("keyed hold replayed: got %+v, want reservation %s", r, made.ReservationID)
	}
	wantMessage(t, "keyed refusal replayed", res[1].Err, first[1].Err)
	wantErr(t, "key used for another seat", res[2].Err, boxoffice.ErrIdempotencyKeyReused)
	noErr(t, "second key's hold", res[3].Err)
	noErr(t, "second key's hold replayed", res[4].Err)
	if res[4].Reservation.ID != free.ReservationID {
		t.Errorf("second key's hold replayed: got %s, want %s", res[4].Reservation.ID, free.ReservationID)
	}
	e.wantSeats(Day1, batchNow, concert.Held, 12, 13, 15)
	e.wantSeats(Day1, batchNow, concert.Available, 14)
}

// testBatchCooldown: a hold that lapsed earlier in the batch starts its
// holder's cooldown for the requests after it, and frees the seat for
// others.
func testBatchCooldown(t *testing.T, newStores func(t *testing.T) Stores) {
	e := newBookingEnv(t, newStores, ConcertSpec())
	a, b := e.user(0), e.user(0)
	lapsed := batchNow.Add(e.c.Hold())
	later := lapsed.Add(time.Second)
	reqs := []booking.HoldRequest{
		e.holdReq(a, Day1, batchNow, 16, 17),
		e.holdReq(a, Day1, later, 17),
		e.holdReq(b, Day1, later, 17),
		e.holdReq(a, Day1, later, 18),
	}
	res := e.Bookings.HoldBatch(context.Background(), reqs)
	noErr(t, "first hold", res[0].Err)
	wantMessage(t, "hold again in the cooldown", res[1].Err, booking.CooldownError(17, Day1, lapsed, lapsed.Add(e.c.Hold())))
	noErr(t, "another user's hold of the lapsed seat", res[2].Err)
	noErr(t, "hold of another seat", res[3].Err)
	if got := e.stored(reqs[2].ReservationID); got.UserID != b {
		t.Errorf("hold of the lapsed seat: got user %s, want %s", got.UserID, b)
	}
	e.wantSeats(Day1, later, concert.Held, 17, 18) // seat 17 until the last hold's expiry
	e.wantSeats(Day1, later, concert.Available, 16)
}

// testBatchSessionCapped: a hold lapses at its session's end when that is
// earlier, and one whose session has ended changes nothing.
func testBatchSessionCapped(t *testing.T, newStores func(t *testing.T) Stores) {
	e := newBookingEnv(t, newStores, ConcertSpec())
	a, b, c := e.user(0), e.user(0), e.user(0)
	end := batchNow.Add(time.Minute)
	capped := e.holdReq(a, Day1, batchNow, 19)
	capped.NotAfter = end
	ended := e.holdReq(b, Day1, batchNow, 20)
	ended.NotAfter = batchNow
	uncapped := e.holdReq(c, Day1, batchNow, 20)
	uncapped.NotAfter = batchNow.Add(24 * time.Hour)
	res := e.Bookings.HoldBatch(context.Background(), []booking.HoldRequest{capped, ended, uncapped})
	noErr(t, "capped hold", res[0].Err)
	if !res[0].Reservation.ExpiresAt.Equal(end) {
		t.Errorf("capped hold: got expiry %v, want %v", res[0].Reservation.ExpiresAt, end)
	}
	wantErr(t, "hold after the session ended", res[1].Err, boxoffice.ErrQueueTokenExpired)
	noErr(t, "hold of the seat the ended session left", res[2].Err)
	if !res[2].Reservation.ExpiresAt.Equal(uncapped.ExpiresAt) {
		t.Errorf("hold capped later: got expiry %v, want %v", res[2].Reservation.ExpiresAt, uncapped.ExpiresAt)
	}
	e.wantSeats(Day1, end, concert.Available, 19)
	e.wantSeats(Day1, end, concert.Held, 20)
}

func testBatchKeyedPay(t *testing.T, newStores func(t *testing.T) Stores) {
	e := newBookingEnv(t, newStores, ConcertSpec())
	a := e.user(1_000_000)
	r1 := e.mustHold(a, Day1, batchNow, 30)
	r2 := e.mustHold(a, Day1, batchNow, 31)
	at := batchNow.Add(time.Second)
	res := e.Bookings.SettleBatch(context.Background(), []booking.SettleRequest{
		payReq(a, r1.ID, "p-1", at),
		payReq(a, r1.ID, "p-1", at),
		payReq(a, r2.ID, "p-1", at),
		payReq(a, r2.ID, "p-2", at),
	})
	noErr(t, "keyed payment", res[0].Err)
	noErr(t, "keyed payment replayed in the same batch", res[1].Err)
	if !samePayment(res[0].Payment, res[1].Payment) {
		t.Errorf("replay: got %+v, want %+v", res[1].Payment, res[0].Payment)
	}
	wantErr(t, "key used for another reservation", res[2].Err, boxoffice.ErrIdempotencyKeyReused)
	noErr(t, "second payment", res[3].Err)
	if res[3].Payment.Balance != 820_000 {
		t.Errorf("second payment: balance %d, want 820000 (the first debit counted)", res[3].Payment.Balance)
	}
	e.wantBalance(a, 820_000)
	if ps := e.payments(a); len(ps) != 2 {
		t.Errorf("payments: got %d ledger entries, want 2", len(ps))
	}
}

// testBatchOneWallet: payments of one user in a batch debit one wallet in
// turn, each ledger entry after the one before; a refusal kept under a key
// answers again in the batch and in later ones; a lapsed hold is refused.
func testBatchOneWallet(t *testing.T, newStores func(t *testing.T) Stores) {
	e := newBookingEnv(t, newStores, ConcertSpec())
	a := e.user(200_000)
	r1 := e.mustHold(a, Day1, batchNow, 33)
	r2 := e.mustHold(a, Day1, batchNow, 34)
	r3 := e.mustHold(a, Day1, batchNow, 35)
	lapsed := e.mustHold(a, Day2, batchNow.Add(-e.c.Hold()), 36)
	at := batchNow.Add(time.Second)
	res := e.Bookings.SettleBatch(context.Background(), []booking.SettleRequest{
		payReq(a, r1.ID, "", at),
		payReq(a, r2.ID, "", at),
		payReq(a, r3.ID, "p-3", at),
		payReq(a, r3.ID, "p-3", at),
		payReq(a, lapsed.ID, "", at),
		cancelReq(a, lapsed.ID, at),
	})
	noErr(t, "first payment", res[0].Err)
	noErr(t, "second payment", res[1].Err)
	if res[0].Payment.Balance != 110_000 || res[1].Payment.Balance != 20_000 {
		t.Errorf("balances after the payments: got %d and %d, want 110000 and 20000", res[0].Payment.Balance, res[1].Payment.Balance)
	}
	want := booking.InsufficientBalance(20_000, 90_000)
	wantMessage(t, "third payment", res[2].Err, want)
	wantMessage(t, "third payment replayed", res[3].Err, want)
	wantErr(t, "payment of a lapsed hold", res[4].Err, boxoffice.ErrHoldExpired)
	wantErr(t, "cancel of a lapsed hold", res[5].Err, boxoffice.ErrHoldExpired)
	e.wantBalance(a, 20_000)
	e.wantStatus(r3.ID, booking.Held)
	e.wantSeats(Day1, at, concert.Sold, 33, 34)
	e.wantSeats(Day1, at, concert.Held, 35)
	ps := e.payments(a)
	if len(ps) != 2 || ps[0].BalanceAfter != 20_000 || ps[1].BalanceAfter != 110_000 {
		t.Fatalf("payments: got %+v, want two, newest first, with balances 20000 and 110000", ps)
	}
	res = e.Bookings.SettleBatch(context.Background(), []booking.SettleRequest{payReq(a, r3.ID, "p-3", at), payReq(a, r1.ID, "p-3", at)})
	wantMessage(t, "third payment replayed later", res[0].Err, want)
	wantErr(t, "key of the refusal used for another reservation", res[1].Err, boxoffice.ErrIdempotencyKeyReused)
}

// of makes req allowed for concertID only.
func of(req booking.SettleRequest, concertID string) booking.SettleRequest {
	req.Pay.ConcertID = concertID
	return req
}

// testBatchOtherConcert: a payment or cancel allowed for another concert
// than the reservation's is QUEUE_TOKEN_INVALID, after NOT_FOUND and
// FORBIDDEN and before a key's replay, and changes nothing, nor is kept
// under its key; a payment tells its seats and whether it is a replay.
func testBatchOtherConcert(t *testing.T, newStores func(t *testing.T) Stores) {
	e := newBookingEnv(t, newStores, ConcertSpec())
	a, b := e.user(1_000_000), e.user(1_000_000)
	r1 := e.mustHold(a, Day1, batchNow, 30)
	r2 := e.mustHold(a, Day1, batchNow, 31, 32)
	other, own := boxoffice.NewID(), e.c.ID
	at := batchNow.Add(time.Second)
	res := e.Bookings.SettleBatch(context.Background(), []booking.SettleRequest{
		of(payReq(a, r1.ID, "p-x", at), other),
		of(payReq(b, r1.ID, "", at), other),
		of(payReq(a, boxoffice.NewID(), "", at), other),
		of(cancelReq(a, r2.ID, at), other),
		of(payReq(a, r1.ID, "p-x", at), own),
		of(payReq(a, r1.ID, "p-x", at), own),
		of(payReq(a, r2.ID, "", at), own),
		of(payReq(a, r1.ID, "p-x", at), other),
		of(cancelReq(b, r2.ID, at), other),
		of(payReq(a, r1.ID, "", at), "not-an-id"),
	})
	wantErr(t, "payment for another concert", res[0].Err, boxoffice.ErrQueueTokenInvalid)
	wantErr(t, "another user's payment for another concert", res[1].Err, boxoffice.ErrForbidden)
	wantErr(t, "payment of an unknown reservation", res[2].Err, boxoffice.ErrNotFound)
	wantErr(t, "cancel for another concert", res[3].Err, boxoffice.ErrQueueTokenInvalid)
	noErr(t, "payment under the key refused for another concert", res[4].Err)
	if res[4].Replay || res[4].Seats != 1 || res[4].Payment.ReservationID != r1.ID {
		t.Errorf("payment: got replay %v, %d seats, %+v; want a new payment of 1 seat", res[4].Replay, res[4].Seats, res[4].Payment)
	}
	noErr(t, "replay", res[5].Err)
	if !res[5].Replay || res[5].Seats != 1 || !samePayment(res[5].Payment, res[4].Payment) {
		t.Errorf("replay: got replay %v, %d seats, %+v; want the first payment again, 1 seat", res[5].Replay, res[5].Seats, res[5].Payment)
	}
	noErr(t, "payment of the hold a refused cancel left", res[6].Err)
	if res[6].Replay || res[6].Seats != 2 {
		t.Errorf("second payment: got replay %v, %d seats, want a new payment of 2 seats", res[6].Replay, res[6].Seats)
	}
	wantErr(t, "replay for another concert", res[7].Err, boxoffice.ErrQueueTokenInvalid)
	wantErr(t, "another user's cancel for another concert", res[8].Err, boxoffice.ErrForbidden)
	wantErr(t, "payment for a concert that cannot exist", res[9].Err, boxoffice.ErrQueueTokenInvalid)
	e.wantStatus(r1.ID, booking.Paid)
	e.wantStatus(r2.ID, booking.Paid)
	e.wantBalance(a, 730_000)
	e.wantBalance(b, 1_000_000)
}

// testOtherConcertAlone: the same refusal for a request that is its
// batch's only one.
func testOtherConcertAlone(t *testing.T, newStores func(t *testing.T) Stores) {
	e := newBookingEnv(t, newStores, ConcertSpec())
	a := e.user(1_000_000)
	r := e.mustHold(a, Day1, batchNow, 40)
	other := boxoffice.NewID()
	at := batchNow.Add(time.Second)
	for _, req := range []booking.SettleRequest{of(cancelReq(a, r.ID, at), other), of(payReq(a, r.ID, "k", at), other)} {
		res := e.Bookings.SettleBatch(context.Background(), []booking.SettleRequest{req})
		wantErr(t, fmt.Sprintf("cancel %v for another concert", req.Cancel), res[0].Err, boxoffice.ErrQueueTokenInvalid)
	}
	e.wantStatus(r.ID, booking.Held)
	res := e.Bookings.SettleBatch(context.Background(), []booking.SettleRequest{of(payReq(a, r.ID, "k", at), e.c.ID)})
	noErr(t, "payment under the key", res[0].Err)
	if res[0].Replay || res[0].Seats != 1 {
		t.Errorf("payment: got replay %v, %d seats, want a new payment of 1 seat", res[0].Replay, res[0].Seats)
	}
	res = e.Bookings.SettleBatch(context.Background(), []booking.SettleRequest{of(payReq(a, r.ID, "k", at), e.c.ID)})
	if res[0].Err != nil || !res[0].Replay {
		t.Errorf("payment again: got replay %v, %v; want a replay", res[0].Replay, res[0].Err)
	}
	e.wantBalance(a, 910_000)
}

func testBatchFailureStaysItsOwn(t *testing.T, newStores func(t *testing.T) Stores) {
	e := newBookingEnv(t, newStores, ConcertSpec())
	a, b := e.user(1_000_000), e.user(1_000_000)
	taken := e.mustHold(a, Day2, batchNow, 1)
	// A hold whose reservation id is already used fails in the store, not
	// by a rule; so do a malformed hold and a hold of an unknown date.
	clash := e.holdReq(b, Day1, batchNow, 3)
	clash.ReservationID = taken.ID
	malformed := e.holdReq(b, Day1, batchNow, 4)
	malformed.ReservationID = "not-an-id"
	unknown := e.holdReq(b, "2026-07-09", batchNow, 5)
	ok1, ok2 := e.holdReq(a, Day1, batchNow, 2), e.holdReq(b, Day1, batchNow, 6)
	res := e.Bookings.HoldBatch(context.Background(), []booking.HoldRequest{ok1, clash, malformed, unknown, ok2})
	noErr(t, "hold before the failure", res[0].Err)
	if res[1].Err == nil {
		t.Errorf("hold with a used reservation id: got %+v, want an error", res[1].Reservation)
	}
	wantErr(t, "malformed hold", res[2].Err, boxoffice.ErrInvalidRequest)
	wantErr(t, "hold of an unknown date", res[3].Err, boxoffice.ErrNotFound)
	noErr(t, "hold after the failure", res[4].Err)
	e.wantSeats(Day1, batchNow, concert.Held, 2, 6)
	e.wantSeats(Day1, batchNow, concert.Available, 3, 4)

	// A payment whose payment id is already used fails in the store.
	first := e.mustPay(a, taken.ID, "", batchNow)
	r1 := e.mustHold(b, Day2, batchNow, 10)
	r2 := e.mustHold(a, Day2, batchNow, 11)
	dup := payReq(b, r1.ID, "", batchNow)
	dup.Pay.PaymentID = first.ID
	sres := e.Bookings.SettleBatch(context.Background(), []booking.SettleRequest{
		dup, payReq(a, r2.ID, "", batchNow), cancelReq(b, "bad id", batchNow),
	})
	if sres[0].Err == nil {
		t.Errorf("payment with a used payment id: got %+v, want an error", sres[0].Payment)
	}
	noErr(t, "neighbour's payment", sres[1].Err)
	wantErr(t, "cancel of a malformed id", sres[2].Err, boxoffice.ErrNotFound)
	e.wantStatus(r1.ID, booking.Held)
	e.wantStatus(r2.ID, booking.Paid)
	e.wantBalance(b, 1_000_000)
}

// testBatchRace runs overlapping batches at once, each wanting seats the
// others want, in shuffled orders: no batch may deadlock, and each seat is
// held by exactly the one request its store answered with it.
func testBatchRace(t *testing.T, newStores func(t *testing.T) Stores) {
	e := newBookingEnv(t, newStores, cheapSpec())
	const batches, size = 8, 12
	users := make([]string, 6)
	for i := range users {
		users[i] = e.user(1_000_000)
	}
	all := raceHoldBatches(e, users, batches, size)
	results := make([][]booking.HoldResult, batches)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for i := range all {
		wg.Go(func() { results[i] = e.Bookings.HoldBatch(ctx, all[i]) })
	}
	wg.Wait()
	checkBatchWinners(t, e, results)
	// Pay the winners and cancel some, all in overlapping batches.
	settles := raceSettleBatches(results, batches)
	sresults := make([][]booking.SettleResult, batches)
	for i := range settles {
		wg.Go(func() { sresults[i] = e.Bookings.SettleBatch(ctx, settles[i]) })
	}
	wg.Wait()
	for i, rs := range sresults {
		for j, r := range rs {
			var be *boxoffice.Error
			if r.Err != nil && (!errors.As(r.Err, &be) || (be.Code != boxoffice.CodeAlreadyPaid && be.Code != boxoffice.CodeHoldExpired)) {
				t.Errorf("settle batch %d request %d: %v", i, j, r.Err)
			}
		}
	}
	checkMoney(t, e.Stores, users, e.c.ID)
}

// raceHoldBatches returns batches batches of size holds each, by users of
// one or two of seats 1 to 10 on either day, in an order of its own per batch.
func raceHoldBatches(e *bookingEnv, users []string, batches, size int) [][]booking.HoldRequest {
	all := make([][]booking.HoldRequest, batches)
	for i := range all {
		rng := rand.New(rand.NewPCG(uint64(i), 7))
		for range size {
			n := 1 + rng.IntN(10)
			seats := []int{n}
			if m := 1 + rng.IntN(10); m != n {
				seats = append(seats, m)
			}
			day := Day1
			if rng.IntN(2) == 0 {
				day = Day2
			}
			all[i] = append(all[i], e.holdReq(users[rng.IntN(len(users))], day, batchNow, booking.Sorted(seats)...))
		}
	}
	return all
}

// checkBatchWinners checks that each request of results either failed for a
// taken seat or the user's limit, or holds seats no other request holds, and
// that the seats held are exactly those.
func checkBatchWinners(t *testing.T, e *bookingEnv, results [][]booking.HoldResult) {
	t.Helper()
	winners := map[string]string{} // "day/seat" → reservation
	for i, rs := range results {
		for j, r := range rs {
			if r.Err != nil {
				var be *boxoffice.Error
				if !errors.As(r.Err, &be) || (be.Code != boxoffice.CodeSeatUnavailable && be.Code != boxoffice.CodeSeatLimitExceeded) {
					t.Errorf("batch %d request %d: %v", i, j, r.Err)
				}
				continue
			}
			for _, s := range r.Reservation.Seats {
				k := fmt.Sprintf("%s/%d", r.Reservation.Day, s.Number)
				if w, ok := winners[k]; ok {
					t.Errorf("seat %s held by %s and %s", k, w, r.Reservation.ID)
				}
				winners[k] = r.Reservation.ID
			}
		}
	}
	for _, day := range []string{Day1, Day2} {
		st := e.seats(day, batchNow)
		for n := 1; n <= 10; n++ {
			_, won := winners[fmt.Sprintf("%s/%d", day, n)]
			if (st[n] == concert.Held) != won {
				t.Errorf("seat %d of %s: status %s, answered as held: %v", n, day, st[n], won)
			}
		}
	}
}

// raceSettleBatches pays two thirds of the holds results won and cancels
// the others, each request in two of batches batches.
func raceSettleBatches(results [][]booking.HoldResult, batches int) [][]booking.SettleRequest {
	settles := make([][]booking.SettleRequest, batches)
	k := 0
	for _, rs := range results {
		for _, r := range rs {
			if r.Err != nil {
				continue
			}
			req := payReq(r.Reservation.UserID, r.Reservation.ID, "", batchNow)
			if k%3 == 0 {
				req = cancelReq(r.Reservation.UserID, r.Reservation.ID, batchNow)
			}
			settles[k%batches] = append(settles[k%batches], req)
			settles[(k+1)%batches] = append(settles[(k+1)%batches], req)
			k++
		}
	}
	return settles
}
