package booking_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/booking"
)

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func TestCheckSeats(t *testing.T) {
	tests := []struct {
		name  string
		seats []int
		max   int
		want  []int
		err   error
	}{
		{"OK", []int{18, 17}, 4, []int{17, 18}, nil},
		{"OKAtLimit", []int{1, 2, 3, 4}, 4, []int{1, 2, 3, 4}, nil},
		{"OKSeat50", []int{50}, 4, []int{50}, nil},
		{"ErrEmpty", nil, 4, nil, boxoffice.ErrInvalidRequest},
		{"ErrDuplicate", []int{3, 3}, 4, nil, boxoffice.ErrInvalidRequest},
		{"ErrZero", []int{0}, 4, nil, boxoffice.ErrInvalidRequest},
		{"ErrSeat51", []int{51}, 4, nil, boxoffice.ErrInvalidRequest},
		{"ErrSeatLimitExceeded", []int{1, 2, 3, 4, 5}, 4, nil, boxoffice.ErrSeatLimitExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.seats)
			got, err := booking.CheckSeats(tt.seats, tt.max)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Errorf("got %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("got %v, %v; want %v", got, err, tt.want)
			}
			if !slices.Equal(tt.seats, in) {
				t.Errorf("input changed to %v", tt.seats)
			}
		})
	}
}

func TestReservationStatusAt(t *testing.T) {
	exp := t0.Add(5 * time.Minute)
	tests := []struct {
		name   string
		stored booking.Status
		now    time.Time
		want   booking.Status
	}{
		{"HeldBeforeExpiry", booking.Held, exp.Add(-time.Nanosecond), booking.Held},
		{"HeldAtExpiry", booking.Held, exp, booking.Expired},
		{"PaidStaysPaid", booking.Paid, exp.Add(time.Hour), booking.Paid},
		{"Cancelled", booking.Cancelled, t0, booking.Cancelled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := booking.Reservation{Status: tt.stored, ExpiresAt: exp}
			if got := r.StatusAt(tt.now); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestInventorySoldOut(t *testing.T) {
	tests := []struct {
		inv  booking.Inventory
		want bool
	}{
		{booking.Inventory{Total: 100, Sold: 100}, true},
		{booking.Inventory{Total: 100, Sold: 99, Held: 1}, false},
		{booking.Inventory{}, false},
	}
	for _, tt := range tests {
		if got := tt.inv.SoldOut(); got != tt.want {
			t.Errorf("%+v: got %v, want %v", tt.inv, got, tt.want)
		}
	}
}

func TestCooldownError(t *testing.T) {
	tests := []struct {
		name        string
		until, from time.Time
		want        string
	}{
		{"WholeSeconds", t0.Add(5 * time.Second), t0.Add(305 * time.Second),
			"you held seat 17 on 2026-12-24 until 2026-12-01T10:00:05Z; you can hold it again from 2026-12-01T10:05:05Z"},
		{"UntilDownFromUp", t0.Add(5*time.Second + 300*time.Millisecond), t0.Add(305*time.Second + 300*time.Millisecond),
			"you held seat 17 on 2026-12-24 until 2026-12-01T10:00:05Z; you can hold it again from 2026-12-01T10:05:06Z"},
		{"InUTC", t0.In(time.FixedZone("KST", 9*3600)), t0.Add(time.Minute).In(time.FixedZone("KST", 9*3600)),
			"you held seat 17 on 2026-12-24 until 2026-12-01T10:00:00Z; you can hold it again from 2026-12-01T10:01:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := booking.CooldownError(17, "2026-12-24", tt.until, tt.from)
			var be *boxoffice.Error
			if !errors.As(err, &be) || be.Code != boxoffice.CodeSeatUnavailable || be.Message != tt.want {
				t.Errorf("got %v, want %s: %s", err, boxoffice.CodeSeatUnavailable, tt.want)
			}
		})
	}
}

func TestSameRequest(t *testing.T) {
	tests := []struct {
		name  string
		seats []int
		day   string
		want  bool
	}{
		{"Same", []int{17, 18}, "2026-12-24", true},
		{"OtherOrder", booking.Sorted([]int{18, 17}), "2026-12-24", true},
		{"OtherSeats", []int{17}, "2026-12-24", false},
		{"OtherDay", []int{17, 18}, "2026-12-25", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := booking.SameRequest("c", tt.day, tt.seats, "c", "2026-12-24", []int{17, 18}); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSeatsTaken(t *testing.T) {
	tests := []struct {
		name  string
		taken []int
		want  string
	}{
		{"Unknown", nil, "a requested seat on 2026-12-24 is taken: held by someone else or sold"},
		{"One", []int{17}, "seat 17 on 2026-12-24 is taken: held by someone else or sold"},
		{"Two", []int{17, 18}, "seats 17 and 18 on 2026-12-24 are taken: held by someone else or sold"},
		{"Three", []int{1, 2, 30}, "seats 1, 2 and 30 on 2026-12-24 are taken: held by someone else or sold"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := booking.SeatsTaken("2026-12-24", tt.taken)
			var be *boxoffice.Error
			if !errors.As(err, &be) || be.Code != boxoffice.CodeSeatUnavailable || be.Message != tt.want {
				t.Errorf("got %v, want SEAT_UNAVAILABLE %q", err, tt.want)
			}
		})
	}
}
