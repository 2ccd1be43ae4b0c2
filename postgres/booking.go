package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

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
// are held, so that what it reads of the locked rows is current. Holds are
// one transaction of two round trips per batch, decided in Go (hold.go);
// payments and cancels one round trip: a batch of statements, which
// PostgreSQL runs as one implicit transaction, whose last statements check
// every condition, write only when all hold, and return what the caller
// needs to name the outcome; Sweep is one statement.
type BookingStore struct{ db *DB }

var _ booking.Store = (*BookingStore)(nil)

// NewBookingStore returns the booking store of db.
func NewBookingStore(db *DB) *BookingStore { return &BookingStore{db: db} }

// lockWallet serializes one user's holds, payments and charges.
const lockWallet = `SELECT 1 FROM wallets WHERE user_id = $1 FOR UPDATE`

// lockReservation comes before any other lock of the same change.
const lockReservation = `SELECT 1 FROM reservations WHERE id = $1 FOR UPDATE`

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

// cancelSQL releases reservation $1 for user $2 when it is a live hold
// (of concert $5, unless $5 is null), freeing the seats it still holds in
// number order, and returns the reservation as it stands after. It decides
// at $3 or, when $4 is true, at the database's clock read once the seats
// are locked.
const cancelSQL = `
WITH r0 AS MATERIALIZED (
	SELECT * FROM reservations WHERE id = $1
),
cand AS MATERIALIZED (
	SELECT * FROM r0 WHERE user_id = $2 AND status = 'HELD' AND ($5::uuid IS NULL OR concert_id = $5)
),
locked AS MATERIALIZED (
	SELECT s.number FROM seats s JOIN cand ON s.concert_id = cand.concert_id AND s.day = cand.day
	WHERE s.number = ANY (cand.seat_numbers) AND s.reservation_id = cand.id AND s.status = 'HELD'
	ORDER BY s.number
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
	WHERE s.concert_id = live.concert_id AND s.day = live.day AND s.number = locked.number
	  AND s.reservation_id = live.id AND s.status = 'HELD'
),
mark AS (
	UPDATE reservations SET status = 'CANCELLED', ended_at = clock.now FROM live, clock WHERE reservations.id = live.id
	RETURNING reservations.status
),
ev AS (` + holdReleasedEventSQL + ` FROM live, clock)
SELECT r.id, r.user_id, r.concert_id, r.day, r.seat_numbers, r.seat_prices, r.amount,
       coalesce((SELECT status FROM mark), r.status), r.expires_at, r.created_at, r.paid_at
FROM (SELECT) AS one LEFT JOIN r0 AS r ON true`

// Cancel releases a hold at once; the owner's wallet is locked too, so that
// the owner's next hold reads the cancel. Errors: NOT_FOUND, FORBIDDEN,
// HOLD_EXPIRED, ALREADY_PAID.
func (s *BookingStore) Cancel(ctx context.Context, id, userID string, now time.Time) (booking.Reservation, error) {
	return s.cancel(ctx, newCancelCall(id, userID, "", now))
}

// cancel makes c alone.
func (s *BookingStore) cancel(ctx context.Context, c *cancelCall) (booking.Reservation, error) {
	if c.err != nil {
		return booking.Reservation{}, c.err
	}
	b := &pgx.Batch{}
	b.Queue(lockReservation, c.id)
	b.Queue(lockWallet, c.userID) // the user's next hold sees the cooldown this starts
	c.queue(b, s.db.dbClock)
	if err := s.db.sendBatch(ctx, b, c.scan); err != nil {
		return booking.Reservation{}, s.db.wrapWrite("cancel reservation", err)
	}
	return c.answer()
}

// cancelCall is one cancel made ready for cancelSQL, and its answer.
type cancelCall struct {
	id, userID string
	concertID  *string // the concert the cancel is allowed for; nil: any
	now        time.Time
	err        error // refused before any statement
	r          booking.Reservation
	ok         bool
}

func newCancelCall(id, userID, concertID string, now time.Time) *cancelCall {
	canon, valid := boxoffice.CanonID(id)
	if !valid {
		return &cancelCall{err: booking.ReservationNotFound(id)}
	}
	return &cancelCall{id: canon, userID: userID, concertID: allowedConcert(concertID), now: now}
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

func (c *cancelCall) queue(b *pgx.Batch, dbClock bool) {
	b.Queue(cancelSQL, c.id, c.userID, c.now, dbClock, c.concertID)
}

func (c *cancelCall) scan(row pgx.Row) (err error) {
	c.r, c.ok, err = scanReservation(row)
	return err
}

// answer names the outcome of a cancel whose statement committed.
func (c *cancelCall) answer() (booking.Reservation, error) {
	switch {
	case !c.ok:
		return booking.Reservation{}, booking.ReservationNotFound(c.id)
	case c.r.UserID != c.userID:
		return booking.Reservation{}, booking.Forbidden(c.id)
	case c.concertID != nil && c.r.ConcertID != *c.concertID:
		return booking.Reservation{}, booking.OtherConcert()
	case c.r.Status == booking.Cancelled:
		return c.r, nil
	case c.r.Status == booking.Paid:
		return booking.Reservation{}, booking.AlreadyPaid(c.id)
	default: // EXPIRED, or HELD past its expiry
		return booking.Reservation{}, booking.HoldExpired(c.id)
	}
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

// paySQL pays reservation $1 by user $2 with key $3 as payment $5, at $4
// or, when $6 is true, at the database's clock read once every lock is held;
// unless $7 is null, only a reservation of concert $7 (one of another is
// left alone, and no refusal is kept).
// It runs with the reservation and the payer's wallet locked, so its
// snapshot is current for both and for the user's payments. The seats are
// locked in number order and must all still be held by the reservation,
// unexpired; with them and enough balance, it debits, sells, marks paid and
// writes the payment and its ledger entry. Otherwise it changes nothing,
// except that a refusal the data decided (ALREADY_PAID, HOLD_EXPIRED,
// INSUFFICIENT_BALANCE) is kept under the key, if any, so that a retry gets
// it again.
const paySQL = `
WITH r AS MATERIALIZED (
	SELECT id, user_id, concert_id, day, seat_numbers, amount, status, expires_at
	FROM reservations WHERE id = $1
),
keyed AS MATERIALIZED (
	SELECT reservation_id FROM payments WHERE user_id = $2 AND idempotency_key = $3
),
failed AS MATERIALIZED (
	SELECT reservation_id, code, message FROM idempotency_failures
	WHERE user_id = $2 AND kind = 'PAYMENT' AND idempotency_key = $3
),
w AS MATERIALIZED (
	SELECT balance FROM wallets WHERE user_id = $2
),
mine AS MATERIALIZED (
	SELECT * FROM r WHERE user_id = $2 AND ($7::uuid IS NULL OR concert_id = $7)
),
cand AS MATERIALIZED (
	SELECT * FROM mine
	WHERE status = 'HELD'
	  AND NOT EXISTS (SELECT 1 FROM keyed) AND NOT EXISTS (SELECT 1 FROM failed)
),
locked AS MATERIALIZED (
	SELECT s.number, s.reservation_id, s.status, s.hold_expires_at
	FROM seats s JOIN cand ON s.concert_id = cand.concert_id AND s.day = cand.day
	WHERE s.number = ANY (cand.seat_numbers)
	ORDER BY s.number
	FOR UPDATE OF s
),
clock AS MATERIALIZED (
	SELECT CASE WHEN $6::bool THEN clock_timestamp() ELSE $4::timestamptz END AS now
	FROM (SELECT count(*) FROM locked) AS after_locks
),
live AS MATERIALIZED (
	SELECT cand.* FROM cand, clock WHERE cand.expires_at > clock.now
),
held AS MATERIALIZED (
	SELECT count(*) AS n FROM locked, clock
	WHERE reservation_id = $1 AND status = 'HELD' AND hold_expires_at > clock.now
),
ok AS MATERIALIZED (
	SELECT live.* FROM live, held, w
	WHERE held.n = cardinality(live.seat_numbers) AND w.balance >= live.amount
),
refusal AS MATERIALIZED (
	SELECT v.code, CASE v.code
	         WHEN 'ALREADY_PAID' THEN format('reservation %s is already paid', r.id)
	         WHEN 'HOLD_EXPIRED' THEN format('the hold of reservation %s has lapsed or was released', r.id)
	         ELSE format('balance %s is less than the %s due', w.balance, r.amount)
	       END AS message
	FROM mine AS r, w, held, clock, LATERAL (SELECT CASE
		WHEN r.status = 'PAID' THEN 'ALREADY_PAID'
		WHEN r.status <> 'HELD' OR r.expires_at <= clock.now OR held.n < cardinality(r.seat_numbers) THEN 'HOLD_EXPIRED'
		WHEN w.balance < r.amount THEN 'INSUFFICIENT_BALANCE'
	END AS code) v
	WHERE v.code IS NOT NULL
	  AND NOT EXISTS (SELECT 1 FROM keyed) AND NOT EXISTS (SELECT 1 FROM failed)
),
remember AS (
	INSERT INTO idempotency_failures (user_id, kind, idempotency_key, reservation_id, code, message, at)
	SELECT $2, 'PAYMENT', $3, $1, code, message, clock.now FROM refusal, clock WHERE $3::text IS NOT NULL
),
debit AS (
	UPDATE wallets SET balance = wallets.balance - ok.amount, entries = wallets.entries + 1 FROM ok
	WHERE wallets.user_id = $2
	RETURNING wallets.balance, wallets.entries
),
sell AS (
	UPDATE seats s SET status = 'SOLD', hold_expires_at = NULL FROM ok
	WHERE s.concert_id = ok.concert_id AND s.day = ok.day AND s.number = ANY (ok.seat_numbers)
),
mark AS (
	UPDATE reservations SET status = 'PAID', paid_at = clock.now FROM ok, clock WHERE reservations.id = ok.id
),
pay AS (
	INSERT INTO payments (id, reservation_id, user_id, concert_id, amount, balance_after, paid_at, idempotency_key)
	SELECT $5::uuid, ok.id, $2, ok.concert_id, ok.amount, debit.balance, clock.now, $3 FROM ok, debit, clock
),
entry AS (
	INSERT INTO ledger (id, user_id, seq, kind, amount, balance_after, at)
	SELECT $5::uuid, $2, debit.entries, 'PAYMENT', ok.amount, debit.balance, clock.now FROM ok, debit, clock
),
ev AS (` + reservationPaidEventSQL + `)
SELECT r.user_id, r.status, r.expires_at, r.amount, r.concert_id, cardinality(r.seat_numbers),
       (SELECT reservation_id FROM keyed),
       (SELECT balance FROM w),
       (SELECT n FROM held),
       (SELECT balance FROM debit),
       f.reservation_id, f.code, f.message,
       (SELECT code FROM refusal), (SELECT message FROM refusal),
       (SELECT now FROM clock)
FROM (SELECT) AS one LEFT JOIN r ON true LEFT JOIN failed f ON true`

// Pay debits, sells, marks paid and records the payment in one
// transaction. Errors: NOT_FOUND, FORBIDDEN, HOLD_EXPIRED, ALREADY_PAID,
// INSUFFICIENT_BALANCE, IDEMPOTENCY_KEY_REUSED.
func (s *BookingStore) Pay(ctx context.Context, req booking.PayRequest) (booking.Payment, error) {
	r := s.pay(ctx, newPayCall(req))
	return r.Payment, r.Err
}

// pay makes c alone.
func (s *BookingStore) pay(ctx context.Context, c *payCall) booking.SettleResult {
	if c.err != nil {
		return booking.SettleResult{Err: c.err}
	}
	b := &pgx.Batch{}
	b.Queue(lockReservation, c.req.ReservationID)
	b.Queue(lockWallet, c.req.UserID)
	c.queue(b, s.db.dbClock)
	err := s.db.sendBatch(ctx, b, c.scan)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == uniqueViolation {
		// Only a payment that bypassed the locks could get here; the
		// constraint that stopped it knows the answer.
		p, err := s.afterConflict(ctx, c.req)
		return booking.SettleResult{Payment: p, Replay: err == nil, Err: err}
	}
	if err != nil {
		return booking.SettleResult{Err: s.db.wrapWrite("pay", err)}
	}
	return s.answerPay(ctx, c)
}

// payCall is one payment made ready for paySQL, and the row paySQL
// answered.
type payCall struct {
	req     booking.PayRequest // with canonical ids
	key     *string
	allowed *string // the concert the payment is allowed for; nil: any
	err     error   // refused before any statement

	owner, status, concertID *string
	expires                  *time.Time
	amount                   *int64
	seats                    *int
	keyedRes                 *string
	balance, debited         *int64
	held                     *int
	failedRes                *string
	failedCode, failedMsg    *string
	refusedCode, refusedMsg  *string
	now                      time.Time
}

func newPayCall(req booking.PayRequest) *payCall {
	id, ok := boxoffice.CanonID(req.ReservationID)
	if !ok {
		return &payCall{err: booking.ReservationNotFound(req.ReservationID)}
	}
	paymentID, ok := boxoffice.CanonID(req.PaymentID)
	if !ok {
		return &payCall{err: boxoffice.Errorf(boxoffice.CodeInvalidRequest, "malformed payment id")}
	}
	req.ReservationID, req.PaymentID = id, paymentID
	c := &payCall{req: req, allowed: allowedConcert(req.ConcertID)}
	if req.IdempotencyKey != "" {
		c.key = &c.req.IdempotencyKey
	}
	return c
}

func (c *payCall) queue(b *pgx.Batch, dbClock bool) {
	b.Queue(paySQL, c.req.ReservationID, c.req.UserID, c.key, c.req.Now, c.req.PaymentID, dbClock, c.allowed)
}

func (c *payCall) scan(row pgx.Row) error {
	return row.Scan(&c.owner, &c.status, &c.expires, &c.amount, &c.concertID, &c.seats,
		&c.keyedRes, &c.balance, &c.held, &c.debited, &c.failedRes, &c.failedCode, &c.failedMsg,
		&c.refusedCode, &c.refusedMsg, &c.now)
}

// answerPay names the outcome of a payment whose statement committed.
func (s *BookingStore) answerPay(ctx context.Context, c *payCall) booking.SettleResult {
	id, req := c.req.ReservationID, c.req
	refused := func(err error) booking.SettleResult { return booking.SettleResult{Err: err} }
	switch {
	case c.owner == nil:
		return refused(booking.ReservationNotFound(id))
	case *c.owner != req.UserID:
		return refused(booking.Forbidden(id))
	case c.allowed != nil && *c.allowed != *c.concertID:
		return refused(booking.OtherConcert())
	case c.keyedRes != nil && *c.keyedRes == id:
		p, err := s.PaymentByKey(ctx, req.UserID, req.IdempotencyKey)
		return booking.SettleResult{Payment: p, Seats: *c.seats, Replay: true, Err: err}
	case c.keyedRes != nil:
		return refused(booking.PayKeyReused())
	case c.failedRes != nil && *c.failedRes == id:
		return refused(&boxoffice.Error{Code: boxoffice.Code(*c.failedCode), Message: *c.failedMsg})
	case c.failedRes != nil:
		return refused(booking.PayKeyReused())
	case c.balance == nil:
		return refused(wallet.UserNotFound(req.UserID))
	case c.refusedCode != nil:
		return refused(&boxoffice.Error{Code: boxoffice.Code(*c.refusedCode), Message: *c.refusedMsg})
	case c.debited == nil:
		return refused(fmt.Errorf("pay reservation %s: nothing was debited", id))
	}
	return booking.SettleResult{Payment: booking.Payment{
		ID: req.PaymentID, ReservationID: id, UserID: req.UserID, ConcertID: *c.concertID,
		Amount: boxoffice.Money(*c.amount), Balance: boxoffice.Money(*c.debited), PaidAt: c.now.UTC(),
	}, Seats: *c.seats}
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
	concertID, ok := boxoffice.CanonID(concertID)
	if !ok {
		return booking.Inventory{}, concert.NotFound(concertID)
	}
	var inv booking.Inventory
	var exists bool
	err := s.db.pool.QueryRow(ctx, `
		WITH clock AS MATERIALIZED (SELECT CASE WHEN $3::bool THEN clock_timestamp() ELSE $2::timestamptz END AS now)
		SELECT EXISTS (SELECT 1 FROM concerts WHERE id = $1),
		       count(*),
		       count(*) FILTER (WHERE status = 'AVAILABLE' OR (status = 'HELD' AND hold_expires_at <= (SELECT now FROM clock))),
		       count(*) FILTER (WHERE status = 'HELD' AND hold_expires_at > (SELECT now FROM clock)),
		       count(*) FILTER (WHERE status = 'SOLD'),
		       (SELECT coalesce(sum(amount), 0)::int8 FROM payments WHERE concert_id = $1)
		FROM seats WHERE concert_id = $1`, concertID, now, s.db.dbClock).
		Scan(&exists, &inv.Total, &inv.Available, &inv.Held, &inv.Sold, &inv.Revenue)
	if err != nil {
		return booking.Inventory{}, s.db.wrap("count inventory", err)
	}
	if !exists {
		return booking.Inventory{}, concert.NotFound(concertID)
	}
	return inv, nil
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
	if err := s.db.pool.QueryRow(ctx, sweepSQL, now, limit, s.db.dbClock).Scan(&n); err != nil {
		return 0, s.db.wrapWrite("sweep holds", err)
	}
	return n, nil
}
