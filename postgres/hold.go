package postgres

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/booking"
	"github.com/boxoffice/boxoffice/concert"
)

// Holds are made a batch at a time, a single hold being a batch of one:
// one transaction of two round trips (see transact). The first locks
// every row the batch changes, in the store's one order (the wallets by
// user, then the seats by concert, day and number), and reads, at once for
// all requests, what the rules need; the rules then decide each request in
// Go, in order (booking.DecideHolds); the second writes every outcome with
// one set-based statement and commits. Everything the rules read of a
// user (their seats, holds and keys) is changed only under the user's
// wallet lock, so it is current once the locks are held; the sweeper's
// tidying of lapsed holds, which takes no wallet lock, changes no answer.

// lockSeats locks the seats ($1, $2, $3)[i], in (concert, day, number)
// order, and reads them: the keys sorted, then each seat locked by its key
// in a lateral subquery, so in the keys' order, whatever the statistics
// (a plain join may hash every seat; see lockHeldSeats).
const lockSeats = `
SELECT ` + seatRowColumns + ` FROM (
	SELECT * FROM unnest($1::uuid[], $2::date[], $3::int2[]) AS k (concert_id, day, number)
	ORDER BY 1, 2, 3
	OFFSET 0
) AS k` + seatsLockedByKey

// seatsLockedByKey ends a statement that locks and reads the seats whose
// keys k (concert_id, day, number) it has sorted: each seat locked by its
// key in a lateral subquery, so in the keys' order.
const seatsLockedByKey = `
CROSS JOIN LATERAL (
	SELECT * FROM seats s WHERE s.concert_id = k.concert_id AND s.day = k.day AND s.number = k.number FOR UPDATE
) AS s
ORDER BY s.concert_id, s.day, s.number`

const seatRowColumns = `s.concert_id::text, to_char(s.day, 'YYYY-MM-DD'), s.number, s.price, s.status,
	s.hold_expires_at, s.user_id, s.reservation_id::text`

// userDatesSQL reads what the rules need of the users $1 on the dates
// ($2, $3), from one scan of their reservations there: rows of two kinds,
// told apart by the last column.
//
// The seats they hold or own (the last two columns NULL): the seats of
// their paid reservations, and those still held by their held
// reservations that did not expire before $4 (NULL: the database's clock
// less $5 microseconds), each seat looked up by its key, as its row
// stands (a lapsed seat another hold took is not the user's). The seat
// limit used to scan the date's 50 seats for the user's, for each
// request, each row with the versions its holds and lapses left: a build
// without that read made 12 % more holds a second (docs/benchmarks.md,
// "A seventh sitting").
//
// Their past holds (the concert, day, expiry and user columns, then the
// seat numbers and when the hold ended): their reservations that are not
// paid and did not end before the same instant, the holds that may start
// a cooldown.
//
// The paid reservations are found in reservations_paid, the others in
// reservations_user from the lower bound on expires_at; the kinds are told
// apart only once read, or the plan could scan reservations_lapsing, every
// live hold of every user, instead. Each (user, date) is looked up in the
// indexes on its own: the lateral subqueries are kept apart from the joins
// by OFFSET 0, and the lower bound is a parameter of the scan (the clock
// in a subquery, evaluated once). As a plain join, a plan made while the
// table was small (a new on-sale, before the table is analyzed) hashed the
// batch and scanned every reservation, for as long as that plan was
// cached: 30 ms a batch once tens of thousands of holds were made.
const userDatesSQL = `
WITH r AS (
	SELECT k.user_id, k.concert_id, k.day, k.since, r.status, r.seat_numbers, r.expires_at, r.ended_at
	FROM (SELECT k.user_id, k.concert_id, k.day,
	             coalesce(k.since, (SELECT clock_timestamp()) - k.cooldown * interval '1 microsecond') AS since
	      FROM unnest($1::text[], $2::uuid[], $3::date[], $4::timestamptz[], $5::int8[])
	           AS k (user_id, concert_id, day, since, cooldown)) AS k
	CROSS JOIN LATERAL (
		(SELECT r.status, r.seat_numbers, r.expires_at, r.ended_at FROM reservations r
		 WHERE r.user_id = k.user_id AND r.concert_id = k.concert_id AND r.day = k.day AND r.status = 'PAID'
		 OFFSET 0)
		UNION ALL
		(SELECT r.status, r.seat_numbers, r.expires_at, r.ended_at FROM reservations r
		 WHERE r.user_id = k.user_id AND r.concert_id = k.concert_id AND r.day = k.day
		   AND r.expires_at > k.since AND r.status <> 'PAID'
		 OFFSET 0)
	) AS r
)
SELECT ` + seatRowColumns + `, NULL::int2[], NULL::timestamptz
FROM r
CROSS JOIN LATERAL unnest(r.seat_numbers) AS n (number)
CROSS JOIN LATERAL (
	SELECT * FROM seats s WHERE s.concert_id = r.concert_id AND s.day = r.day AND s.number = n.number OFFSET 0
) AS s
WHERE r.status IN ('PAID', 'HELD') AND s.user_id = r.user_id
UNION ALL
SELECT r.concert_id::text, to_char(r.day, 'YYYY-MM-DD'), 0::int2, 0::int8, '', r.expires_at, r.user_id, NULL,
       r.seat_numbers, coalesce(r.ended_at, r.expires_at)
FROM r
WHERE r.status <> 'PAID' AND coalesce(r.ended_at, r.expires_at) > r.since`

// keptHoldsSQL reads what is kept under the keys ($1, $2)[i], with the
// reservation made, if any, each in its own index lookup (see
// userDatesSQL).
const keptHoldsSQL = `
SELECT ` + reservationColumns + `, h.user_id, h.idempotency_key, h.concert_id::text, to_char(h.day, 'YYYY-MM-DD'),
       h.seat_numbers, h.reservation_id::text, h.code, h.message
FROM unnest($1::text[], $2::text[]) AS k (user_id, idempotency_key)
CROSS JOIN LATERAL (
	SELECT * FROM hold_keys h WHERE h.user_id = k.user_id AND h.idempotency_key = k.idempotency_key OFFSET 0
) AS h
LEFT JOIN LATERAL (SELECT * FROM reservations r WHERE r.id = h.reservation_id OFFSET 0) AS r ON true`

// holdWriteSQL writes the holds made (reservations $1…$9: seat numbers
// and prices as array literals), the seats they take ($10…$15) and the
// answers kept under keys ($16…$24), and the SeatsHeld event of each hold
// (its id: $25), in the order of the holds.
const holdWriteSQL = `
WITH r AS MATERIALIZED (
	SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::date[], $5::text[], $6::text[], $7::int8[],
	                     $8::timestamptz[], $9::timestamptz[], $25::uuid[])
	         WITH ORDINALITY AS r (id, user_id, concert_id, day, numbers, prices, amount, expires_at, created_at, event_id, ord)
),
take AS (
	UPDATE seats s SET status = 'HELD', reservation_id = t.reservation_id, user_id = t.user_id, hold_expires_at = t.expires_at
	FROM unnest($10::uuid[], $11::date[], $12::int2[], $13::uuid[], $14::text[], $15::timestamptz[])
	     AS t (concert_id, day, number, reservation_id, user_id, expires_at)
	WHERE s.concert_id = t.concert_id AND s.day = t.day AND s.number = t.number
),
ins AS (
	INSERT INTO reservations (id, user_id, concert_id, day, seat_numbers, seat_prices, amount,
	                          status, expires_at, created_at)
	SELECT id, user_id, concert_id, day, numbers::int2[], prices::int8[], amount, 'HELD', expires_at, created_at
	FROM r ORDER BY ord
),
ev AS (
	` + insertOutboxRef + `
	SELECT r.event_id, 'SeatsHeld', r.concert_id, r.created_at, r.id, NULL FROM r ORDER BY r.ord
),
remember AS (
	INSERT INTO hold_keys (user_id, idempotency_key, concert_id, day, seat_numbers, reservation_id, code, message, at)
	SELECT user_id, idempotency_key, concert_id, day, seat_numbers::int2[], reservation_id, code, message, at
	FROM unnest($16::text[], $17::text[], $18::uuid[], $19::date[], $20::text[], $21::uuid[], $22::text[], $23::text[],
	            $24::timestamptz[])
	     AS k (user_id, idempotency_key, concert_id, day, seat_numbers, reservation_id, code, message, at)
)
SELECT 1`

// Hold holds all of req.Seats or none. Errors: NOT_FOUND (concert, date,
// seat or user), SEAT_UNAVAILABLE, SEAT_LIMIT_EXCEEDED, QUEUE_TOKEN_EXPIRED,
// IDEMPOTENCY_KEY_REUSED.
func (s *BookingStore) Hold(ctx context.Context, req booking.HoldRequest) (booking.Reservation, error) {
	c := newHoldCall(req)
	if c.err != nil {
		return booking.Reservation{}, c.err
	}
	res := s.holdAlone(ctx, c)
	return res.Reservation, res.Err
}

// HoldBatch makes the holds of reqs in one transaction, in order.
func (s *BookingStore) HoldBatch(ctx context.Context, reqs []booking.HoldRequest) []booking.HoldResult {
	out := make([]booking.HoldResult, len(reqs))
	var calls []*holdCall
	var at []int // index in reqs of calls[i]
	for i, req := range reqs {
		c := newHoldCall(req)
		if c.err != nil {
			out[i].Err = c.err
			continue
		}
		calls = append(calls, c)
		at = append(at, i)
	}
	runBatch(ctx, s.db, "hold seats", calls, at, out, s.hold, s.holdAlone, func(r *booking.HoldResult, err error) { r.Err = err })
	return out
}

// holdAlone makes c in a batch of its own.
func (s *BookingStore) holdAlone(ctx context.Context, c *holdCall) booking.HoldResult {
	res, err := s.hold(ctx, []*holdCall{c})
	if err == nil {
		return res[0]
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == uniqueViolation && c.req.IdempotencyKey != "" {
		// Only a hold that bypassed the wallet lock could get here; the
		// key's row that stopped it knows the answer.
		r, err := s.HoldByKey(ctx, c.req.UserID, c.req.IdempotencyKey, c.req.ConcertID, c.req.Day, c.req.Seats)
		return booking.HoldResult{Reservation: r, Err: err}
	}
	return booking.HoldResult{Err: s.db.wrapWrite("hold seats", err)}
}

// holdCall is one hold request, checked and made ready for the batch.
type holdCall struct {
	req booking.HoldRequest // with canonical ids and sorted seats
	err error               // the request is refused before anything is read
}

// newHoldCall checks req; a request no batch could serve has err set.
func newHoldCall(req booking.HoldRequest) *holdCall {
	c := &holdCall{}
	concertID, ok := boxoffice.CanonID(req.ConcertID)
	if !ok || !concert.ValidDay(req.Day) {
		c.err = concert.DateNotFound(req.ConcertID, req.Day)
		return c
	}
	seats := slices.Sorted(slices.Values(req.Seats))
	id, ok := boxoffice.CanonID(req.ReservationID)
	if !ok || len(seats) == 0 || len(slices.Compact(slices.Clone(seats))) != len(seats) {
		c.err = boxoffice.Errorf(boxoffice.CodeInvalidRequest, "malformed hold request")
		return c
	}
	req.ConcertID, req.ReservationID, req.Seats = concertID, id, seats
	c.req = req
	return c
}

// hold makes calls in one transaction and answers each, or returns the
// transaction's failure unwrapped (see transact).
func (s *BookingStore) hold(ctx context.Context, calls []*holdCall) ([]booking.HoldResult, error) {
	h := newHolding(calls, s.db.dbClock)
	err := s.db.transact(ctx, h.queue, h.read, h.decide)
	if err != nil {
		return nil, err
	}
	out := make([]booking.HoldResult, len(calls))
	for i, d := range h.decisions {
		out[i] = booking.HoldResult{Reservation: d.Reservation, Err: d.Err}
	}
	return out, nil
}

// dateOf is a user's date: what the rules read of a user.
type dateOf struct{ userID, concertID, day string }

// holding is a batch of holds in the making: what it locks and reads,
// the state read, and the decisions.
type holding struct {
	calls   []*holdCall
	dbClock bool

	users []string          // sorted, once each
	seats []booking.SeatKey // sorted, once each
	dates []dateOf
	since []*time.Time // of dates[i]: the earliest instant a cooldown reaches back to; nil with the database's clock
	cools []int64      // of dates[i]: the longest cooldown, in microseconds
	keys  []booking.HoldKey

	st        booking.HoldState
	now       time.Time // the database's clock, read once the locks are held
	decisions []booking.HoldDecision
}

func newHolding(calls []*holdCall, dbClock bool) *holding {
	h := &holding{calls: calls, dbClock: dbClock, st: booking.HoldState{
		Users: map[string]bool{}, Seats: map[booking.SeatKey]*booking.SeatRow{}, Kept: map[booking.HoldKey]booking.KeptHold{},
	}}
	dateAt := map[dateOf]int{}
	keys := map[booking.HoldKey]bool{}
	for _, c := range calls {
		req := c.req
		h.users = append(h.users, req.UserID)
		for _, n := range req.Seats {
			h.seats = append(h.seats, booking.SeatKey{ConcertID: req.ConcertID, Day: req.Day, Number: n})
		}
		d := dateOf{req.UserID, req.ConcertID, req.Day}
		cool := cooldownOf(req)
		since := utc(req.Now).Add(-cool)
		i, ok := dateAt[d]
		if !ok {
			i = len(h.dates)
			dateAt[d] = i
			h.dates, h.since, h.cools = append(h.dates, d), append(h.since, nil), append(h.cools, 0)
			if !dbClock {
				h.since[i] = &since
			}
		}
		h.cools[i] = max(h.cools[i], cool.Microseconds())
		if !dbClock && since.Before(*h.since[i]) {
			h.since[i] = &since
		}
		if k := (booking.HoldKey{UserID: req.UserID, Key: req.IdempotencyKey}); k.Key != "" && !keys[k] {
			keys[k] = true
			h.keys = append(h.keys, k)
		}
	}
	slices.Sort(h.users)
	h.users = slices.Compact(h.users)
	slices.SortFunc(h.seats, func(a, b booking.SeatKey) int {
		return cmp.Or(cmp.Compare(a.ConcertID, b.ConcertID), cmp.Compare(a.Day, b.Day), cmp.Compare(a.Number, b.Number))
	})
	h.seats = slices.Compact(h.seats)
	return h
}

// cooldownOf is req's cooldown as the database keeps an interval, in
// whole microseconds.
func cooldownOf(req booking.HoldRequest) time.Duration {
	return max(req.Cooldown, 0).Truncate(micro)
}

// queue adds the first round trip's statements: the locks, then the reads.
func (h *holding) queue(b *pgx.Batch) {
	b.Queue(lockWallets, h.users)
	concerts, days, numbers := make([]string, len(h.seats)), make([]string, len(h.seats)), make([]int16, len(h.seats))
	for i, k := range h.seats {
		concerts[i], days[i], numbers[i] = k.ConcertID, k.Day, int16(k.Number)
	}
	b.Queue(lockSeats, concerts, days, numbers)
	users, concerts, days := make([]string, len(h.dates)), make([]string, len(h.dates)), make([]string, len(h.dates))
	for i, d := range h.dates {
		users[i], concerts[i], days[i] = d.userID, d.concertID, d.day
	}
	b.Queue(userDatesSQL, users, concerts, days, h.since, h.cools)
	if len(h.keys) > 0 {
		users, keys := make([]string, len(h.keys)), make([]string, len(h.keys))
		for i, k := range h.keys {
			users[i], keys[i] = k.UserID, k.Key
		}
		b.Queue(keptHoldsSQL, users, keys)
	}
	if h.dbClock {
		b.Queue(`SELECT clock_timestamp()`)
	}
}

// read reads the results of queue's statements into h.st.
func (h *holding) read(br pgx.BatchResults) error {
	var user string
	if err := eachRow(br, []any{&user}, func() { h.st.Users[user] = true }); err != nil {
		return err
	}
	var seat seatScan
	add := func() {
		k, row := seat.row()
		if _, ok := h.st.Seats[k]; !ok {
			h.st.Seats[k] = row
		}
	}
	if err := eachRow(br, seat.dst(), add); err != nil {
		return err
	}
	var numbers []int16
	var ended *time.Time
	err := eachRow(br, append(seat.dst(), &numbers, &ended), func() {
		if ended == nil {
			add()
			return
		}
		h.st.Past = append(h.st.Past, booking.PastHold{UserID: *seat.userID, ConcertID: seat.concertID, Day: seat.day,
			Seats: ints(numbers), ExpiresAt: *seat.expires, Ended: *ended})
	})
	if err != nil {
		return err
	}
	if len(h.keys) > 0 {
		if err := h.readKept(br); err != nil {
			return err
		}
	}
	if h.dbClock {
		return br.QueryRow().Scan(&h.now)
	}
	return nil
}

// readKept reads what keptHoldsSQL answered into h.st.Kept.
func (h *holding) readKept(br pgx.BatchResults) error {
	rows, err := br.Query()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			k             booking.HoldKey
			kept          booking.KeptHold
			seats         []int16
			reservationID *string
			code, message *string
		)
		r, ok, err := scanReservation(rows, &k.UserID, &k.Key, &kept.ConcertID, &kept.Day, &seats, &reservationID, &code, &message)
		if err != nil {
			return err
		}
		kept.Seats = ints(seats)
		switch {
		case reservationID == nil:
			kept.Err = &boxoffice.Error{Code: boxoffice.Code(*code), Message: *message}
		case !ok:
			kept.Err = booking.ReservationNotFound(*reservationID)
		default:
			kept.Reservation = r
		}
		h.st.Kept[k] = kept
	}
	return rows.Err()
}

// decide decides the requests and adds the second round trip's statement,
// which writes their outcomes, if any.
func (h *holding) decide(b *pgx.Batch) {
	reqs := make([]booking.HoldRequest, len(h.calls))
	for i, c := range h.calls {
		reqs[i] = h.instants(c.req)
	}
	h.decisions = booking.DecideHolds(&h.st, reqs)

	var w holdWrite
	type take struct {
		res, user string
		expires   time.Time
	}
	taken := map[booking.SeatKey]take{}
	for i, d := range h.decisions {
		req := reqs[i]
		if d.Made {
			w.made(d.Reservation)
			for _, n := range req.Seats {
				taken[booking.SeatKey{ConcertID: req.ConcertID, Day: req.Day, Number: n}] = take{req.ReservationID, req.UserID, d.Reservation.ExpiresAt}
			}
		}
		if d.Keep {
			w.keep(req, d)
		}
	}
	if len(w.ids) == 0 && len(w.keyUsers) == 0 {
		return
	}
	for _, k := range h.seats { // a seat taken twice (the first hold lapsed) is written once, as last taken
		if t, ok := taken[k]; ok {
			w.seatConcerts, w.seatDays, w.seatNumbers = append(w.seatConcerts, k.ConcertID), append(w.seatDays, k.Day), append(w.seatNumbers, int16(k.Number))
			w.seatRes, w.seatUsers, w.seatExpires = append(w.seatRes, t.res), append(w.seatUsers, t.user), append(w.seatExpires, t.expires)
		}
	}
	b.Queue(holdWriteSQL, w.ids, w.users, w.concerts, w.days, w.numbers, w.prices, w.amounts, w.expires, w.created,
		w.seatConcerts, w.seatDays, w.seatNumbers, w.seatRes, w.seatUsers, w.seatExpires,
		w.keyUsers, w.keys, w.keyConcerts, w.keyDays, w.keySeats, w.keyRes, w.keyCodes, w.keyMessages, w.keyAt,
		w.events)
}

// instants returns req with the instants and cooldown it is decided
// with, as the database keeps them: the caller's, or with the database's
// clock its now and the hold's length from it.
func (h *holding) instants(req booking.HoldRequest) booking.HoldRequest {
	if h.dbClock {
		req.ExpiresAt = h.now.Add(time.Duration(req.ExpiresAt.Sub(req.Now).Microseconds()) * micro)
		req.Now = h.now
	} else {
		req.Now, req.ExpiresAt = utc(req.Now), utc(req.ExpiresAt)
	}
	if !req.NotAfter.IsZero() {
		req.NotAfter = utc(req.NotAfter)
	}
	req.Cooldown = cooldownOf(req)
	return req
}

// holdWrite is holdWriteSQL's arguments.
type holdWrite struct {
	ids, users, concerts, days, numbers, prices []string
	amounts                                     []int64
	expires, created                            []time.Time
	events                                      []string // the ids of their SeatsHeld events

	seatConcerts, seatDays, seatRes, seatUsers []string
	seatNumbers                                []int16
	seatExpires                                []time.Time

	keyUsers, keys, keyConcerts, keyDays, keySeats []string
	keyRes, keyCodes, keyMessages                  []*string
	keyAt                                          []time.Time
}

// made adds the reservation of a hold made.
func (w *holdWrite) made(r booking.Reservation) {
	numbers, prices := make([]int64, len(r.Seats)), make([]int64, len(r.Seats))
	for i, seat := range r.Seats {
		numbers[i], prices[i] = int64(seat.Number), int64(seat.Price)
	}
	w.ids, w.users, w.concerts, w.days = append(w.ids, r.ID), append(w.users, r.UserID), append(w.concerts, r.ConcertID), append(w.days, r.Day)
	w.numbers, w.prices, w.amounts = append(w.numbers, arrayLiteral(numbers)), append(w.prices, arrayLiteral(prices)), append(w.amounts, int64(r.Amount))
	w.expires, w.created = append(w.expires, r.ExpiresAt), append(w.created, r.CreatedAt)
	w.events = append(w.events, newEventID())
}

// keep adds the answer kept under req's key.
func (w *holdWrite) keep(req booking.HoldRequest, d booking.HoldDecision) {
	numbers := make([]int64, len(req.Seats))
	for i, n := range req.Seats {
		numbers[i] = int64(n)
	}
	var res, code, message *string
	if d.Made {
		res = &d.Reservation.ID
	} else {
		var be *boxoffice.Error
		if errors.As(d.Err, &be) {
			c := string(be.Code)
			code, message = &c, &be.Message
		}
	}
	w.keyUsers, w.keys, w.keyConcerts, w.keyDays = append(w.keyUsers, req.UserID), append(w.keys, req.IdempotencyKey), append(w.keyConcerts, req.ConcertID), append(w.keyDays, req.Day)
	w.keySeats, w.keyRes, w.keyCodes, w.keyMessages = append(w.keySeats, arrayLiteral(numbers)), append(w.keyRes, res), append(w.keyCodes, code), append(w.keyMessages, message)
	w.keyAt = append(w.keyAt, req.Now)
}

// arrayLiteral writes ns as a PostgreSQL array literal.
func arrayLiteral(ns []int64) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, n := range ns {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(n, 10))
	}
	b.WriteByte('}')
	return b.String()
}

// seatScan is a row of seatRowColumns.
type seatScan struct {
	concertID, day      string
	number              int16
	price               int64
	status              string
	expires             *time.Time
	userID, reservation *string
}

func (s *seatScan) dst() []any {
	return []any{&s.concertID, &s.day, &s.number, &s.price, &s.status, &s.expires, &s.userID, &s.reservation}
}

func (s *seatScan) row() (booking.SeatKey, *booking.SeatRow) {
	row := &booking.SeatRow{Price: boxoffice.Money(s.price), Status: concert.SeatStatus(s.status)}
	if s.expires != nil {
		row.HoldExpiresAt = *s.expires
	}
	if s.userID != nil {
		row.UserID = *s.userID
	}
	if s.reservation != nil {
		row.ReservationID = *s.reservation
	}
	return booking.SeatKey{ConcertID: s.concertID, Day: s.day, Number: int(s.number)}, row
}

// eachRow reads the rows of br's next statement, scanning each into dst
// and calling f.
func eachRow(br pgx.BatchResults, dst []any, f func()) error {
	rows, err := br.Query()
	if err != nil {
		return err
	}
	_, err = pgx.ForEachRow(rows, dst, func() error {
		f()
		return nil
	})
	return err
}

func ints(ns []int16) []int {
	out := make([]int, len(ns))
	for i, n := range ns {
		out[i] = int(n)
	}
	return out
}
