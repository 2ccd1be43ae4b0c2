package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/booking"
	"github.com/boxoffice/boxoffice/concert"
	"github.com/boxoffice/boxoffice/wallet"
)

// BookingStore is booking.Store on PostgreSQL.
//
// Every change locks the rows it changes in one order, reservations by
// id, then wallets by user, then seats by (concert, day, number), so two
// changes never wait on each other in a cycle, and decides once those locks
// are held, so that what it reads of the locked rows is current. Holds,
// payments and cancels are one transaction of two round trips per batch,
// decided in Go (hold.go, booking_batch.go); Release and Sweep are one
// statement each.
type BookingStore struct{ db *DB }

var _ booking.Store = (*BookingStore)(nil)

// NewBookingStore returns the booking store of db.
func NewBookingStore(db *DB) *BookingStore { return &BookingStore{db: db} }

// lockWallet serializes one user's holds, payments and charges.
const lockWallet = `SELECT 1 FROM wallets WHERE user_id = $1 FOR UPDATE`

// keptHold is a row of hold_keys; every field is nil when there is none.
type keptHold struct {
	concertID, day *string
	seats          []int16
	reservationID  *string
	code, message  *string
}

// answerKept answers a hold request for concertID, day and seats from the
// row kept under its key.
func (s *BookingStore) answerKept(ctx context.Context, k keptHold, concertID, day string, seats []int) (booking.Reservation, error) {
	keptSeats := make([]int, len(k.seats))
	for i, n := range k.seats {
		keptSeats[i] = int(n)
	}
	switch {
	case !booking.SameRequest(concertID, day, seats, *k.concertID, *k.day, keptSeats):
		return booking.Reservation{}, booking.HoldKeyReused()
	case k.reservationID == nil:
		return booking.Reservation{}, &boxoffice.Error{Code: boxoffice.Code(*k.code), Message: *k.message}
	}
	return s.Reservation(ctx, *k.reservationID)
}

// HoldByKey answers a hold request again from userID's key. Errors:
// NOT_FOUND, IDEMPOTENCY_KEY_REUSED, the refusal kept.
func (s *BookingStore) HoldByKey(ctx context.Context, userID, idempotencyKey, concertID, day string, seats []int) (booking.Reservation, error) {
	var k keptHold
	err := s.db.pool.QueryRow(ctx, `
		SELECT concert_id::text, to_char(day, 'YYYY-MM-DD'), seat_numbers, reservation_id::text, code, message
		FROM hold_keys WHERE user_id = $1 AND idempotency_key = $2`, userID, idempotencyKey).
		Scan(&k.concertID, &k.day, &k.seats, &k.reservationID, &k.code, &k.message)
	if errors.Is(err, pgx.ErrNoRows) {
		return booking.Reservation{}, booking.NoHoldWithKey()
	}
	if err != nil {
		return booking.Reservation{}, s.db.wrap("read hold key", err)
	}
	concertID, _ = boxoffice.CanonID(concertID)
	return s.answerKept(ctx, k, concertID, day, slices.Sorted(slices.Values(seats)))
}

const reservationColumns = `r.id, r.user_id, r.concert_id, r.day, r.seat_numbers, r.seat_prices,
	r.amount, r.status, r.expires_at, r.created_at, r.paid_at`

// scanReservation scans reservationColumns; ok is false when they are NULL.
func scanReservation(row pgx.Row, extra ...any) (r booking.Reservation, ok bool, err error) {
	var (
		id, userID, concertID *string
		day, expires, created *time.Time
		paid                  *time.Time
		numbers               []int16
		prices                []int64
		amount                *int64
		status                *string
	)
	dst := append([]any{&id, &userID, &concertID, &day, &numbers, &prices, &amount, &status,
		&expires, &created, &paid}, extra...)
	if err := row.Scan(dst...); err != nil {
		return booking.Reservation{}, false, err
	}
	if id == nil {
		return booking.Reservation{}, false, nil
	}
	if len(numbers) != len(prices) {
		return booking.Reservation{}, false, fmt.Errorf("reservation %s: %d seats and %d prices", *id, len(numbers), len(prices))
	}
	r = booking.Reservation{
		ID: *id, UserID: *userID, ConcertID: *concertID, Day: day.Format(concert.DayLayout),
		Seats: make([]booking.Seat, len(numbers)), Amount: boxoffice.Money(*amount),
		Status: booking.Status(*status), ExpiresAt: expires.UTC(), CreatedAt: created.UTC(),
	}
	for i := range numbers {
		r.Seats[i] = booking.Seat{Number: int(numbers[i]), Price: boxoffice.Money(prices[i])}
	}
	if paid != nil {
		r.PaidAt = paid.UTC()
	}
	return r, true, nil
}

// Reservation returns a reservation with its stored status.
// Errors: NOT_FOUND.
func (s *BookingStore) Reservation(ctx context.Context, id string) (booking.Reservation, error) {
	id, ok := boxoffice.CanonID(id)
	if !ok {
		return booking.Reservation{}, booking.ReservationNotFound(id)
	}
	r, ok, err := scanReservation(s.db.pool.QueryRow(ctx,
		`SELECT `+reservationColumns+` FROM reservations r WHERE r.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && !ok) {
		return booking.Reservation{}, booking.ReservationNotFound(id)
	}
	if err != nil {
		return booking.Reservation{}, s.db.wrap("read reservation", err)
	}
	return r, nil
}

// noConcert is an id no concert has: the allowed concert of a request
// that names one that cannot exist, so that it matches no reservation.
const noConcert = "00000000-0000-0000-0000-000000000000"

// allowedConcert is the argument of a request allowed for concertID: nil
// for any concert.
func allowedConcert(concertID string) *string {
	if concertID == "" {
		return nil
	}
	id, ok := boxoffice.CanonID(concertID)
	if !ok {
		id = noConcert
	}
	return &id
}

// releaseSQL releases every hold of user $2 on concert $1 that is live at
// $3 or, when $4 is true, at the database's clock read once every lock is
// held. It locks in the order of every change: the reservations (by id),
// the user's wallet (so the user's next hold reads the release), then the
// seats by (day, number). A reservation paid or cancelled while this waited
// for its lock is no longer HELD when the lock is granted and is left alone.
// A hold that commits after this statement began is not seen.
const releaseSQL = `
WITH cand AS MATERIALIZED (
	SELECT id, day, seat_numbers, expires_at FROM reservations
	WHERE concert_id = $1 AND user_id = $2 AND status = 'HELD'
	ORDER BY id
	FOR UPDATE
),
w AS MATERIALIZED (
	SELECT 1 FROM wallets, (SELECT count(*) FROM cand) AS after_reservations
	WHERE wallets.user_id = $2
	FOR UPDATE OF wallets
),
locked AS MATERIALIZED (
	SELECT s.day, s.number, s.reservation_id
	FROM seats s JOIN cand ON s.concert_id = $1 AND s.day = cand.day
	WHERE s.number = ANY (cand.seat_numbers) AND s.reservation_id = cand.id AND s.status = 'HELD'
	  AND EXISTS (SELECT count(*) FROM w)
	ORDER BY s.day, s.number
	FOR UPDATE OF s
),
clock AS MATERIALIZED (
	SELECT CASE WHEN $4::bool THEN clock_timestamp() ELSE $3::timestamptz END AS now
	FROM (SELECT count(*) FROM locked) AS after_locks
),
live AS MATERIALIZED (
	SELECT cand.* FROM cand, clock WHERE cand.expires_at > clock.now
),
free AS (
	UPDATE seats s SET status = 'AVAILABLE', reservation_id = NULL, user_id = NULL, hold_expires_at = NULL
	FROM live, locked
	WHERE s.concert_id = $1 AND s.day = locked.day AND s.number = locked.number
	  AND locked.reservation_id = live.id AND s.reservation_id = live.id AND s.status = 'HELD'
),
mark AS (
	UPDATE reservations r SET status = 'CANCELLED', ended_at = clock.now FROM live, clock WHERE r.id = live.id
	RETURNING ` + reservationColumns + `
),
ev AS (` + leftQueueEventSQL + `)
SELECT * FROM mark r ORDER BY r.id`

// Release releases userID's live holds of concertID in one transaction and
// returns them.
func (s *BookingStore) Release(ctx context.Context, userID, concertID string, now time.Time) ([]booking.Reservation, error) {
	concertID, ok := boxoffice.CanonID(concertID)
	if !ok {
		return nil, nil
	}
	conn, err := s.db.pool.Acquire(ctx)
	if err != nil {
		return nil, s.db.wrapWrite("release holds", notSent{err})
	}
	defer conn.Release()
	rows, err := conn.Query(ctx, releaseSQL, concertID, userID, now, s.db.dbClock)
	if err != nil {
		return nil, s.db.wrapWrite("release holds", err)
	}
	released, err := collectReservations(rows)
	if err != nil {
		return nil, s.db.wrapWrite("release holds", err)
	}
	return released, nil
}

// collectReservations reads every row of rows as a reservation and closes
// rows.
func collectReservations(rows pgx.Rows) ([]booking.Reservation, error) {
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (booking.Reservation, error) {
		r, _, err := scanReservation(row)
		return r, err
	})
}

// Reservations returns a page of a user's reservations, newest first.
// Errors: INVALID_REQUEST for an unknown cursor.
func (s *BookingStore) Reservations(ctx context.Context, req booking.ListRequest) ([]booking.Reservation, error) {
	var concertID, before, status *string
	if req.ConcertID != "" {
		id, ok := boxoffice.CanonID(req.ConcertID)
		if !ok {
			return nil, nil
		}
		concertID = &id
	}
	if req.Before != "" {
		id, ok := boxoffice.CanonID(req.Before)
		if !ok {
			return nil, wallet.BadCursor()
		}
		before = &id
	}
	if req.Status != "" {
		st := string(req.Status)
		status = &st
	}
	rows, err := s.db.pool.Query(ctx, `
		WITH cursor AS MATERIALIZED (
			SELECT created_at, id FROM reservations WHERE id = $3::uuid AND user_id = $1
		)
		SELECT `+reservationColumns+` FROM reservations r
		WHERE r.user_id = $1
		  AND ($2::uuid IS NULL OR r.concert_id = $2)
		  AND ($3::uuid IS NULL OR (r.created_at, r.id) < (SELECT created_at, id FROM cursor))
		  AND CASE $4::text
		        WHEN 'HELD' THEN r.status = 'HELD' AND r.expires_at > $5
		        WHEN 'EXPIRED' THEN r.status = 'EXPIRED' OR (r.status = 'HELD' AND r.expires_at <= $5)
		        ELSE $4::text IS NULL OR r.status = $4::text
		      END
		ORDER BY r.created_at DESC, r.id DESC
		LIMIT $6`, req.UserID, concertID, before, status, req.Now, max(req.Limit, 0))
	if err != nil {
		return nil, s.db.wrap("list reservations", err)
	}
	list, err := collectReservations(rows)
	if err != nil {
		return nil, s.db.wrap("list reservations", err)
	}
	if before != nil && len(list) == 0 {
		// An empty page: tell an unknown cursor from the end of the list.
		var known bool
		err := s.db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM reservations WHERE id = $1 AND user_id = $2)`,
			*before, req.UserID).Scan(&known)
		if err != nil {
			return nil, s.db.wrap("list reservations", err)
		}
		if !known {
			return nil, wallet.BadCursor()
		}
	}
	return list, nil
}

// afterConflict answers a payment stopped by a unique constraint from the
// payment, or the refusal under its key, that won.
func (s *BookingStore) afterConflict(ctx context.Context, req booking.PayRequest) (booking.Payment, error) {
	if req.IdempotencyKey != "" {
		p, err := s.PaymentByKey(ctx, req.UserID, req.IdempotencyKey)
		switch {
		case err == nil && p.ReservationID == req.ReservationID:
			return p, nil
		case err == nil:
			return booking.Payment{}, booking.PayKeyReused()
		case !errors.Is(err, boxoffice.ErrNotFound):
			return booking.Payment{}, err
		}
		var res, code, message string
		err = s.db.pool.QueryRow(ctx, `
			SELECT reservation_id, code, message FROM idempotency_failures
			WHERE user_id = $1 AND kind = 'PAYMENT' AND idempotency_key = $2`,
			req.UserID, req.IdempotencyKey).Scan(&res, &code, &message)
		switch {
		case err == nil && res == req.ReservationID:
			return booking.Payment{}, &boxoffice.Error{Code: boxoffice.Code(code), Message: message}
		case err == nil:
			return booking.Payment{}, booking.PayKeyReused()
		case !errors.Is(err, pgx.ErrNoRows):
			return booking.Payment{}, s.db.wrap("pay", err)
		}
	}
	return booking.Payment{}, booking.AlreadyPaid(req.ReservationID)
}

// PaymentByKey returns the payment userID made with idempotencyKey.
// Errors: NOT_FOUND.
func (s *BookingStore) PaymentByKey(ctx context.Context, userID, idempotencyKey string) (booking.Payment, error) {
	notFound := booking.NoPaymentWithKey()
	if idempotencyKey == "" {
		return booking.Payment{}, notFound
	}
	var p booking.Payment
	err := s.db.pool.QueryRow(ctx, `
		SELECT id, reservation_id, user_id, concert_id, amount, balance_after, paid_at
		FROM payments WHERE user_id = $1 AND idempotency_key = $2`, userID, idempotencyKey).
		Scan(&p.ID, &p.ReservationID, &p.UserID, &p.ConcertID, &p.Amount, &p.Balance, &p.PaidAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return booking.Payment{}, notFound
	}
	if err != nil {
		return booking.Payment{}, s.db.wrap("read payment", err)
	}
	p.PaidAt = p.PaidAt.UTC()
	return p, nil
}

// Inventory counts a concert's seats at now and sums its payments.
// Errors: NOT_FOUND.
func (s *BookingStore) Inventory(ctx context.Context, concertID string, now time.Time) (booking.Inventory, error) {
	var inv booking.Inventory
	err := s.readConcert(ctx, "count inventory", concertID, now, `
		WITH clock AS MATERIALIZED (SELECT CASE WHEN $3::bool THEN clock_timestamp() ELSE $2::timestamptz END AS now)
		SELECT EXISTS (SELECT 1 FROM concerts WHERE id = $1),
		       count(*),
		       count(*) FILTER (WHERE status = 'AVAILABLE' OR (status = 'HELD' AND hold_expires_at <= (SELECT now FROM clock))),
		       count(*) FILTER (WHERE status = 'HELD' AND hold_expires_at > (SELECT now FROM clock)),
		       count(*) FILTER (WHERE status = 'SOLD'),
		       (SELECT coalesce(sum(amount), 0)::int8 FROM payments WHERE concert_id = $1)
		FROM seats WHERE concert_id = $1`, &inv.Total, &inv.Available, &inv.Held, &inv.Sold, &inv.Revenue)
	if err != nil {
		return booking.Inventory{}, err
	}
	return inv, nil
}

// readConcert runs query, a read of one row about the concert $1 (its
// canonical id) at $2 (with $3, at the database's clock) whose first
// column tells whether the concert exists, into dst. Errors: NOT_FOUND.
func (s *BookingStore) readConcert(ctx context.Context, what, concertID string, now time.Time, query string, dst ...any) error {
	concertID, ok := boxoffice.CanonID(concertID)
	if !ok {
		return concert.NotFound(concertID)
	}
	var exists bool
	if err := s.db.pool.QueryRow(ctx, query, concertID, now, s.db.dbClock).Scan(append([]any{&exists}, dst...)...); err != nil {
		return s.db.wrap(what, err)
	}
	if !exists {
		return concert.NotFound(concertID)
	}
	return nil
}

// supplySQL tells whether the concert $1 exists, has a seat available at
// $2 (with $3, at the database's clock) and has a seat held by an
// unexpired hold, each read stopping at its first seat. They are first
// rows in key order, not EXISTS: the planner drops an EXISTS's order and
// limit, and its generic plan then scanned every concert's seats, all of
// them when none matched (a paused room's case: 49 ms a report for ten
// concerts of 18,300 seats); in key order the scan stays in the concert.
const supplySQL = `
WITH clock AS MATERIALIZED (SELECT CASE WHEN $3::bool THEN clock_timestamp() ELSE $2::timestamptz END AS now)
SELECT EXISTS (SELECT 1 FROM concerts WHERE id = $1),
       (SELECT true FROM seats WHERE concert_id = $1
        AND (status = 'AVAILABLE' OR (status = 'HELD' AND hold_expires_at <= (SELECT now FROM clock)))
        ORDER BY day, number LIMIT 1) IS NOT NULL,
       (SELECT true FROM seats WHERE concert_id = $1 AND status = 'HELD' AND hold_expires_at > (SELECT now FROM clock)
        ORDER BY day, number LIMIT 1) IS NOT NULL`

// Supply tells whether a concert has a seat available at now and one held
// by an unexpired hold. Errors: NOT_FOUND.
func (s *BookingStore) Supply(ctx context.Context, concertID string, now time.Time) (booking.Supply, error) {
	var sup booking.Supply
	if err := s.readConcert(ctx, "read supply", concertID, now, supplySQL, &sup.Available, &sup.Held); err != nil {
		return booking.Supply{}, err
	}
	return sup, nil
}

// sweepSQL expires up to $2 holds lapsed at $1 (with $3, at the database's
// clock: a lapse read before the locks stays a lapse after), skipping reservations that
// another transaction has locked (a payer, a canceller or another
// sweeper), and frees the seats they still hold, locked in (concert, day,
// number) order like every other change.
const sweepSQL = `
WITH clock AS MATERIALIZED (
	SELECT CASE WHEN $3::bool THEN clock_timestamp() ELSE $1::timestamptz END AS now
),
lapsed AS MATERIALIZED (
	SELECT id, user_id, concert_id, day, seat_numbers FROM reservations
	WHERE status = 'HELD' AND expires_at <= (SELECT now FROM clock)
	ORDER BY expires_at
	LIMIT $2
	FOR UPDATE SKIP LOCKED
),
locked AS MATERIALIZED (
	SELECT s.concert_id, s.day, s.number, s.reservation_id
	FROM seats s JOIN lapsed l ON s.concert_id = l.concert_id AND s.day = l.day
	WHERE s.number = ANY (l.seat_numbers) AND s.reservation_id = l.id AND s.status = 'HELD'
	ORDER BY s.concert_id, s.day, s.number
	FOR UPDATE OF s
),
free AS (
	UPDATE seats s SET status = 'AVAILABLE', reservation_id = NULL, user_id = NULL, hold_expires_at = NULL
	FROM locked k
	WHERE s.concert_id = k.concert_id AND s.day = k.day AND s.number = k.number
	  AND s.reservation_id = k.reservation_id AND s.status = 'HELD'
),
mark AS (
	UPDATE reservations SET status = 'EXPIRED' FROM lapsed WHERE reservations.id = lapsed.id
),
ev AS (` + lapsedEventSQL + `)
SELECT count(*) FROM lapsed`

// Sweep expires up to limit holds that lapsed at or before now and frees
// their seats. Several sweepers never wait on each other or on payers.
func (s *BookingStore) Sweep(ctx context.Context, now time.Time, limit int) (int, error) {
	if limit < 1 {
		return 0, nil
	}
	var n int
	err := s.sweepTx(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, sweepSQL, now, limit, s.db.dbClock).Scan(&n)
	})
	if err != nil {
		return 0, s.db.wrapWrite("sweep holds", err)
	}
	return n, nil
}

// sweepTx runs f in a transaction whose plans keyedPlansSQL pins: the
// oldest lapsed holds in reservations_lapsing's order, then each one's
// seats and reservation by primary key. Left to the statistics, the
// planner chose otherwise on tables not analyzed since they grew
// (autovacuum off, or a sale faster than its analyzes): a bitmap scan of
// every lapsed hold and an on-disk sort of them all to take the oldest
// 500, and a hash join over every held seat of every concert, 259 ms a
// sweep behind 252,558 lapsed holds where the keyed plan takes 23 ms.
func (s *BookingStore) sweepTx(ctx context.Context, f func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, keyedPlansSQL); err != nil {
			return err
		}
		return f(tx)
	})
}
