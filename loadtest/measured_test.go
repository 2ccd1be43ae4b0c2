package loadtest

import (
	"testing"
	"time"
)

func TestDoubleHolds(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	exp := func(ms int) string { return t0.Add(time.Duration(ms) * time.Millisecond).Format(time.RFC3339Nano) }
	tests := []struct {
		name  string
		holds []holdRecord
		want  int
	}{
		{"OK", []holdRecord{{1, exp(1000)}, {1, exp(2000)}, {1, exp(3500)}, {2, exp(1000)}}, 0},
		{"Overlap", []holdRecord{{1, exp(1000)}, {1, exp(1500)}}, 1},
		{"OverlapOutOfOrder", []holdRecord{{1, exp(3000)}, {1, exp(1000)}, {1, exp(2500)}}, 1},
		{"OtherSeat", []holdRecord{{1, exp(1000)}, {2, exp(1500)}}, 0},
		{"BackToBack", []holdRecord{{1, exp(1000)}, {1, exp(2000)}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := doubleHolds(tt.holds, time.Second)
			if err != nil || got != tt.want {
				t.Errorf("doubleHolds = %d, %v; want %d, nil", got, err, tt.want)
			}
		})
	}
	t.Run("ErrBadTime", func(t *testing.T) {
		if _, err := doubleHolds([]holdRecord{{1, "soon"}}, time.Second); err == nil {
			t.Errorf("got no error, want one for an unreadable expiresAt")
		}
	})
}

func TestOneWinnerEach(t *testing.T) {
	tests := []struct {
		name string
		wins []int
		ok   bool
	}{
		{"OK", []int{1, 1, 1}, true},
		{"ErrNobody", []int{1, 0, 1}, false},
		{"ErrTwoWinners", []int{1, 2, 1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if c := oneWinnerEach(tt.wins); c.OK != tt.ok {
				t.Errorf("oneWinnerEach(%v): got %v (%s), want %v", tt.wins, c.OK, c.Detail, tt.ok)
			}
		})
	}
}

// The fans of the hold phase hold disjoint seats that cover them all, and
// at 600 fans each has enough seats to come back to one only after 2 s at
// 27,000 holds a second.
func TestFanSeats(t *testing.T) {
	const w, n = 7, 40
	owner := map[int]int{}
	for i := range w {
		for _, k := range fanSeats(i, w, n) {
			if j, ok := owner[k]; ok {
				t.Fatalf("seat %d is fan %d's and fan %d's", k, j, i)
			}
			owner[k] = i
		}
	}
	if len(owner) != n {
		t.Fatalf("the fans have %d seats, want %d", len(owner), n)
	}
	const fans, rate, back = 600, 27000, 2.0
	for i := range fans {
		if got := len(fanSeats(i, fans, holdConcerts*maxDates*seatsPerDate)); float64(got) < back*rate/fans {
			t.Fatalf("fan %d has %d seats; at %d holds/s it would come back to one within %v s", i, got, rate, back)
		}
	}
}

func TestPaySpread(t *testing.T) {
	for _, c := range []struct{ p, total, k, n int }{
		{500, 18300, 1, 500},
		{18300, 18300, 1, 18300},
		{18301, 18300, 2, 9151},
		{109800, 18300, 6, 18300},
		{100000, 18300, 6, 16667},
	} {
		k, n := paySpread(c.p, c.total)
		if k != c.k || n != c.n || k*n < c.p || n > c.total {
			t.Errorf("paySpread(%d, %d) = %d concerts × %d fans, want %d × %d", c.p, c.total, k, n, c.k, c.n)
		}
	}
}
