package sqlite

import (
	"context"
	"database/sql"

	"github.com/boxoffice/boxoffice/booking"
)

// Gathered writes: a batch is one write transaction, committed once. Each
// request runs the same code as alone, in arrival order, inside a
// savepoint: a request that fails rolls back its own changes only, and the
// others are kept.

// HoldBatch makes the holds of reqs in one transaction, in order.
func (s *BookingStore) HoldBatch(ctx context.Context, reqs []booking.HoldRequest) []booking.HoldResult {
	out := make([]booking.HoldResult, len(reqs))
	if len(reqs) == 1 {
		out[0].Reservation, out[0].Err = s.Hold(ctx, reqs[0])
		return out
	}
	err := s.db.update(ctx, "hold seats", func(tx *sql.Tx) error {
		for i, req := range reqs {
			failed, err := s.db.savepoint(ctx, tx, "hold seats", func() (err error) {
				out[i], err = s.hold(ctx, tx, req)
				return err
			})
			if err != nil {
				return err
			}
			if failed != nil {
				out[i] = booking.HoldResult{Err: failed}
			}
		}
		return nil
	})
	if err != nil {
		for i := range out {
			out[i] = booking.HoldResult{Err: err}
		}
	}
	return out
}

// SettleBatch makes the payments and cancels of reqs in one transaction,
// in order.
func (s *BookingStore) SettleBatch(ctx context.Context, reqs []booking.SettleRequest) []booking.SettleResult {
	out := make([]booking.SettleResult, len(reqs))
	one := func(ctx context.Context, tx *sql.Tx, req booking.SettleRequest) (booking.SettleResult, error) {
		if req.Cancel {
			r, err := s.cancel(ctx, tx, req.Pay.ReservationID, req.Pay.UserID, req.Pay.ConcertID, req.Pay.Now)
			return booking.SettleResult{Reservation: r}, err
		}
		return s.pay(ctx, tx, req.Pay)
	}
	if len(reqs) == 1 {
		op := "pay"
		if reqs[0].Cancel {
			op = "cancel reservation"
		}
		err := s.db.update(ctx, op, func(tx *sql.Tx) (err error) {
			out[0], err = one(ctx, tx, reqs[0])
			return err
		})
		if err != nil {
			out[0] = booking.SettleResult{Err: err}
		}
		return out
	}
	err := s.db.update(ctx, "pay or cancel", func(tx *sql.Tx) error {
		for i, req := range reqs {
			failed, err := s.db.savepoint(ctx, tx, "pay or cancel", func() (err error) {
				out[i], err = one(ctx, tx, req)
				return err
			})
			if err != nil {
				return err
			}
			if failed != nil {
				out[i] = booking.SettleResult{Err: failed}
			}
		}
		return nil
	})
	if err != nil {
		for i := range out {
			out[i] = booking.SettleResult{Err: err}
		}
	}
	return out
}
