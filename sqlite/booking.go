package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/booking"
	"github.com/boxoffice/boxoffice/concert"
	"github.com/boxoffice/boxoffice/event"
	"github.com/boxoffice/boxoffice/wallet"
)

// BookingStore is booking.Store on SQLite.
//
// Every change is one write transaction (see DB): it reads what the
// decision needs, checks every condition, and writes only when all hold.
// The write lock it holds from its first statement keeps every other change
// out until it commits, so no row needs a lock of its own and no two
// changes can interleave.
type BookingStore struct{ db *DB }

var _ booking.Store = (*BookingStore)(nil)

// NewBookingStore returns the booking store of db.
func NewBookingStore(db *DB) *BookingStore { return &BookingStore{db: db} }

// Seat lists travel as JSON arrays and are opened in SQL with json_each, so
// that one prepared statement serves any number of seats.

const walletExistsSQL = `SELECT EXISTS (SELECT 1 FROM wallets WHERE user_id = ?)`

const holdSeatsSQL = `
SELECT number, price, status, hold_expires_at FROM seats
WHERE concert_id = ?1 AND day = ?2 AND number IN (SELECT value FROM json_each(?3))
ORDER BY number`

// userSeatsSQL counts the seats of the date that user ?3 owns or holds
// unexpired at ?4.
const userSeatsSQL = `
SELECT count(*) FROM seats
WHERE concert_id = ?1 AND day = ?2 AND user_id = ?3
  AND (status = 'SOLD' OR (status = 'HELD' AND hold_expires_at > ?4))`

const takeSeatsSQL = `
UPDATE seats SET status = 'HELD', reservation_id = ?4, user_id = ?5, hold_expires_at = ?6
WHERE concert_id = ?1 AND day = ?2 AND number IN (SELECT value FROM json_each(?3))`

const insertReservationSQL = `
INSERT INTO reservations (id, user_id, concert_id, day, seat_numbers, seat_prices, amount,
                          status, expires_at, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, 'HELD', ?, ?)`

// coolSQL finds, among the seats ?6 (a JSON array), the one whose hold by
// user ?2 on date (?1, ?3) ended last within ?5 microseconds before ?4, and
// when: released holds ended at ended_at, lapsed ones at expires_at (never
// earlier than ended_at, which bounds the index range).
const coolSQL = `
SELECT j.value, coalesce(r.ended_at, r.expires_at) AS ended
FROM reservations r, json_each(r.seat_numbers) j
WHERE r.concert_id = ?1 AND r.user_id = ?2 AND r.day = ?3 AND r.expires_at > ?4 - ?5
  AND r.status <> 'PAID'
  AND coalesce(r.ended_at, r.expires_at) <= ?4 AND coalesce(r.ended_at, r.expires_at) > ?4 - ?5
  AND j.value IN (SELECT value FROM json_each(?6))
ORDER BY ended DESC, j.value
LIMIT 1`

const holdKeySQL = `
SELECT concert_id, day, seat_numbers, reservation_id, code, message FROM hold_keys
WHERE user_id = ? AND idempotency_key = ?`

const insertHoldKeySQL = `
INSERT INTO hold_keys (user_id, idempotency_key, concert_id, day, seat_numbers, reservation_id, code, message, at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`

// Hold holds all of req.Seats or none. Errors: NOT_FOUND (concert, date,
// seat or user), SEAT_UNAVAILABLE, SEAT_LIMIT_EXCEEDED, QUEUE_TOKEN_EXPIRED,
// IDEMPOTENCY_KEY_REUSED.
func (s *BookingStore) Hold(ctx context.Context, req booking.HoldRequest) (booking.Reservation, error) {
	var res booking.HoldResult
	err := s.db.update(ctx, "hold seats", func(tx *sql.Tx) (err error) {
		res, err = s.hold(ctx, tx, req)
		return err
	})
	if err != nil {
		return booking.Reservation{}, err
	}
	return res.Reservation, res.Err
}

// hold makes req in tx. A refusal kept under the request's key is the
// result's Err, and tx keeps the key's row; any other error is returned,
// and tx must not keep what hold wrote.
func (s *BookingStore) hold(ctx context.Context, tx *sql.Tx, req booking.HoldRequest) (booking.HoldResult, error) {
	h, err := s.newHolding(tx, req)
	if err != nil {
		return booking.HoldResult{}, err
	}
	err = h.run(ctx)
	switch {
	case err != nil:
		return booking.HoldResult{}, err
	case h.refusal != nil:
		return booking.HoldResult{Err: h.refusal}, nil
	}
	return booking.HoldResult{Reservation: h.r}, nil
}

// holding is one hold being made in tx: the request, its checked parts, the
// reservation it builds and the refusal, if any, kept under its key.
type holding struct {
	s             *BookingStore
	tx            *sql.Tx
	req           booking.HoldRequest
	concertID, id string
	seats         []int
	numbers       string // seats as JSON
	expiresAt     time.Time
	now           int64 // req.Now in microseconds
	r             booking.Reservation
	refusal       error // decided and kept under the key: the transaction commits
}

// newHolding checks req's form and returns the hold it asks for.
func (s *BookingStore) newHolding(tx *sql.Tx, req booking.HoldRequest) (*holding, error) {
	concertID, ok := canonID(req.ConcertID)
	if !ok || !concert.ValidDay(req.Day) {
		return nil, concert.DateNotFound(req.ConcertID, req.Day)
	}
	seats := slices.Sorted(slices.Values(req.Seats))
	id, ok := canonID(req.ReservationID)
	if !ok || len(seats) == 0 || len(slices.Compact(slices.Clone(seats))) != len(seats) {
		return nil, boxoffice.Errorf(boxoffice.CodeInvalidRequest, "malformed hold request")
	}
	expiresAt := req.ExpiresAt
	if !req.NotAfter.IsZero() && req.NotAfter.Before(expiresAt) {
		expiresAt = req.NotAfter
	}
	return &holding{
		s: s, tx: tx, req: req, concertID: concertID, id: id,
		seats: seats, numbers: intsJSON(seats), expiresAt: expiresAt, now: micros(req.Now),
		r: booking.Reservation{
			ID: id, UserID: req.UserID, ConcertID: concertID, Day: req.Day,
			Seats: make([]booking.Seat, 0, len(seats)), Status: booking.Held,
			ExpiresAt: utc(expiresAt), CreatedAt: utc(req.Now),
		},
	}, nil
}

// run makes the hold: it answers a known key as before, or checks the
// user, the seats and the rules, then takes the seats. A refusal it keeps
// under the key is h.refusal, and run returns nil.
func (h *holding) run(ctx context.Context) error {
	var known bool
	if err := h.tx.StmtContext(ctx, h.s.db.st.walletExists).QueryRowContext(ctx, h.req.UserID).Scan(&known); err != nil {
		return err
	}
	if !known {
		return wallet.UserNotFound(h.req.UserID)
	}
	if h.req.IdempotencyKey != "" {
		k, found, err := holdKey(ctx, h.tx.QueryRowContext(ctx, holdKeySQL, h.req.UserID, h.req.IdempotencyKey))
		if err != nil {
			return err
		}
		if found {
			h.r, err = h.s.answerKept(ctx, h.tx.StmtContext(ctx, h.s.db.st.lockedReservation), k, h.concertID, h.req.Day, h.seats)
			return err
		}
	}
	free, taken, err := h.price(ctx)
	if err != nil {
		return err
	}
	if err := h.check(ctx, free, taken); err != nil || h.refusal != nil {
		return err
	}
	return h.take(ctx)
}

// refuse keeps err under the request's key, if any, and makes it the
// hold's refusal; without a key, it returns err.
func (h *holding) refuse(ctx context.Context, err error) error {
	if h.req.IdempotencyKey == "" {
		return err
	}
	h.refusal = err
	var be *boxoffice.Error
	errors.As(err, &be)
	_, ierr := h.tx.ExecContext(ctx, insertHoldKeySQL, h.req.UserID, h.req.IdempotencyKey, h.concertID, h.req.Day,
		h.numbers, nil, string(be.Code), be.Message, h.now)
	return ierr
}

// price reads the requested seats into the reservation, with their prices
// and amount, and returns how many are free at now and which are taken.
func (h *holding) price(ctx context.Context) (free int, taken []int, err error) {
	rows, err := h.tx.StmtContext(ctx, h.s.db.st.holdSeats).QueryContext(ctx, h.concertID, h.req.Day, h.numbers)
	if err != nil {
		return 0, nil, err
	}
	for rows.Next() {
		var n int
		var price boxoffice.Money
		var status string
		var expires sql.NullInt64
		if err := rows.Scan(&n, &price, &status, &expires); err != nil {
			rows.Close()
			return 0, nil, err
		}
		if status == "AVAILABLE" || (status == "HELD" && expires.Int64 <= h.now) {
			free++
		} else {
			taken = append(taken, n)
		}
		h.r.Seats = append(h.r.Seats, booking.Seat{Number: n, Price: price})
		h.r.Amount += price
	}
	if err := rows.Close(); err != nil {
		return 0, nil, err
	}
	return free, taken, rows.Err()
}

// check applies the rules of a hold: the seats exist, the session lasts,
// none is taken, no cooldown of the user's covers them, and the user stays
// within the seat limit. A refusal is kept by refuse.
func (h *holding) check(ctx context.Context, free int, taken []int) error {
	req := h.req
	switch found := len(h.r.Seats); {
	case found == 0:
		return concert.DateNotFound(req.ConcertID, req.Day)
	case found < len(h.seats):
		return boxoffice.Errorf(boxoffice.CodeNotFound, "a requested seat does not exist")
	case micros(h.expiresAt) <= h.now:
		return booking.SessionEndedError()
	case free < found:
		return h.refuse(ctx, booking.SeatsTaken(req.Day, taken))
	}
	if cooldown := max(req.Cooldown, 0).Microseconds(); cooldown > 0 {
		var seat int
		var ended int64
		err := h.tx.StmtContext(ctx, h.s.db.st.cool).QueryRowContext(ctx, h.concertID, req.UserID, req.Day, h.now, cooldown, h.numbers).
			Scan(&seat, &ended)
		switch {
		case err == nil:
			return h.refuse(ctx, booking.CooldownError(seat, req.Day, at(ended), at(ended+cooldown)))
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
	}
	var mine int
	if err := h.tx.StmtContext(ctx, h.s.db.st.userSeats).QueryRowContext(ctx, h.concertID, req.Day, req.UserID, h.now).Scan(&mine); err != nil {
		return err
	}
	if mine+len(h.seats) > req.MaxSeatsPerUser {
		return h.refuse(ctx, boxoffice.Errorf(boxoffice.CodeSeatLimitExceeded,
			"at most %d seats per user on %s", req.MaxSeatsPerUser, req.Day))
	}
	return nil
}

// take takes the seats, writes the reservation, the key's answer and the
// event.
func (h *holding) take(ctx context.Context) error {
	req := h.req
	res, err := h.tx.StmtContext(ctx, h.s.db.st.takeSeats).ExecContext(ctx, h.concertID, req.Day, h.numbers,
		h.id, req.UserID, micros(h.expiresAt))
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n != int64(len(h.seats)) {
		return fmt.Errorf("took %d of %d seats", n, len(h.seats))
	}
	prices := make([]int64, len(h.r.Seats))
	for i, st := range h.r.Seats {
		prices[i] = int64(st.Price)
	}
	_, err = h.tx.StmtContext(ctx, h.s.db.st.insertReservation).ExecContext(ctx, h.id, req.UserID, h.concertID,
		req.Day, h.numbers, intsJSON(prices), int64(h.r.Amount), micros(h.expiresAt), h.now)
	if err != nil {
		return err
	}
	if req.IdempotencyKey != "" {
		_, err = h.tx.ExecContext(ctx, insertHoldKeySQL, req.UserID, req.IdempotencyKey, h.concertID, req.Day,
			h.numbers, h.id, nil, nil, h.now)
		if err != nil {
			return err
		}
	}
	return h.s.db.writeEvents(ctx, h.tx, event.OfSeatsHeld(h.r))
}

// keptHold is a row of hold_keys.
type keptHold struct {
	concertID, day, seats string
	reservationID         sql.NullString
	code, message         sql.NullString
}

// holdKey scans a row of holdKeySQL; found is false when there is none.
func holdKey(ctx context.Context, row *sql.Row) (k keptHold, found bool, err error) {
	err = row.Scan(&k.concertID, &k.day, &k.seats, &k.reservationID, &k.code, &k.message)
	if errors.Is(err, sql.ErrNoRows) {
		return keptHold{}, false, nil
	}
	return k, err == nil, err
}

// answerKept answers a hold request for concertID, day and seats from the
// row kept under its key, reading the reservation through st.
func (s *BookingStore) answerKept(ctx context.Context, st *sql.Stmt, k keptHold, concertID, day string, seats []int) (booking.Reservation, error) {
	var keptSeats []int
	if err := json.Unmarshal([]byte(k.seats), &keptSeats); err != nil {
		return booking.Reservation{}, fmt.Errorf("hold key: seats: %w", err)
	}
	switch {
	case !booking.SameRequest(concertID, day, seats, k.concertID, k.day, keptSeats):
		return booking.Reservation{}, booking.HoldKeyReused()
	case !k.reservationID.Valid:
		return booking.Reservation{}, &boxoffice.Error{Code: boxoffice.Code(k.code.String), Message: k.message.String}
	}
	r, err := scanReservation(st.QueryRowContext(ctx, k.reservationID.String))
	if errors.Is(err, sql.ErrNoRows) {
		return booking.Reservation{}, booking.ReservationNotFound(k.reservationID.String)
	}
	return r, err
}

// HoldByKey answers a hold request again from userID's key. Errors:
// NOT_FOUND, IDEMPOTENCY_KEY_REUSED, the refusal kept.
func (s *BookingStore) HoldByKey(ctx context.Context, userID, idempotencyKey, concertID, day string, seats []int) (booking.Reservation, error) {
	k, found, err := holdKey(ctx, s.db.read.QueryRowContext(ctx, holdKeySQL, userID, idempotencyKey))
	if err != nil {
		return booking.Reservation{}, s.db.wrap(ctx, "read hold key", err)
	}
	if !found {
		return booking.Reservation{}, booking.NoHoldWithKey()
	}
	concertID, _ = canonID(concertID)
	r, err := s.answerKept(ctx, s.db.st.reservation, k, concertID, day, slices.Sorted(slices.Values(seats)))
	var be *boxoffice.Error
	if err != nil && !errors.As(err, &be) {
		return booking.Reservation{}, s.db.wrap(ctx, "read hold key", err)
	}
	return r, err
}

const reservationSQL = `
SELECT id, user_id, concert_id, day, seat_numbers, seat_prices, amount, status,
       expires_at, created_at, paid_at
FROM reservations WHERE id = ?`

// scanReservation scans reservationSQL.
func scanReservation(row interface{ Scan(...any) error }) (booking.Reservation, error) {
	var (
		r                booking.Reservation
		numbers, prices  string
		expires, created int64
		paid             sql.NullInt64
		seatNums         []int
		seatPrices       []int64
	)
	err := row.Scan(&r.ID, &r.UserID, &r.ConcertID, &r.Day, &numbers, &prices, &r.Amount, &r.Status,
		&expires, &created, &paid)
	if err != nil {
		return booking.Reservation{}, err
	}
	if err := json.Unmarshal([]byte(numbers), &seatNums); err != nil {
		return booking.Reservation{}, fmt.Errorf("reservation %s: seats: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(prices), &seatPrices); err != nil {
		return booking.Reservation{}, fmt.Errorf("reservation %s: prices: %w", r.ID, err)
	}
	if len(seatNums) != len(seatPrices) {
		return booking.Reservation{}, fmt.Errorf("reservation %s: %d seats and %d prices", r.ID, len(seatNums), len(seatPrices))
	}
	r.Seats = make([]booking.Seat, len(seatNums))
	for i := range seatNums {
		r.Seats[i] = booking.Seat{Number: seatNums[i], Price: boxoffice.Money(seatPrices[i])}
	}
	r.ExpiresAt, r.CreatedAt = at(expires), at(created)
	if paid.Valid {
		r.PaidAt = at(paid.Int64)
	}
	return r, nil
}

// Reservation returns a reservation with its stored status.
// Errors: NOT_FOUND.
func (s *BookingStore) Reservation(ctx context.Context, id string) (booking.Reservation, error) {
	key, ok := canonID(id)
	if !ok {
		return booking.Reservation{}, booking.ReservationNotFound(id)
	}
	r, err := scanReservation(s.db.st.reservation.QueryRowContext(ctx, key))
	if errors.Is(err, sql.ErrNoRows) {
		return booking.Reservation{}, booking.ReservationNotFound(id)
	}
	if err != nil {
		return booking.Reservation{}, s.db.wrap(ctx, "read reservation", err)
	}
	return r, nil
}

// lockedReservation reads reservation id inside a write transaction, which
// keeps it as read until the transaction ends. Errors: NOT_FOUND.
func (s *BookingStore) lockedReservation(ctx context.Context, tx *sql.Tx, id string) (booking.Reservation, error) {
	r, err := scanReservation(tx.StmtContext(ctx, s.db.st.lockedReservation).QueryRowContext(ctx, id))
	if errors.Is(err, sql.ErrNoRows) {
		return booking.Reservation{}, booking.ReservationNotFound(id)
	}
	return r, err
}

// freeSeatsSQL frees the seats ?3 of date (?1, ?2) that reservation ?4
// still holds, leaving any that another hold has taken since.
const freeSeatsSQL = `
UPDATE seats SET status = 'AVAILABLE', reservation_id = NULL, user_id = NULL, hold_expires_at = NULL
WHERE concert_id = ?1 AND day = ?2 AND number IN (SELECT value FROM json_each(?3))
  AND reservation_id = ?4 AND status = 'HELD'`

const setStatusSQL = `UPDATE reservations SET status = ?2 WHERE id = ?1`

const setCancelledSQL = `UPDATE reservations SET status = 'CANCELLED', ended_at = ?2 WHERE id = ?1`

// release frees the seats r still holds and marks r cancelled at now.
func (s *BookingStore) release(ctx context.Context, tx *sql.Tx, r booking.Reservation, now time.Time) error {
	if _, err := tx.StmtContext(ctx, s.db.st.freeSeats).ExecContext(ctx,
		r.ConcertID, r.Day, intsJSON(r.Numbers()), r.ID); err != nil {
		return err
	}
	_, err := tx.StmtContext(ctx, s.db.st.setCancelled).ExecContext(ctx, r.ID, micros(now))
	return err
}

// Cancel releases a hold at once. Errors: NOT_FOUND, FORBIDDEN,
// HOLD_EXPIRED, ALREADY_PAID.
func (s *BookingStore) Cancel(ctx context.Context, id, userID string, now time.Time) (booking.Reservation, error) {
	var r booking.Reservation
	err := s.db.update(ctx, "cancel reservation", func(tx *sql.Tx) (err error) {
		r, err = s.cancel(ctx, tx, id, userID, "", now)
		return err
	})
	if err != nil {
		return booking.Reservation{}, err
	}
	return r, nil
}

// cancel makes a cancel in tx, of a reservation of concertID unless it is
// empty; on an error tx must not keep what it wrote.
func (s *BookingStore) cancel(ctx context.Context, tx *sql.Tx, id, userID, concertID string, now time.Time) (booking.Reservation, error) {
	key, ok := canonID(id)
	if !ok {
		return booking.Reservation{}, booking.ReservationNotFound(id)
	}
	r, err := s.lockedReservation(ctx, tx, key)
	if err != nil {
		return booking.Reservation{}, err
	}
	switch {
	case r.UserID != userID:
		return booking.Reservation{}, booking.Forbidden(id)
	case otherConcert(r, concertID):
		return booking.Reservation{}, booking.OtherConcert()
	case r.Status == booking.Cancelled:
		return r, nil
	case r.Status == booking.Paid:
		return booking.Reservation{}, booking.AlreadyPaid(id)
	case r.StatusAt(now) != booking.Held: // EXPIRED, or HELD past its expiry
		return booking.Reservation{}, booking.HoldExpired(id)
	}
	r.Status = booking.Cancelled
	if err := s.release(ctx, tx, r, now); err != nil {
		return booking.Reservation{}, err
	}
	if err := s.db.writeEvents(ctx, tx, event.OfHoldReleased(r, event.Cancelled, utc(now))); err != nil {
		return booking.Reservation{}, err
	}
	return r, nil
}

// liveHoldsSQL lists the holds of user ?2 on concert ?1 live at ?3.
const liveHoldsSQL = `
SELECT id FROM reservations
WHERE concert_id = ?1 AND user_id = ?2 AND expires_at > ?3 AND status = 'HELD'
ORDER BY id`

// Release releases userID's live holds of concertID in one write
// transaction and returns them.
func (s *BookingStore) Release(ctx context.Context, userID, concertID string, now time.Time) ([]booking.Reservation, error) {
	key, ok := canonID(concertID)
	if !ok {
		return nil, nil
	}
	var released []booking.Reservation
	err := s.db.update(ctx, "release holds", func(tx *sql.Tx) error {
		released = nil
		rows, err := tx.QueryContext(ctx, liveHoldsSQL, key, userID, micros(now))
		if err != nil {
			return err
		}
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for _, id := range ids {
			r, err := s.lockedReservation(ctx, tx, id)
			if err != nil {
				return err
			}
			if err := s.release(ctx, tx, r, now); err != nil {
				return err
			}
			r.Status = booking.Cancelled
			released = append(released, r)
			if err := s.db.writeEvents(ctx, tx, event.OfHoldReleased(r, event.LeftQueue, utc(now))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return released, nil
}

// Reservations returns a page of a user's reservations, newest first.
// Errors: INVALID_REQUEST for an unknown cursor.
func (s *BookingStore) Reservations(ctx context.Context, req booking.ListRequest) ([]booking.Reservation, error) {
	var concertID, status any
	if req.ConcertID != "" {
		id, ok := canonID(req.ConcertID)
		if !ok {
			return nil, nil
		}
		concertID = id
	}
	if req.Status != "" {
		status = string(req.Status)
	}
	// The page starts after (created, id) of the cursor.
	created, before := int64(math.MaxInt64), ""
	if req.Before != "" {
		id, ok := canonID(req.Before)
		if !ok {
			return nil, wallet.BadCursor()
		}
		err := s.db.read.QueryRowContext(ctx, `SELECT created_at FROM reservations WHERE id = ? AND user_id = ?`,
			id, req.UserID).Scan(&created)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, wallet.BadCursor()
		}
		if err != nil {
			return nil, s.db.wrap(ctx, "list reservations", err)
		}
		before = id
	}
	rows, err := s.db.read.QueryContext(ctx, `
		SELECT id, user_id, concert_id, day, seat_numbers, seat_prices, amount, status,
		       expires_at, created_at, paid_at
		FROM reservations
		WHERE user_id = ?1
		  AND (?2 IS NULL OR concert_id = ?2)
		  AND (created_at < ?3 OR (created_at = ?3 AND (?4 = '' OR id < ?4)))
		  AND CASE ?5
		        WHEN 'HELD' THEN status = 'HELD' AND expires_at > ?6
		        WHEN 'EXPIRED' THEN status = 'EXPIRED' OR (status = 'HELD' AND expires_at <= ?6)
		        ELSE ?5 IS NULL OR status = ?5
		      END
		ORDER BY created_at DESC, id DESC
		LIMIT ?7`, req.UserID, concertID, created, before, status, micros(req.Now), max(req.Limit, 0))
	if err != nil {
		return nil, s.db.wrap(ctx, "list reservations", err)
	}
	defer rows.Close()
	var list []booking.Reservation
	for rows.Next() {
		r, err := scanReservation(rows)
		if err != nil {
			return nil, s.db.wrap(ctx, "list reservations", err)
		}
		list = append(list, r)
	}
	if err := rows.Err(); err != nil {
		return nil, s.db.wrap(ctx, "list reservations", err)
	}
	return list, nil
}

// heldSeatsSQL counts the seats ?3 of date (?1, ?2) that reservation ?4
// holds unexpired at ?5.
const heldSeatsSQL = `
SELECT count(*) FROM seats
WHERE concert_id = ?1 AND day = ?2 AND number IN (SELECT value FROM json_each(?3))
  AND reservation_id = ?4 AND status = 'HELD' AND hold_expires_at > ?5`

const debitSQL = `
UPDATE wallets SET balance = balance - ?2, entries = entries + 1
WHERE user_id = ?1 RETURNING balance, entries`

const sellSeatsSQL = `
UPDATE seats SET status = 'SOLD', hold_expires_at = NULL
WHERE concert_id = ?1 AND day = ?2 AND number IN (SELECT value FROM json_each(?3))
  AND reservation_id = ?4`

const markPaidSQL = `UPDATE reservations SET status = 'PAID', paid_at = ?2 WHERE id = ?1`

const insertPaymentSQL = `
INSERT INTO payments (id, reservation_id, user_id, concert_id, amount, balance_after, paid_at, idempotency_key)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)`

// Pay debits, sells, marks paid and records the payment in one write
// transaction. Errors: NOT_FOUND, FORBIDDEN, HOLD_EXPIRED, ALREADY_PAID,
// INSUFFICIENT_BALANCE, IDEMPOTENCY_KEY_REUSED.
func (s *BookingStore) Pay(ctx context.Context, req booking.PayRequest) (booking.Payment, error) {
	var res booking.SettleResult
	err := s.db.update(ctx, "pay", func(tx *sql.Tx) (err error) {
		res, err = s.pay(ctx, tx, req)
		return err
	})
	if err != nil {
		return booking.Payment{}, err
	}
	return res.Payment, res.Err
}

// pay makes a payment in tx. A refusal kept under the request's key is
// the result's Err, and tx keeps the key's row; any other error is
// returned, and tx must not keep what pay wrote.
func (s *BookingStore) pay(ctx context.Context, tx *sql.Tx, req booking.PayRequest) (booking.SettleResult, error) {
	id, ok := canonID(req.ReservationID)
	if !ok {
		return booking.SettleResult{}, booking.ReservationNotFound(req.ReservationID)
	}
	paymentID, ok := canonID(req.PaymentID)
	if !ok {
		return booking.SettleResult{}, boxoffice.Errorf(boxoffice.CodeInvalidRequest, "malformed payment id")
	}
	h := &paying{s: s, tx: tx, req: req, id: id, paymentID: paymentID, now: micros(req.Now)}
	if req.IdempotencyKey != "" {
		h.key = &req.IdempotencyKey
	}
	err := h.run(ctx)
	switch {
	case err != nil:
		return booking.SettleResult{}, err
	case h.refusal != nil:
		return booking.SettleResult{Err: h.refusal}, nil
	}
	return booking.SettleResult{Payment: h.p, Seats: h.seats, Replay: h.replay}, nil
}

// paying is one payment being made in tx: the request, its checked ids,
// and the payment it makes or replays, or the refusal kept under its key.
type paying struct {
	s             *BookingStore
	tx            *sql.Tx
	req           booking.PayRequest
	id, paymentID string
	key           *string // nil without an idempotency key
	now           int64   // req.Now in microseconds
	p             booking.Payment
	seats         int
	replay        bool
	refusal       error // decided and kept under the key: the transaction commits
}

// run makes the payment: it answers a known key as before, or checks the
// reservation and the wallet, then charges it. A refusal it keeps under the
// key is h.refusal, and run returns nil.
func (h *paying) run(ctx context.Context) error {
	r, err := h.s.lockedReservation(ctx, h.tx, h.id)
	if err != nil {
		return err
	}
	if r.UserID != h.req.UserID {
		return booking.Forbidden(h.req.ReservationID)
	}
	if otherConcert(r, h.req.ConcertID) {
		return booking.OtherConcert()
	}
	h.seats = len(r.Seats)
	if h.key != nil {
		if answered, err := h.answerKey(ctx); answered || err != nil {
			return err
		}
	}
	switch {
	case r.Status == booking.Paid:
		return h.refuse(ctx, booking.AlreadyPaid(h.id))
	case r.StatusAt(h.req.Now) != booking.Held:
		return h.refuse(ctx, booking.HoldExpired(h.id))
	}
	balance, numbers, err := h.funds(ctx, r)
	if err != nil || h.refusal != nil {
		return err
	}
	return h.charge(ctx, r, balance, numbers)
}

// refuse keeps err under the request's key, if any, and makes it the
// payment's refusal; without a key, it returns err.
func (h *paying) refuse(ctx context.Context, err error) error {
	if h.key == nil {
		return err
	}
	h.refusal = err
	return keepFailure(ctx, h.tx, h.req.UserID, "PAYMENT", *h.key, 0, h.id, err, h.req.Now)
}

// answerKey answers a key already used: the payment it made for the same
// reservation, the refusal kept under it, or IDEMPOTENCY_KEY_REUSED.
// answered is false for a new key.
func (h *paying) answerKey(ctx context.Context) (answered bool, err error) {
	prior, err := h.s.paymentByKey(ctx, h.tx.StmtContext(ctx, h.s.db.st.paymentByKeyW), h.req.UserID, *h.key)
	switch {
	case err == nil && prior.ReservationID == h.id:
		h.p, h.replay = prior, true
		return true, nil
	case err == nil:
		return true, booking.PayKeyReused()
	case !errors.Is(err, boxoffice.ErrNotFound):
		return true, err
	}
	f, found, err := failureByKey(ctx, h.tx, h.req.UserID, "PAYMENT", *h.key)
	switch {
	case err != nil:
		return true, err
	case found && f.reservationID.String != h.id:
		return true, booking.PayKeyReused()
	case found:
		return true, f.err()
	}
	return false, nil
}

// funds returns the user's balance and r's seats as JSON, once it has
// checked that the seats are still r's and the balance covers r; a refusal
// is kept by refuse.
func (h *paying) funds(ctx context.Context, r booking.Reservation) (balance boxoffice.Money, numbers string, err error) {
	err = h.tx.StmtContext(ctx, h.s.db.st.walletBalance).QueryRowContext(ctx, h.req.UserID).Scan(&balance)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", wallet.UserNotFound(h.req.UserID)
	}
	if err != nil {
		return 0, "", err
	}
	numbers = intsJSON(r.Numbers())
	var held int
	if err := h.tx.StmtContext(ctx, h.s.db.st.heldSeats).QueryRowContext(ctx,
		r.ConcertID, r.Day, numbers, h.id, h.now).Scan(&held); err != nil {
		return 0, "", err
	}
	if held < len(r.Seats) {
		return 0, "", h.refuse(ctx, booking.HoldExpired(h.id))
	}
	if balance < r.Amount {
		return 0, "", h.refuse(ctx, boxoffice.Errorf(boxoffice.CodeInsufficientBalance,
			"balance %d is less than the %d due", balance, r.Amount))
	}
	return balance, numbers, nil
}

// charge debits the wallet, sells the seats, and writes the payment, the
// wallet's entry and the event.
func (h *paying) charge(ctx context.Context, r booking.Reservation, balance boxoffice.Money, numbers string) error {
	tx, st, req, id, now := h.tx, h.s.db.st, h.req, h.id, h.now
	var seq int64
	if err := tx.StmtContext(ctx, st.debit).QueryRowContext(ctx, req.UserID, int64(r.Amount)).Scan(&balance, &seq); err != nil {
		return err
	}
	if _, err := tx.StmtContext(ctx, st.sellSeats).ExecContext(ctx, r.ConcertID, r.Day, numbers, id); err != nil {
		return err
	}
	if _, err := tx.StmtContext(ctx, st.markPaid).ExecContext(ctx, id, now); err != nil {
		return err
	}
	if _, err := tx.StmtContext(ctx, st.insertPayment).ExecContext(ctx,
		h.paymentID, id, req.UserID, r.ConcertID, int64(r.Amount), int64(balance), now, h.key); err != nil {
		return err
	}
	if _, err := tx.StmtContext(ctx, st.insertEntry).ExecContext(ctx,
		h.paymentID, req.UserID, seq, wallet.Payment, int64(r.Amount), int64(balance), now, nil); err != nil {
		return err
	}
	h.p = booking.Payment{
		ID: h.paymentID, ReservationID: id, UserID: req.UserID, ConcertID: r.ConcertID,
		Amount: r.Amount, Balance: balance, PaidAt: at(now),
	}
	return h.s.db.writeEvents(ctx, tx, event.OfReservationPaid(r, h.p))
}

// otherConcert reports whether r is not of concertID, when it is set.
func otherConcert(r booking.Reservation, concertID string) bool {
	if concertID == "" {
		return false
	}
	id, _ := canonID(concertID)
	return r.ConcertID != id
}

const paymentByKeySQL = `
SELECT id, reservation_id, user_id, concert_id, amount, balance_after, paid_at
FROM payments WHERE user_id = ? AND idempotency_key = ?`

// paymentByKey reads the payment userID made with key through st.
func (s *BookingStore) paymentByKey(ctx context.Context, st *sql.Stmt, userID, key string) (booking.Payment, error) {
	var p booking.Payment
	var paid int64
	err := st.QueryRowContext(ctx, userID, key).
		Scan(&p.ID, &p.ReservationID, &p.UserID, &p.ConcertID, &p.Amount, &p.Balance, &paid)
	if errors.Is(err, sql.ErrNoRows) {
		return booking.Payment{}, booking.NoPaymentWithKey()
	}
	if err != nil {
		return booking.Payment{}, err
	}
	p.PaidAt = at(paid)
	return p, nil
}

// PaymentByKey returns the payment userID made with idempotencyKey.
// Errors: NOT_FOUND.
func (s *BookingStore) PaymentByKey(ctx context.Context, userID, idempotencyKey string) (booking.Payment, error) {
	if idempotencyKey == "" {
		return booking.Payment{}, booking.NoPaymentWithKey()
	}
	p, err := s.paymentByKey(ctx, s.db.st.paymentByKey, userID, idempotencyKey)
	if err != nil {
		return booking.Payment{}, s.db.wrap(ctx, "read payment", err)
	}
	return p, nil
}

// Inventory counts a concert's seats at now and sums its payments.
// Errors: NOT_FOUND.
func (s *BookingStore) Inventory(ctx context.Context, concertID string, now time.Time) (booking.Inventory, error) {
	var inv booking.Inventory
	err := s.readConcert(ctx, "count inventory", concertID, now, `
		SELECT EXISTS (SELECT 1 FROM concerts WHERE id = ?1),
		       count(*),
		       coalesce(sum(status = 'AVAILABLE' OR (status = 'HELD' AND hold_expires_at <= ?2)), 0),
		       coalesce(sum(status = 'HELD' AND hold_expires_at > ?2), 0),
		       coalesce(sum(status = 'SOLD'), 0),
		       (SELECT coalesce(sum(amount), 0) FROM payments WHERE concert_id = ?1)
		FROM seats WHERE concert_id = ?1`, &inv.Total, &inv.Available, &inv.Held, &inv.Sold, &inv.Revenue)
	if err != nil {
		return booking.Inventory{}, err
	}
	return inv, nil
}

// Supply tells whether a concert has a seat available at now and one held
// by an unexpired hold, each EXISTS stopping at its first seat. Errors:
// NOT_FOUND.
func (s *BookingStore) Supply(ctx context.Context, concertID string, now time.Time) (booking.Supply, error) {
	var sup booking.Supply
	err := s.readConcert(ctx, "read supply", concertID, now, `
		SELECT EXISTS (SELECT 1 FROM concerts WHERE id = ?1),
		       EXISTS (SELECT 1 FROM seats WHERE concert_id = ?1
		               AND (status = 'AVAILABLE' OR (status = 'HELD' AND hold_expires_at <= ?2))),
		       EXISTS (SELECT 1 FROM seats WHERE concert_id = ?1 AND status = 'HELD' AND hold_expires_at > ?2)`,
		&sup.Available, &sup.Held)
	if err != nil {
		return booking.Supply{}, err
	}
	return sup, nil
}

// readConcert runs query, a read of one row about the concert ?1 (its key)
// at ?2 whose first column tells whether the concert exists, into dst.
// Errors: NOT_FOUND.
func (s *BookingStore) readConcert(ctx context.Context, what, concertID string, now time.Time, query string, dst ...any) error {
	key, ok := canonID(concertID)
	if !ok {
		return concert.NotFound(concertID)
	}
	var exists bool
	if err := s.db.read.QueryRowContext(ctx, query, key, micros(now)).Scan(append([]any{&exists}, dst...)...); err != nil {
		return s.db.wrap(ctx, what, err)
	}
	if !exists {
		return concert.NotFound(concertID)
	}
	return nil
}

// Sweep expires up to limit holds that lapsed at or before now and frees
// the seats they still hold, in one write transaction.
func (s *BookingStore) Sweep(ctx context.Context, now time.Time, limit int) (int, error) {
	if limit < 1 {
		return 0, nil
	}
	var n int
	err := s.db.update(ctx, "sweep holds", func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `
			SELECT id, user_id, concert_id, day, seat_numbers FROM reservations
			WHERE status = 'HELD' AND expires_at <= ?
			ORDER BY expires_at
			LIMIT ?`, micros(now), limit)
		if err != nil {
			return err
		}
		type lapsed struct{ id, userID, concertID, day, numbers string }
		var list []lapsed
		for rows.Next() {
			var l lapsed
			if err := rows.Scan(&l.id, &l.userID, &l.concertID, &l.day, &l.numbers); err != nil {
				rows.Close()
				return err
			}
			list = append(list, l)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return err
		}
		free, mark := tx.StmtContext(ctx, s.db.st.freeSeats), tx.StmtContext(ctx, s.db.st.setStatus)
		for _, l := range list {
			if _, err := free.ExecContext(ctx, l.concertID, l.day, l.numbers, l.id); err != nil {
				return err
			}
			if _, err := mark.ExecContext(ctx, l.id, string(booking.Expired)); err != nil {
				return err
			}
			if err := s.db.writeLapsed(ctx, tx, l.id, l.userID, l.concertID, l.day, l.numbers, utc(now)); err != nil {
				return err
			}
		}
		n = len(list)
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// intsJSON is a JSON array of ns.
func intsJSON[T ~int | ~int64](ns []T) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, n := range ns {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(int64(n), 10))
	}
	b.WriteByte(']')
	return b.String()
}
