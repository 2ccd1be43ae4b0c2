package event

import (
	"encoding/json"
	"time"

	"github.com/boxoffice/boxoffice/booking"
	"github.com/boxoffice/boxoffice/concert"
	"github.com/boxoffice/boxoffice/queue"
	"github.com/boxoffice/boxoffice/wallet"
)

// The events of the changes, made from what the changes stored. A store
// that builds an event's data in SQL writes the same data (the contract
// suite checks it).

func mustNew(t Type, concertID string, at time.Time, data any) Event {
	e, err := New(t, concertID, at, data)
	if err != nil {
		panic(err) // strings, numbers and instants only: cannot fail
	}
	return e
}

// OfConcertCreated is the ConcertCreated event of c.
func OfConcertCreated(c concert.Concert) Event {
	days := make([]string, len(c.Dates))
	for i, d := range c.Dates {
		days[i] = d.Day
	}
	return mustNew(ConcertCreated, c.ID, c.CreatedAt, ConcertCreatedData{
		V: Version, Title: c.Title, Venue: c.Venue, SalesOpenAt: c.SalesOpenAt.UTC(), Dates: days,
		Seats: len(c.Dates) * concert.SeatsPerDate, HoldSeconds: c.HoldSeconds, MaxSeatsPerUser: c.MaxSeatsPerUser,
		WaitingRoom: json.RawMessage(concert.RoomJSON(c.WaitingRoom)),
	})
}

// OfWaitingRoomChanged is the WaitingRoomChanged event of a concert whose
// room took settings, numbered version, at at.
func OfWaitingRoomChanged(concertID string, at time.Time, version int64, settings queue.Settings) Event {
	return mustNew(WaitingRoomChanged, concertID, at, WaitingRoomChangedData{
		V: Version, Version: version, WaitingRoom: json.RawMessage(concert.RoomJSON(settings)),
	})
}

// OfBalanceCharged is the BalanceCharged event of the charge r.
func OfBalanceCharged(r wallet.Receipt) Event {
	return mustNew(BalanceCharged, "", r.At, BalanceChargedData{
		V: Version, UserID: r.UserID, ChargeID: r.ChargeID, Amount: int64(r.Amount), Balance: int64(r.Balance),
	})
}

// OfSeatsHeld is the SeatsHeld event of the hold r.
func OfSeatsHeld(r booking.Reservation) Event {
	seats := make([]Seat, len(r.Seats))
	for i, s := range r.Seats {
		seats[i] = Seat{Number: s.Number, Price: int64(s.Price)}
	}
	return mustNew(SeatsHeld, r.ConcertID, r.CreatedAt, SeatsHeldData{
		V: Version, ReservationID: r.ID, UserID: r.UserID, Date: r.Day, Seats: seats,
		Amount: int64(r.Amount), ExpiresAt: r.ExpiresAt.UTC(),
	})
}

// OfHoldReleased is the HoldReleased event of r, released for reason at at.
func OfHoldReleased(r booking.Reservation, reason string, at time.Time) Event {
	return mustNew(HoldReleased, r.ConcertID, at, HoldReleasedData{
		V: Version, ReservationID: r.ID, UserID: r.UserID, Date: r.Day, Seats: numbers(r),
		Reason: reason,
	})
}

// OfReservationPaid is the ReservationPaid event of r paid by p.
func OfReservationPaid(r booking.Reservation, p booking.Payment) Event {
	return mustNew(ReservationPaid, r.ConcertID, p.PaidAt, ReservationPaidData{
		V: Version, ReservationID: r.ID, PaymentID: p.ID, UserID: p.UserID, Date: r.Day,
		Seats: numbers(r), Amount: int64(p.Amount),
	})
}

// OfLotteryPublished is the LotteryPublished event of a concert's draw of
// entries places, made at drawnAt.
func OfLotteryPublished(concertID string, drawnAt time.Time, entries int) Event {
	return mustNew(LotteryPublished, concertID, drawnAt, LotteryPublishedData{V: Version, DrawnAt: drawnAt.UTC(), Entries: entries})
}

func numbers(r booking.Reservation) []int {
	ns := make([]int, len(r.Seats))
	for i, s := range r.Seats {
		ns[i] = s.Number
	}
	return ns
}
