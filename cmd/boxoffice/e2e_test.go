package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
	boxhttp "github.com/boxoffice/boxoffice/http"
)

// futureDates returns n performance starts, a month from now and a day apart,
// at 19:00 in Seoul.
func futureDates(n int) []time.Time {
	kst := time.FixedZone("KST", 9*3600)
	first := time.Now().In(kst).AddDate(0, 1, 0)
	first = time.Date(first.Year(), first.Month(), first.Day(), 19, 0, 0, 0, kst)
	ds := make([]time.Time, n)
	for i := range ds {
		ds[i] = first.AddDate(0, 0, i)
	}
	return ds
}

func testSpec(salesOpenAt time.Time) boxhttp.ConcertSpec {
	return boxhttp.ConcertSpec{
		Title: "Winter Night", Venue: "Olympic Hall",
		Dates: futureDates(2),
		Grades: []boxhttp.Grade{
			{Name: "VIP", Seats: "1-10", Price: 150000},
			{Name: "R", Seats: "11-50", Price: 90000},
		},
		SalesOpenAt: salesOpenAt, HoldSeconds: 300, MaxSeatsPerUser: 4,
		WaitingRoom: &boxhttp.WaitingRoom{Strategy: "RATE", AdmitPerSecond: 100, SessionSeconds: 600, IdleSeconds: 60},
	}
}

// TestEndToEnd walks the whole flow through the real wiring on :0, once per
// mode: join → admitted → dates → seats → hold → charge → pay.
func TestEndToEnd(t *testing.T) {
	for _, md := range modes {
		t.Run(md.name, func(t *testing.T) {
			cfg := md.config(t)
			m := startMain(t, cfg, nil)
			ctx := context.Background()
			c := testClient(t, m.URL())

			if err := c.Healthz(ctx); err != nil {
				t.Fatalf("healthz: %v", err)
			}
			con, err := c.CreateConcert(ctx, m.AdminKey(), testSpec(time.Now().Add(-time.Minute)))
			if err != nil {
				t.Fatalf("create concert: %v", err)
			}
			u, err := c.CreateUser(ctx, "Kim")
			if err != nil {
				t.Fatalf("create user: %v", err)
			}

			// Join, and again: the same token and place.
			st, created, err := c.Join(ctx, u.AccessToken, con.ConcertID)
			if err != nil || !created {
				t.Fatalf("join: %v (created %v)", err, created)
			}
			again, created, err := c.Join(ctx, u.AccessToken, con.ConcertID)
			if err != nil || created || again.Token != st.Token {
				t.Fatalf("join again: got created=%v same token=%v err=%v, want the first place", created, again.Token == st.Token, err)
			}
			qt := st.Token

			// Wait to be admitted, polling as told.
			deadline := time.Now().Add(10 * time.Second)
			for st.Status != "ADMITTED" {
				if time.Now().After(deadline) {
					t.Fatalf("not admitted after 10s: %+v", st)
				}
				time.Sleep(20 * time.Millisecond)
				if st, err = c.QueueStatus(ctx, u.AccessToken, qt); err != nil {
					t.Fatalf("queue status: %v", err)
				}
			}
			if st.SessionExpiresAt == nil || st.Position != 0 {
				t.Errorf("admitted status: got %+v, want position 0 and a session expiry", st)
			}

			dates, err := c.Dates(ctx, u.AccessToken, qt, con.ConcertID)
			if err != nil || len(dates.Dates) != 2 || dates.Dates[0].AvailableSeats != 50 {
				t.Fatalf("dates: got %+v, %v; want 2 dates with 50 seats", dates, err)
			}
			day := dates.Dates[0].Date
			seats, err := c.Seats(ctx, u.AccessToken, qt, con.ConcertID, day)
			if err != nil || len(seats.Seats) != 50 || seats.Seats[16].Status != "AVAILABLE" {
				t.Fatalf("seats: got %d seats, %v", len(seats.Seats), err)
			}

			r, err := c.Hold(ctx, u.AccessToken, qt, boxhttp.HoldRequest{ConcertID: con.ConcertID, Date: day, SeatNumbers: []int{17, 18}})
			if err != nil {
				t.Fatalf("hold: %v", err)
			}
			if r.Amount != 180000 || r.Status != "HELD" {
				t.Errorf("reservation: got amount %d status %s, want 180000 HELD", r.Amount, r.Status)
			}
			seats, _ = c.Seats(ctx, u.AccessToken, qt, con.ConcertID, day)
			if seats.Seats[16].Status != "HELD" || seats.Seats[17].Status != "HELD" {
				t.Errorf("held seats show %s, %s; want HELD", seats.Seats[16].Status, seats.Seats[17].Status)
			}

			// Not enough money yet: nothing is debited, and the refusal is
			// the answer of its key from then on.
			if _, err := c.Pay(ctx, u.AccessToken, qt, r.ReservationID, "pay-0"); boxoffice.ErrorCode(err) != boxoffice.CodeInsufficientBalance {
				t.Fatalf("pay with no money: got %v, want INSUFFICIENT_BALANCE", err)
			}
			if _, err := c.Charge(ctx, u.AccessToken, u.UserID, 200000, "charge-1"); err != nil {
				t.Fatalf("charge: %v", err)
			}
			if _, err := c.Pay(ctx, u.AccessToken, qt, r.ReservationID, "pay-0"); boxoffice.ErrorCode(err) != boxoffice.CodeInsufficientBalance {
				t.Fatalf("pay retried with the refused key: got %v, want INSUFFICIENT_BALANCE again", err)
			}
			p, err := c.Pay(ctx, u.AccessToken, qt, r.ReservationID, "pay-1")
			if err != nil {
				t.Fatalf("pay: %v", err)
			}
			if p.Amount != 180000 || p.Balance != 20000 {
				t.Errorf("payment: got %+v, want amount 180000 balance 20000", p)
			}

			// The session is finished; a retry with the same key replays.
			if _, err := c.Dates(ctx, u.AccessToken, qt, con.ConcertID); boxoffice.ErrorCode(err) != boxoffice.CodeQueueTokenExpired {
				t.Errorf("after payment: got %v, want QUEUE_TOKEN_EXPIRED", err)
			}
			if replay, err := c.Pay(ctx, u.AccessToken, qt, r.ReservationID, "pay-1"); err != nil || replay != p {
				t.Errorf("replay: got %+v, %v; want %+v", replay, err, p)
			}
			if got, err := c.Reservation(ctx, u.AccessToken, r.ReservationID); err != nil || got.Status != "PAID" {
				t.Errorf("reservation after payment: got %+v, %v; want PAID", got, err)
			}
			bal, err := c.Balance(ctx, u.AccessToken, u.UserID)
			if err != nil || bal.Balance != 20000 {
				t.Errorf("balance: got %+v, %v; want 20000", bal, err)
			}
			hist, err := c.History(ctx, u.AccessToken, u.UserID, 10, "")
			if err != nil || len(hist.Entries) != 2 || hist.Entries[0].Kind != "PAYMENT" || hist.Entries[1].Kind != "CHARGE" {
				t.Errorf("history: got %+v, %v; want PAYMENT then CHARGE", hist, err)
			}
			stats, err := c.Stats(ctx, m.AdminKey(), con.ConcertID)
			if err != nil || stats.Sold != 2 || stats.Revenue != 180000 || stats.Admitted != 1 {
				t.Errorf("stats: got %+v, %v; want 2 sold, 180000 revenue, 1 admitted", stats, err)
			}

			// Someone else's data stays theirs.
			other, _ := c.CreateUser(ctx, "Lee")
			if _, err := c.Balance(ctx, other.AccessToken, u.UserID); !errors.Is(err, boxoffice.ErrForbidden) {
				t.Errorf("other user's balance: got %v, want FORBIDDEN", err)
			}
			if _, err := c.Reservation(ctx, other.AccessToken, r.ReservationID); !errors.Is(err, boxoffice.ErrForbidden) {
				t.Errorf("other user's reservation: got %v, want FORBIDDEN", err)
			}
			if _, err := c.QueueStatus(ctx, other.AccessToken, qt); !errors.Is(err, boxoffice.ErrQueueTokenInvalid) {
				t.Errorf("other user's queue token: got %v, want QUEUE_TOKEN_INVALID", err)
			}
		})
	}
}
