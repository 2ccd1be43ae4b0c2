package postgres

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/booking"
)

// Payments and cancels are made a batch at a time, as holds are (see
// hold.go), a single payment or cancel being a batch of one: the first
// round trip locks the reservations by id, then the wallets by user, then
// the seats the reservations hold, and reads what the rules need; the
// rules decide each request in Go, in order (booking.DecideSettles); the
// second round trip writes every outcome with one set-based statement and
// commits.

// lockWallets locks the wallets of the users $1, in user order, and
// names the users who have one.
const lockWallets = `SELECT user_id FROM wallets WHERE user_id = ANY ($1::text[]) ORDER BY user_id FOR UPDATE`

// lockWalletBalances locks the wallets of the users $1, in user order,
// and reads them.
const lockWalletBalances = `SELECT user_id, balance, entries FROM wallets WHERE user_id = ANY ($1::text[]) ORDER BY user_id FOR UPDATE`

// lockReservations locks the reservations $1, in id order, and reads them.
const lockReservations = `SELECT ` + reservationColumns + ` FROM reservations r WHERE r.id = ANY ($1::uuid[]) ORDER BY r.id FOR UPDATE`

// lockHeldSeats locks the seats of the reservations $1 that are still
// held, in (concert, day, number) order, and reads them; it runs once the
// reservations are locked, so their seats cannot change. Every read is by
// key: each reservation's, apart from its status (OFFSET 0), then the
// seats' keys sorted, then each seat, locked in a lateral subquery, so in
// the keys' order. As a plain join of seats and reservations, the plan
// made on tables not analyzed since a sale grew them found the
// reservations by ANDing reservations_pkey with reservations_lapsing, a
// scan of every held reservation of every concert (252,558 of them for
// 110 payments: 16–22 ms, against 1.4 ms by key), and a plain join to the
// seats could hash every seat.
const lockHeldSeats = `
SELECT ` + seatRowColumns + ` FROM (
	SELECT r.concert_id, r.day, unnest(r.seat_numbers) AS number
	FROM unnest($1::uuid[]) AS k (id)
	CROSS JOIN LATERAL (SELECT r.concert_id, r.day, r.seat_numbers, r.status FROM reservations r WHERE r.id = k.id OFFSET 0) AS r
	WHERE r.status = 'HELD'
	ORDER BY 1, 2, 3
	OFFSET 0
) AS k` + seatsLockedByKey

// keptPaymentsSQL reads the payments made under the keys ($1, $2)[i],
// each key in its own index lookup (see userDatesSQL).
const keptPaymentsSQL = `
SELECT p.user_id, p.idempotency_key, p.id, p.reservation_id, p.concert_id, p.amount, p.balance_after, p.paid_at
FROM unnest($1::text[], $2::text[]) AS k (user_id, idempotency_key)
CROSS JOIN LATERAL (
	SELECT * FROM payments p WHERE p.user_id = k.user_id AND p.idempotency_key = k.idempotency_key OFFSET 0
) AS p`

// keptRefusalsSQL reads the refusals kept under the payment keys ($1,
// $2)[i].
const keptRefusalsSQL = `
SELECT f.user_id, f.idempotency_key, f.reservation_id, f.code, f.message
FROM unnest($1::text[], $2::text[]) AS k (user_id, idempotency_key)
CROSS JOIN LATERAL (
	SELECT * FROM idempotency_failures f
	WHERE f.user_id = k.user_id AND f.kind = 'PAYMENT' AND f.idempotency_key = k.idempotency_key
	OFFSET 0
) AS f`

// settleWriteSQL writes the outcomes of a batch of payments and cancels:
// the wallets debited ($1…$3: the sum and number of each user's
// payments), the payments and their ledger entries ($4…$12), the
// reservations paid or cancelled ($13…$16), the seats sold or freed
// ($17…$20), the events in the order of the requests ($21…$25, their ids
// $32) and the refusals kept under keys ($26…$31).
const settleWriteSQL = `
WITH debit AS (
	UPDATE wallets w SET balance = w.balance - d.amount, entries = w.entries + d.n
	FROM unnest($1::text[], $2::int8[], $3::int8[]) AS d (user_id, amount, n)
	WHERE w.user_id = d.user_id
),
pay AS (
	INSERT INTO payments (id, reservation_id, user_id, concert_id, amount, balance_after, paid_at, idempotency_key)
	SELECT * FROM unnest($4::uuid[], $5::uuid[], $6::text[], $7::uuid[], $8::int8[], $9::int8[], $10::timestamptz[], $11::text[])
),
entry AS (
	INSERT INTO ledger (id, user_id, seq, kind, amount, balance_after, at)
	SELECT id, user_id, seq, 'PAYMENT', amount, balance, at
	FROM unnest($4::uuid[], $6::text[], $12::int8[], $8::int8[], $9::int8[], $10::timestamptz[]) AS e (id, user_id, seq, amount, balance, at)
),
mark AS (
	UPDATE reservations r SET status = m.status, paid_at = coalesce(m.paid_at, r.paid_at), ended_at = coalesce(m.ended_at, r.ended_at)
	FROM unnest($13::uuid[], $14::text[], $15::timestamptz[], $16::timestamptz[]) AS m (id, status, paid_at, ended_at)
	WHERE r.id = m.id
),
seat AS (
	UPDATE seats s SET status = t.status, hold_expires_at = NULL,
	       reservation_id = CASE WHEN t.status = 'AVAILABLE' THEN NULL ELSE s.reservation_id END,
	       user_id = CASE WHEN t.status = 'AVAILABLE' THEN NULL ELSE s.user_id END
	FROM unnest($17::uuid[], $18::date[], $19::int2[], $20::text[]) AS t (concert_id, day, number, status)
	WHERE s.concert_id = t.concert_id AND s.day = t.day AND s.number = t.number
),
ev AS (
	` + insertOutboxRef + `
	SELECT e.id, e.type, e.concert_id, e.at, e.ref, e.reason
	FROM unnest($21::text[], $22::uuid[], $23::timestamptz[], $24::uuid[], $25::text[], $32::uuid[])
	     WITH ORDINALITY AS e (type, concert_id, at, ref, reason, id, ord)
	ORDER BY e.ord
),
remember AS (
	INSERT INTO idempotency_failures (user_id, kind, idempotency_key, reservation_id, code, message, at)
	SELECT f.user_id, 'PAYMENT', f.idempotency_key, f.reservation_id, f.code, f.message, f.at
	FROM unnest($26::text[], $27::text[], $28::uuid[], $29::text[], $30::text[], $31::timestamptz[])
	     AS f (user_id, idempotency_key, reservation_id, code, message, at)
)
SELECT 1`

// Pay debits, sells, marks paid and records the payment in one
// transaction. Errors: NOT_FOUND, FORBIDDEN, HOLD_EXPIRED, ALREADY_PAID,
// INSUFFICIENT_BALANCE, IDEMPOTENCY_KEY_REUSED.
func (s *BookingStore) Pay(ctx context.Context, req booking.PayRequest) (booking.Payment, error) {
	r := s.SettleBatch(ctx, []booking.SettleRequest{{Pay: req}})[0]
	return r.Payment, r.Err
}

// Cancel releases a hold at once; the canceller's wallet is locked too, so
// that the owner's next hold reads the cancel. Errors: NOT_FOUND,
// FORBIDDEN, HOLD_EXPIRED, ALREADY_PAID.
func (s *BookingStore) Cancel(ctx context.Context, id, userID string, now time.Time) (booking.Reservation, error) {
	r := s.SettleBatch(ctx, []booking.SettleRequest{{Pay: booking.PayRequest{ReservationID: id, UserID: userID, Now: now}, Cancel: true}})[0]
	return r.Reservation, r.Err
}

// SettleBatch makes the payments and cancels of reqs in one transaction,
// in order.
func (s *BookingStore) SettleBatch(ctx context.Context, reqs []booking.SettleRequest) []booking.SettleResult {
	out := make([]booking.SettleResult, len(reqs))
	var calls []booking.SettleRequest
	var at []int // index in reqs of calls[i]
	for i, req := range reqs {
		req, err := checkSettle(req)
		if err != nil {
			out[i].Err = err
			continue
		}
		calls = append(calls, req)
		at = append(at, i)
	}
	runBatch(ctx, s.db, "pay or cancel", calls, at, out, s.settle, s.settleAlone, func(r *booking.SettleResult, err error) { r.Err = err })
	return out
}

// runBatch makes calls, the well-formed requests of a batch (calls[i]
// answers out[at[i]]): a lone call alone; more together, and each alone
// again when one of them made the batch roll back, so that it fails alone
// and its neighbours get their own answers. An error of the batch that
// changed nothing, or may have, is every call's (fail sets it).
func runBatch[C, R any](ctx context.Context, db *DB, what string, calls []C, at []int, out []R,
	together func(context.Context, []C) ([]R, error), alone func(context.Context, C) R, fail func(*R, error)) {
	switch len(calls) {
	case 0:
		return
	case 1:
		out[at[0]] = alone(ctx, calls[0])
		return
	}
	res, err := together(ctx, calls)
	switch {
	case err == nil:
		for i := range calls {
			out[at[i]] = res[i]
		}
	case rolledBack(err):
		for i, c := range calls {
			out[at[i]] = alone(ctx, c)
		}
	default:
		err = db.wrapWrite(what, err)
		for i := range calls {
			fail(&out[at[i]], err)
		}
	}
}

// settleAlone makes req, checked, in a batch of its own.
func (s *BookingStore) settleAlone(ctx context.Context, req booking.SettleRequest) booking.SettleResult {
	res, err := s.settle(ctx, []booking.SettleRequest{req})
	if err == nil {
		return res[0]
	}
	if req.Cancel {
		return booking.SettleResult{Err: s.db.wrapWrite("cancel reservation", err)}
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == uniqueViolation {
		// Only a payment that bypassed the locks could get here; the
		// constraint that stopped it knows the answer.
		p, err := s.afterConflict(ctx, req.Pay)
		return booking.SettleResult{Payment: p, Replay: err == nil, Err: err}
	}
	return booking.SettleResult{Err: s.db.wrapWrite("pay", err)}
}

// checkSettle returns req with canonical ids, its allowed concert "" (any),
// its canonical id or noConcert; or the refusal of a request no batch
// could serve.
func checkSettle(req booking.SettleRequest) (booking.SettleRequest, error) {
	id, ok := boxoffice.CanonID(req.Pay.ReservationID)
	if !ok {
		return req, booking.ReservationNotFound(req.Pay.ReservationID)
	}
	req.Pay.ReservationID = id
	if !req.Cancel {
		paymentID, ok := boxoffice.CanonID(req.Pay.PaymentID)
		if !ok {
			return req, boxoffice.Errorf(boxoffice.CodeInvalidRequest, "malformed payment id")
		}
		req.Pay.PaymentID = paymentID
	}
	if c := allowedConcert(req.Pay.ConcertID); c != nil {
		req.Pay.ConcertID = *c
	}
	return req, nil
}

// settle makes reqs in one transaction and answers each, or returns the
// transaction's failure unwrapped (see transact).
func (s *BookingStore) settle(ctx context.Context, reqs []booking.SettleRequest) ([]booking.SettleResult, error) {
	h := newSettling(reqs, s.db.dbClock)
	if err := s.db.transact(ctx, h.queue, h.read, h.decide); err != nil {
		return nil, err
	}
	out := make([]booking.SettleResult, len(reqs))
	for i, d := range h.decisions {
		out[i] = d.SettleResult
	}
	return out, nil
}

// settling is a batch of payments and cancels in the making.
type settling struct {
	reqs    []booking.SettleRequest
	dbClock bool

	ids, users []string // sorted, once each
	keys       []booking.PayKey

	st        booking.SettleState
	seats     map[booking.SeatKey]booking.SeatRow // as read
	now       time.Time                           // the database's clock, read once the locks are held
	decisions []booking.SettleDecision
}

func newSettling(reqs []booking.SettleRequest, dbClock bool) *settling {
	h := &settling{reqs: reqs, dbClock: dbClock, seats: map[booking.SeatKey]booking.SeatRow{}, st: booking.SettleState{
		Reservations: map[string]*booking.Reservation{}, Wallets: map[string]*booking.WalletRow{},
		Seats: map[booking.SeatKey]*booking.SeatRow{}, Payments: map[booking.PayKey]booking.Payment{},
		Refusals: map[booking.PayKey]booking.PayRefusal{},
	}}
	keys := map[booking.PayKey]bool{}
	for _, req := range reqs {
		h.ids, h.users = append(h.ids, req.Pay.ReservationID), append(h.users, req.Pay.UserID)
		if k := (booking.PayKey{UserID: req.Pay.UserID, Key: req.Pay.IdempotencyKey}); !req.Cancel && k.Key != "" && !keys[k] {
			keys[k] = true
			h.keys = append(h.keys, k)
		}
	}
	slices.Sort(h.ids)
	h.ids = slices.Compact(h.ids)
	slices.Sort(h.users)
	h.users = slices.Compact(h.users)
	return h
}

// queue adds the first round trip's statements: the locks, then the reads.
func (h *settling) queue(b *pgx.Batch) {
	b.Queue(lockReservations, h.ids)
	b.Queue(lockWalletBalances, h.users)
	b.Queue(lockHeldSeats, h.ids)
	if len(h.keys) > 0 {
		users, keys := make([]string, len(h.keys)), make([]string, len(h.keys))
		for i, k := range h.keys {
			users[i], keys[i] = k.UserID, k.Key
		}
		b.Queue(keptPaymentsSQL, users, keys)
		b.Queue(keptRefusalsSQL, users, keys)
	}
	if h.dbClock {
		b.Queue(`SELECT clock_timestamp()`)
	}
}

// read reads the results of queue's statements into h.st.
func (h *settling) read(br pgx.BatchResults) error {
	rows, err := br.Query()
	if err != nil {
		return err
	}
	list, err := collectReservations(rows)
	if err != nil {
		return err
	}
	for _, r := range list {
		h.st.Reservations[r.ID] = &r
	}
	var user string
	var w booking.WalletRow
	err = eachRow(br, []any{&user, &w.Balance, &w.Entries}, func() {
		w := w
		h.st.Wallets[user] = &w
	})
	if err != nil {
		return err
	}
	var seat seatScan
	err = eachRow(br, seat.dst(), func() {
		k, row := seat.row()
		h.st.Seats[k], h.seats[k] = row, *row
	})
	if err != nil {
		return err
	}
	if len(h.keys) > 0 {
		var k booking.PayKey
		var p booking.Payment
		err := eachRow(br, []any{&k.UserID, &k.Key, &p.ID, &p.ReservationID, &p.ConcertID, &p.Amount, &p.Balance, &p.PaidAt}, func() {
			p.UserID, p.PaidAt = k.UserID, p.PaidAt.UTC()
			h.st.Payments[k] = p
		})
		if err != nil {
			return err
		}
		var f booking.PayRefusal
		var code, message string
		err = eachRow(br, []any{&k.UserID, &k.Key, &f.ReservationID, &code, &message}, func() {
			f.Err = &boxoffice.Error{Code: boxoffice.Code(code), Message: message}
			h.st.Refusals[k] = f
		})
		if err != nil {
			return err
		}
	}
	if h.dbClock {
		return br.QueryRow().Scan(&h.now)
	}
	return nil
}

// decide decides the requests and adds the second round trip's statement,
// which writes their outcomes, if any.
func (h *settling) decide(b *pgx.Batch) {
	reqs := make([]booking.SettleRequest, len(h.reqs))
	for i, req := range h.reqs {
		if h.dbClock {
			req.Pay.Now = h.now
		} else {
			req.Pay.Now = utc(req.Pay.Now)
		}
		reqs[i] = req
	}
	h.decisions = booking.DecideSettles(&h.st, reqs)

	var w settleWrite
	debits := map[string]int{} // index in w.debitUsers
	for i, d := range h.decisions {
		req := reqs[i].Pay
		switch {
		case d.Paid:
			p := d.Payment
			j, ok := debits[p.UserID]
			if !ok {
				j = len(w.debitUsers)
				debits[p.UserID] = j
				w.debitUsers, w.debitAmounts, w.debitCounts = append(w.debitUsers, p.UserID), append(w.debitAmounts, 0), append(w.debitCounts, 0)
			}
			w.debitAmounts[j] += int64(p.Amount)
			w.debitCounts[j]++
			var key *string
			if req.IdempotencyKey != "" {
				key = &req.IdempotencyKey
			}
			w.payIDs, w.payRes, w.payUsers, w.payConcerts = append(w.payIDs, p.ID), append(w.payRes, p.ReservationID), append(w.payUsers, p.UserID), append(w.payConcerts, p.ConcertID)
			w.payAmounts, w.payBalances, w.payAt, w.payKeys, w.paySeqs = append(w.payAmounts, int64(p.Amount)), append(w.payBalances, int64(p.Balance)), append(w.payAt, p.PaidAt), append(w.payKeys, key), append(w.paySeqs, d.Seq)
			w.marked(p.ReservationID, booking.Paid, &p.PaidAt, nil)
			w.event("ReservationPaid", p.ConcertID, p.PaidAt, p.ID, nil)
		case d.Cancelled:
			r := d.Reservation
			w.marked(r.ID, booking.Cancelled, nil, &req.Now)
			reason := "CANCELLED"
			w.event("HoldReleased", r.ConcertID, req.Now, r.ID, &reason)
		case d.Keep:
			var be *boxoffice.Error
			if errors.As(d.Err, &be) {
				w.refUsers, w.refKeys, w.refRes = append(w.refUsers, req.UserID), append(w.refKeys, req.IdempotencyKey), append(w.refRes, req.ReservationID)
				w.refCodes, w.refMessages, w.refAt = append(w.refCodes, string(be.Code)), append(w.refMessages, be.Message), append(w.refAt, req.Now)
			}
		}
	}
	for k, row := range h.st.Seats {
		if *row != h.seats[k] {
			w.seatConcerts, w.seatDays, w.seatNumbers = append(w.seatConcerts, k.ConcertID), append(w.seatDays, k.Day), append(w.seatNumbers, int16(k.Number))
			w.seatStatus = append(w.seatStatus, string(row.Status))
		}
	}
	if len(w.markIDs) == 0 && len(w.refUsers) == 0 {
		return
	}
	b.Queue(settleWriteSQL, w.debitUsers, w.debitAmounts, w.debitCounts,
		w.payIDs, w.payRes, w.payUsers, w.payConcerts, w.payAmounts, w.payBalances, w.payAt, w.payKeys, w.paySeqs,
		w.markIDs, w.markStatus, w.markPaid, w.markEnded,
		w.seatConcerts, w.seatDays, w.seatNumbers, w.seatStatus,
		w.evTypes, w.evConcerts, w.evAt, w.evRefs, w.evReasons,
		w.refUsers, w.refKeys, w.refRes, w.refCodes, w.refMessages, w.refAt, w.evIDs)
}

// settleWrite is settleWriteSQL's arguments.
type settleWrite struct {
	debitUsers                []string
	debitAmounts, debitCounts []int64

	payIDs, payRes, payUsers, payConcerts []string
	payAmounts, payBalances, paySeqs      []int64
	payAt                                 []time.Time
	payKeys                               []*string

	markIDs, markStatus  []string
	markPaid, markEnded  []*time.Time
	seatConcerts         []string
	seatDays, seatStatus []string
	seatNumbers          []int16

	evTypes, evConcerts, evRefs, evIDs []string
	evAt                               []time.Time
	evReasons                          []*string

	refUsers, refKeys, refRes, refCodes, refMessages []string
	refAt                                            []time.Time
}

func (w *settleWrite) marked(id string, status booking.Status, paid, ended *time.Time) {
	w.markIDs, w.markStatus = append(w.markIDs, id), append(w.markStatus, string(status))
	w.markPaid, w.markEnded = append(w.markPaid, paid), append(w.markEnded, ended)
}

func (w *settleWrite) event(typ, concertID string, at time.Time, ref string, reason *string) {
	w.evTypes, w.evConcerts, w.evAt, w.evRefs, w.evReasons = append(w.evTypes, typ), append(w.evConcerts, concertID), append(w.evAt, at), append(w.evRefs, ref), append(w.evReasons, reason)
	w.evIDs = append(w.evIDs, newEventID())
}

// rolledBack reports whether err is a statement of a batch that the server
// refused, which rolled the whole batch back, so that its requests can be
// made again. Any other failure may have come after the commit (a row the
// client could not read) or may have lost it (a broken connection).
func rolledBack(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && failureOf(err) == refused
}
