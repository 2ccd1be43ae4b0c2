package booking

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/concert"
	"github.com/boxoffice/boxoffice/wallet"
)

// Deciding a batch of holds in one go. A store that reads at once, with
// every row locked, what the rules of a whole batch need (HoldState)
// decides the requests here, in order (DecideHolds), and then writes the
// outcomes together. The rules are Store.Hold's.

// SeatKey names a seat of a date of a concert.
type SeatKey struct {
	ConcertID, Day string
	Number         int
}

// SeatRow is a seat as stored.
type SeatRow struct {
	Price         boxoffice.Money
	Status        concert.SeatStatus
	HoldExpiresAt time.Time // of a held seat
	UserID        string    // holder or owner; "" when available
	ReservationID string    // "" when available
}

// PastHold is one of a user's reservations that is not paid, as the
// cooldown reads it.
type PastHold struct {
	UserID, ConcertID, Day string
	Seats                  []int
	ExpiresAt              time.Time
	Ended                  time.Time // when it was released, else ExpiresAt
}

// HoldKey names a user's idempotency key of a hold.
type HoldKey struct{ UserID, Key string }

// KeptHold is what is kept under a key: the request it answered, and the
// reservation made (as stored now) or the refusal.
type KeptHold struct {
	ConcertID, Day string
	Seats          []int // sorted
	Reservation    Reservation
	Err            error // the refusal kept, or the error of reading the reservation
}

// HoldState is what the rules of a batch of holds read, as it stands once
// every row the batch changes is locked. DecideHolds updates it with each
// hold it makes.
type HoldState struct {
	// Users are the requesting users who have a wallet.
	Users map[string]bool
	// Seats are the requested seats that exist and every seat the
	// requesting users hold or own on the requested dates.
	Seats map[SeatKey]*SeatRow
	// Past are the requesting users' reservations of the requested dates
	// that are not paid and ended, or end, late enough to start a
	// cooldown at the instants the requests are decided at.
	Past []PastHold
	// Kept are the answers kept under the requests' keys.
	Kept map[HoldKey]KeptHold

	// rows and past index Seats (by the user holding or owning each when
	// indexed, or given it since) and Past by user and date, so that a
	// request reads its own user's only: DecideHolds makes them.
	rows map[userDate][]*SeatRow
	past map[userDate][]int
}

// userDate names a user's seats of one date.
type userDate struct{ UserID, ConcertID, Day string }

// HoldDecision is the outcome of one request of a batch of holds.
type HoldDecision struct {
	Reservation Reservation
	Err         error
	// Made: Reservation is a new hold, to be written.
	Made bool
	// Keep: Reservation (made) or Err (a refusal the data decided) is to
	// be kept under the request's key.
	Keep bool
}

// DecideHolds decides reqs in order, each as Store.Hold would alone right
// after the ones before it, against st, which it updates with each hold
// made. Each request's seats are sorted and distinct, and its Now,
// ExpiresAt and Cooldown are the instants and length the store decides
// with (its own clock's, to its precision).
func DecideHolds(st *HoldState, reqs []HoldRequest) []HoldDecision {
	st.rows = make(map[userDate][]*SeatRow)
	for k, row := range st.Seats {
		if row.UserID != "" {
			ud := userDate{row.UserID, k.ConcertID, k.Day}
			st.rows[ud] = append(st.rows[ud], row)
		}
	}
	st.past = make(map[userDate][]int)
	for i, p := range st.Past {
		ud := userDate{p.UserID, p.ConcertID, p.Day}
		st.past[ud] = append(st.past[ud], i)
	}
	out := make([]HoldDecision, len(reqs))
	for i, req := range reqs {
		out[i] = st.decide(req)
	}
	return out
}

func (st *HoldState) decide(req HoldRequest) HoldDecision {
	key := HoldKey{req.UserID, req.IdempotencyKey}
	if req.IdempotencyKey != "" {
		if k, ok := st.Kept[key]; ok {
			return k.answer(req)
		}
	}
	d, keep := st.decideNew(req)
	if req.IdempotencyKey != "" && keep {
		d.Keep = true
		k := KeptHold{ConcertID: req.ConcertID, Day: req.Day, Seats: req.Seats, Err: d.Err}
		if d.Made {
			k.Reservation = d.Reservation
		}
		st.Kept[key] = k
	}
	return d
}

// answer answers req from what is kept under its key.
func (k KeptHold) answer(req HoldRequest) HoldDecision {
	switch {
	case !SameRequest(req.ConcertID, req.Day, req.Seats, k.ConcertID, k.Day, k.Seats):
		return HoldDecision{Err: HoldKeyReused()}
	case k.Err != nil:
		return HoldDecision{Err: k.Err}
	}
	return HoldDecision{Reservation: k.Reservation}
}

// decideNew decides req with no answer kept under its key; keep reports
// whether its outcome is one kept under a key.
func (st *HoldState) decideNew(req HoldRequest) (d HoldDecision, keep bool) {
	refuse := func(err error) (HoldDecision, bool) { return HoldDecision{Err: err}, false }
	rows := make([]*SeatRow, 0, len(req.Seats))
	for _, n := range req.Seats {
		if row, ok := st.Seats[SeatKey{req.ConcertID, req.Day, n}]; ok {
			rows = append(rows, row)
		}
	}
	now := req.Now
	expires := req.ExpiresAt
	if !req.NotAfter.IsZero() && req.NotAfter.Before(expires) {
		expires = req.NotAfter
	}
	switch {
	case !st.Users[req.UserID]:
		return refuse(wallet.UserNotFound(req.UserID))
	case len(rows) == 0:
		return refuse(concert.DateNotFound(req.ConcertID, req.Day))
	case len(rows) < len(req.Seats):
		return refuse(boxoffice.Errorf(boxoffice.CodeNotFound, "a requested seat does not exist"))
	case !expires.After(now):
		return refuse(SessionEndedError())
	}
	var taken []int
	for i, row := range rows {
		if concert.StatusAt(row.Status, row.HoldExpiresAt, now) != concert.Available {
			taken = append(taken, req.Seats[i])
		}
	}
	if len(taken) > 0 {
		return HoldDecision{Err: SeatsTaken(req.Day, taken)}, true
	}
	if seat, ended, ok := st.cooldown(req); ok {
		return HoldDecision{Err: CooldownError(seat, req.Day, ended, ended.Add(req.Cooldown))}, true
	}
	if st.mine(req)+len(rows) > req.MaxSeatsPerUser {
		return HoldDecision{Err: SeatLimitError(req.MaxSeatsPerUser, req.Day)}, true
	}
	r := Reservation{
		ID: req.ReservationID, UserID: req.UserID, ConcertID: req.ConcertID, Day: req.Day,
		Seats: make([]Seat, len(rows)), Status: Held, ExpiresAt: expires, CreatedAt: now,
	}
	for i, row := range rows {
		if row.Price > math.MaxInt64-r.Amount {
			return refuse(fmt.Errorf("hold seats: the amount of reservation %s overflows", req.ReservationID))
		}
		r.Amount += row.Price
		r.Seats[i] = Seat{Number: req.Seats[i], Price: row.Price}
	}
	ud := userDate{req.UserID, req.ConcertID, req.Day}
	for _, row := range rows {
		if !slices.Contains(st.rows[ud], row) {
			st.rows[ud] = append(st.rows[ud], row)
		}
		row.Status, row.HoldExpiresAt, row.UserID, row.ReservationID = concert.Held, expires, req.UserID, req.ReservationID
	}
	st.past[ud] = append(st.past[ud], len(st.Past))
	st.Past = append(st.Past, PastHold{UserID: req.UserID, ConcertID: req.ConcertID, Day: req.Day,
		Seats: req.Seats, ExpiresAt: expires, Ended: expires})
	return HoldDecision{Reservation: r, Made: true}, true
}

// cooldown returns the seat of req the user's own hold of which ended
// last within req.Cooldown before req.Now (the lowest such seat), and
// when it ended.
func (st *HoldState) cooldown(req HoldRequest) (seat int, ended time.Time, ok bool) {
	since := req.Now.Add(-max(req.Cooldown, 0))
	for _, i := range st.past[userDate{req.UserID, req.ConcertID, req.Day}] {
		p := st.Past[i]
		if !p.ExpiresAt.After(since) || !p.Ended.After(since) || p.Ended.After(req.Now) {
			continue
		}
		for _, n := range p.Seats {
			if !slices.Contains(req.Seats, n) {
				continue
			}
			if !ok || p.Ended.After(ended) || (p.Ended.Equal(ended) && n < seat) {
				seat, ended, ok = n, p.Ended, true
			}
		}
	}
	return seat, ended, ok
}

// mine counts the seats of req's date the user holds (unexpired at
// req.Now) or owns.
func (st *HoldState) mine(req HoldRequest) int {
	n := 0
	for _, row := range st.rows[userDate{req.UserID, req.ConcertID, req.Day}] {
		// A row indexed under the user that another hold took since is
		// not theirs any more.
		if row.UserID == req.UserID &&
			(row.Status == concert.Sold || (row.Status == concert.Held && row.HoldExpiresAt.After(req.Now))) {
			n++
		}
	}
	return n
}

// SeatLimitError is the SEAT_LIMIT_EXCEEDED of a hold that would leave
// the user holding or owning more than limit seats of day.
func SeatLimitError(limit int, day string) error {
	return boxoffice.Errorf(boxoffice.CodeSeatLimitExceeded, "at most %d seats per user on %s", limit, day)
}

// Deciding a batch of payments and cancels in one go, the same way: the
// store reads what the rules need with every row locked (SettleState),
// decides here in order (DecideSettles) and writes the outcomes together.
// The rules are Store.Pay's and Store.Cancel's.

// WalletRow is a wallet as stored.
type WalletRow struct {
	Balance boxoffice.Money
	Entries int64 // ledger entries so far: the last one's seq
}

// PayKey names a user's idempotency key of a payment.
type PayKey struct{ UserID, Key string }

// PayRefusal is a refusal kept under a payment's key.
type PayRefusal struct {
	ReservationID string
	Err           error
}

// SettleState is what the rules of a batch of payments and cancels read,
// as it stands once every row the batch changes is locked. DecideSettles
// updates it with each change it decides.
type SettleState struct {
	// Reservations are the requested reservations that exist, with their
	// stored status.
	Reservations map[string]*Reservation
	// Wallets are the requesting users' wallets.
	Wallets map[string]*WalletRow
	// Seats are the seats of the requested reservations that are held.
	Seats map[SeatKey]*SeatRow
	// Payments and Refusals are what is kept under the requests' keys.
	Payments map[PayKey]Payment
	Refusals map[PayKey]PayRefusal
}

// SettleDecision is the outcome of one request of a batch of payments and
// cancels: its answer, and what it changes.
type SettleDecision struct {
	SettleResult
	// Paid: Payment is new, to be written with the ledger entry Seq.
	Paid bool
	Seq  int64
	// Cancelled: Reservation is cancelled now.
	Cancelled bool
	// Keep: Err is to be kept under the payment's key.
	Keep bool
}

// DecideSettles decides reqs in order, each as Store.Pay or Store.Cancel
// would alone right after the ones before it, against st, which it
// updates. Each request's Pay.Now is the instant the store decides at
// (its own clock's, to its precision), its ids are canonical, and
// Pay.ConcertID is "" or the canonical id of the only concert allowed.
func DecideSettles(st *SettleState, reqs []SettleRequest) []SettleDecision {
	out := make([]SettleDecision, len(reqs))
	for i, req := range reqs {
		if req.Cancel {
			out[i] = st.cancel(req.Pay)
		} else {
			out[i] = st.pay(req.Pay)
		}
	}
	return out
}

// reservation returns the reservation req may settle, or the refusal.
func (st *SettleState) reservation(req PayRequest) (*Reservation, error) {
	r := st.Reservations[req.ReservationID]
	switch {
	case r == nil:
		return nil, ReservationNotFound(req.ReservationID)
	case r.UserID != req.UserID:
		return nil, Forbidden(req.ReservationID)
	case req.ConcertID != "" && r.ConcertID != req.ConcertID:
		return nil, OtherConcert()
	}
	return r, nil
}

func (st *SettleState) pay(req PayRequest) SettleDecision {
	refuse := func(err error) SettleDecision { return SettleDecision{SettleResult: SettleResult{Err: err}} }
	r, err := st.reservation(req)
	if err != nil {
		return refuse(err)
	}
	key := PayKey{req.UserID, req.IdempotencyKey}
	if req.IdempotencyKey != "" {
		if p, ok := st.Payments[key]; ok {
			if p.ReservationID != req.ReservationID {
				return refuse(PayKeyReused())
			}
			return SettleDecision{SettleResult: SettleResult{Payment: p, Seats: len(r.Seats), Replay: true}}
		}
		if f, ok := st.Refusals[key]; ok {
			if f.ReservationID != req.ReservationID {
				return refuse(PayKeyReused())
			}
			return refuse(f.Err)
		}
	}
	w := st.Wallets[req.UserID]
	if w == nil {
		return refuse(wallet.UserNotFound(req.UserID))
	}
	var refusal error
	switch {
	case r.Status == Paid:
		refusal = AlreadyPaid(r.ID)
	case r.Status != Held || !r.ExpiresAt.After(req.Now) || st.held(r, req.Now) < len(r.Seats):
		refusal = HoldExpired(r.ID)
	case w.Balance < r.Amount:
		refusal = InsufficientBalance(w.Balance, r.Amount)
	}
	if refusal != nil {
		d := refuse(refusal)
		if req.IdempotencyKey != "" {
			st.Refusals[key] = PayRefusal{ReservationID: r.ID, Err: refusal}
			d.Keep = true
		}
		return d
	}
	w.Balance -= r.Amount
	w.Entries++
	for _, s := range r.Seats {
		row := st.Seats[SeatKey{r.ConcertID, r.Day, s.Number}]
		row.Status, row.HoldExpiresAt = concert.Sold, time.Time{}
	}
	r.Status, r.PaidAt = Paid, req.Now
	p := Payment{ID: req.PaymentID, ReservationID: r.ID, UserID: req.UserID, ConcertID: r.ConcertID,
		Amount: r.Amount, Balance: w.Balance, PaidAt: req.Now}
	if req.IdempotencyKey != "" {
		st.Payments[key] = p
	}
	return SettleDecision{SettleResult: SettleResult{Payment: p, Seats: len(r.Seats)}, Paid: true, Seq: w.Entries}
}

// held counts the seats of r it still holds, unexpired at now.
func (st *SettleState) held(r *Reservation, now time.Time) int {
	n := 0
	for _, s := range r.Seats {
		row := st.Seats[SeatKey{r.ConcertID, r.Day, s.Number}]
		if row != nil && row.ReservationID == r.ID && row.Status == concert.Held && row.HoldExpiresAt.After(now) {
			n++
		}
	}
	return n
}

func (st *SettleState) cancel(req PayRequest) SettleDecision {
	r, err := st.reservation(req)
	if err != nil {
		return SettleDecision{SettleResult: SettleResult{Err: err}}
	}
	var d SettleDecision
	if r.Status == Held && r.ExpiresAt.After(req.Now) {
		for _, s := range r.Seats {
			row := st.Seats[SeatKey{r.ConcertID, r.Day, s.Number}]
			if row != nil && row.ReservationID == r.ID && row.Status == concert.Held {
				*row = SeatRow{Price: row.Price, Status: concert.Available}
			}
		}
		r.Status = Cancelled
		d.Cancelled = true
	}
	switch r.Status {
	case Cancelled:
		d.Reservation = *r
	case Paid:
		d.Err = AlreadyPaid(r.ID)
	default: // EXPIRED, or HELD past its expiry
		d.Err = HoldExpired(r.ID)
	}
	return d
}
