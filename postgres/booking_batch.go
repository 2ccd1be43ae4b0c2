package postgres

import (
	"context"
	"errors"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/boxoffice/boxoffice/booking"
)

// Gathered writes: a batch of payments and cancels is one transaction and
// one round trip (holds: see hold.go). It is one pgx batch, which PostgreSQL
// runs as one implicit transaction committed once at its end: first
// statements that take every lock the batch needs, in the order every
// change takes them (reservations by id, wallets by user, seats by
// concert, day and number), so that batches never wait on each other, or
// on a single change, in a cycle; then each request's own statement, in
// arrival order. Each statement (READ COMMITTED) sees the batch's earlier
// statements, so each request is decided exactly as if it ran alone right
// after the one before it, by the same SQL as a request alone. A statement
// that fails rolls the whole batch back; its requests are then made again
// one by one, so that one request's failure never fails another.

// lockWallets locks the wallets of the users $1, in user order, and
// names the users who have one.
const lockWallets = `SELECT user_id FROM wallets WHERE user_id = ANY ($1::text[]) ORDER BY user_id FOR UPDATE`

// lockReservations locks the reservations $1, in id order.
const lockReservations = `SELECT 1 FROM reservations WHERE id = ANY ($1::uuid[]) ORDER BY id FOR UPDATE`

// lockHeldSeats locks the seats of the reservations $1 that are still
// held, in (concert, day, number) order; it runs once the reservations
// are locked, so their seats cannot change.
const lockHeldSeats = `
SELECT 1 FROM seats s
JOIN reservations r ON s.concert_id = r.concert_id AND s.day = r.day AND s.number = ANY (r.seat_numbers)
WHERE r.id = ANY ($1::uuid[]) AND r.status = 'HELD'
ORDER BY s.concert_id, s.day, s.number
FOR UPDATE OF s`

// settleCall is a payment or a cancel of a batch, at its place in the
// batch.
type settleCall struct {
	at     int
	pay    *payCall
	cancel *cancelCall
}

// settleCalls returns the calls of reqs, in order; a malformed request
// gets its error in out instead.
func settleCalls(reqs []booking.SettleRequest, out []booking.SettleResult) []settleCall {
	var calls []settleCall
	for i, req := range reqs {
		if req.Cancel {
			c := newCancelCall(req.Pay.ReservationID, req.Pay.UserID, req.Pay.ConcertID, req.Pay.Now)
			if c.err != nil {
				out[i].Err = c.err
				continue
			}
			calls = append(calls, settleCall{at: i, cancel: c})
			continue
		}
		c := newPayCall(req.Pay)
		if c.err != nil {
			out[i].Err = c.err
			continue
		}
		calls = append(calls, settleCall{at: i, pay: c})
	}
	return calls
}

// settleLocks returns the reservations and the users calls lock, each
// sorted and once.
func settleLocks(calls []settleCall) (ids, users []string) {
	for _, c := range calls {
		if c.cancel != nil {
			ids, users = append(ids, c.cancel.id), append(users, c.cancel.userID)
		} else {
			ids, users = append(ids, c.pay.req.ReservationID), append(users, c.pay.req.UserID)
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	slices.Sort(users)
	users = slices.Compact(users)
	return ids, users
}

// SettleBatch makes the payments and cancels of reqs in one transaction,
// in order.
func (s *BookingStore) SettleBatch(ctx context.Context, reqs []booking.SettleRequest) []booking.SettleResult {
	out := make([]booking.SettleResult, len(reqs))
	calls := settleCalls(reqs, out)
	alone := func(c settleCall) {
		if c.cancel != nil {
			out[c.at].Reservation, out[c.at].Err = s.cancel(ctx, c.cancel)
		} else {
			out[c.at] = s.pay(ctx, c.pay)
		}
	}
	switch len(calls) {
	case 0:
		return out
	case 1:
		alone(calls[0])
		return out
	}
	ids, users := settleLocks(calls)
	b := &pgx.Batch{}
	b.Queue(lockReservations, ids)
	b.Queue(lockWallets, users)
	b.Queue(lockHeldSeats, ids)
	scans := make([]func(pgx.Row) error, len(calls))
	for i, c := range calls {
		if c.cancel != nil {
			c.cancel.queue(b, s.db.dbClock)
			scans[i] = c.cancel.scan
		} else {
			c.pay.queue(b, s.db.dbClock)
			scans[i] = c.pay.scan
		}
	}
	err := s.db.sendBatchRows(ctx, b, scans)
	switch {
	case rolledBack(err):
		for _, c := range calls {
			alone(c)
		}
	case err != nil:
		err = s.db.wrapWrite("pay or cancel", err)
		for _, c := range calls {
			out[c.at].Err = err
		}
	default:
		for _, c := range calls {
			r := &out[c.at]
			if c.cancel != nil {
				r.Reservation, r.Err = c.cancel.answer()
			} else {
				*r = s.answerPay(ctx, c.pay)
			}
		}
	}
	return out
}

// rolledBack reports whether err is a statement of a batch that the server
// refused, which rolled the whole batch back, so that its requests can be
// made again. Any other failure may have come after the commit (a row the
// client could not read) or may have lost it (a broken connection).
func rolledBack(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && failureOf(err) == refused
}
