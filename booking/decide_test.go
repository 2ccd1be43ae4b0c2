package booking_test

import (
	"errors"
	"fmt"
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
	t1m := t0.Add(time.Minute) // u2's hold of seat 5 has lapsed
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
		{"OKLapsedHoldNotItsFormerHolders", []booking.HoldRequest{holdAt("r1", "u1", t1m, 5), holdAt("r2", "u2", t1m, 1, 2, 3)},
			[]error{nil, nil}, ""},
		{"ErrSeatLimitExceededByTakenLapsedHold", []booking.HoldRequest{holdAt("r1", "u1", t1m, 5), holdAt("r2", "u1", t1m, 1, 2)},
			[]error{nil, boxoffice.ErrSeatLimitExceeded}, ""},
		{"OKOwnLapsedHoldCountedOnce", []booking.HoldRequest{holdAt("r1", "u2", t1m, 5), holdAt("r2", "u2", t1m, 1, 2)},
			[]error{nil, nil}, ""},
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

// settleState has u1's wallet of 250 with 3 entries and u1's reservations:
// r1 of seats 1-2 (200) and r2 of seat 3 (100), held until t0+1m; r3
// paid; r4 held until t0 (lapsed at t0); u2's wallet of 0.
func settleState() *booking.SettleState {
	st := &booking.SettleState{
		Reservations: map[string]*booking.Reservation{},
		Wallets:      map[string]*booking.WalletRow{"u1": {Balance: 250, Entries: 3}, "u2": {}},
		Seats:        map[booking.SeatKey]*booking.SeatRow{},
		Payments:     map[booking.PayKey]booking.Payment{},
		Refusals:     map[booking.PayKey]booking.PayRefusal{},
	}
	add := func(id string, status booking.Status, expires time.Time, seats ...int) {
		r := &booking.Reservation{ID: id, UserID: "u1", ConcertID: concertA, Day: dayA, Status: status, ExpiresAt: expires}
		for _, n := range seats {
			r.Seats = append(r.Seats, booking.Seat{Number: n, Price: 100})
			r.Amount += 100
			if status == booking.Held {
				st.Seats[booking.SeatKey{ConcertID: concertA, Day: dayA, Number: n}] = &booking.SeatRow{Price: 100,
					Status: concert.Held, HoldExpiresAt: expires, UserID: "u1", ReservationID: id}
			}
		}
		st.Reservations[id] = r
	}
	add("r1", booking.Held, t0.Add(time.Minute), 1, 2)
	add("r2", booking.Held, t0.Add(time.Minute), 3)
	add("r3", booking.Paid, t0.Add(time.Minute), 4)
	add("r4", booking.Held, t0, 5)
	return st
}

func TestDecideSettles(t *testing.T) {
	pay := func(id, user, key string) booking.SettleRequest {
		return booking.SettleRequest{Pay: booking.PayRequest{PaymentID: "p-" + id, ReservationID: id, UserID: user,
			IdempotencyKey: key, Now: t0}}
	}
	cancel := func(id, user string) booking.SettleRequest {
		return booking.SettleRequest{Pay: booking.PayRequest{ReservationID: id, UserID: user, Now: t0}, Cancel: true}
	}
	other := pay("r1", "u1", "")
	other.Pay.ConcertID = "0190a0a0-0000-7000-8000-000000000002"
	tests := []struct {
		name string
		reqs []booking.SettleRequest
		want []error // nil: done
		msg  string  // of the last error, if set
	}{
		{"OK", []booking.SettleRequest{pay("r1", "u1", "")}, []error{nil}, ""},
		{"OKCancel", []booking.SettleRequest{cancel("r1", "u1")}, []error{nil}, ""},
		{"ErrNotFound", []booking.SettleRequest{pay("r9", "u1", "")}, []error{boxoffice.ErrNotFound}, ""},
		{"ErrForbidden", []booking.SettleRequest{pay("r1", "u2", "")}, []error{boxoffice.ErrForbidden}, ""},
		{"ErrQueueTokenInvalid", []booking.SettleRequest{other}, []error{boxoffice.ErrQueueTokenInvalid}, ""},
		{"ErrAlreadyPaid", []booking.SettleRequest{pay("r3", "u1", "")}, []error{boxoffice.ErrAlreadyPaid}, ""},
		{"ErrHoldExpired", []booking.SettleRequest{pay("r4", "u1", "")}, []error{boxoffice.ErrHoldExpired}, ""},
		{"ErrHoldExpiredCancel", []booking.SettleRequest{cancel("r4", "u1")}, []error{boxoffice.ErrHoldExpired}, ""},
		{"ErrInsufficientBalanceAfterEarlierPayment", []booking.SettleRequest{pay("r1", "u1", ""), pay("r2", "u1", "")},
			[]error{nil, boxoffice.ErrInsufficientBalance}, "balance 50 is less than the 100 due"},
		{"ErrHoldExpiredAfterCancel", []booking.SettleRequest{cancel("r2", "u1"), pay("r2", "u1", "")},
			[]error{nil, boxoffice.ErrHoldExpired}, ""},
		{"ErrAlreadyPaidCancel", []booking.SettleRequest{pay("r2", "u1", ""), cancel("r2", "u1")},
			[]error{nil, boxoffice.ErrAlreadyPaid}, ""},
		{"KeyedReplay", []booking.SettleRequest{pay("r2", "u1", "k"), pay("r2", "u1", "k")}, []error{nil, nil}, ""},
		{"ErrIdempotencyKeyReused", []booking.SettleRequest{pay("r2", "u1", "k"), pay("r1", "u1", "k")},
			[]error{nil, boxoffice.ErrIdempotencyKeyReused}, ""},
		{"KeyedRefusalReplayed", []booking.SettleRequest{pay("r1", "u1", ""), pay("r2", "u1", "k"), cancel("r1", "u1"), pay("r2", "u1", "k")},
			[]error{nil, boxoffice.ErrInsufficientBalance, boxoffice.ErrAlreadyPaid, boxoffice.ErrInsufficientBalance}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := booking.DecideSettles(settleState(), tt.reqs)
			for i, d := range got {
				want := tt.want[i]
				switch {
				case want == nil && (d.Err != nil || !(d.Paid || d.Replay || d.Cancelled)):
					t.Errorf("request %d: got %+v; want it done", i, d)
				case want != nil && (!errors.Is(d.Err, want) || d.Paid || d.Cancelled):
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

func TestDecideSettlesChanges(t *testing.T) {
	st := settleState()
	got := booking.DecideSettles(st, []booking.SettleRequest{
		{Pay: booking.PayRequest{PaymentID: "p1", ReservationID: "r1", UserID: "u1", IdempotencyKey: "k", Now: t0}},
		{Pay: booking.PayRequest{PaymentID: "p2", ReservationID: "r1", UserID: "u1", IdempotencyKey: "k", Now: t0}},
		{Pay: booking.PayRequest{ReservationID: "r2", UserID: "u1", Now: t0}, Cancel: true},
	})
	p := got[0].Payment
	if !got[0].Paid || got[0].Seq != 4 || p.ID != "p1" || p.Amount != 200 || p.Balance != 50 || !p.PaidAt.Equal(t0) || got[0].Seats != 2 {
		t.Errorf("payment: got %+v", got[0])
	}
	if got[1].Paid || !got[1].Replay || got[1].Payment != p || got[1].Seats != 2 {
		t.Errorf("replay: got %+v, want the first payment again", got[1])
	}
	if !got[2].Cancelled || got[2].Reservation.Status != booking.Cancelled {
		t.Errorf("cancel: got %+v", got[2])
	}
	seat := func(n int) booking.SeatRow {
		return *st.Seats[booking.SeatKey{ConcertID: concertA, Day: dayA, Number: n}]
	}
	if s := seat(1); s.Status != concert.Sold || !s.HoldExpiresAt.IsZero() || s.UserID != "u1" {
		t.Errorf("seat 1 after the payment: got %+v", s)
	}
	if s := seat(3); s.Status != concert.Available || s.UserID != "" || s.ReservationID != "" {
		t.Errorf("seat 3 after the cancel: got %+v", s)
	}
	if w := st.Wallets["u1"]; w.Balance != 50 || w.Entries != 4 {
		t.Errorf("wallet: got %+v, want 50 after 4 entries", w)
	}
}

// BenchmarkDecideHolds decides a full batch (MaxBatch requests of as many
// users, one free seat each) against a state holding, as the store reads
// it, each user's two seats of the date and one past hold each.
func BenchmarkDecideHolds(b *testing.B) {
	n := booking.MaxBatch
	st := func() *booking.HoldState {
		st := &booking.HoldState{Users: map[string]bool{}, Seats: map[booking.SeatKey]*booking.SeatRow{},
			Kept: map[booking.HoldKey]booking.KeptHold{}}
		for i := range n {
			u := fmt.Sprintf("user-%d", i)
			st.Users[u] = true
			for j := range 3 {
				row := &booking.SeatRow{Price: 100, Status: concert.Available}
				if j > 0 {
					row.Status, row.UserID, row.HoldExpiresAt = concert.Held, u, t0.Add(time.Minute)
				}
				st.Seats[booking.SeatKey{ConcertID: concertA, Day: dayA, Number: 3*i + j + 1}] = row
			}
			st.Past = append(st.Past, booking.PastHold{UserID: u, ConcertID: concertA, Day: dayA, Seats: []int{3*i + 2},
				ExpiresAt: t0.Add(time.Minute), Ended: t0.Add(time.Minute)})
		}
		return st
	}
	reqs := make([]booking.HoldRequest, n)
	for i := range reqs {
		reqs[i] = holdAt(fmt.Sprintf("r%d", i), fmt.Sprintf("user-%d", i), t0, 3*i+1)
	}
	for b.Loop() {
		b.StopTimer()
		s := st()
		b.StartTimer()
		for _, d := range booking.DecideHolds(s, reqs) {
			if !d.Made {
				b.Fatal(d.Err)
			}
		}
	}
}
