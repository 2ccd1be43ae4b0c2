package loadtest

import (
	"testing"
	"time"

	boxhttp "github.com/boxoffice/boxoffice/http"
)

func TestCheckSale(t *testing.T) {
	const day = "2026-12-24"
	hold := func(id string, status string, tried bool, seats ...int) saleHold {
		h := saleHold{Reservation: boxhttp.Reservation{ReservationID: id, Date: day}, status: status, payTried: tried, paid: status == "PAID"}
		for _, n := range seats {
			h.Seats = append(h.Seats, boxhttp.ReservedSeat{Number: n, Price: 100})
			h.Amount += 100
		}
		return h
	}
	seatMap := func(sold ...int) boxhttp.SeatMap {
		m := boxhttp.SeatMap{Date: day}
		for n := 1; n <= 50; n++ {
			st := "AVAILABLE"
			for _, s := range sold {
				if s == n {
					st = "SOLD"
				}
			}
			m.Seats = append(m.Seats, boxhttp.Seat{Number: n, Price: 100, Status: st})
		}
		return m
	}
	good := func() auditInput {
		return auditInput{
			stats: boxhttp.ConcertStats{Sold: 3, Revenue: 300, Total: 50},
			maps:  []boxhttp.SeatMap{seatMap(1, 2, 3)},
			fans: []auditFan{
				{charged: 1000, holds: []saleHold{hold("a", "PAID", true, 1, 2)}},
				{charged: 1000, holds: []saleHold{hold("b", "EXPIRED", false, 1), hold("c", "PAID", true, 3)}},
				{charged: 1000},
			},
			balances: []int64{800, 900, 1000},
		}
	}
	tests := []struct {
		name   string
		change func(in *auditInput)
		failed []string
	}{
		{"OK", func(*auditInput) {}, nil},
		{"SeatSoldTwice", func(in *auditInput) {
			in.fans[2].holds = []saleHold{hold("d", "PAID", true, 2)}
			in.balances[2] = 900
			in.stats.Revenue = 400
		}, []string{"no seat sold twice"}},
		{"SoldWithoutPayment", func(in *auditInput) {
			in.maps = []boxhttp.SeatMap{seatMap(1, 2, 3, 4)}
			in.stats.Sold = 4
		}, []string{"every sold seat has exactly one payment"}},
		{"StatsDisagree", func(in *auditInput) { in.stats.Sold = 2 }, []string{"every sold seat has exactly one payment"}},
		{"PaidNeverAsked", func(in *auditInput) { in.fans[1].holds[1].payTried = false }, []string{"every sold seat has exactly one payment"}},
		{"DoubleDebit", func(in *auditInput) { in.balances[0] = 600 }, []string{"every sold seat has exactly one payment", "money conserved"}},
		{"RevenueDisagrees", func(in *auditInput) { in.stats.Revenue = 400 }, []string{"money conserved"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := good()
			tt.change(&in)
			checks := checkSale(in)
			if len(checks) != 3 {
				t.Fatalf("got %d checks, want 3", len(checks))
			}
			for _, c := range checks {
				wantFail := false
				for _, f := range tt.failed {
					wantFail = wantFail || f == c.Name
				}
				if c.OK == wantFail {
					t.Errorf("%s: got ok=%v (%s), want ok=%v", c.Name, c.OK, c.Detail, !wantFail)
				}
			}
		})
	}
}

func TestSaleTimes(t *testing.T) {
	opens := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	timeline := []Sample{{T: 0.25, Admitted: 1}, {T: 0.5, Admitted: 3}, {T: 4, Admitted: 90, Sold: 99}, {T: 4.25, Admitted: 90, Sold: 100}}
	f := &saleFan{admittedAt: opens.Add(700 * time.Millisecond)}
	f.holds = []saleHold{{paid: true, paidAt: opens.Add(4100 * time.Millisecond)}}
	if got, want := firstAdmission([]*saleFan{f}, timeline, opens), opens.Add(500*time.Millisecond); !got.Equal(want) {
		t.Errorf("firstAdmission = %v, want %v", got.Sub(opens), want.Sub(opens))
	}
	if got, want := soldOutAt([]*saleFan{f}, timeline, opens, 100), opens.Add(4250*time.Millisecond); !got.Equal(want) {
		t.Errorf("soldOutAt = %v, want %v", got.Sub(opens), want.Sub(opens))
	}
	if got, want := soldOutAt([]*saleFan{f}, timeline[:3], opens, 100), opens.Add(4100*time.Millisecond); !got.Equal(want) {
		t.Errorf("soldOutAt without a sample showing it = %v, want the last payment %v", got.Sub(opens), want.Sub(opens))
	}
}
