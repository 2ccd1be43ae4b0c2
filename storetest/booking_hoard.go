package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/booking"
	"github.com/boxoffice/boxoffice/concert"
)

// keyedHold asks for seats with an Idempotency-Key.
func (e *bookingEnv) keyedHold(userID, key, day string, now time.Time, seats ...int) (booking.Reservation, error) {
	req := e.holdReq(userID, day, now, seats...)
	req.IdempotencyKey = key
	return e.Bookings.Hold(context.Background(), req)
}

func (e *bookingEnv) release(userID string, now time.Time) []booking.Reservation {
	e.t.Helper()
	rs, err := e.Bookings.Release(context.Background(), userID, e.c.ID, now)
	noErr(e.t, "Release", err)
	return rs
}

// wantMessage fails t unless err is want, message and all.
func wantMessage(t *testing.T, what string, err, want error) {
	t.Helper()
	if err == nil || err.Error() != want.Error() || boxoffice.ErrorCode(err) != boxoffice.ErrorCode(want) {
		t.Errorf("%s: got error %v, want %v", what, err, want)
	}
}

// runHoardingRules checks the rules that keep holds from being hoarded: a
// hold's cap at its holder's session end, releasing a leaver's holds,
// the cooldown after one's own hold, replays of keyed holds, and the
// listing of a user's reservations.
func runHoardingRules(t *testing.T, newStores func(t *testing.T) Stores) {
	run := bookingRunner(t, newStores)
	run("Hold/NotAfter", testHoldNotAfter)
	run("Release/OK", testReleaseOK)
	run("Cooldown/AfterLapse", testCooldownAfterLapse)
	run("Cooldown/AfterCancelAndRelease", testCooldownAfterCancelAndRelease)
	run("Cooldown/PaidIsNoCooldown", testCooldownPaidIsNoCooldown)
	run("Cooldown/Off", testCooldownOff)
	run("HoldKey/Replay", testHoldKeyReplay)
	run("HoldKey/RememberedRefusal", testHoldKeyRememberedRefusal)
	run("Reservations/OK", testReservationsOK)
	run("Race/ReleaseVersusPay", testRaceReleaseVersusPay)
	run("Race/ReleaseVersusHold", testRaceReleaseVersusHold)
	run("Race/CancelVersusHoldAgain", testRaceCancelVersusHoldAgain)
	run("Race/SameKey", testRaceSameKey)
}

func testHoldNotAfter(t *testing.T, newStores func(t *testing.T) Stores) {
	ctx := context.Background()
	e := newBookingEnv(t, newStores, ConcertSpec())
	a := e.user(0)
	end := bookingNow.Add(time.Minute)
	req := e.holdReq(a, Day1, bookingNow, 1)
	req.NotAfter = end
	r, err := e.Bookings.Hold(ctx, req)
	noErr(t, "Hold capped by the session's end", err)
	if !r.ExpiresAt.Equal(end) || !e.stored(r.ID).ExpiresAt.Equal(end) {
		t.Errorf("Hold: got expiry %v (stored %v), want the session's end %v", r.ExpiresAt, e.stored(r.ID).ExpiresAt, end)
	}
	e.wantSeats(Day1, end.Add(-time.Microsecond), concert.Held, 1)
	e.wantSeats(Day1, end, concert.Available, 1)

	req = e.holdReq(a, Day1, bookingNow, 2)
	req.NotAfter = bookingExpiry.Add(time.Hour)
	r, err = e.Bookings.Hold(ctx, req)
	noErr(t, "Hold with a later cap", err)
	if !r.ExpiresAt.Equal(bookingExpiry) {
		t.Errorf("Hold with a later cap: got expiry %v, want %v", r.ExpiresAt, bookingExpiry)
	}

	for _, at := range []time.Time{bookingNow, bookingNow.Add(-time.Second)} {
		req = e.holdReq(a, Day1, bookingNow, 3)
		req.NotAfter = at
		_, err = e.Bookings.Hold(ctx, req)
		wantErr(t, "Hold after the session's end", err, boxoffice.ErrQueueTokenExpired)
	}
	e.wantSeats(Day1, bookingNow, concert.Available, 3)
}

func testReleaseOK(t *testing.T, newStores func(t *testing.T) Stores) {
	ctx := context.Background()
	e := newBookingEnv(t, newStores, ConcertSpec())
	other := NewConcert(t, ConcertSpec())
	noErr(t, "CreateConcert", e.Concerts.CreateConcert(ctx, other))
	a, b := e.user(rich), e.user(0)
	live1 := e.mustHold(a, Day1, bookingNow, 1, 2)
	live2 := e.mustHold(a, Day2, bookingNow.Add(time.Minute), 3)
	paid := e.mustHold(a, Day1, bookingNow, 4)
	e.mustPay(a, paid.ID, "", bookingNow)
	lapsed := e.mustHold(a, Day2, bookingNow.Add(-time.Hour), 5)
	theirs := e.mustHold(b, Day1, bookingNow, 6)
	req := e.holdReq(a, Day1, bookingNow, 7)
	req.ConcertID = other.ID
	elsewhere, err := e.Bookings.Hold(ctx, req)
	noErr(t, "Hold of another concert", err)

	at := bookingNow.Add(2 * time.Minute)
	got := e.release(a, at)
	ids := make([]string, len(got))
	for i, r := range got {
		ids[i] = r.ID
		if r.Status != booking.Cancelled || r.UserID != a {
			t.Errorf("Release: got %+v, want a's reservation CANCELLED", r)
		}
	}
	slices.Sort(ids)
	want := []string{live1.ID, live2.ID}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Errorf("Release: got %v, want %v", ids, want)
	}
	e.wantStatus(live1.ID, booking.Cancelled)
	e.wantStatus(live2.ID, booking.Cancelled)
	e.wantStatus(paid.ID, booking.Paid)
	e.wantStatus(lapsed.ID, booking.Held) // lapsed, untouched: the sweeper's
	e.wantStatus(theirs.ID, booking.Held)
	e.wantStatus(elsewhere.ID, booking.Held)
	e.wantSeats(Day1, at, concert.Available, 1, 2)
	e.wantSeats(Day2, at, concert.Available, 3, 5)
	e.wantSeats(Day1, at, concert.Sold, 4)
	e.wantSeats(Day1, at, concert.Held, 6)
	if inv := e.inventory(at); inv.Held != 1 || inv.Sold != 1 {
		t.Errorf("Inventory: got %+v, want 1 held and 1 sold", inv)
	}
	_, err = e.pay(a, live1.ID, "", at)
	wantErr(t, "Pay a released hold", err, boxoffice.ErrHoldExpired)
	// Others may hold the seats at once.
	e.mustHold(b, Day1, at, 1, 2)
	if again := e.release(a, at); len(again) != 0 {
		t.Errorf("Release again: got %d released, want none", len(again))
	}
	if none, err := e.Bookings.Release(ctx, e.user(0), e.c.ID, at); err != nil || len(none) != 0 {
		t.Errorf("Release of a user with no holds: got %v, %v, want none", none, err)
	}
	checkMoney(t, e.Stores, []string{a, b}, e.c.ID)
}

func testCooldownAfterLapse(t *testing.T, newStores func(t *testing.T) Stores) {
	ctx := context.Background()
	e := newBookingEnv(t, newStores, ConcertSpec())
	a, b := e.user(0), e.user(0)
	e.mustHold(a, Day1, bookingNow, 5)
	again := bookingExpiry.Add(bookingHold)
	refusal := booking.CooldownError(5, Day1, bookingExpiry, again)
	_, err := e.hold(a, Day1, bookingExpiry, 5)
	wantErr(t, "Hold again at the lapse", err, boxoffice.ErrSeatUnavailable)
	wantMessage(t, "Hold again at the lapse", err, refusal)
	e.wantSeats(Day1, bookingExpiry, concert.Available, 5)
	// Others can hold it at once; once they let it go, the user's
	// cooldown still holds.
	rb := e.mustHold(b, Day1, bookingExpiry, 5)
	_, err = e.Bookings.Cancel(ctx, rb.ID, b, bookingExpiry.Add(time.Second))
	noErr(t, "Cancel", err)
	// Tidied by the sweeper or not, the lapse counts.
	if n, err := e.Bookings.Sweep(ctx, bookingExpiry.Add(2*time.Second), 10); err != nil || n != 1 {
		t.Fatalf("Sweep: got %d, %v, want 1 hold tidied", n, err)
	}
	_, err = e.hold(a, Day1, again.Add(-time.Microsecond), 5)
	wantMessage(t, "Hold again just before the cooldown ends", err, refusal)
	// Other seats, and the same seat of another date, at once.
	e.mustHold(a, Day1, bookingExpiry, 6)
	e.mustHold(a, Day2, bookingExpiry, 5)
	e.mustHold(a, Day1, again, 5)
}

func testCooldownAfterCancelAndRelease(t *testing.T, newStores func(t *testing.T) Stores) {
	ctx := context.Background()
	e := newBookingEnv(t, newStores, ConcertSpec())
	a, b := e.user(0), e.user(0)
	r := e.mustHold(a, Day1, bookingNow, 7, 8)
	cancelled := bookingNow.Add(10 * time.Second)
	_, err := e.Bookings.Cancel(ctx, r.ID, a, cancelled)
	noErr(t, "Cancel", err)
	r2 := e.mustHold(a, Day1, bookingNow.Add(20*time.Second), 9)
	left := bookingNow.Add(30 * time.Second)
	e.release(a, left)

	// A request with one seat in its cooldown is refused whole, and the
	// detail names the seat whose cooldown ends last.
	_, err = e.hold(a, Day1, left, 7, 9, 10)
	wantMessage(t, "Hold after cancel and release", err, booking.CooldownError(9, Day1, left, left.Add(bookingHold)))
	e.wantSeats(Day1, left, concert.Available, 7, 9, 10)
	_, err = e.hold(a, Day1, cancelled.Add(bookingHold).Add(-time.Microsecond), 8)
	wantMessage(t, "Hold after cancel", err, booking.CooldownError(8, Day1, cancelled, cancelled.Add(bookingHold)))
	e.mustHold(a, Day1, cancelled.Add(bookingHold), 7, 8)
	_, err = e.hold(a, Day1, cancelled.Add(bookingHold), 9)
	wantErr(t, "Hold after release", err, boxoffice.ErrSeatUnavailable)
	e.mustHold(b, Day1, left, 9) // others at once
	// Cancelling a released hold does nothing, not even to b's hold.
	c, err := e.Bookings.Cancel(ctx, r2.ID, a, left)
	noErr(t, "Cancel a released hold", err)
	if c.Status != booking.Cancelled {
		t.Errorf("Cancel a released hold: got %s, want %s", c.Status, booking.Cancelled)
	}
	e.wantSeats(Day1, left, concert.Held, 9)
}

func testCooldownPaidIsNoCooldown(t *testing.T, newStores func(t *testing.T) Stores) {
	e := newBookingEnv(t, newStores, cheapSpec())
	a := e.user(rich)
	r := e.mustHold(a, Day1, bookingNow, 1)
	e.mustPay(a, r.ID, "", bookingNow)
	_, err := e.hold(a, Day1, bookingExpiry, 1)
	wantErr(t, "Hold of a seat one bought", err, boxoffice.ErrSeatUnavailable)
	if err.Error() == booking.CooldownError(1, Day1, bookingExpiry, bookingExpiry.Add(bookingHold)).Error() {
		t.Errorf("Hold of a seat one bought: got %v, want sold, not a cooldown", err)
	}
}

func testCooldownOff(t *testing.T, newStores func(t *testing.T) Stores) {
	ctx := context.Background()
	e := newBookingEnv(t, newStores, ConcertSpec())
	a := e.user(0)
	e.mustHold(a, Day1, bookingNow, 1)
	req := e.holdReq(a, Day1, bookingExpiry, 1)
	req.Cooldown = 0
	_, err := e.Bookings.Hold(ctx, req)
	noErr(t, "Hold with no cooldown", err)
}

func testHoldKeyReplay(t *testing.T, newStores func(t *testing.T) Stores) {
	ctx := context.Background()
	e := newBookingEnv(t, newStores, ConcertSpec())
	a, b := e.user(0), e.user(0)
	first, err := e.keyedHold(a, "k1", Day1, bookingNow, 11, 12)
	noErr(t, "Hold with a key", err)
	for _, seats := range [][]int{{11, 12}, {12, 11}} {
		again, err := e.keyedHold(a, "k1", Day1, bookingNow.Add(time.Second), seats...)
		noErr(t, fmt.Sprintf("Hold %v replayed", seats), err)
		checkReservation(t, "Hold replayed", again, first)
	}
	byKey, err := e.Bookings.HoldByKey(ctx, a, "k1", e.c.ID, Day1, []int{12, 11})
	noErr(t, "HoldByKey", err)
	checkReservation(t, "HoldByKey", byKey, first)
	// The key is the user's: another user's key of the same name is
	// another key.
	_, err = e.keyedHold(b, "k1", Day1, bookingNow, 13)
	noErr(t, "Hold with another user's key name", err)

	for _, tc := range []struct {
		name  string
		day   string
		seats []int
	}{{"OtherSeats", Day1, []int{11}}, {"OtherDate", Day2, []int{11, 12}}} {
		_, err := e.keyedHold(a, "k1", tc.day, bookingNow, tc.seats...)
		wantErr(t, "Hold "+tc.name+" with a used key", err, boxoffice.ErrIdempotencyKeyReused)
		_, err = e.Bookings.HoldByKey(ctx, a, "k1", e.c.ID, tc.day, tc.seats)
		wantErr(t, "HoldByKey "+tc.name, err, boxoffice.ErrIdempotencyKeyReused)
	}
	e.wantSeats(Day2, bookingNow, concert.Available, 11, 12)
	// A replay answers the first reservation as it stands.
	_, err = e.Bookings.Cancel(ctx, first.ID, a, bookingNow)
	noErr(t, "Cancel", err)
	again, err := e.keyedHold(a, "k1", Day1, bookingNow, 11, 12)
	noErr(t, "Hold replayed after cancel", err)
	if again.ID != first.ID || again.Status != booking.Cancelled {
		t.Errorf("Hold replayed after cancel: got %s %s, want %s %s", again.ID, again.Status, first.ID, booking.Cancelled)
	}
	e.wantSeats(Day1, bookingNow, concert.Available, 11, 12)
	_, err = e.Bookings.HoldByKey(ctx, a, "unknown", e.c.ID, Day1, []int{11})
	wantErr(t, "HoldByKey of an unknown key", err, boxoffice.ErrNotFound)
}

func testHoldKeyRememberedRefusal(t *testing.T, newStores func(t *testing.T) Stores) {
	ctx := context.Background()
	e := newBookingEnv(t, newStores, ConcertSpec())
	a, b := e.user(0), e.user(0)
	rb := e.mustHold(b, Day1, bookingNow, 20)
	_, first := e.keyedHold(a, "k", Day1, bookingNow, 20, 21)
	wantErr(t, "Hold of a held seat", first, boxoffice.ErrSeatUnavailable)
	_, err := e.Bookings.Cancel(ctx, rb.ID, b, bookingNow)
	noErr(t, "Cancel", err)
	// The key's answer is the refusal, even now that the seat is free.
	_, err = e.keyedHold(a, "k", Day1, bookingNow, 21, 20)
	wantMessage(t, "Hold retried with the key", err, first)
	_, err = e.Bookings.HoldByKey(ctx, a, "k", e.c.ID, Day1, []int{20, 21})
	wantMessage(t, "HoldByKey", err, first)
	_, err = e.keyedHold(a, "k", Day1, bookingNow, 22)
	wantErr(t, "Hold of other seats with the key", err, boxoffice.ErrIdempotencyKeyReused)
	e.wantSeats(Day1, bookingNow, concert.Available, 20, 21, 22)

	// The seat limit, and the cooldown, likewise.
	e.mustHold(a, Day1, bookingNow, 1, 2, 3, 4)
	_, first = e.keyedHold(a, "limit", Day1, bookingNow, 5)
	wantErr(t, "Hold past the limit", first, boxoffice.ErrSeatLimitExceeded)
	_, err = e.keyedHold(a, "limit", Day1, bookingExpiry.Add(time.Hour), 5)
	wantMessage(t, "Hold past the limit retried", err, first)
	_, first = e.keyedHold(a, "cool", Day1, bookingExpiry, 1)
	wantMessage(t, "Hold in the cooldown", first, booking.CooldownError(1, Day1, bookingExpiry, bookingExpiry.Add(bookingHold)))
	_, err = e.keyedHold(a, "cool", Day1, bookingExpiry.Add(time.Hour), 1)
	wantMessage(t, "Hold in the cooldown retried", err, first)

	// Refusals about the request keep nothing: the key stays free.
	_, err = e.keyedHold(a, "free", "2026-07-03", bookingNow, 1)
	wantErr(t, "Hold of an unknown date", err, boxoffice.ErrNotFound)
	req := e.holdReq(a, Day2, bookingNow, 1)
	req.IdempotencyKey, req.NotAfter = "free", bookingNow
	_, err = e.Bookings.Hold(ctx, req)
	wantErr(t, "Hold after the session's end", err, boxoffice.ErrQueueTokenExpired)
	_, err = e.keyedHold(a, "free", Day2, bookingNow, 1)
	noErr(t, "Hold with a key nothing was kept under", err)
}

func testReservationsOK(t *testing.T, newStores func(t *testing.T) Stores) {
	ctx := context.Background()
	e := newBookingEnv(t, newStores, ConcertSpec())
	other := NewConcert(t, ConcertSpec())
	noErr(t, "CreateConcert", e.Concerts.CreateConcert(ctx, other))
	a, b := e.user(rich), e.user(0)
	// Oldest first: lapsing, paid, cancelled, held, another concert's.
	lapsing := e.mustHold(a, Day1, bookingNow, 1)
	paid := e.mustHold(a, Day1, bookingNow.Add(time.Second), 2)
	e.mustPay(a, paid.ID, "", bookingNow.Add(time.Second))
	cancelled := e.mustHold(a, Day2, bookingNow.Add(2*time.Second), 3)
	_, err := e.Bookings.Cancel(ctx, cancelled.ID, a, bookingNow.Add(2*time.Second))
	noErr(t, "Cancel", err)
	held := e.mustHold(a, Day2, bookingNow.Add(3*time.Second), 4)
	req := e.holdReq(a, Day1, bookingNow.Add(4*time.Second), 5)
	req.ConcertID = other.ID
	elsewhere, err := e.Bookings.Hold(ctx, req)
	noErr(t, "Hold of another concert", err)
	e.mustHold(b, Day1, bookingNow, 6)
	at := lapsing.ExpiresAt // the first hold has lapsed, the others not

	list := func(q booking.ListRequest) []string {
		t.Helper()
		q.UserID, q.Now = a, at
		if q.Limit == 0 {
			q.Limit = 100
		}
		rs, err := e.Bookings.Reservations(ctx, q)
		noErr(t, "Reservations", err)
		ids := make([]string, len(rs))
		for i, r := range rs {
			ids[i] = r.ID
			if r.UserID != a {
				t.Errorf("Reservations: got %+v, want a's only", r)
			}
		}
		return ids
	}
	all := []string{elsewhere.ID, held.ID, cancelled.ID, paid.ID, lapsing.ID}
	for _, tc := range []struct {
		name string
		q    booking.ListRequest
		want []string
	}{
		{"All", booking.ListRequest{}, all},
		{"Concert", booking.ListRequest{ConcertID: e.c.ID}, all[1:]},
		{"OtherConcert", booking.ListRequest{ConcertID: other.ID}, all[:1]},
		{"UnknownConcert", booking.ListRequest{ConcertID: boxoffice.NewID()}, nil},
		{"Held", booking.ListRequest{Status: booking.Held}, []string{elsewhere.ID, held.ID}},
		{"Expired", booking.ListRequest{Status: booking.Expired}, []string{lapsing.ID}},
		{"Paid", booking.ListRequest{Status: booking.Paid}, []string{paid.ID}},
		{"Cancelled", booking.ListRequest{Status: booking.Cancelled, ConcertID: e.c.ID}, []string{cancelled.ID}},
	} {
		if got := list(tc.q); !slices.Equal(got, tc.want) {
			t.Errorf("Reservations %s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	if paged := pagedIDs(list, 2); !slices.Equal(paged, all) {
		t.Errorf("Reservations by pages of 2: got %v, want %v", paged, all)
	}
	rs, err := e.Bookings.Reservations(ctx, booking.ListRequest{UserID: a, Limit: 1, Now: at})
	noErr(t, "Reservations", err)
	checkReservation(t, "Reservations", rs[0], elsewhere)

	for _, cursor := range []string{boxoffice.NewID(), "not-a-uuid", e.mustHold(b, Day2, bookingNow, 7).ID} {
		_, err := e.Bookings.Reservations(ctx, booking.ListRequest{UserID: a, Limit: 10, Before: cursor, Now: at})
		wantErr(t, "Reservations after cursor "+cursor, err, boxoffice.ErrInvalidRequest)
	}
	rs, err = e.Bookings.Reservations(ctx, booking.ListRequest{UserID: newUserID(), Limit: 10, Now: at})
	if err != nil || len(rs) != 0 {
		t.Errorf("Reservations of a user with none: got %v, %v, want none", rs, err)
	}
}

func testRaceReleaseVersusPay(t *testing.T, newStores func(t *testing.T) Stores) {
	ctx := context.Background()
	e := newBookingEnv(t, newStores, cheapSpec())
	a := e.user(rich)
	const rounds = 12
	paid := 0
	for i := range rounds {
		seat := 1 + i
		r := e.mustHold(a, Day1, bookingNow, seat)
		var payErr error
		var released []booking.Reservation
		var releaseErr error
		together(2, func(j int) {
			if j == 0 {
				_, payErr = e.pay(a, r.ID, fmt.Sprintf("pay-%d", i), bookingNow)
			} else {
				released, releaseErr = e.Bookings.Release(ctx, a, e.c.ID, bookingNow)
			}
		})
		noErr(t, "Release", releaseErr)
		switch {
		case payErr == nil && len(released) == 0:
			paid++
			e.wantStatus(r.ID, booking.Paid)
			e.wantSeats(Day1, bookingNow, concert.Sold, seat)
		case payErr != nil && len(released) == 1 && released[0].ID == r.ID:
			wantErr(t, "Pay of a released hold", payErr, boxoffice.ErrHoldExpired)
			e.wantStatus(r.ID, booking.Cancelled)
			e.wantSeats(Day1, bookingNow, concert.Available, seat)
		default:
			t.Fatalf("round %d: got pay error %v and %d released, want exactly one to win", i, payErr, len(released))
		}
	}
	e.wantBalance(a, rich-boxoffice.Money(paid)*1_000)
	if ps := e.payments(a); len(ps) != paid {
		t.Errorf("PAYMENT entries: got %d, want %d", len(ps), paid)
	}
	checkMoney(t, e.Stores, []string{a}, e.c.ID)
}

func testRaceReleaseVersusHold(t *testing.T, newStores func(t *testing.T) Stores) {
	ctx := context.Background()
	// The leaver's own hold racing the release is released whole or
	// kept whole; another user's hold of a released seat gets it only
	// once it is released.
	e := newBookingEnv(t, newStores, cheapSpec())
	a, b := e.user(0), e.user(0)
	const rounds = 10
	for i := range rounds {
		old := e.mustHold(a, Day1, bookingNow, 1+2*i)
		var mine, theirs booking.Reservation
		var mineErr, theirsErr, releaseErr error
		together(3, func(j int) {
			switch j {
			case 0:
				_, releaseErr = e.Bookings.Release(ctx, a, e.c.ID, bookingNow)
			case 1:
				mine, mineErr = e.hold(a, Day1, bookingNow, 2+2*i)
			case 2:
				theirs, theirsErr = e.hold(b, Day1, bookingNow, 1+2*i)
			}
		})
		noErr(t, "Release", releaseErr)
		noErr(t, "Hold by the leaver", mineErr)
		e.wantStatus(old.ID, booking.Cancelled)
		switch got := e.stored(mine.ID).Status; got {
		case booking.Held:
			e.wantSeats(Day1, bookingNow, concert.Held, 2+2*i)
		case booking.Cancelled:
			e.wantSeats(Day1, bookingNow, concert.Available, 2+2*i)
		default:
			t.Errorf("round %d: the leaver's racing hold is %s, want HELD or CANCELLED", i, got)
		}
		switch {
		case theirsErr == nil:
			e.wantStatus(theirs.ID, booking.Held)
			e.wantSeats(Day1, bookingNow, concert.Held, 1+2*i)
		case boxoffice.ErrorCode(theirsErr) == boxoffice.CodeSeatUnavailable:
			e.wantSeats(Day1, bookingNow, concert.Available, 1+2*i)
		default:
			t.Errorf("round %d: got %v, want b's hold or %s", i, theirsErr, boxoffice.CodeSeatUnavailable)
		}
		if held := e.inventory(bookingNow).Held; held > 2 {
			t.Errorf("round %d: %d seats held, more than were asked", i, held)
		}
		e.release(a, bookingNow)
		e.release(b, bookingNow)
	}
}

func testRaceCancelVersusHoldAgain(t *testing.T, newStores func(t *testing.T) Stores) {
	ctx := context.Background()
	// A user who cancels and at once holds the same seat again never
	// gets it: before the cancel the seat is their own hold's, after
	// it the cooldown runs.
	e := newBookingEnv(t, newStores, cheapSpec())
	a := e.user(0)
	var holds atomic.Int64
	for i := range 10 {
		r := e.mustHold(a, Day1, bookingNow, 1+i)
		var cancelErr, holdErr error
		together(2, func(j int) {
			if j == 0 {
				_, cancelErr = e.Bookings.Cancel(ctx, r.ID, a, bookingNow)
			} else if _, holdErr = e.hold(a, Day1, bookingNow, 1+i); holdErr == nil {
				holds.Add(1)
			}
		})
		noErr(t, "Cancel", cancelErr)
		if boxoffice.ErrorCode(holdErr) != boxoffice.CodeSeatUnavailable {
			t.Errorf("round %d: hold again got %v, want %s", i, holdErr, boxoffice.CodeSeatUnavailable)
		}
	}
	if n := holds.Load(); n != 0 {
		t.Errorf("holds again: got %d, want 0", n)
	}
}

func testRaceSameKey(t *testing.T, newStores func(t *testing.T) Stores) {
	ctx := context.Background()
	e := newBookingEnv(t, newStores, ConcertSpec())
	a := e.user(0)
	const n = 20
	got := make([]booking.Reservation, n)
	errs := make([]error, n)
	together(n, func(i int) {
		got[i], errs[i] = e.keyedHold(a, "same", Day1, bookingNow, 30, 31)
	})
	for i := range got {
		noErr(t, fmt.Sprintf("Hold %d with the key", i), errs[i])
		if got[i].ID != got[0].ID {
			t.Errorf("Hold %d: got reservation %s, want %s like the first", i, got[i].ID, got[0].ID)
		}
	}
	rs, err := e.Bookings.Reservations(ctx, booking.ListRequest{UserID: a, Limit: 10, Now: bookingNow})
	noErr(t, "Reservations", err)
	if len(rs) != 1 {
		t.Errorf("reservations: got %d, want 1", len(rs))
	}
}

// pagedIDs lists by pages of size, following each page's last id, until a
// page comes short or after four pages.
func pagedIDs(list func(booking.ListRequest) []string, size int) []string {
	var paged []string
	cursor := ""
	for range 4 {
		page := list(booking.ListRequest{Limit: size, Before: cursor})
		paged = append(paged, page...)
		if len(page) < size {
			break
		}
		cursor = page[len(page)-1]
	}
	return paged
}
