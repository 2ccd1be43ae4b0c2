package http

import (
	"cmp"
	"strconv"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/booking"
	"github.com/boxoffice/boxoffice/concert"
	"github.com/boxoffice/boxoffice/queue"
	"github.com/boxoffice/boxoffice/wallet"
)

// The JSON bodies of the API, shared by Server and Client. Times are RFC 3339
// UTC; money is an integer number of won.

// NewUser asks for a user.
type NewUser struct {
	Name string `json:"name" doc:"Display name, 1 to 200 characters after trimming surrounding spaces; no control, bidirectional-override or zero-width characters." example:"Kim"`
}

// UserCreated is a new user with their access token.
type UserCreated struct {
	UserID      string    `json:"userId"`
	Name        string    `json:"name"`
	AccessToken string    `json:"accessToken" doc:"Send as Authorization: Bearer <accessToken>."`
	ExpiresAt   time.Time `json:"expiresAt" doc:"When the access token stops being accepted."`
}

// Balance is a user's balance.
type Balance struct {
	UserID  string `json:"userId"`
	Balance int64  `json:"balance" doc:"Won."`
}

// ChargeRequest adds money to a wallet.
type ChargeRequest struct {
	Amount int64 `json:"amount" doc:"Won to add; 1 to 1,000,000 per call unless configured otherwise. Like every integer of the API, written with digits only: 1e3 and 1000.0 are refused." example:"50000"`
}

// Charge is the answer to a charge.
type Charge struct {
	UserID   string `json:"userId"`
	Balance  int64  `json:"balance" doc:"Balance right after the charge."`
	ChargeID string `json:"chargeId"`
}

// LedgerEntry is one movement of a wallet. Amount is positive; Kind gives the
// direction.
type LedgerEntry struct {
	ID           string    `json:"id"`
	Kind         string    `json:"kind" enum:"CHARGE,PAYMENT,REFUND"`
	Amount       int64     `json:"amount" minimum:"0"`
	BalanceAfter int64     `json:"balanceAfter"`
	At           time.Time `json:"at"`
}

// History is one page of a wallet's ledger, newest first.
type History struct {
	Entries []LedgerEntry `json:"entries"`
	// NextCursor is the cursor of the next page when this one is full.
	NextCursor *string `json:"nextCursor" nullable:"true" doc:"Pass as ?cursor= for the next page; null on the last page."`
}

// ConcertSummary is a concert in the list of concerts.
type ConcertSummary struct {
	ConcertID   string    `json:"concertId"`
	Title       string    `json:"title"`
	Venue       string    `json:"venue"`
	SalesOpenAt time.Time `json:"salesOpenAt"`
	SoldOut     bool      `json:"soldOut"`
}

// ConcertList lists concerts by sales opening.
type ConcertList struct {
	Concerts []ConcertSummary `json:"concerts"`
}

// ConcertDate is one performance of a concert.
type ConcertDate struct {
	Date     string    `json:"date" doc:"Calendar date at the venue, YYYY-MM-DD." example:"2026-12-24"`
	StartsAt time.Time `json:"startsAt"`
}

// Grade is a priced block of seats.
type Grade struct {
	Name  string `json:"name" example:"VIP"`
	Seats string `json:"seats" doc:"Seat range first-last within 1-50." example:"1-10"`
	Price int64  `json:"price" minimum:"0" doc:"Won, written with digits only." example:"150000"`
}

// RoomStatus is a concert's waiting room as a fan sees it.
type RoomStatus struct {
	Strategy             string `json:"strategy" enum:"RATE,MAX_ACTIVE,RATE_AND_MAX_ACTIVE"`
	QueueLength          int64  `json:"queueLength" doc:"Fans waiting now."`
	EstimatedWaitSeconds int64  `json:"estimatedWaitSeconds" doc:"Expected wait of a fan joining now."`
	ProofOfWork          int64  `json:"proofOfWork" doc:"0, or the maxnumber of the proof-of-work challenge a new place needs (see GET /v1/concerts/{concertId}/queue/challenge)."`
}

// ConcertDetail is one concert with its waiting room.
type ConcertDetail struct {
	ConcertID       string        `json:"concertId"`
	Title           string        `json:"title"`
	Venue           string        `json:"venue"`
	SalesOpenAt     time.Time     `json:"salesOpenAt"`
	SoldOut         bool          `json:"soldOut"`
	Dates           []ConcertDate `json:"dates"`
	Grades          []Grade       `json:"grades"`
	HoldSeconds     int           `json:"holdSeconds"`
	MaxSeatsPerUser int           `json:"maxSeatsPerUser"`
	WaitingRoom     RoomStatus    `json:"waitingRoom"`
	Lottery         LotteryCommit `json:"lottery"`
}

// LotteryCommit is the commitment to a concert's draw and, from the
// opening on, the seed that opens it.
type LotteryCommit struct {
	Commitment string  `json:"commitment" doc:"Lowercase hex SHA-256 of the seed, published before the opening."`
	Seed       *string `json:"seed" nullable:"true" doc:"Lowercase hex seed of the draw; null before the opening."`
}

// Lottery is the publication of a concert's draw: the order at the opening
// of the fans who joined before it. Anyone can check it: SHA-256(seed) must
// be the commitment, and ordering the entries by HMAC-SHA256(seed, entry)
// (first 8 bytes, big-endian, shifted right by 12; ties by entry) must give
// their positions. The boxoffice verify-lottery command does both.
type Lottery struct {
	ConcertID  string     `json:"concertId"`
	OpensAt    time.Time  `json:"opensAt" doc:"The opening: sales open and the draw is made."`
	Commitment string     `json:"commitment" doc:"Lowercase hex SHA-256 of the seed, published before the opening."`
	Seed       *string    `json:"seed" nullable:"true" doc:"Lowercase hex seed of the draw; null before the opening."`
	DrawnAt    *time.Time `json:"drawnAt" nullable:"true" doc:"When the first place of the draw was admitted (the draw is made at that admission step or before it); null until then."`
	// Entries are in draw order; nil until the draw is made.
	Entries []LotteryEntry `json:"entries" nullable:"true" doc:"The places of the draw in order, null until the draw is made. A fan's entry is the lowercase hex of the first 16 bytes of SHA-256(concertId, newline, userId)."`
}

// LotteryEntry is one place of a draw.
type LotteryEntry struct {
	Entry    string `json:"entry" doc:"The place's public entry id."`
	Position int64  `json:"position" doc:"1-based place in the draw."`
}

// QueueStatus is a fan's standing in a concert's waiting room.
type QueueStatus struct {
	Token                string     `json:"token" doc:"Send as the Queue-Token header."`
	ConcertID            string     `json:"concertId"`
	Status               string     `json:"status" enum:"PREQUEUE,WAITING,ADMITTED,EXPIRED,SOLD_OUT"`
	Position             int64      `json:"position" doc:"1-based among those waiting; 0 unless WAITING (before the opening there is no order yet)."`
	EstimatedWaitSeconds int64      `json:"estimatedWaitSeconds"`
	PollAfterSeconds     int64      `json:"pollAfterSeconds" doc:"Ask again after this long; 0 when there is nothing to wait for."`
	SessionExpiresAt     *time.Time `json:"sessionExpiresAt" nullable:"true" doc:"When the admitted session ends if unused, at the latest maxSessionSeconds after its admission; null unless admitted."`
	Prequeued            int64      `json:"prequeued" doc:"Fans waiting for the draw at the opening; 0 unless PREQUEUE."`
}

func (q QueueStatus) appendJSON(b []byte) []byte {
	b = append(b, '{')
	b = field(b, "token")
	b = appendString(b, q.Token)
	b = field(b, "concertId")
	b = appendString(b, q.ConcertID)
	b = field(b, "status")
	b = appendString(b, q.Status)
	b = field(b, "position")
	b = appendInt(b, q.Position)
	b = field(b, "estimatedWaitSeconds")
	b = appendInt(b, q.EstimatedWaitSeconds)
	b = field(b, "pollAfterSeconds")
	b = appendInt(b, q.PollAfterSeconds)
	b = field(b, "sessionExpiresAt")
	b = appendTimePtr(b, q.SessionExpiresAt)
	b = field(b, "prequeued")
	b = appendInt(b, q.Prequeued)
	return append(b, '}')
}

// DateAvailability is a bookable date with the seats still available.
type DateAvailability struct {
	Date           string    `json:"date" example:"2026-12-24"`
	StartsAt       time.Time `json:"startsAt"`
	AvailableSeats int       `json:"availableSeats"`
}

// DateList lists a concert's bookable dates by start.
type DateList struct {
	Dates []DateAvailability `json:"dates"`
}

func (l DateList) appendJSON(b []byte) []byte {
	b = append(b, `{"dates":[`...)
	for i, d := range l.Dates {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		b = field(b, "date")
		b = appendString(b, d.Date)
		b = field(b, "startsAt")
		b = appendTime(b, d.StartsAt)
		b = field(b, "availableSeats")
		b = appendInt(b, int64(d.AvailableSeats))
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

// Seat is one seat of a date.
type Seat struct {
	Number int    `json:"number" minimum:"1" maximum:"50"`
	Grade  string `json:"grade"`
	Price  int64  `json:"price"`
	Status string `json:"status" enum:"AVAILABLE,HELD,SOLD"`
}

// SeatMap is every seat of one date.
type SeatMap struct {
	Date  string `json:"date"`
	Seats []Seat `json:"seats"`

	raw []byte // the JSON of the map, when already rendered
}

func (m SeatMap) appendJSON(b []byte) []byte {
	if m.raw != nil {
		return append(b, m.raw...)
	}
	b = append(b, '{')
	b = field(b, "date")
	b = appendString(b, m.Date)
	b = append(b, `,"seats":[`...)
	for i, s := range m.Seats {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		b = field(b, "number")
		b = appendInt(b, int64(s.Number))
		b = field(b, "grade")
		b = appendString(b, s.Grade)
		b = field(b, "price")
		b = appendInt(b, s.Price)
		b = field(b, "status")
		b = appendString(b, s.Status)
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

// HoldRequest asks to hold seats of one date.
type HoldRequest struct {
	ConcertID   string `json:"concertId"`
	Date        string `json:"date" example:"2026-12-24"`
	SeatNumbers []int  `json:"seatNumbers" maxItems:"50" doc:"Seat numbers 1-50, written with digits only." example:"[17,18]"`
}

// ReservedSeat is a seat of a reservation with the price it was held at.
type ReservedSeat struct {
	Number int   `json:"number"`
	Price  int64 `json:"price"`
}

// Reservation is a hold on seats of one date and, once paid, their sale.
type Reservation struct {
	ReservationID string         `json:"reservationId"`
	UserID        string         `json:"userId"`
	ConcertID     string         `json:"concertId"`
	Date          string         `json:"date"`
	Seats         []ReservedSeat `json:"seats"`
	Amount        int64          `json:"amount"`
	Status        string         `json:"status" enum:"HELD,PAID,EXPIRED,CANCELLED"`
	ExpiresAt     time.Time      `json:"expiresAt" doc:"When the hold lapses unless paid."`
}

func (r Reservation) appendJSON(b []byte) []byte {
	b = append(b, '{')
	b = field(b, "reservationId")
	b = appendString(b, r.ReservationID)
	b = field(b, "userId")
	b = appendString(b, r.UserID)
	b = field(b, "concertId")
	b = appendString(b, r.ConcertID)
	b = field(b, "date")
	b = appendString(b, r.Date)
	b = append(b, `,"seats":[`...)
	for i, s := range r.Seats {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"number":`...)
		b = appendInt(b, int64(s.Number))
		b = append(b, `,"price":`...)
		b = appendInt(b, s.Price)
		b = append(b, '}')
	}
	b = append(b, ']')
	b = field(b, "amount")
	b = appendInt(b, r.Amount)
	b = field(b, "status")
	b = appendString(b, r.Status)
	b = field(b, "expiresAt")
	b = appendTime(b, r.ExpiresAt)
	return append(b, '}')
}

// ReservationList is one page of a user's reservations, newest first.
type ReservationList struct {
	Reservations []Reservation `json:"reservations"`
	// NextCursor is the cursor of the next page when this one is full.
	NextCursor *string `json:"nextCursor" nullable:"true" doc:"Pass as ?cursor= for the next page; null on the last page."`
}

// PaymentRequest pays a held reservation.
type PaymentRequest struct {
	ReservationID string `json:"reservationId"`
}

// Payment is a paid reservation.
type Payment struct {
	PaymentID     string    `json:"paymentId"`
	ReservationID string    `json:"reservationId"`
	Amount        int64     `json:"amount"`
	Balance       int64     `json:"balance" doc:"Payer's balance right after paying."`
	PaidAt        time.Time `json:"paidAt"`
}

func (p Payment) appendJSON(b []byte) []byte {
	b = append(b, '{')
	b = field(b, "paymentId")
	b = appendString(b, p.PaymentID)
	b = field(b, "reservationId")
	b = appendString(b, p.ReservationID)
	b = field(b, "amount")
	b = appendInt(b, p.Amount)
	b = field(b, "balance")
	b = appendInt(b, p.Balance)
	b = field(b, "paidAt")
	b = appendTime(b, p.PaidAt)
	return append(b, '}')
}

// WaitingRoom tunes a concert's waiting room.
type WaitingRoom struct {
	Strategy       string  `json:"strategy" enum:"RATE,MAX_ACTIVE,RATE_AND_MAX_ACTIVE"`
	AdmitPerSecond float64 `json:"admitPerSecond" required:"false" minimum:"0" doc:"Fans admitted per second (RATE, RATE_AND_MAX_ACTIVE): 0.001 (one fan every 1000 s) to 100000; 0 where the strategy does not use it."`
	MaxActive      int64   `json:"maxActive" required:"false" minimum:"0" doc:"Most admitted sessions alive at once (MAX_ACTIVE, RATE_AND_MAX_ACTIVE)."`
	SessionSeconds int     `json:"sessionSeconds" minimum:"1" doc:"An admitted session ends after this long unused." example:"600"`
	IdleSeconds    int     `json:"idleSeconds" minimum:"1" doc:"A waiting place not polled for this long is dropped." example:"60"`
	// MaxSessionSeconds is 0 when a request leaves it out: the default.
	MaxSessionSeconds int   `json:"maxSessionSeconds,omitempty" required:"false" minimum:"1" doc:"An admitted session ends this long after its admission however much it is used; default 900." example:"900"`
	ProofOfWork       int64 `json:"proofOfWork" required:"false" minimum:"0" maximum:"10000000" doc:"0 (off), or 1000..10000000: a new place needs a solved proof-of-work challenge (GET /v1/concerts/{concertId}/queue/challenge) of this maxnumber, sent as Queue-Proof. The work is about half of it in SHA-256 hashes."`
}

// ConcertSpec asks for a concert.
type ConcertSpec struct {
	Title           string       `json:"title" doc:"1 to 200 characters; no control, bidirectional-override or zero-width characters (as every name of the API)."`
	Venue           string       `json:"venue" doc:"1 to 200 characters, as title."`
	Dates           []time.Time  `json:"dates" doc:"Start of each performance, RFC 3339 with the venue's offset; the date is the calendar day at that offset. At least one performance still to come; none more than 1830 days (about five years) ahead." example:"[\"2026-12-24T19:00:00+09:00\"]"`
	Grades          []Grade      `json:"grades" doc:"Seat grades covering seats 1-50 exactly once."`
	SalesOpenAt     time.Time    `json:"salesOpenAt" doc:"At most 1830 days (about five years) ahead."`
	HoldSeconds     int          `json:"holdSeconds,omitempty" minimum:"0" doc:"How long a hold lasts; default 300." example:"300"`
	MaxSeatsPerUser int          `json:"maxSeatsPerUser,omitempty" minimum:"0" doc:"Seats one user may hold or own per date; default 4." example:"4"`
	WaitingRoom     *WaitingRoom `json:"waitingRoom,omitempty" doc:"Default: RATE at 50 per second."`
}

// Concert is a concert as its operator sees it.
type Concert struct {
	ConcertID       string        `json:"concertId"`
	Title           string        `json:"title"`
	Venue           string        `json:"venue"`
	SalesOpenAt     time.Time     `json:"salesOpenAt"`
	Dates           []ConcertDate `json:"dates"`
	Grades          []Grade       `json:"grades"`
	HoldSeconds     int           `json:"holdSeconds"`
	MaxSeatsPerUser int           `json:"maxSeatsPerUser"`
	WaitingRoom     WaitingRoom   `json:"waitingRoom"`
}

// ConcertStats describe a concert's sale and waiting room now.
type ConcertStats struct {
	Waiting   int64   `json:"waiting" doc:"Fans waiting now."`
	Admitted  int64   `json:"admitted" doc:"Sessions ever admitted."`
	Active    int64   `json:"active" doc:"Admitted sessions alive now."`
	Held      int     `json:"held" doc:"Seats held by unexpired holds."`
	Sold      int     `json:"sold"`
	Revenue   int64   `json:"revenue" doc:"Sum of payments, won."`
	Available int     `json:"available"`
	Total     int     `json:"total"`
	AdmitRate float64 `json:"admitRate" doc:"Measured admissions per second."`
	// The waiting room's flow.
	AbandonRate    float64 `json:"abandonRate" doc:"Measured rate, fans per second, at which waiting fans leave or are dropped for idleness."`
	Abandoned      int64   `json:"abandoned" doc:"Waiting places ever left or dropped for idleness."`
	Dropped        int64   `json:"dropped" doc:"Waiting places ever dropped for idleness."`
	WaitP50Seconds float64 `json:"waitP50Seconds" doc:"Median time admitted fans waited, from joining or from the opening."`
	WaitP90Seconds float64 `json:"waitP90Seconds" doc:"90th percentile of the time admitted fans waited."`
	Prequeued      int64   `json:"prequeued" doc:"Fans waiting for the draw; 0 from the opening on."`
	Paused         bool    `json:"paused" doc:"No seat is available: admission waits for held seats to come back."`
	SoldOut        bool    `json:"soldOut" doc:"No seat is available or held: waiting fans are told SOLD_OUT."`
}

// AdmissionRecord is one entry of a waiting room's admission log.
type AdmissionRecord struct {
	N        int64     `json:"n" doc:"1-based order of admission in the room."`
	UserID   string    `json:"userId"`
	Seq      int64     `json:"seq" doc:"The place's join number in the room."`
	At       time.Time `json:"at"`
	Prequeue bool      `json:"prequeue" doc:"The place was in the draw at the opening."`
}

// AdmissionLog is a page of a waiting room's admission log, oldest first.
type AdmissionLog struct {
	Admissions []AdmissionRecord `json:"admissions"`
	Next       int64             `json:"next" doc:"Pass as ?from= for the next page: one past the last entry, or from itself when there is nothing new."`
}

// Health is the answer of /healthz and /readyz.
type Health struct {
	Status string `json:"status" example:"ok"`
}

// Conversions from domain types.

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func ledgerEntry(e wallet.Entry) LedgerEntry {
	return LedgerEntry{ID: e.ID, Kind: string(e.Kind), Amount: int64(e.Amount), BalanceAfter: int64(e.BalanceAfter), At: e.At.UTC()}
}

func concertSummary(c concert.Concert) ConcertSummary {
	return ConcertSummary{ConcertID: c.ID, Title: c.Title, Venue: c.Venue, SalesOpenAt: c.SalesOpenAt.UTC(), SoldOut: c.SoldOut}
}

func concertDates(ds []concert.Date) []ConcertDate {
	out := make([]ConcertDate, len(ds))
	for i, d := range ds {
		out[i] = ConcertDate{Date: d.Day, StartsAt: d.StartsAt.UTC()}
	}
	return out
}

func grades(gs []concert.Grade) []Grade {
	out := make([]Grade, len(gs))
	for i, g := range gs {
		seats := strconv.Itoa(g.First) + "-" + strconv.Itoa(g.Last)
		out[i] = Grade{Name: g.Name, Seats: seats, Price: int64(g.Price)}
	}
	return out
}

func waitingRoom(s queue.Settings) WaitingRoom {
	return WaitingRoom{
		Strategy:       string(s.Strategy),
		AdmitPerSecond: s.AdmitPerSecond,
		MaxActive:      s.MaxActive,
		SessionSeconds: s.SessionSeconds,
		IdleSeconds:    s.IdleSeconds,
		// Always set: stored settings without it read as the default.
		MaxSessionSeconds: s.MaxSessionSeconds,
		ProofOfWork:       s.ProofOfWork,
	}
}

func (w WaitingRoom) settings() queue.Settings {
	return queue.Settings{
		Strategy:       queue.Strategy(w.Strategy),
		AdmitPerSecond: w.AdmitPerSecond,
		MaxActive:      w.MaxActive,
		SessionSeconds: w.SessionSeconds,
		IdleSeconds:    w.IdleSeconds,
		// Left out: the default.
		MaxSessionSeconds: cmp.Or(w.MaxSessionSeconds, queue.DefaultMaxSessionSeconds),
		ProofOfWork:       w.ProofOfWork,
	}
}

func adminConcert(c concert.Concert) Concert {
	return Concert{
		ConcertID:       c.ID,
		Title:           c.Title,
		Venue:           c.Venue,
		SalesOpenAt:     c.SalesOpenAt.UTC(),
		Dates:           concertDates(c.Dates),
		Grades:          grades(c.Grades),
		HoldSeconds:     c.HoldSeconds,
		MaxSeatsPerUser: c.MaxSeatsPerUser,
		WaitingRoom:     waitingRoom(c.WaitingRoom),
	}
}

func (s ConcertSpec) spec() concert.Spec {
	sp := concert.Spec{
		Title:           s.Title,
		Venue:           s.Venue,
		Dates:           s.Dates,
		SalesOpenAt:     s.SalesOpenAt,
		HoldSeconds:     s.HoldSeconds,
		MaxSeatsPerUser: s.MaxSeatsPerUser,
	}
	for _, g := range s.Grades {
		sp.Grades = append(sp.Grades, concert.GradeSpec{Name: g.Name, Seats: g.Seats, Price: boxoffice.Money(g.Price)})
	}
	if s.WaitingRoom != nil {
		st := s.WaitingRoom.settings()
		sp.WaitingRoom = &st
	}
	return sp
}

// reservation is r as the API answers it. r's status is already the one at
// now: a fresh hold, or one read by booking.Service.Reservation.
func reservation(r booking.Reservation) Reservation {
	seats := make([]ReservedSeat, len(r.Seats))
	for i, s := range r.Seats {
		seats[i] = ReservedSeat{Number: s.Number, Price: int64(s.Price)}
	}
	return Reservation{
		ReservationID: r.ID,
		UserID:        r.UserID,
		ConcertID:     r.ConcertID,
		Date:          r.Day,
		Seats:         seats,
		Amount:        int64(r.Amount),
		Status:        string(r.Status),
		ExpiresAt:     r.ExpiresAt.UTC(),
	}
}

func payment(p booking.Payment) Payment {
	return Payment{
		PaymentID:     p.ID,
		ReservationID: p.ReservationID,
		Amount:        int64(p.Amount),
		Balance:       int64(p.Balance),
		PaidAt:        p.PaidAt.UTC(),
	}
}
