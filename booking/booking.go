// Package booking holds seats for a fan and sells them: reservations,
// their expiry, and payment from the wallet.
package booking

import (
	"context"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/batch"
	"github.com/boxoffice/boxoffice/concert"
)

// Status is a reservation's state.
type Status string

// Reservation states.
const (
	Held      Status = "HELD"
	Paid      Status = "PAID"
	Expired   Status = "EXPIRED"
	Cancelled Status = "CANCELLED"
)

// Seat is one seat of a reservation with the price it was held at.
type Seat struct {
	Number int
	Price  boxoffice.Money
}

// Reservation is a hold on seats of one date, and after payment their sale.
type Reservation struct {
	ID        string
	UserID    string
	ConcertID string
	Day       string
	Seats     []Seat // by number
	Amount    boxoffice.Money
	Status    Status // as stored; see StatusAt
	ExpiresAt time.Time
	CreatedAt time.Time
	PaidAt    time.Time // zero unless Paid
}

// StatusAt is the reservation's state at now: a hold whose expiry has come
// is Expired from that instant, whether or not any row was tidied.
func (r Reservation) StatusAt(now time.Time) Status {
	if r.Status == Held && !now.Before(r.ExpiresAt) {
		return Expired
	}
	return r.Status
}

// Numbers returns the reservation's seat numbers.
func (r Reservation) Numbers() []int {
	ns := make([]int, len(r.Seats))
	for i, s := range r.Seats {
		ns[i] = s.Number
	}
	return ns
}

// HoldRequest asks a Store to hold seats.
type HoldRequest struct {
	ReservationID string
	UserID        string
	ConcertID     string
	Day           string
	Seats         []int // distinct, sorted, within 1..concert.SeatsPerDate
	// MaxSeatsPerUser bounds the seats the user holds (unexpired) or owns on
	// the date, this hold included.
	MaxSeatsPerUser int
	Now             time.Time
	ExpiresAt       time.Time
	// NotAfter, when not zero, caps the hold's expiry: it lapses at the
	// earlier of ExpiresAt and NotAfter (the holder's session end).
	NotAfter time.Time
	// Cooldown is how long after the user's own hold of a seat lapsed or
	// was released the user cannot hold that seat of the date again.
	Cooldown time.Duration
	// IdempotencyKey, optional, names the request for replays.
	IdempotencyKey string
}

// ListRequest asks a Store for one page of a user's reservations.
type ListRequest struct {
	UserID    string
	ConcertID string // "" for every concert
	Status    Status // "" for every status; as at Now (see StatusAt)
	Before    string // id of the last reservation of the previous page; "" for the first page
	Limit     int
	Now       time.Time
}

// PayRequest asks a Store to pay a reservation from the owner's wallet.
type PayRequest struct {
	PaymentID      string // id of the new payment and its ledger entry
	ReservationID  string
	UserID         string // the payer; must own the reservation
	IdempotencyKey string // optional
	Now            time.Time
	// ConcertID, if set, is the concert the request is allowed for: a
	// reservation of another concert is QUEUE_TOKEN_INVALID (after
	// NOT_FOUND and FORBIDDEN) and nothing changes, nor is kept under the
	// key.
	ConcertID string
}

// Payment is a paid reservation.
type Payment struct {
	ID            string
	ReservationID string
	UserID        string
	ConcertID     string
	Amount        boxoffice.Money
	Balance       boxoffice.Money // payer's balance right after paying
	PaidAt        time.Time
}

// Inventory counts one concert's seats over all its dates at an instant.
type Inventory struct {
	Total     int
	Available int
	Held      int // held by unexpired holds
	Sold      int
	Revenue   boxoffice.Money // sum of payments
}

// SoldOut reports whether no seat is left to sell.
func (inv Inventory) SoldOut() bool { return inv.Total > 0 && inv.Sold == inv.Total }

// Supply says what a concert has left to sell at an instant, without
// counting: whether any seat is available and whether any is held by an
// unexpired hold (it may come back). It is what the concert's waiting room
// reads every step, so it costs a few index reads while the concert has
// seats of either kind, however many it has.
type Supply struct {
	Available bool
	Held      bool
}

// Store keeps reservations and payments, and the seat states they change.
// Every method is one atomic change, correct with any number of callers on
// any number of instances.
type Store interface {
	// Hold holds all of req.Seats for req.UserID until req.ExpiresAt, or
	// req.NotAfter if earlier, or none. Seats held by a hold that expired
	// at or before req.Now count as available. With the store's own clock
	// (PostgreSQL in production) now and the expiry are the store's, the
	// hold lasting ExpiresAt - Now and still capped by NotAfter.
	// Errors: NOT_FOUND for an unknown concert, date or user;
	// SEAT_UNAVAILABLE when a seat is held by another unexpired hold or
	// sold, or when the user's own hold of it lapsed or was released less
	// than req.Cooldown ago (the message says until when);
	// SEAT_LIMIT_EXCEEDED when the user would hold or own more than
	// req.MaxSeatsPerUser seats of the date; QUEUE_TOKEN_EXPIRED when
	// NotAfter is not after now.
	//
	// With req.IdempotencyKey, a key the user already held with answers
	// as the first time and changes nothing: the same concert, date and
	// seats get the first reservation (with its stored status) or the
	// first SEAT_UNAVAILABLE or SEAT_LIMIT_EXCEEDED; another request is
	// IDEMPOTENCY_KEY_REUSED. Other errors keep nothing under the key.
	Hold(ctx context.Context, req HoldRequest) (Reservation, error)

	// HoldByKey answers a hold request again from what is kept under
	// userID's key, changing nothing: the reservation made, or the refusal
	// kept. Errors: NOT_FOUND when nothing is kept under the key;
	// IDEMPOTENCY_KEY_REUSED when it was used for another concert, date or
	// seats; the refusal kept.
	HoldByKey(ctx context.Context, userID, idempotencyKey, concertID, day string, seats []int) (Reservation, error)

	// Release releases at once every hold of userID on concertID that is
	// held and unexpired at now: the seats are free and the reservations
	// CANCELLED, all in one transaction. It returns the released
	// reservations; none is not an error.
	Release(ctx context.Context, userID, concertID string, now time.Time) ([]Reservation, error)

	// Reservations returns up to req.Limit of req.UserID's reservations,
	// newest first, with their stored status. Errors: INVALID_REQUEST for
	// a req.Before that is not one of the user's reservations.
	Reservations(ctx context.Context, req ListRequest) ([]Reservation, error)

	// Reservation returns a reservation with its stored status.
	// Errors: NOT_FOUND.
	Reservation(ctx context.Context, id string) (Reservation, error)

	// Cancel releases a hold at once; cancelling a cancelled reservation
	// does nothing. Errors: NOT_FOUND; FORBIDDEN when userID is not the
	// owner; HOLD_EXPIRED when the hold lapsed at or before now;
	// ALREADY_PAID.
	Cancel(ctx context.Context, id, userID string, now time.Time) (Reservation, error)

	// Pay, in one transaction, debits the reservation's amount from the
	// owner's wallet, sells its seats, marks it paid, and writes the
	// payment and its PAYMENT ledger entry. A request whose IdempotencyKey
	// this user already paid with, for the same reservation, changes nothing
	// and returns that first payment. Errors: NOT_FOUND; FORBIDDEN when
	// req.UserID is not the owner; HOLD_EXPIRED when the hold lapsed at or
	// before req.Now or was cancelled; ALREADY_PAID; INSUFFICIENT_BALANCE;
	// IDEMPOTENCY_KEY_REUSED when the key paid another reservation.
	// On any error nothing changes.
	Pay(ctx context.Context, req PayRequest) (Payment, error)

	// PaymentByKey returns the payment userID made with idempotencyKey.
	// Errors: NOT_FOUND.
	PaymentByKey(ctx context.Context, userID, idempotencyKey string) (Payment, error)

	// Inventory counts a concert's seats at now and sums its payments.
	// Errors: NOT_FOUND for an unknown concert.
	Inventory(ctx context.Context, concertID string, now time.Time) (Inventory, error)

	// Supply tells whether a concert has a seat available at now and
	// whether it has one held by an unexpired hold, as Inventory would
	// count them, stopping at the first of each. Errors: NOT_FOUND for an
	// unknown concert.
	Supply(ctx context.Context, concertID string, now time.Time) (Supply, error)

	// Sweep marks up to limit holds that lapsed at or before now as expired and
	// frees their seats, returning how many it tidied. Correctness never
	// depends on it: lapsed holds count as free anyway.
	Sweep(ctx context.Context, now time.Time, limit int) (int, error)

	// HoldBatch makes the holds of reqs, decided in their order as if each
	// were made alone right after the one before it (the first of two
	// requests for one seat gets it, a user's second hold counts the
	// first against the seat limit, a key used twice answers the second
	// from the first), and returns one result per request, in order: what
	// Hold would have answered it. The store makes them together (one
	// transaction where it can); a request's failure never fails another.
	HoldBatch(ctx context.Context, reqs []HoldRequest) []HoldResult

	// SettleBatch makes the payments and cancels of reqs the same way: in
	// their order, each answered as Pay or Cancel would have answered it
	// alone right after the one before it (a payment after a cancel of the
	// same reservation is HOLD_EXPIRED; a cancel after its payment is
	// ALREADY_PAID).
	SettleBatch(ctx context.Context, reqs []SettleRequest) []SettleResult
}

// HoldResult is the answer to one request of a HoldBatch: the
// reservation, or the error Hold would have returned.
type HoldResult struct {
	Reservation Reservation
	Err         error
}

// SettleRequest is one request of a SettleBatch: a payment, or with
// Cancel a cancel of Pay.ReservationID by Pay.UserID at Pay.Now.
type SettleRequest struct {
	Pay    PayRequest
	Cancel bool
}

// SettleResult is the answer to one request of a SettleBatch: the
// payment made, or for a cancel the reservation as Cancel returns it, or
// the error. Of a payment it also tells its number of seats and whether
// it is a Replay: the payment an earlier request made under the same key,
// which this one answers again without changing anything.
type SettleResult struct {
	Payment     Payment
	Reservation Reservation
	Seats       int
	Replay      bool
	Err         error
}

// PayOutcome is what Service.Pay tells of a payment besides the payment
// itself.
type PayOutcome struct {
	Seats  int  // seats the reservation sold
	Replay bool // made by an earlier request with the same key: nothing changed now
}

// Concerts finds concerts; concert.Store satisfies it.
type Concerts interface {
	Concert(ctx context.Context, id string) (concert.Concert, error)
}

// Service applies the booking rules on a Store. Ids it is given may be in
// either case; it hands the Store their canonical form (boxoffice.CanonID).
//
// Holds, payments and cancels are gathered (see gather.go): the requests
// that arrive while a batch of their lane is in the store wait and go
// together in the next one.
type Service struct {
	store    Store
	concerts Concerts
	clock    boxoffice.Clock

	holds   *batch.Group[uint32, HoldRequest, HoldResult]
	settles *batch.Group[uint32, SettleRequest, SettleResult]
}

// NewService returns a Service.
func NewService(store Store, concerts Concerts, clock boxoffice.Clock) *Service {
	s := &Service{store: store, concerts: concerts, clock: clock}
	s.holds = batch.New(MaxBatch, batchTimeout, s.runHolds)
	s.settles = batch.New(MaxBatch, batchTimeout, s.runSettles)
	return s
}

// CheckSeats returns seats sorted, or INVALID_REQUEST when the list is empty,
// repeats a seat or names one outside 1..concert.SeatsPerDate, or
// SEAT_LIMIT_EXCEEDED when it is longer than maxPerUser.
func CheckSeats(seats []int, maxPerUser int) ([]int, error) {
	if len(seats) == 0 {
		return nil, boxoffice.Errorf(boxoffice.CodeInvalidRequest, "seatNumbers must name at least one seat")
	}
	sorted := slices.Clone(seats)
	slices.Sort(sorted)
	for i, n := range sorted {
		if n < 1 || n > concert.SeatsPerDate {
			return nil, boxoffice.Errorf(boxoffice.CodeInvalidRequest, "seat %d does not exist: seats are 1-%d", n, concert.SeatsPerDate)
		}
		if i > 0 && sorted[i-1] == n {
			return nil, boxoffice.Errorf(boxoffice.CodeInvalidRequest, "seat %d is listed twice", n)
		}
	}
	if len(sorted) > maxPerUser {
		return nil, boxoffice.Errorf(boxoffice.CodeSeatLimitExceeded, "at most %d seats per user and date", maxPerUser)
	}
	return sorted, nil
}

// SeatsTaken is the SEAT_UNAVAILABLE error of a hold of seats on day of
// which taken are held by someone else or sold; it names them in words
// ("seat 17 on 2026-12-24 is taken").
func SeatsTaken(day string, taken []int) error {
	switch len(taken) {
	case 0:
		return boxoffice.Errorf(boxoffice.CodeSeatUnavailable, "a requested seat on %s is taken: held by someone else or sold", day)
	case 1:
		return boxoffice.Errorf(boxoffice.CodeSeatUnavailable, "seat %d on %s is taken: held by someone else or sold", taken[0], day)
	}
	var b strings.Builder
	for i, n := range taken {
		switch {
		case i == len(taken)-1:
			b.WriteString(" and ")
		case i > 0:
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(n))
	}
	return boxoffice.Errorf(boxoffice.CodeSeatUnavailable, "seats %s on %s are taken: held by someone else or sold", b.String(), day)
}

// Hold holds seats of one date for userID, all or none, for the concert's
// hold time but never past notAfter (zero: no cap), the end of the
// holder's session. A user cannot hold a seat again within the hold time
// after their own hold of it lapsed or was released. idempotencyKey may be
// "": see Store.Hold for replays. Errors: INVALID_REQUEST, NOT_FOUND
// (concert, or a date that does not exist or has started),
// SEAT_UNAVAILABLE, SEAT_LIMIT_EXCEEDED, QUEUE_TOKEN_EXPIRED,
// IDEMPOTENCY_KEY_REUSED.
func (s *Service) Hold(ctx context.Context, userID, concertID, day string, seats []int, notAfter time.Time, idempotencyKey string) (Reservation, error) {
	concertID, _ = boxoffice.CanonID(concertID)
	c, err := s.concerts.Concert(ctx, concertID)
	if err != nil {
		return Reservation{}, err
	}
	if _, err := concert.ParseDay(day); err != nil {
		return Reservation{}, err
	}
	now := s.clock.Now()
	d, ok := c.Date(day)
	if !ok || !now.Before(d.StartsAt) {
		return Reservation{}, boxoffice.Errorf(boxoffice.CodeNotFound, "date %s is not on sale", day)
	}
	sorted, err := CheckSeats(seats, c.MaxSeatsPerUser)
	if err != nil {
		return Reservation{}, err
	}
	id := boxoffice.NewID()
	r, err := s.hold(ctx, HoldRequest{
		ReservationID:   id,
		UserID:          userID,
		ConcertID:       concertID,
		Day:             day,
		Seats:           sorted,
		MaxSeatsPerUser: c.MaxSeatsPerUser,
		Now:             now,
		ExpiresAt:       now.Add(c.Hold()),
		NotAfter:        notAfter,
		Cooldown:        c.Hold(),
		IdempotencyKey:  idempotencyKey,
	})
	if err != nil {
		return Reservation{}, err
	}
	if r.ID != id {
		// A replay answers the first hold with its status now.
		r.Status = r.StatusAt(now)
	}
	return r, nil
}

// ReplayHold answers a hold request again from userID's idempotencyKey,
// changing nothing, so that a retry after the queue session ended still
// gets its first answer. Errors: NOT_FOUND when nothing is kept under the
// key; IDEMPOTENCY_KEY_REUSED; the refusal kept.
func (s *Service) ReplayHold(ctx context.Context, userID, concertID, day string, seats []int, idempotencyKey string) (Reservation, error) {
	concertID, _ = boxoffice.CanonID(concertID)
	r, err := s.store.HoldByKey(ctx, userID, idempotencyKey, concertID, day, Sorted(seats))
	if err != nil {
		return Reservation{}, err
	}
	r.Status = r.StatusAt(s.clock.Now())
	return r, nil
}

// Sorted returns seats sorted, as a hold request keeps them.
func Sorted(seats []int) []int {
	sorted := slices.Clone(seats)
	slices.Sort(sorted)
	return sorted
}

// SameRequest reports whether a hold kept under a key asked for the same
// concert, date and seats as a retry; seats of both are sorted.
func SameRequest(concertID, day string, seats []int, keptConcertID, keptDay string, keptSeats []int) bool {
	return concertID == keptConcertID && day == keptDay && slices.Equal(seats, keptSeats)
}

// Release releases userID's live holds of concertID at once, as leaving
// the concert's waiting room does, and returns them. Errors: failures of
// the store only.
func (s *Service) Release(ctx context.Context, userID, concertID string) ([]Reservation, error) {
	concertID, _ = boxoffice.CanonID(concertID)
	return s.store.Release(ctx, userID, concertID, s.clock.Now())
}

// Page bounds of Reservations.
const (
	DefaultPage = 20
	MaxPage     = 100
)

// Reservations returns a page of userID's reservations, newest first, with
// their status now, optionally of one concert and one status; before is
// the id of the last reservation of the previous page. Errors:
// INVALID_REQUEST for a bad status, limit or cursor.
func (s *Service) Reservations(ctx context.Context, userID, concertID string, status Status, before string, limit int) ([]Reservation, error) {
	switch status {
	case "", Held, Paid, Expired, Cancelled:
	default:
		return nil, boxoffice.Errorf(boxoffice.CodeInvalidRequest, "status must be one of HELD, PAID, EXPIRED, CANCELLED")
	}
	if limit < 1 || limit > MaxPage {
		return nil, boxoffice.Errorf(boxoffice.CodeInvalidRequest, "limit must be 1 to %d", MaxPage)
	}
	if concertID != "" {
		id, ok := boxoffice.CanonID(concertID)
		if !ok {
			return nil, nil // no reservation is of a concert that cannot exist
		}
		concertID = id
	}
	if before != "" {
		id, ok := boxoffice.CanonID(before)
		if !ok {
			return nil, boxoffice.Errorf(boxoffice.CodeInvalidRequest, "unknown cursor")
		}
		before = id
	}
	now := s.clock.Now()
	rs, err := s.store.Reservations(ctx, ListRequest{UserID: userID, ConcertID: concertID, Status: status,
		Before: before, Limit: limit, Now: now})
	if err != nil {
		return nil, err
	}
	for i := range rs {
		rs[i].Status = rs[i].StatusAt(now)
	}
	return rs, nil
}

// CooldownError is the SEAT_UNAVAILABLE of a hold refused because the
// user's own hold of seat on day ended at until and may be made again
// from again. Instants are shown to the second: until rounded down, again
// up, so the instant named is never too early.
func CooldownError(seat int, day string, until, again time.Time) error {
	const layout = "2006-01-02T15:04:05Z"
	from := again.Truncate(time.Second)
	if from.Before(again) {
		from = from.Add(time.Second)
	}
	return boxoffice.Errorf(boxoffice.CodeSeatUnavailable,
		"you held seat %d on %s until %s; you can hold it again from %s",
		seat, day, until.UTC().Truncate(time.Second).Format(layout), from.UTC().Format(layout))
}

// SessionEndedError is the refusal of a hold whose cap is not after now.
func SessionEndedError() error {
	return boxoffice.Errorf(boxoffice.CodeQueueTokenExpired, "the queue session has ended")
}

// Reservation returns userID's reservation with its status now.
// Errors: NOT_FOUND, FORBIDDEN.
func (s *Service) Reservation(ctx context.Context, id, userID string) (Reservation, error) {
	id, _ = boxoffice.CanonID(id)
	r, err := s.store.Reservation(ctx, id)
	if err != nil {
		return Reservation{}, err
	}
	if r.UserID != userID {
		return Reservation{}, boxoffice.Errorf(boxoffice.CodeForbidden, "reservation %s belongs to another user", id)
	}
	r.Status = r.StatusAt(s.clock.Now())
	return r, nil
}

// Cancel releases userID's hold at once. With concertID, a reservation of
// another concert is refused. Errors: NOT_FOUND, FORBIDDEN,
// QUEUE_TOKEN_INVALID, HOLD_EXPIRED, ALREADY_PAID.
func (s *Service) Cancel(ctx context.Context, id, userID, concertID string) (Reservation, error) {
	id, _ = boxoffice.CanonID(id)
	concertID, _ = boxoffice.CanonID(concertID)
	res, err := s.settle(ctx, SettleRequest{Pay: PayRequest{ReservationID: id, UserID: userID, Now: s.clock.Now(), ConcertID: concertID}, Cancel: true})
	if err != nil {
		return Reservation{}, err
	}
	return res.Reservation, res.Err
}

// Pay pays userID's reservation from their wallet. With concertID, a
// reservation of another concert is refused (QUEUE_TOKEN_INVALID). Errors:
// see Store.Pay.
func (s *Service) Pay(ctx context.Context, reservationID, userID, concertID, idempotencyKey string) (Payment, PayOutcome, error) {
	reservationID, _ = boxoffice.CanonID(reservationID)
	concertID, _ = boxoffice.CanonID(concertID)
	res, err := s.settle(ctx, SettleRequest{Pay: PayRequest{
		PaymentID:      boxoffice.NewID(),
		ReservationID:  reservationID,
		UserID:         userID,
		IdempotencyKey: idempotencyKey,
		Now:            s.clock.Now(),
		ConcertID:      concertID,
	}})
	if err != nil {
		return Payment{}, PayOutcome{}, err
	}
	if res.Err != nil {
		return Payment{}, PayOutcome{}, res.Err
	}
	return res.Payment, PayOutcome{Seats: res.Seats, Replay: res.Replay}, nil
}

// Replay returns the payment userID made with idempotencyKey for
// reservationID, so that a retry after the queue session ended still gets
// its first answer. Errors: NOT_FOUND when there is none;
// IDEMPOTENCY_KEY_REUSED when the key paid another reservation.
func (s *Service) Replay(ctx context.Context, reservationID, userID, idempotencyKey string) (Payment, error) {
	reservationID, _ = boxoffice.CanonID(reservationID)
	p, err := s.store.PaymentByKey(ctx, userID, idempotencyKey)
	if err != nil {
		return Payment{}, err
	}
	if p.ReservationID != reservationID {
		return Payment{}, boxoffice.Errorf(boxoffice.CodeIdempotencyKeyReused, "Idempotency-Key was used to pay another reservation")
	}
	return p, nil
}

// Inventory counts a concert's seats now. Errors: NOT_FOUND.
func (s *Service) Inventory(ctx context.Context, concertID string) (Inventory, error) {
	concertID, _ = boxoffice.CanonID(concertID)
	return s.store.Inventory(ctx, concertID, s.clock.Now())
}

// Supply tells what a concert has left to sell now. Errors: NOT_FOUND.
func (s *Service) Supply(ctx context.Context, concertID string) (Supply, error) {
	concertID, _ = boxoffice.CanonID(concertID)
	return s.store.Supply(ctx, concertID, s.clock.Now())
}

// RunSweeper tidies lapsed holds every interval until ctx ends. Any number
// of instances may run it at once.
func (s *Service) RunSweeper(ctx context.Context, every time.Duration, log *slog.Logger) {
	boxoffice.Every(ctx, every, func() {
		for {
			n, err := s.store.Sweep(ctx, s.clock.Now(), sweepBatch)
			if err != nil {
				if ctx.Err() == nil && log != nil {
					log.Warn("sweep lapsed holds", "err", err)
				}
				return
			}
			if n < sweepBatch {
				return
			}
		}
	})
}

const sweepBatch = 500
