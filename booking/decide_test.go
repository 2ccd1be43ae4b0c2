package booking_test

import (
	"errors"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/booking"
	"github.com/boxoffice/boxoffice/concert"
)

const (
	concertA = "0190a0a0-0000-7000-8000-000000000001"
	dayA     = "2026-12-24"
)

// holdState has users u1 and u2 (not u3), seats 1-6 of dayA: 1-4 free,
// 5 held by u2 until t0+1m, 6 sold to u1; and u1's hold of seat 4 that
// was released at t0-1m.
func holdState() *booking.HoldState {
	st := &booking.HoldState{
		Users: map[string]bool{"u1": true, "u2": true},
		Seats: map[booking.SeatKey]*booking.SeatRow{},
		Past: []booking.PastHold{{UserID: "u1", ConcertID: concertA, Day: dayA, Seats: []int{4},
			ExpiresAt: t0.Add(4 * time.Minute), Ended: t0.Add(-time.Minute)}},
		Kept: map[booking.HoldKey]booking.KeptHold{},
	}
	for n := 1; n <= 6; n++ {
		st.Seats[booking.SeatKey{ConcertID: concertA, Day: dayA, Number: n}] = &booking.SeatRow{Price: 100, Status: concert.Available}
	}
	*st.Seats[booking.SeatKey{ConcertID: concertA, Day: dayA, Number: 5}] = booking.SeatRow{Price: 100, Status: concert.Held,
		HoldExpiresAt: t0.Add(time.Minute), UserID: "u2", ReservationID: "r0"}
	*st.Seats[booking.SeatKey{ConcertID: concertA, Day: dayA, Number: 6}] = booking.SeatRow{Price: 100, Status: concert.Sold,
		UserID: "u1", ReservationID: "r9"}
	return st
}

func holdAt(id, user string, now time.Time, seats ...int) booking.HoldRequest {
	return booking.HoldRequest{ReservationID: id, UserID: user, ConcertID: concertA, Day: dayA, Seats: seats,
		MaxSeatsPerUser: 3, Now: now, ExpiresAt: now.Add(5 * time.Minute), Cooldown: 5 * time.Minute}
}

func TestDecideHolds(t *testing.T) {
	keyed := func(req booking.HoldRequest, key string) booking.HoldRequest {
		req.IdempotencyKey = key
		return req
	}
	capped := holdAt("r1", "u2", t0, 1)
	capped.NotAfter = t0.Add(time.Minute)
	ended := holdAt("r1", "u2", t0, 1)
	ended.NotAfter = t0
	tests := []struct {
		name string
		reqs []booking.HoldRequest
		want []error // nil: made
		msg  string  // of the last error, if set
	}{
		{"OK", []booking.HoldRequest{holdAt("r1", "u1", t0, 1, 2)}, []error{nil}, ""},
		{"OKLapsedHold", []booking.HoldRequest{holdAt("r1", "u1", t0.Add(time.Minute), 5)}, []error{nil}, ""},
		{"OKSessionCapped", []booking.HoldRequest{capped}, []error{nil}, ""},
		{"ErrNotFoundUser", []booking.HoldRequest{holdAt("r1", "u3", t0, 1)}, []error{boxoffice.ErrNotFound}, "user u3 not found"},
		{"ErrNotFoundSeat", []booking.HoldRequest{holdAt("r1", "u1", t0, 1, 7)}, []error{boxoffice.ErrNotFound},
			"a requested seat does not exist"},
		{"ErrQueueTokenExpired", []booking.HoldRequest{ended}, []error{boxoffice.ErrQueueTokenExpired}, ""},
		{"ErrSeatUnavailableTaken", []booking.HoldRequest{holdAt("r1", "u1", t0, 1, 5, 6)}, []error{boxoffice.ErrSeatUnavailable},
			"seats 5 and 6 on 2026-12-24 are taken: held by someone else or sold"},
		{"ErrSeatUnavailableCooldown", []booking.HoldRequest{holdAt("r1", "u1", t0, 3, 4)}, []error{boxoffice.ErrSeatUnavailable},
			"you held seat 4 on 2026-12-24 until 2026-12-01T09:59:00Z; you can hold it again from 2026-12-01T10:04:00Z"},
		{"OKAfterCooldown", []booking.HoldRequest{holdAt("r1", "u1", t0.Add(4*time.Minute), 4)}, []error{nil}, ""},
		{"ErrSeatLimitExceeded", []booking.HoldRequest{holdAt("r1", "u1", t0, 1, 2, 3)}, []error{boxoffice.ErrSeatLimitExceeded},
			"at most 3 seats per user on 2026-12-24"},
		{"ErrSeatLimitExceededByEarlierHold", []booking.HoldRequest{holdAt("r1", "u2", t0, 1), holdAt("r2", "u2", t0, 2, 3)},
			[]error{nil, boxoffice.ErrSeatLimitExceeded}, ""},
		{"ErrSeatUnavailableTakenEarlier", []booking.HoldRequest{holdAt("r1", "u2", t0, 1), holdAt("r2", "u1", t0, 1)},
			[]error{nil, boxoffice.ErrSeatUnavailable}, "seat 1 on 2026-12-24 is taken: held by someone else or sold"},
		{"ErrIdempotencyKeyReused", []booking.HoldRequest{keyed(holdAt("r1", "u1", t0, 1), "k"), keyed(holdAt("r2", "u1", t0, 2), "k")},
			[]error{nil, boxoffice.ErrIdempotencyKeyReused}, ""},
		{"KeyedRefusalReplayed", []booking.HoldRequest{keyed(holdAt("r1", "u1", t0, 5), "k"), keyed(holdAt("r2", "u1", t0, 5), "k")},
			[]error{boxoffice.ErrSeatUnavailable, boxoffice.ErrSeatUnavailable}, "seat 5 on 2026-12-24 is taken: held by someone else or sold"},
		{"KeysOfTwoUsers", []booking.HoldRequest{keyed(holdAt("r1", "u1", t0, 1), "k"), keyed(holdAt("r2", "u2", t0, 2), "k")},
			[]error{nil, nil}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := booking.DecideHolds(holdState(), tt.reqs)
			for i, d := range got {
				want := tt.want[i]
				switch {
				case want == nil && (d.Err != nil || !d.Made || d.Reservation.ID != tt.reqs[i].ReservationID):
					t.Errorf("request %d: got %+v, %v; want it made", i, d.Reservation, d.Err)
				case want != nil && (!errors.Is(d.Err, want) || d.Made):
					t.Errorf("request %d: got %v, want %v", i, d.Err, want)
				}
			}
			var last *boxoffice.Error
			if tt.msg != "" && (!errors.As(got[len(got)-1].Err, &last) || last.Message != tt.msg) {
				t.Errorf("got %v, want message %q", got[len(got)-1].Err, tt.msg)
			}
		})
	}
}

func TestDecideHoldsReservation(t *testing.T) {
	st := holdState()
	capped := holdAt("r1", "u1", t0, 2, 1)
	capped.Seats = []int{1, 2}
	capped.NotAfter = t0.Add(time.Minute)
	capped.IdempotencyKey = "k"
	again := capped
	again.ReservationID = "r2"
	got := booking.DecideHolds(st, []booking.HoldRequest{capped, again})
	r := got[0].Reservation
	if !got[0].Made || !got[0].Keep || r.Amount != 200 || len(r.Seats) != 2 || r.Status != booking.Held ||
		!r.ExpiresAt.Equal(capped.NotAfter) || !r.CreatedAt.Equal(t0) {
		t.Errorf("hold: got %+v, made %v, keep %v", r, got[0].Made, got[0].Keep)
	}
	if got[1].Made || got[1].Keep || got[1].Err != nil || got[1].Reservation.ID != "r1" {
		t.Errorf("replay: got %+v, %v; want r1 again, nothing made or kept", got[1].Reservation, got[1].Err)
	}
	if row := st.Seats[booking.SeatKey{ConcertID: concertA, Day: dayA, Number: 2}]; row.Status != concert.Held ||
		row.UserID != "u1" || row.ReservationID != "r1" || !row.HoldExpiresAt.Equal(capped.NotAfter) {
		t.Errorf("seat 2 after the hold: got %+v", row)
	}
}
