package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/booking"
	"github.com/boxoffice/boxoffice/concert"
	"github.com/boxoffice/boxoffice/wallet"
)

// bookingEnv is one fresh database with one concert in it.
type bookingEnv struct {
	Stores
	t *testing.T
	c concert.Concert
}

func newBookingEnv(t *testing.T, newStores func(t *testing.T) Stores, spec concert.Spec) *bookingEnv {
	t.Helper()
	s := newStores(t)
	c := NewConcert(t, spec)
	noErr(t, "CreateConcert", s.Concerts.CreateConcert(context.Background(), c))
	return &bookingEnv{Stores: s, t: t, c: c}
}

func (e *bookingEnv) user(balance boxoffice.Money) string {
	e.t.Helper()
	return createUser(e.t, e.Wallets, balance)
}

// holdReq asks for seats of day at now, for the concert's hold time and
// with a cooldown of that length, as booking.Service asks.
func (e *bookingEnv) holdReq(userID, day string, now time.Time, seats ...int) booking.HoldRequest {
	return booking.HoldRequest{
		ReservationID: boxoffice.NewID(), UserID: userID, ConcertID: e.c.ID, Day: day,
		Seats: seats, MaxSeatsPerUser: e.c.MaxSeatsPerUser, Now: now, ExpiresAt: now.Add(e.c.Hold()),
		Cooldown: e.c.Hold(),
	}
}

func (e *bookingEnv) hold(userID, day string, now time.Time, seats ...int) (booking.Reservation, error) {
	return e.Bookings.Hold(context.Background(), e.holdReq(userID, day, now, seats...))
}

func (e *bookingEnv) mustHold(userID, day string, now time.Time, seats ...int) booking.Reservation {
	e.t.Helper()
	r, err := e.hold(userID, day, now, seats...)
	noErr(e.t, fmt.Sprintf("Hold %v", seats), err)
	return r
}

func (e *bookingEnv) pay(userID, reservationID, key string, now time.Time) (booking.Payment, error) {
	return e.Bookings.Pay(context.Background(), booking.PayRequest{
		PaymentID: boxoffice.NewID(), ReservationID: reservationID, UserID: userID,
		IdempotencyKey: key, Now: now,
	})
}

func (e *bookingEnv) mustPay(userID, reservationID, key string, now time.Time) booking.Payment {
	e.t.Helper()
	p, err := e.pay(userID, reservationID, key, now)
	noErr(e.t, "Pay", err)
	return p
}

// stored returns a reservation as stored.
func (e *bookingEnv) stored(id string) booking.Reservation {
	e.t.Helper()
	r, err := e.Bookings.Reservation(context.Background(), id)
	noErr(e.t, "Reservation", err)
	return r
}

// seats returns the status of every seat of day at now, indexed by number.
func (e *bookingEnv) seats(day string, now time.Time) []concert.SeatStatus {
	e.t.Helper()
	seats, err := e.Concerts.Seats(context.Background(), e.c.ID, day, now)
	noErr(e.t, "Seats", err)
	st := make([]concert.SeatStatus, concert.SeatsPerDate+1)
	for _, s := range seats {
		st[s.Number] = s.Status
	}
	return st
}

// wantSeats fails unless the seats named have status want at now.
func (e *bookingEnv) wantSeats(day string, now time.Time, want concert.SeatStatus, numbers ...int) {
	e.t.Helper()
	st := e.seats(day, now)
	for _, n := range numbers {
		if st[n] != want {
			e.t.Errorf("seat %d of %s at %v: got %s, want %s", n, day, now, st[n], want)
		}
	}
}

func (e *bookingEnv) wantStatus(id string, want booking.Status) {
	e.t.Helper()
	if got := e.stored(id).Status; got != want {
		e.t.Errorf("stored status of %s: got %s, want %s", id, got, want)
	}
}

func (e *bookingEnv) wantBalance(userID string, want boxoffice.Money) {
	e.t.Helper()
	if got := balanceOf(e.t, e.Wallets, userID); got != want {
		e.t.Errorf("balance of %s: got %d, want %d", userID, got, want)
	}
}

// payments returns the user's PAYMENT ledger entries.
func (e *bookingEnv) payments(userID string) []wallet.Entry {
	e.t.Helper()
	var ps []wallet.Entry
	for _, en := range fullHistory(e.t, e.Wallets, userID) {
		if en.Kind == wallet.Payment {
			ps = append(ps, en)
		}
	}
	return ps
}

// inventory counts the concert's seats at now, and checks that Supply
// agrees with the count.
func (e *bookingEnv) inventory(now time.Time) booking.Inventory {
	e.t.Helper()
	inv, err := e.Bookings.Inventory(context.Background(), e.c.ID, now)
	noErr(e.t, "Inventory", err)
	if want, got := (booking.Supply{Available: inv.Available > 0, Held: inv.Held > 0}), e.supply(now); got != want {
		e.t.Errorf("Supply at %v: got %+v, want %+v (from the inventory %+v)", now, got, want, inv)
	}
	return inv
}

func (e *bookingEnv) supply(now time.Time) booking.Supply {
	e.t.Helper()
	sup, err := e.Bookings.Supply(context.Background(), e.c.ID, now)
	noErr(e.t, "Supply", err)
	return sup
}

// cheapSpec is one price for every seat and no per-user limit to speak of.
func cheapSpec() concert.Spec {
	spec := ConcertSpec()
	spec.Grades = []concert.GradeSpec{{Name: "A", Seats: "1-50", Price: 1_000}}
	spec.MaxSeatsPerUser = concert.SeatsPerDate
	return spec
}

func allSeats() []int {
	ns := make([]int, concert.SeatsPerDate)
	for i := range ns {
		ns[i] = i + 1
	}
	return ns
}

// The booking suite's clock: its holds are made at bookingNow and, with
// ConcertSpec's hold of bookingHold, lapse at bookingExpiry.
var (
	bookingNow    = BaseTime.Add(time.Hour)
	bookingHold   = 300 * time.Second
	bookingExpiry = bookingNow.Add(bookingHold)
)

// rich is a balance that pays for any seats of the suite's concerts.
const rich = 10_000_000

// bookingRunner returns a function that runs a named case of the booking
// suite on the stores of newStores, so that a suite reads as its list of
// cases.
func bookingRunner(t *testing.T, newStores func(t *testing.T) Stores) func(name string, test func(*testing.T, func(t *testing.T) Stores)) {
	return func(name string, test func(*testing.T, func(t *testing.T) Stores)) {
		t.Run(name, func(t *testing.T) { test(t, newStores) })
	}
}

// RunBookingStore checks that the stores newStores returns keep the
// contract of booking.Store, with concert.Store and wallet.Store on the same
// database. newStores must return fresh, empty stores each call.
func RunBookingStore(t *testing.T, newStores func(t *testing.T) Stores) {
	run := bookingRunner(t, newStores)
	run("Hold/OK", testHoldOK)
	run("Hold/ExpiresAtTheInstant", testHoldExpiresAtTheInstant)
	run("Seats/ConcurrentReadersAtTheirOwnInstants", testSeatsConcurrentReadersAtTheirOwnInstants)
	run("Hold/SameUserAfterLapse", testHoldSameUserAfterLapse)
	run("Hold/ErrSeatUnavailable/AllOrNothing", testHoldErrSeatUnavailableAllOrNothing)
	run("Hold/ErrSeatUnavailable/OwnHold", testHoldErrSeatUnavailableOwnHold)
	run("Hold/ErrSeatUnavailable/Sold", testHoldErrSeatUnavailableSold)
	run("Hold/ErrSeatLimitExceeded", testHoldErrSeatLimitExceeded)
	run("Hold/ErrNotFound", testHoldErrNotFound)
	run("Reservation/ErrNotFound", testReservationErrNotFound)
	run("Cancel/OK", testCancelOK)
	run("Cancel/ErrForbidden", testCancelErrForbidden)
	run("Cancel/ErrHoldExpired", testCancelErrHoldExpired)
	run("Cancel/ErrAlreadyPaid", testCancelErrAlreadyPaid)
	run("Cancel/ErrNotFound", testCancelErrNotFound)
	run("Pay/OK", testPayOK)
	run("Pay/Replay", testPayReplay)
	run("Pay/ReplayWithIDInAnotherCase", testPayReplayWithIDInAnotherCase)
	run("IDsInAnyCase", testIDsInAnyCase)
	run("Pay/ErrAlreadyPaid", testPayErrAlreadyPaid)
	run("Pay/ErrIdempotencyKeyReused", testPayErrIdempotencyKeyReused)
	run("Pay/ErrForbidden", testPayErrForbidden)
	run("Pay/ErrHoldExpired", testPayErrHoldExpired)
	run("Pay/ErrInsufficientBalance", testPayErrInsufficientBalance)
	run("Pay/CancelledIsNotRemembered", testPayCancelledIsNotRemembered)
	run("Pay/ErrNotFound", testPayErrNotFound)
	run("PaymentByKey/ErrNotFound", testPaymentByKeyErrNotFound)
	run("Inventory/OK", testInventoryOK)
	run("Inventory/ErrNotFound", testInventoryErrNotFound)
	run("Supply/OK", testSupplyOK)
	run("Dates/AvailableAtNow", testDatesAvailableAtNow)
	run("SoldOut", testBookingSoldOut)
	run("Sweep/OK", testSweepOK)
	run("Sweep/Limit", testSweepLimit)
	run("Sweep/LeavesRetakenSeats", testSweepLeavesRetakenSeats)
	runBookingRaces(t, newStores)
	runBookingBatches(t, newStores)
	runHoardingRules(t, newStores)
}

func testHoldOK(t *testing.T, newStores func(t *testing.T) Stores) {
	ctx := context.Background()
	e := newBookingEnv(t, newStores, ConcertSpec())
	u := e.user(0)
	req := e.holdReq(u, Day1, bookingNow, 9, 10, 11)
	r, err := e.Bookings.Hold(ctx, req)
	noErr(t, "Hold", err)
	want := booking.Reservation{
		ID: req.ReservationID, UserID: u, ConcertID: e.c.ID, Day: Day1,
		Seats:  []booking.Seat{{Number: 9, Price: 150_000}, {Number: 10, Price: 150_000}, {Number: 11, Price: 90_000}},
		Amount: 390_000, Status: booking.Held, ExpiresAt: bookingExpiry, CreatedAt: bookingNow,
	}
	checkReservation(t, "Hold", r, want)
	checkReservation(t, "Reservation", e.stored(r.ID), want)
	e.wantSeats(Day1, bookingNow, concert.Held, 9, 10, 11)
	e.wantSeats(Day1, bookingNow, concert.Available, 8, 12)
	e.wantSeats(Day2, bookingNow, concert.Available, 9, 10, 11)
	dates, err := e.Concerts.Dates(ctx, e.c.ID, bookingNow)
	noErr(t, "Dates", err)
	if len(dates) != 2 || dates[0].AvailableSeats != 47 || dates[1].AvailableSeats != 50 {
		t.Errorf("Dates: got %+v, want 47 then 50 seats available", dates)
	}
}

func testHoldExpiresAtTheInstant(t *testing.T, newStores func(t *testing.T) Stores) {
	e := newBookingEnv(t, newStores, ConcertSpec())
	a, b := e.user(0), e.user(0)
	r := e.mustHold(a, Day1, bookingNow, 5)
	before := bookingExpiry.Add(-time.Nanosecond)

	_, err := e.hold(b, Day1, before, 5)
	wantErr(t, "Hold just before expiry", err, boxoffice.ErrSeatUnavailable)
	e.wantSeats(Day1, before, concert.Held, 5)
	if got := e.stored(r.ID).StatusAt(before); got != booking.Held {
		t.Errorf("StatusAt just before expiry: got %s, want %s", got, booking.Held)
	}

	e.wantSeats(Day1, bookingExpiry, concert.Available, 5)
	if got := e.stored(r.ID).StatusAt(bookingExpiry); got != booking.Expired {
		t.Errorf("StatusAt expiry: got %s, want %s", got, booking.Expired)
	}
	if inv := e.inventory(bookingExpiry); inv.Held != 0 || inv.Available != 100 {
		t.Errorf("Inventory at expiry: got %+v, want 0 held and 100 available", inv)
	}
	rb, err := e.hold(b, Day1, bookingExpiry, 5)
	noErr(t, "Hold at expiry", err)
	e.wantSeats(Day1, bookingExpiry, concert.Held, 5)
	if rb.UserID != b {
		t.Errorf("Hold at expiry: got user %s, want %s", rb.UserID, b)
	}
}

func testSeatsConcurrentReadersAtTheirOwnInstants(t *testing.T, newStores func(t *testing.T) Stores) {
	ctx := context.Background()
	// Stores may answer concurrent readers with one read; each reader
	// still gets its own date, at its own instant.
	e := newBookingEnv(t, newStores, ConcertSpec())
	e.mustHold(e.user(0), Day1, bookingNow, 5)
	before := bookingExpiry.Add(-time.Nanosecond)
	reads := []struct {
		day  string
		at   time.Time
		want concert.SeatStatus // of seat 5
		err  error
	}{
		{Day1, before, concert.Held, nil},
		{Day1, bookingExpiry, concert.Available, nil},
		{Day2, before, concert.Available, nil},
		{"2026-07-03", before, "", boxoffice.ErrNotFound},
	}
	const rounds = 25
	errs := make(chan error, rounds*len(reads))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range rounds {
		for _, r := range reads {
			wg.Go(func() {
				<-start
				seats, err := e.Concerts.Seats(ctx, e.c.ID, r.day, r.at)
				switch {
				case r.err != nil:
					if !errors.Is(err, r.err) {
						errs <- fmt.Errorf("Seats(%s): got %v, want %v", r.day, err, r.err)
					}
				case err != nil:
					errs <- fmt.Errorf("Seats(%s at %v): %w", r.day, r.at, err)
				case len(seats) != concert.SeatsPerDate || seats[4].Number != 5 || seats[4].Status != r.want:
					errs <- fmt.Errorf("Seats(%s at %v): got %d seats, seat 5 %+v; want %d seats, seat 5 %s",
						r.day, r.at, len(seats), seats[min(4, len(seats)-1)], concert.SeatsPerDate, r.want)
				}
			})
		}
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func testHoldSameUserAfterLapse(t *testing.T, newStores func(t *testing.T) Stores) {
	// Once the cooldown after the lapse is over.
	e := newBookingEnv(t, newStores, ConcertSpec())
	a := e.user(0)
	e.mustHold(a, Day1, bookingNow, 1, 2, 3, 4)
	e.mustHold(a, Day1, bookingExpiry.Add(bookingHold), 1, 2, 3, 4)
}

func testHoldErrSeatUnavailableAllOrNothing(t *testing.T, newStores func(t *testing.T) Stores) {
	e := newBookingEnv(t, newStores, ConcertSpec())
	a, b := e.user(0), e.user(0)
	e.mustHold(a, Day1, bookingNow, 2)
	_, err := e.hold(b, Day1, bookingNow, 1, 2, 3)
	wantErr(t, "Hold", err, boxoffice.ErrSeatUnavailable)
	e.wantSeats(Day1, bookingNow, concert.Available, 1, 3)
	if inv := e.inventory(bookingNow); inv.Held != 1 {
		t.Errorf("Inventory: got %d held, want 1", inv.Held)
	}
	e.mustHold(b, Day1, bookingNow, 1, 3)
}

func testHoldErrSeatUnavailableOwnHold(t *testing.T, newStores func(t *testing.T) Stores) {
	e := newBookingEnv(t, newStores, ConcertSpec())
	a := e.user(0)
	e.mustHold(a, Day1, bookingNow, 7)
	_, err := e.hold(a, Day1, bookingNow.Add(time.Second), 7, 8)
	wantErr(t, "Hold", err, boxoffice.ErrSeatUnavailable)
	e.wantSeats(Day1, bookingNow, concert.Available, 8)
}

func testHoldErrSeatUnavailableSold(t *testing.T, newStores func(t *testing.T) Stores) {
	e := newBookingEnv(t, newStores, ConcertSpec())
	a, b := e.user(rich), e.user(0)
	r := e.mustHold(a, Day1, bookingNow, 20)
	e.mustPay(a, r.ID, "", bookingNow)
	for _, at := range []time.Time{bookingNow, bookingExpiry, bookingExpiry.Add(24 * time.Hour)} {
		_, err := e.hold(b, Day1, at, 20)
		wantErr(t, "Hold of a sold seat", err, boxoffice.ErrSeatUnavailable)
		e.wantSeats(Day1, at, concert.Sold, 20)
	}
}

func testHoldErrSeatLimitExceeded(t *testing.T, newStores func(t *testing.T) Stores) {
	e := newBookingEnv(t, newStores, ConcertSpec())
	a := e.user(rich)
	r := e.mustHold(a, Day1, bookingNow, 1, 2)
	e.mustPay(a, r.ID, "", bookingNow)
	e.mustHold(a, Day1, bookingNow, 3)
	_, err := e.hold(a, Day1, bookingNow, 4, 5)
	wantErr(t, "Hold past the limit", err, boxoffice.ErrSeatLimitExceeded)
	e.wantSeats(Day1, bookingNow, concert.Available, 4, 5)
	e.mustHold(a, Day1, bookingNow, 4)
	_, err = e.hold(a, Day1, bookingNow, 5)
	wantErr(t, "Hold past the limit", err, boxoffice.ErrSeatLimitExceeded)
	// The limit is per date.
	e.mustHold(a, Day2, bookingNow, 1, 2, 3, 4)
	// Lapsed holds no longer count; sold seats still do.
	e.mustHold(a, Day1, bookingExpiry, 5, 6)
	_, err = e.hold(a, Day1, bookingExpiry, 7)
	wantErr(t, "Hold past the limit after lapse", err, boxoffice.ErrSeatLimitExceeded)
}

func testHoldErrNotFound(t *testing.T, newStores func(t *testing.T) Stores) {
	ctx := context.Background()
	e := newBookingEnv(t, newStores, ConcertSpec())
	a := e.user(0)
	for _, tc := range []struct{ name, concertID, day, user string }{
		{"UnknownConcert", boxoffice.NewID(), Day1, a},
		{"MalformedConcertID", "not-a-uuid", Day1, a},
		{"UnknownDay", e.c.ID, "2026-07-03", a},
		{"MalformedDay", e.c.ID, "2026-7-1", a},
		{"ImpossibleDay", e.c.ID, "2026-02-30", a},
		{"UnknownUser", e.c.ID, Day1, newUserID()},
	} {
		req := e.holdReq(tc.user, tc.day, bookingNow, 1)
		req.ConcertID = tc.concertID
		_, err := e.Bookings.Hold(ctx, req)
		wantErr(t, "Hold "+tc.name, err, boxoffice.ErrNotFound)
	}
	e.wantSeats(Day1, bookingNow, concert.Available, 1)
}

func testReservationErrNotFound(t *testing.T, newStores func(t *testing.T) Stores) {
	ctx := context.Background()
	e := newBookingEnv(t, newStores, ConcertSpec())
	for _, id := range []string{boxoffice.NewID(), "not-a-uuid", ""} {
		_, err := e.Bookings.Reservation(ctx, id)
		wantErr(t, "Reservation("+id+")", err, boxoffice.ErrNotFound)
	}
}

func testCancelOK(t *testing.T, newStores func(t *testing.T) Stores) {
	ctx := context.Background()
	e := newBookingEnv(t, newStores, ConcertSpec())
	a, b := e.user(0), e.user(0)
	r := e.mustHold(a, Day1, bookingNow, 3, 4)
	at := bookingNow.Add(time.Minute)
	got, err := e.Bookings.Cancel(ctx, r.ID, a, at)
	noErr(t, "Cancel", err)
	want := r
	want.Status = booking.Cancelled
	checkReservation(t, "Cancel", got, want)
	checkReservation(t, "Reservation", e.stored(r.ID), want)
	e.wantSeats(Day1, at, concert.Available, 3, 4)
	if inv := e.inventory(at); inv.Held != 0 {
		t.Errorf("Inventory: got %d held, want 0", inv.Held)
	}
	e.mustHold(b, Day1, at, 3, 4)
	// Cancelling again changes nothing, not even b's hold of the seats.
	got, err = e.Bookings.Cancel(ctx, r.ID, a, at)
	noErr(t, "Cancel again", err)
	if got.Status != booking.Cancelled {
		t.Errorf("Cancel again: got status %s, want %s", got.Status, booking.Cancelled)
	}
	e.wantSeats(Day1, at, concert.Held, 3, 4)
}

func testCancelErrForbidden(t *testing.T, newStores func(t *testing.T) Stores) {
	ctx := context.Background()
	e := newBookingEnv(t, newStores, ConcertSpec())
	a, b := e.user(0), e.user(0)
	r := e.mustHold(a, Day1, bookingNow, 3)
	_, err := e.Bookings.Cancel(ctx, r.ID, b, bookingNow)
	wantErr(t, "Cancel", err, boxoffice.ErrForbidden)
	e.wantStatus(r.ID, booking.Held)
	e.wantSeats(Day1, bookingNow, concert.Held, 3)
}

func testCancelErrHoldExpired(t *testing.T, newStores func(t *testing.T) Stores) {
	ctx := context.Background()
	e := newBookingEnv(t, newStores, ConcertSpec())
	a := e.user(0)
	r := e.mustHold(a, Day1, bookingNow, 3)
	_, err := e.Bookings.Cancel(ctx, r.ID, a, bookingExpiry)
	wantErr(t, "Cancel at expiry", err, boxoffice.ErrHoldExpired)
	e.wantStatus(r.ID, booking.Held)
	if _, err := e.Bookings.Sweep(ctx, bookingExpiry, 10); err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	_, err = e.Bookings.Cancel(ctx, r.ID, a, bookingNow)
	wantErr(t, "Cancel after sweep", err, boxoffice.ErrHoldExpired)
	e.wantStatus(r.ID, booking.Expired)
}

func testCancelErrAlreadyPaid(t *testing.T, newStores func(t *testing.T) Stores) {
	ctx := context.Background()
	e := newBookingEnv(t, newStores, ConcertSpec())
	a := e.user(rich)
	r := e.mustHold(a, Day1, bookingNow, 3)
	e.mustPay(a, r.ID, "", bookingNow)
	_, err := e.Bookings.Cancel(ctx, r.ID, a, bookingNow)
	wantErr(t, "Cancel", err, boxoffice.ErrAlreadyPaid)
	e.wantStatus(r.ID, booking.Paid)
	e.wantSeats(Day1, bookingNow, concert.Sold, 3)
}

func testCancelErrNotFound(t *testing.T, newStores func(t *testing.T) Stores) {
	ctx := context.Background()
	e := newBookingEnv(t, newStores, ConcertSpec())
	a := e.user(0)
	for _, id := range []string{boxoffice.NewID(), "not-a-uuid"} {
		_, err := e.Bookings.Cancel(ctx, id, a, bookingNow)
		wantErr(t, "Cancel("+id+")", err, boxoffice.ErrNotFound)
	}
}

func testPayOK(t *testing.T, newStores func(t *testing.T) Stores) {
	ctx := context.Background()
	e := newBookingEnv(t, newStores, ConcertSpec())
	a := e.user(1_000_000)
	r := e.mustHold(a, Day1, bookingNow, 10, 11)
	req := booking.PayRequest{PaymentID: boxoffice.NewID(), ReservationID: r.ID, UserID: a,
		IdempotencyKey: "pay-1", Now: bookingExpiry.Add(-time.Nanosecond).Truncate(time.Microsecond)}
	p, err := e.Bookings.Pay(ctx, req)
	noErr(t, "Pay just before expiry", err)
	want := booking.Payment{ID: req.PaymentID, ReservationID: r.ID, UserID: a, ConcertID: e.c.ID,
		Amount: 240_000, Balance: 760_000, PaidAt: req.Now}
	if !samePayment(p, want) || p.PaidAt.Location() != time.UTC {
		t.Errorf("Pay: got %+v, want %+v in UTC", p, want)
	}
	e.wantBalance(a, 760_000)
	got := e.stored(r.ID)
	if got.Status != booking.Paid || !got.PaidAt.Equal(req.Now) {
		t.Errorf("Reservation: got status %s paid at %v, want %s at %v", got.Status, got.PaidAt, booking.Paid, req.Now)
	}
	for _, at := range []time.Time{bookingNow, bookingExpiry, bookingExpiry.Add(24 * time.Hour)} {
		e.wantSeats(Day1, at, concert.Sold, 10, 11)
	}
	entries := fullHistory(t, e.Wallets, a)
	wantEntry := wallet.Entry{ID: req.PaymentID, UserID: a, Kind: wallet.Payment, Amount: 240_000,
		BalanceAfter: 760_000, At: req.Now}
	if len(entries) != 2 || !sameEntry(entries[0], wantEntry) {
		t.Errorf("History: got %+v, want %+v first of 2", entries, wantEntry)
	}
	inv := e.inventory(bookingExpiry)
	if inv.Sold != 2 || inv.Revenue != 240_000 || inv.Held != 0 || inv.Available != 98 || inv.Total != 100 {
		t.Errorf("Inventory: got %+v, want 2 sold for 240000, 98 available of 100", inv)
	}
	byKey, err := e.Bookings.PaymentByKey(ctx, a, "pay-1")
	noErr(t, "PaymentByKey", err)
	if !samePayment(byKey, p) {
		t.Errorf("PaymentByKey: got %+v, want %+v", byKey, p)
	}
	checkMoney(t, e.Stores, []string{a}, e.c.ID)
}

func testPayReplay(t *testing.T, newStores func(t *testing.T) Stores) {
	e := newBookingEnv(t, newStores, ConcertSpec())
	a := e.user(1_000_000)
	r := e.mustHold(a, Day1, bookingNow, 12)
	first := e.mustPay(a, r.ID, "pay-1", bookingNow)
	for _, at := range []time.Time{bookingNow, bookingExpiry.Add(time.Hour)} {
		again, err := e.pay(a, r.ID, "pay-1", at)
		noErr(t, "Pay replayed", err)
		if !samePayment(again, first) {
			t.Errorf("Pay replayed: got %+v, want the first payment %+v", again, first)
		}
	}
	e.wantBalance(a, 910_000)
	if ps := e.payments(a); len(ps) != 1 {
		t.Errorf("PAYMENT entries: got %d, want 1", len(ps))
	}
}

func testPayReplayWithIDInAnotherCase(t *testing.T, newStores func(t *testing.T) Stores) {
	// A UUID is one id whatever the case of its hex digits.
	e := newBookingEnv(t, newStores, ConcertSpec())
	a := e.user(1_000_000)
	r := e.mustHold(a, Day1, bookingNow, 12)
	first := e.mustPay(a, strings.ToUpper(r.ID), "pay-1", bookingNow)
	if first.ReservationID != r.ID {
		t.Errorf("Pay: got reservation id %s, want %s", first.ReservationID, r.ID)
	}
	for _, id := range []string{r.ID, strings.ToUpper(r.ID)} {
		again, err := e.pay(a, id, "pay-1", bookingNow)
		noErr(t, "Pay replayed with id "+id, err)
		if !samePayment(again, first) {
			t.Errorf("Pay replayed with id %s: got %+v, want the first payment %+v", id, again, first)
		}
	}
	e.wantBalance(a, 910_000)
}

func testIDsInAnyCase(t *testing.T, newStores func(t *testing.T) Stores) {
	ctx := context.Background()
	e := newBookingEnv(t, newStores, ConcertSpec())
	a := e.user(0)
	req := e.holdReq(a, Day1, bookingNow, 7)
	req.ConcertID = strings.ToUpper(e.c.ID)
	req.ReservationID = strings.ToUpper(req.ReservationID)
	r, err := e.Bookings.Hold(ctx, req)
	noErr(t, "Hold with upper-case ids", err)
	if r.ID != strings.ToLower(req.ReservationID) || r.ConcertID != e.c.ID {
		t.Errorf("Hold: got ids %s and %s, want %s and %s", r.ID, r.ConcertID, strings.ToLower(req.ReservationID), e.c.ID)
	}
	got, err := e.Bookings.Reservation(ctx, strings.ToUpper(r.ID))
	noErr(t, "Reservation with an upper-case id", err)
	if got.ID != r.ID || got.ConcertID != e.c.ID {
		t.Errorf("Reservation: got ids %s and %s, want %s and %s", got.ID, got.ConcertID, r.ID, e.c.ID)
	}
	inv, err := e.Bookings.Inventory(ctx, strings.ToUpper(e.c.ID), bookingNow)
	noErr(t, "Inventory with an upper-case id", err)
	if inv.Held != 1 {
		t.Errorf("Inventory: got %d held, want 1", inv.Held)
	}
	c, err := e.Bookings.Cancel(ctx, strings.ToUpper(r.ID), a, bookingNow)
	noErr(t, "Cancel with an upper-case id", err)
	if c.ID != r.ID || c.Status != booking.Cancelled {
		t.Errorf("Cancel: got %s %s, want %s %s", c.ID, c.Status, r.ID, booking.Cancelled)
	}
}

func testPayErrAlreadyPaid(t *testing.T, newStores func(t *testing.T) Stores) {
	ctx := context.Background()
	e := newBookingEnv(t, newStores, ConcertSpec())
	a := e.user(1_000_000)
	r := e.mustHold(a, Day1, bookingNow, 12)
	e.mustPay(a, r.ID, "", bookingNow)
	for _, key := range []string{"", "other-key"} {
		_, err := e.pay(a, r.ID, key, bookingNow)
		wantErr(t, "Pay again with key "+key, err, boxoffice.ErrAlreadyPaid)
	}
	e.wantBalance(a, 910_000)
	if ps := e.payments(a); len(ps) != 1 {
		t.Errorf("PAYMENT entries: got %d, want 1", len(ps))
	}
	_, err := e.Bookings.PaymentByKey(ctx, a, "other-key")
	wantErr(t, "PaymentByKey of a refused payment", err, boxoffice.ErrNotFound)
}

func testPayErrIdempotencyKeyReused(t *testing.T, newStores func(t *testing.T) Stores) {
	e := newBookingEnv(t, newStores, ConcertSpec())
	a := e.user(1_000_000)
	r1 := e.mustHold(a, Day1, bookingNow, 12)
	e.mustPay(a, r1.ID, "key", bookingNow)
	r2 := e.mustHold(a, Day1, bookingNow, 13)
	_, err := e.pay(a, r2.ID, "key", bookingNow)
	wantErr(t, "Pay with a used key", err, boxoffice.ErrIdempotencyKeyReused)
	e.wantStatus(r2.ID, booking.Held)
	e.wantSeats(Day1, bookingNow, concert.Held, 13)
	e.wantBalance(a, 910_000)
	e.mustPay(a, r2.ID, "another-key", bookingNow)
}

func testPayErrForbidden(t *testing.T, newStores func(t *testing.T) Stores) {
	e := newBookingEnv(t, newStores, ConcertSpec())
	a, b := e.user(1_000_000), e.user(1_000_000)
	r := e.mustHold(a, Day1, bookingNow, 12)
	_, err := e.pay(b, r.ID, "k", bookingNow)
	wantErr(t, "Pay by another user", err, boxoffice.ErrForbidden)
	// Nothing was decided for b's key: it is free for b's own payment.
	rb := e.mustHold(b, Day1, bookingNow, 13)
	e.mustPay(b, rb.ID, "k", bookingNow)
	e.wantBalance(b, 910_000)
	e.wantStatus(r.ID, booking.Held)
	e.wantBalance(a, 1_000_000)
}

func testPayErrHoldExpired(t *testing.T, newStores func(t *testing.T) Stores) {
	ctx := context.Background()
	e := newBookingEnv(t, newStores, ConcertSpec())
	a := e.user(1_000_000)
	atExpiry := e.mustHold(a, Day1, bookingNow, 1)
	cancelled := e.mustHold(a, Day1, bookingNow, 2)
	_, err := e.Bookings.Cancel(ctx, cancelled.ID, a, bookingNow)
	noErr(t, "Cancel", err)
	swept := e.mustHold(a, Day2, bookingNow.Add(-time.Hour), 3)
	if n, err := e.Bookings.Sweep(ctx, bookingNow, 10); err != nil || n != 1 {
		t.Fatalf("Sweep: got %d, %v, want 1 hold tidied", n, err)
	}
	for _, tc := range []struct {
		name string
		id   string
		at   time.Time
	}{
		{"AtExpiry", atExpiry.ID, bookingExpiry},
		{"Cancelled", cancelled.ID, bookingNow},
		{"Swept", swept.ID, bookingNow},
	} {
		_, first := e.pay(a, tc.id, "key-"+tc.name, tc.at)
		wantErr(t, "Pay "+tc.name, first, boxoffice.ErrHoldExpired)
		_, err := e.Bookings.PaymentByKey(ctx, a, "key-"+tc.name)
		wantErr(t, "PaymentByKey "+tc.name, err, boxoffice.ErrNotFound)
		// Retried with the key, even at an instant the hold was live,
		// the payment gets its first answer.
		_, err = e.pay(a, tc.id, "key-"+tc.name, bookingNow)
		if err == nil || err.Error() != first.Error() {
			t.Errorf("Pay %s retried: got %v, want the first answer %v", tc.name, err, first)
		}
	}
	e.wantBalance(a, 1_000_000)
	if ps := e.payments(a); len(ps) != 0 {
		t.Errorf("PAYMENT entries: got %d, want 0", len(ps))
	}
	if inv := e.inventory(bookingNow); inv.Sold != 0 || inv.Revenue != 0 {
		t.Errorf("Inventory: got %+v, want nothing sold", inv)
	}
}

func testPayErrInsufficientBalance(t *testing.T, newStores func(t *testing.T) Stores) {
	ctx := context.Background()
	e := newBookingEnv(t, newStores, ConcertSpec())
	a := e.user(239_999)
	r := e.mustHold(a, Day1, bookingNow, 10, 11)
	_, err := e.pay(a, r.ID, "k", bookingNow)
	wantErr(t, "Pay", err, boxoffice.ErrInsufficientBalance)
	e.wantBalance(a, 239_999)
	e.wantStatus(r.ID, booking.Held)
	e.wantSeats(Day1, bookingNow, concert.Held, 10, 11)
	if ps := e.payments(a); len(ps) != 0 {
		t.Errorf("PAYMENT entries: got %d, want 0", len(ps))
	}
	first := err
	_, err = e.Wallets.Charge(ctx, wallet.ChargeRequest{ChargeID: boxoffice.NewID(), UserID: a,
		Amount: 1, MaxBalance: wallet.DefaultLimits().MaxBalance, Now: bookingNow})
	noErr(t, "Charge", err)
	// The key's answer is the refusal, even now that the balance would do.
	_, err = e.pay(a, r.ID, "k", bookingNow)
	if err == nil || err.Error() != first.Error() {
		t.Errorf("Pay retried with the key: got %v, want the first answer %v", err, first)
	}
	r2 := e.mustHold(a, Day1, bookingNow, 13)
	_, err = e.pay(a, r2.ID, "k", bookingNow)
	wantErr(t, "Pay of another reservation with the key", err, boxoffice.ErrIdempotencyKeyReused)
	e.wantBalance(a, 240_000)
	_, err = e.Bookings.Cancel(ctx, r2.ID, a, bookingNow)
	noErr(t, "Cancel", err)
	p := e.mustPay(a, r.ID, "k2", bookingNow)
	if p.Balance != 0 {
		t.Errorf("Pay: got balance %d, want 0", p.Balance)
	}
}

func testPayCancelledIsNotRemembered(t *testing.T, newStores func(t *testing.T) Stores) {
	ctx := context.Background()
	e := newBookingEnv(t, newStores, ConcertSpec())
	a := e.user(1_000_000)
	r := e.mustHold(a, Day1, bookingNow, 12)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err := e.Bookings.Pay(cancelled, booking.PayRequest{PaymentID: boxoffice.NewID(),
		ReservationID: r.ID, UserID: a, IdempotencyKey: "k", Now: bookingNow})
	if err == nil {
		t.Fatalf("Pay with a cancelled context: got no error, want one")
	}
	e.mustPay(a, r.ID, "k", bookingNow)
	e.wantBalance(a, 910_000)
}

func testPayErrNotFound(t *testing.T, newStores func(t *testing.T) Stores) {
	e := newBookingEnv(t, newStores, ConcertSpec())
	a := e.user(1_000_000)
	for _, id := range []string{boxoffice.NewID(), "not-a-uuid"} {
		_, err := e.pay(a, id, "", bookingNow)
		wantErr(t, "Pay("+id+")", err, boxoffice.ErrNotFound)
	}
}

func testPaymentByKeyErrNotFound(t *testing.T, newStores func(t *testing.T) Stores) {
	ctx := context.Background()
	e := newBookingEnv(t, newStores, ConcertSpec())
	a, b := e.user(1_000_000), e.user(0)
	r := e.mustHold(a, Day1, bookingNow, 12)
	e.mustPay(a, r.ID, "k", bookingNow)
	for _, tc := range []struct{ user, key string }{{a, "unknown"}, {a, ""}, {b, "k"}, {newUserID(), "k"}} {
		_, err := e.Bookings.PaymentByKey(ctx, tc.user, tc.key)
		wantErr(t, "PaymentByKey("+tc.key+")", err, boxoffice.ErrNotFound)
	}
}

func testInventoryOK(t *testing.T, newStores func(t *testing.T) Stores) {
	e := newBookingEnv(t, newStores, ConcertSpec())
	a, b, c := e.user(0), e.user(1_000_000), e.user(0)
	e.mustHold(a, Day1, bookingNow, 1, 2)
	rb := e.mustHold(b, Day2, bookingNow, 3, 4, 5)
	e.mustPay(b, rb.ID, "", bookingNow)
	e.mustHold(c, Day1, bookingNow.Add(time.Minute), 6)
	for _, tc := range []struct {
		at   time.Time
		want booking.Inventory
	}{
		{bookingExpiry.Add(-time.Nanosecond), booking.Inventory{Total: 100, Available: 94, Held: 3, Sold: 3, Revenue: 450_000}},
		{bookingExpiry, booking.Inventory{Total: 100, Available: 96, Held: 1, Sold: 3, Revenue: 450_000}},
		{bookingExpiry.Add(time.Minute), booking.Inventory{Total: 100, Available: 97, Held: 0, Sold: 3, Revenue: 450_000}},
	} {
		if got := e.inventory(tc.at); got != tc.want {
			t.Errorf("Inventory at %v: got %+v, want %+v", tc.at, got, tc.want)
		}
	}
}

func testInventoryErrNotFound(t *testing.T, newStores func(t *testing.T) Stores) {
	ctx := context.Background()
	e := newBookingEnv(t, newStores, ConcertSpec())
	for _, id := range []string{boxoffice.NewID(), "not-a-uuid"} {
		_, err := e.Bookings.Inventory(ctx, id, bookingNow)
		wantErr(t, "Inventory("+id+")", err, boxoffice.ErrNotFound)
		_, err = e.Bookings.Supply(ctx, id, bookingNow)
		wantErr(t, "Supply("+id+")", err, boxoffice.ErrNotFound)
	}
}

// testSupplyOK walks a concert through every answer of Supply: seats
// available, every seat held (and, at the holds' expiry, available again),
// every seat sold.
func testSupplyOK(t *testing.T, newStores func(t *testing.T) Stores) {
	e := newBookingEnv(t, newStores, cheapSpec())
	a := e.user(1_000_000)
	upper := strings.ToUpper(e.c.ID)
	if sup, err := e.Bookings.Supply(context.Background(), upper, bookingNow); err != nil || sup != (booking.Supply{Available: true}) {
		t.Errorf("Supply of a new concert (upper-case id): got %+v, %v, want available only", sup, err)
	}
	r1 := e.mustHold(a, Day1, bookingNow, allSeats()...)
	r2 := e.mustHold(a, Day2, bookingNow.Add(time.Second), allSeats()...)
	for _, tc := range []struct {
		at   time.Time
		want booking.Supply
	}{
		{bookingNow.Add(time.Second), booking.Supply{Held: true}},
		{bookingExpiry, booking.Supply{Available: true, Held: true}},
		{bookingExpiry.Add(time.Second), booking.Supply{Available: true}},
	} {
		if got := e.supply(tc.at); got != tc.want {
			t.Errorf("Supply at %v with every seat held from %v and %v: got %+v, want %+v", tc.at, bookingNow, bookingNow.Add(time.Second), got, tc.want)
		}
	}
	e.mustPay(a, r1.ID, "", bookingNow.Add(time.Second))
	if got, want := e.supply(bookingNow.Add(time.Second)), (booking.Supply{Held: true}); got != want {
		t.Errorf("Supply with one date sold, the other held: got %+v, want %+v", got, want)
	}
	e.mustPay(a, r2.ID, "", bookingNow.Add(time.Second))
	if got := e.supply(bookingNow.Add(time.Second)); got != (booking.Supply{}) {
		t.Errorf("Supply when sold out: got %+v, want nothing", got)
	}
}

func testDatesAvailableAtNow(t *testing.T, newStores func(t *testing.T) Stores) {
	ctx := context.Background()
	e := newBookingEnv(t, newStores, ConcertSpec())
	a := e.user(0)
	e.mustHold(a, Day2, bookingNow, 1, 2, 3)
	for _, tc := range []struct {
		at   time.Time
		want int
	}{{bookingExpiry.Add(-time.Nanosecond), 47}, {bookingExpiry, 50}} {
		dates, err := e.Concerts.Dates(ctx, e.c.ID, tc.at)
		noErr(t, "Dates", err)
		if len(dates) != 2 || dates[0].AvailableSeats != 50 || dates[1].AvailableSeats != tc.want {
			t.Errorf("Dates at %v: got %+v, want 50 then %d seats available", tc.at, dates, tc.want)
		}
	}
}

func testBookingSoldOut(t *testing.T, newStores func(t *testing.T) Stores) {
	ctx := context.Background()
	e := newBookingEnv(t, newStores, cheapSpec())
	a := e.user(1_000_000)
	r1 := e.mustHold(a, Day1, bookingNow, allSeats()...)
	c, err := e.Concerts.Concert(ctx, e.c.ID)
	noErr(t, "Concert", err)
	if c.SoldOut {
		t.Errorf("Concert with every seat held: got SoldOut, want not sold out")
	}
	e.mustPay(a, r1.ID, "", bookingNow)
	dates, err := e.Concerts.Dates(ctx, e.c.ID, bookingNow)
	noErr(t, "Dates", err)
	if len(dates) != 1 || dates[0].Day != Day2 {
		t.Errorf("Dates with %s sold out: got %+v, want %s only", Day1, dates, Day2)
	}
	r2 := e.mustHold(a, Day2, bookingNow, allSeats()...)
	e.mustPay(a, r2.ID, "", bookingNow)
	c, err = e.Concerts.Concert(ctx, e.c.ID)
	noErr(t, "Concert", err)
	list, err := e.Concerts.Concerts(ctx)
	noErr(t, "Concerts", err)
	if !c.SoldOut || len(list) != 1 || !list[0].SoldOut {
		t.Errorf("SoldOut: got %v from Concert and %+v from Concerts, want true", c.SoldOut, list)
	}
	dates, err = e.Concerts.Dates(ctx, e.c.ID, bookingNow)
	noErr(t, "Dates", err)
	if len(dates) != 0 {
		t.Errorf("Dates when sold out: got %+v, want none", dates)
	}
	if inv := e.inventory(bookingNow); !inv.SoldOut() || inv.Revenue != 100_000 {
		t.Errorf("Inventory: got %+v, want sold out for 100000", inv)
	}
	checkMoney(t, e.Stores, []string{a}, e.c.ID)
}

func testSweepOK(t *testing.T, newStores func(t *testing.T) Stores) {
	ctx := context.Background()
	e := newBookingEnv(t, newStores, ConcertSpec())
	a := e.user(1_000_000)
	lapsed1 := e.mustHold(a, Day1, bookingNow, 1)
	lapsed2 := e.mustHold(a, Day2, bookingNow, 2)
	live := e.mustHold(a, Day1, bookingNow.Add(time.Hour), 3)
	paid := e.mustHold(a, Day1, bookingNow, 4)
	e.mustPay(a, paid.ID, "", bookingNow)
	cancelled := e.mustHold(a, Day1, bookingNow, 5)
	_, err := e.Bookings.Cancel(ctx, cancelled.ID, a, bookingNow)
	noErr(t, "Cancel", err)

	at := bookingExpiry.Add(time.Minute)
	n, err := e.Bookings.Sweep(ctx, at, 100)
	noErr(t, "Sweep", err)
	if n != 2 {
		t.Errorf("Sweep: got %d tidied, want 2", n)
	}
	e.wantStatus(lapsed1.ID, booking.Expired)
	e.wantStatus(lapsed2.ID, booking.Expired)
	e.wantStatus(live.ID, booking.Held)
	e.wantStatus(paid.ID, booking.Paid)
	e.wantStatus(cancelled.ID, booking.Cancelled)
	// The rows were freed: even read at an instant before the lapse,
	// the seats are available.
	e.wantSeats(Day1, bookingNow, concert.Available, 1)
	e.wantSeats(Day2, bookingNow, concert.Available, 2)
	e.wantSeats(Day1, at, concert.Held, 3)
	e.wantSeats(Day1, at, concert.Sold, 4)
	n, err = e.Bookings.Sweep(ctx, at, 100)
	noErr(t, "Sweep again", err)
	if n != 0 {
		t.Errorf("Sweep again: got %d tidied, want 0", n)
	}
	e.mustPay(a, live.ID, "", at)
}

func testSweepLimit(t *testing.T, newStores func(t *testing.T) Stores) {
	ctx := context.Background()
	e := newBookingEnv(t, newStores, ConcertSpec())
	a, b, c := e.user(0), e.user(0), e.user(0)
	e.mustHold(a, Day1, bookingNow, 1)
	e.mustHold(b, Day1, bookingNow, 2)
	e.mustHold(c, Day1, bookingNow, 3)
	for _, want := range []int{2, 1, 0} {
		n, err := e.Bookings.Sweep(ctx, bookingExpiry, 2)
		noErr(t, "Sweep", err)
		if n != want {
			t.Errorf("Sweep: got %d tidied, want %d", n, want)
		}
	}
	if n, err := e.Bookings.Sweep(ctx, bookingExpiry, 0); err != nil || n != 0 {
		t.Errorf("Sweep with limit 0: got %d, %v, want 0", n, err)
	}
}

func testSweepLeavesRetakenSeats(t *testing.T, newStores func(t *testing.T) Stores) {
	ctx := context.Background()
	e := newBookingEnv(t, newStores, ConcertSpec())
	a, b := e.user(0), e.user(1_000_000)
	ra := e.mustHold(a, Day1, bookingNow, 1, 2)
	rb := e.mustHold(b, Day1, bookingExpiry, 2)
	at := bookingExpiry.Add(time.Minute)
	n, err := e.Bookings.Sweep(ctx, at, 100)
	noErr(t, "Sweep", err)
	if n != 1 {
		t.Errorf("Sweep: got %d tidied, want 1", n)
	}
	e.wantStatus(ra.ID, booking.Expired)
	e.wantStatus(rb.ID, booking.Held)
	e.wantSeats(Day1, at, concert.Available, 1)
	e.wantSeats(Day1, at, concert.Held, 2)
	e.mustPay(b, rb.ID, "", at)
}

// runBookingRaces releases many callers at once and checks that the
// outcome is one that some serial order of the calls would give.
func runBookingRaces(t *testing.T, newStores func(t *testing.T) Stores) {
	run := bookingRunner(t, newStores)
	run("Race/OneSeatManyUsers", testRaceOneSeatManyUsers)
	run("Race/OverlappingHolds", testRaceOverlappingHolds)
	run("Race/SameUserLimit", testRaceSameUserLimit)
	run("Race/PayOnce", testRacePayOnce)
	run("Race/PayAsHoldLapses", testRacePayAsHoldLapses)
	run("Race/PayVersusCancel", testRacePayVersusCancel)
	run("Race/PayVersusSweep", testRacePayVersusSweep)
	run("Race/ManyUsersHoldAndPay", testRaceManyUsersHoldAndPay)
}

func testRaceOneSeatManyUsers(t *testing.T, newStores func(t *testing.T) Stores) {
	ctx := context.Background()
	e := newBookingEnv(t, newStores, ConcertSpec())
	const n = 100
	users := make([]string, n)
	for i := range users {
		users[i] = e.user(0)
	}
	won := make([]booking.Reservation, n)
	together(n, func(i int) {
		r, err := e.hold(users[i], Day1, bookingNow, 17)
		switch {
		case err == nil:
			won[i] = r
		case boxoffice.ErrorCode(err) != boxoffice.CodeSeatUnavailable:
			t.Errorf("Hold by user %d: got error %v, want none or %s", i, err, boxoffice.CodeSeatUnavailable)
		}
	})
	var winners []booking.Reservation
	for _, r := range won {
		if r.ID != "" {
			winners = append(winners, r)
		}
	}
	if len(winners) != 1 {
		t.Fatalf("winners: got %d, want 1", len(winners))
	}
	w := e.stored(winners[0].ID)
	if w.Status != booking.Held || !slices.Equal(w.Numbers(), []int{17}) {
		t.Errorf("winner: got %+v, want a hold of seat 17", w)
	}
	e.wantSeats(Day1, bookingNow, concert.Held, 17)
	if inv := e.inventory(bookingNow); inv.Held != 1 {
		t.Errorf("Inventory: got %d held, want 1", inv.Held)
	}
	// The seat is the winner's: cancelling frees it.
	_, err := e.Bookings.Cancel(ctx, w.ID, w.UserID, bookingNow)
	noErr(t, "Cancel", err)
	e.wantSeats(Day1, bookingNow, concert.Available, 17)
	checkMoney(t, e.Stores, users, e.c.ID)
}

func testRaceOverlappingHolds(t *testing.T, newStores func(t *testing.T) Stores) {
	e := newBookingEnv(t, newStores, ConcertSpec())
	const n = 40
	rng := rand.New(rand.NewPCG(1, 2))
	users := make([]string, n)
	asks := make([][]int, n)
	for i := range users {
		users[i] = e.user(0)
		asks[i] = rng.Perm(12)[:2+rng.IntN(3)]
		for j := range asks[i] {
			asks[i][j]++
		}
		slices.Sort(asks[i])
	}
	won := make([]booking.Reservation, n)
	together(n, func(i int) {
		r, err := e.hold(users[i], Day1, bookingNow, asks[i]...)
		switch {
		case err == nil:
			won[i] = r
		case boxoffice.ErrorCode(err) != boxoffice.CodeSeatUnavailable:
			t.Errorf("Hold %v: got error %v, want none or %s", asks[i], err, boxoffice.CodeSeatUnavailable)
		}
	})
	owner := map[int]string{}
	for i, r := range won {
		if r.ID == "" {
			continue
		}
		got := e.stored(r.ID)
		if got.UserID != users[i] || got.Status != booking.Held || !slices.Equal(got.Numbers(), asks[i]) {
			t.Errorf("winner %d: got %+v, want a hold of %v", i, got, asks[i])
		}
		for _, s := range asks[i] {
			if other, taken := owner[s]; taken {
				t.Errorf("seat %d: held by %s and %s", s, other, r.ID)
			}
			owner[s] = r.ID
		}
	}
	if len(owner) == 0 {
		t.Fatalf("winners: got none, want at least one")
	}
	st := e.seats(Day1, bookingNow)
	for s := 1; s <= concert.SeatsPerDate; s++ {
		_, held := owner[s]
		if held != (st[s] == concert.Held) || (!held && st[s] != concert.Available) {
			t.Errorf("seat %d: got %s, want held=%v", s, st[s], held)
		}
	}
	checkMoney(t, e.Stores, users, e.c.ID)
}

func testRaceSameUserLimit(t *testing.T, newStores func(t *testing.T) Stores) {
	e := newBookingEnv(t, newStores, ConcertSpec())
	a := e.user(0)
	const n = 20
	ok := make([]bool, n)
	together(n, func(i int) {
		_, err := e.hold(a, Day1, bookingNow, 2*i+1, 2*i+2)
		switch {
		case err == nil:
			ok[i] = true
		case boxoffice.ErrorCode(err) != boxoffice.CodeSeatLimitExceeded:
			t.Errorf("Hold %d: got error %v, want none or %s", i, err, boxoffice.CodeSeatLimitExceeded)
		}
	})
	wins := 0
	for _, o := range ok {
		if o {
			wins++
		}
	}
	if wins != 2 {
		t.Errorf("holds accepted: got %d, want 2", wins)
	}
	held := 0
	for _, s := range e.seats(Day1, bookingNow) {
		if s == concert.Held {
			held++
		}
	}
	if held != 4 {
		t.Errorf("seats held: got %d, want 4", held)
	}
	checkMoney(t, e.Stores, []string{a}, e.c.ID)
}

func testRacePayOnce(t *testing.T, newStores func(t *testing.T) Stores) {
	ctx := context.Background()
	e := newBookingEnv(t, newStores, ConcertSpec())
	a := e.user(1_000_000)
	r := e.mustHold(a, Day1, bookingNow, 30, 31)
	const n = 20
	keys := []string{"key-a", "key-b", "key-c", ""}
	pays := make([]booking.Payment, n)
	errs := make([]error, n)
	together(n, func(i int) {
		pays[i], errs[i] = e.pay(a, r.ID, keys[i%len(keys)], bookingNow)
	})
	var winner *booking.Payment
	for i := range pays {
		if errs[i] == nil {
			winner = &pays[i]
			break
		}
	}
	if winner == nil {
		t.Fatalf("payments: got none, want one")
	}
	winnerKey := ""
	for _, k := range keys[:3] {
		if p, err := e.Bookings.PaymentByKey(ctx, a, k); err == nil && samePayment(p, *winner) {
			winnerKey = k
		}
	}
	successes := 0
	for i := range pays {
		key := keys[i%len(keys)]
		switch {
		case errs[i] == nil:
			successes++
			if !samePayment(pays[i], *winner) {
				t.Errorf("payment %d: got %+v, want the winner's %+v", i, pays[i], *winner)
			}
			if key != winnerKey {
				t.Errorf("payment %d with key %q succeeded, but the winner's key is %q", i, key, winnerKey)
			}
		case key != "" && key == winnerKey:
			t.Errorf("payment %d with the winner's key: got error %v, want the winner's payment", i, errs[i])
		case boxoffice.ErrorCode(errs[i]) != boxoffice.CodeAlreadyPaid:
			t.Errorf("payment %d: got error %v, want %s", i, errs[i], boxoffice.CodeAlreadyPaid)
		}
	}
	wantSuccesses := n / len(keys)
	if winnerKey == "" {
		wantSuccesses = 1
	}
	if successes != wantSuccesses {
		t.Errorf("successes: got %d, want %d", successes, wantSuccesses)
	}
	e.wantBalance(a, 1_000_000-180_000)
	if ps := e.payments(a); len(ps) != 1 || ps[0].ID != winner.ID {
		t.Errorf("PAYMENT entries: got %+v, want one with id %s", ps, winner.ID)
	}
	if inv := e.inventory(bookingNow); inv.Revenue != 180_000 || inv.Sold != 2 {
		t.Errorf("Inventory: got %+v, want 2 sold for 180000", inv)
	}
	checkMoney(t, e.Stores, []string{a}, e.c.ID)
}

func testRacePayAsHoldLapses(t *testing.T, newStores func(t *testing.T) Stores) {
	ctx := context.Background()
	e := newBookingEnv(t, newStores, ConcertSpec())
	a, b := e.user(10_000_000), e.user(0)
	const rounds = 10
	for i := range rounds {
		seat := 21 + i
		ra := e.mustHold(a, Day1, bookingNow, seat)
		var payErr, holdErr error
		var rb booking.Reservation
		together(2, func(j int) {
			if j == 0 {
				_, payErr = e.pay(a, ra.ID, "", bookingExpiry)
			} else {
				rb, holdErr = e.hold(b, Day1, bookingExpiry, seat)
			}
		})
		wantErr(t, "Pay at expiry", payErr, boxoffice.ErrHoldExpired)
		noErr(t, "Hold at expiry", holdErr)
		if got := e.stored(rb.ID); got.UserID != b || !slices.Equal(got.Numbers(), []int{seat}) {
			t.Errorf("round %d: got %+v, want b's hold of seat %d", i, got, seat)
		}
		e.wantSeats(Day1, bookingExpiry, concert.Held, seat)
		_, err := e.Bookings.Cancel(ctx, rb.ID, b, bookingExpiry)
		noErr(t, "Cancel", err)
	}
	e.wantBalance(a, 10_000_000)
	checkMoney(t, e.Stores, []string{a, b}, e.c.ID)
}

func testRacePayVersusCancel(t *testing.T, newStores func(t *testing.T) Stores) {
	ctx := context.Background()
	e := newBookingEnv(t, newStores, ConcertSpec())
	a := e.user(10_000_000)
	const rounds = 10
	paid := 0
	for i := range rounds {
		seat := 21 + i
		r := e.mustHold(a, Day1, bookingNow, seat)
		var payErr, cancelErr error
		together(2, func(j int) {
			if j == 0 {
				_, payErr = e.pay(a, r.ID, "", bookingNow)
			} else {
				_, cancelErr = e.Bookings.Cancel(ctx, r.ID, a, bookingNow)
			}
		})
		switch {
		case payErr == nil:
			paid++
			wantErr(t, "Cancel after pay", cancelErr, boxoffice.ErrAlreadyPaid)
			e.wantStatus(r.ID, booking.Paid)
			e.wantSeats(Day1, bookingNow, concert.Sold, seat)
		default:
			wantErr(t, "Pay after cancel", payErr, boxoffice.ErrHoldExpired)
			noErr(t, "Cancel before pay", cancelErr)
			e.wantStatus(r.ID, booking.Cancelled)
			e.wantSeats(Day1, bookingNow, concert.Available, seat)
		}
		if paid == 4 {
			break // the user's limit of the date is reached
		}
	}
	checkMoney(t, e.Stores, []string{a}, e.c.ID)
}

func testRacePayVersusSweep(t *testing.T, newStores func(t *testing.T) Stores) {
	ctx := context.Background()
	e := newBookingEnv(t, newStores, ConcertSpec())
	const rounds = 10
	var users []string
	for i := range rounds {
		a := e.user(10_000_000)
		users = append(users, a)
		r := e.mustHold(a, Day2, bookingNow.Add(time.Duration(i)*time.Hour), i+1)
		// The payer's clock is just before the expiry, the sweeper's after.
		payAt := r.ExpiresAt.Add(-time.Microsecond)
		var payErr, sweepErr error
		var swept int
		together(2, func(j int) {
			if j == 0 {
				_, payErr = e.pay(a, r.ID, "", payAt)
			} else {
				swept, sweepErr = e.Bookings.Sweep(ctx, r.ExpiresAt, 10)
			}
		})
		noErr(t, "Sweep", sweepErr)
		switch {
		case payErr == nil && swept == 0:
			e.wantStatus(r.ID, booking.Paid)
			e.wantSeats(Day2, payAt, concert.Sold, i+1)
		case payErr != nil && swept == 1:
			wantErr(t, "Pay after sweep", payErr, boxoffice.ErrHoldExpired)
			e.wantStatus(r.ID, booking.Expired)
			e.wantSeats(Day2, payAt, concert.Available, i+1)
		default:
			t.Errorf("round %d: got pay error %v and %d swept, want exactly one to win", i, payErr, swept)
		}
	}
	checkMoney(t, e.Stores, users, e.c.ID)
}

func testRaceManyUsersHoldAndPay(t *testing.T, newStores func(t *testing.T) Stores) {
	e := newBookingEnv(t, newStores, ConcertSpec())
	const n = 30
	users := make([]string, n)
	for i := range users {
		users[i] = e.user(500_000)
	}
	together(n, func(i int) {
		seats := []int{1 + i%10, 11 + i%10}
		slices.Sort(seats)
		r, err := e.hold(users[i], Day1, bookingNow, seats...)
		if err != nil {
			if boxoffice.ErrorCode(err) != boxoffice.CodeSeatUnavailable {
				t.Errorf("Hold %v: got error %v, want none or %s", seats, err, boxoffice.CodeSeatUnavailable)
			}
			return
		}
		if _, err := e.pay(users[i], r.ID, fmt.Sprintf("pay-%d", i), bookingNow); err != nil {
			t.Errorf("Pay: got error %v, want none", err)
		}
	})
	inv := e.inventory(bookingNow)
	if inv.Sold != 20 || inv.Revenue != 10*(150_000+90_000) {
		t.Errorf("Inventory: got %+v, want 20 sold for %d", inv, 10*(150_000+90_000))
	}
	checkMoney(t, e.Stores, users, e.c.ID)
}

// checkReservation fails t unless got equals want, times in UTC.
func checkReservation(t *testing.T, what string, got, want booking.Reservation) {
	t.Helper()
	if got.ID != want.ID || got.UserID != want.UserID || got.ConcertID != want.ConcertID ||
		got.Day != want.Day || !slices.Equal(got.Seats, want.Seats) || got.Amount != want.Amount ||
		got.Status != want.Status || !got.ExpiresAt.Equal(want.ExpiresAt) ||
		!got.CreatedAt.Equal(want.CreatedAt) || !got.PaidAt.Equal(want.PaidAt) {
		t.Errorf("%s: got %+v, want %+v", what, got, want)
	}
	if got.ExpiresAt.Location() != time.UTC || got.CreatedAt.Location() != time.UTC {
		t.Errorf("%s: got times %v and %v, want them in UTC", what, got.ExpiresAt, got.CreatedAt)
	}
}
