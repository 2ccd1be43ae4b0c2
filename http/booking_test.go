package http_test

import (
	"context"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
	boxhttp "github.com/boxoffice/boxoffice/http"
)

func TestDatesAndSeats(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.concert(t, spec())
	kim := e.admitted(t, "Kim", 0, c.ConcertID)
	lee := e.admitted(t, "Lee", 0, c.ConcertID)

	t.Run("Dates", func(t *testing.T) {
		l, err := e.client.Dates(ctx, kim.access, kim.queue, c.ConcertID)
		if err != nil {
			t.Fatal(err)
		}
		want := []boxhttp.DateAvailability{
			{Date: day1, StartsAt: time.Date(2026, 7, 1, 10, 0, 0, 0, time.UTC), AvailableSeats: 50},
			{Date: day2, StartsAt: time.Date(2026, 7, 2, 10, 0, 0, 0, time.UTC), AvailableSeats: 50},
		}
		if len(l.Dates) != 2 || !l.Dates[0].StartsAt.Equal(want[0].StartsAt) || l.Dates[0].Date != day1 ||
			l.Dates[0].AvailableSeats != 50 || l.Dates[1].Date != day2 {
			t.Errorf("got %+v, want %+v", l.Dates, want)
		}
	})
	t.Run("Seats", func(t *testing.T) {
		m, err := e.client.Seats(ctx, kim.access, kim.queue, c.ConcertID, day1)
		if err != nil {
			t.Fatal(err)
		}
		if m.Date != day1 || len(m.Seats) != 50 {
			t.Fatalf("got date %s with %d seats, want %s with 50", m.Date, len(m.Seats), day1)
		}
		for i, s := range m.Seats {
			grade, price := "R", int64(90_000)
			if i < 10 {
				grade, price = "VIP", 150_000
			}
			if s != (boxhttp.Seat{Number: i + 1, Grade: grade, Price: price, Status: "AVAILABLE"}) {
				t.Errorf("seat %d = %+v", i+1, s)
			}
		}
	})
	t.Run("HeldToOthersUntilExpiry", func(t *testing.T) {
		r := e.hold(t, kim, c.ConcertID, day1, 5)
		status := func() string {
			m, err := e.client.Seats(ctx, lee.access, lee.queue, c.ConcertID, day1)
			if err != nil {
				t.Fatal(err)
			}
			return m.Seats[4].Status
		}
		if got := status(); got != "HELD" {
			t.Errorf("seat 5 = %s, want HELD", got)
		}
		l, _ := e.client.Dates(ctx, lee.access, lee.queue, c.ConcertID)
		if l.Dates[0].AvailableSeats != 49 {
			t.Errorf("available on %s = %d, want 49", day1, l.Dates[0].AvailableSeats)
		}
		e.clock.Set(r.ExpiresAt.Add(-time.Millisecond))
		if got := status(); got != "HELD" {
			t.Errorf("seat 5 just before expiry = %s, want HELD", got)
		}
		e.clock.Set(r.ExpiresAt)
		if got := status(); got != "AVAILABLE" {
			t.Errorf("seat 5 at expiry = %s, want AVAILABLE", got)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		for name, path := range map[string]string{
			"MalformedDate":    "/v1/concerts/" + c.ConcertID + "/dates/2026-13-01/seats",
			"NotADate":         "/v1/concerts/" + c.ConcertID + "/dates/tomorrow/seats",
			"UnknownDate":      "/v1/concerts/" + c.ConcertID + "/dates/2026-07-03/seats",
			"MalformedConcert": "/v1/concerts/123/dates/" + day1 + "/seats",
			"MalformedDates":   "/v1/concerts/123/dates",
		} {
			t.Run(name, func(t *testing.T) {
				a := e.do(t, "GET", path, "", "Authorization", bearer(kim.access), "Queue-Token", kim.queue)
				wantProblem(t, a, 404, boxoffice.CodeNotFound)
			})
		}
	})
}

func TestHold(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.concert(t, spec())
	other := e.concert(t, spec())
	kim := e.admitted(t, "Kim", 0, c.ConcertID)
	lee := e.admitted(t, "Lee", 0, c.ConcertID)

	t.Run("Created", func(t *testing.T) {
		a := e.do(t, "POST", "/v1/reservations", `{"concertId":"`+c.ConcertID+`","date":"`+day1+`","seatNumbers":[18,17]}`,
			"Authorization", bearer(kim.access), "Queue-Token", kim.queue)
		if a.status != 201 {
			t.Fatalf("status = %d, want 201 (%s)", a.status, a.body)
		}
		r := decode[boxhttp.Reservation](t, a)
		if a.header.Get("Location") != "/v1/reservations/"+r.ReservationID {
			t.Errorf("Location = %q", a.header.Get("Location"))
		}
		want := boxhttp.Reservation{
			ReservationID: r.ReservationID, UserID: kim.id, ConcertID: c.ConcertID, Date: day1,
			Seats:  []boxhttp.ReservedSeat{{Number: 17, Price: 90_000}, {Number: 18, Price: 90_000}},
			Amount: 180_000, Status: "HELD", ExpiresAt: base.Add(300 * time.Second),
		}
		if !sameReservation(r, want) {
			t.Errorf("got %+v, want %+v", r, want)
		}
	})
	t.Run("ErrSeatUnavailable", func(t *testing.T) {
		_, err := e.client.Hold(ctx, lee.access, lee.queue, boxhttp.HoldRequest{ConcertID: c.ConcertID, Date: day1, SeatNumbers: []int{16, 17}})
		wantCode(t, err, 409, boxoffice.CodeSeatUnavailable)
		// All or nothing: 16 stays free.
		e.hold(t, lee, c.ConcertID, day1, 16)
	})
	t.Run("ErrSeatLimitExceeded", func(t *testing.T) {
		_, err := e.client.Hold(ctx, kim.access, kim.queue, boxhttp.HoldRequest{ConcertID: c.ConcertID, Date: day1, SeatNumbers: []int{1, 2, 3}})
		wantCode(t, err, 409, boxoffice.CodeSeatLimitExceeded)
		_, err = e.client.Hold(ctx, kim.access, kim.queue, boxhttp.HoldRequest{ConcertID: c.ConcertID, Date: day2, SeatNumbers: []int{1, 2, 3, 4, 5}})
		wantCode(t, err, 409, boxoffice.CodeSeatLimitExceeded)
	})
	for name, seats := range map[string][]int{
		"Empty": {}, "Zero": {0}, "TooHigh": {51}, "Twice": {3, 3},
	} {
		t.Run("ErrInvalidRequest/"+name, func(t *testing.T) {
			_, err := e.client.Hold(ctx, kim.access, kim.queue, boxhttp.HoldRequest{ConcertID: c.ConcertID, Date: day2, SeatNumbers: seats})
			wantCode(t, err, 422, boxoffice.CodeInvalidRequest)
		})
	}
	t.Run("ErrNotFound", func(t *testing.T) {
		for _, date := range []string{"2026-07-03", "2026-02-30", "07/01/2026"} {
			_, err := e.client.Hold(ctx, kim.access, kim.queue, boxhttp.HoldRequest{ConcertID: c.ConcertID, Date: date, SeatNumbers: []int{1}})
			wantCode(t, err, 404, boxoffice.CodeNotFound)
		}
	})
	t.Run("ErrQueueTokenInvalid/OtherConcert", func(t *testing.T) {
		_, err := e.client.Hold(ctx, kim.access, kim.queue, boxhttp.HoldRequest{ConcertID: other.ConcertID, Date: day1, SeatNumbers: []int{1}})
		wantCode(t, err, 401, boxoffice.CodeQueueTokenInvalid)
	})
	t.Run("OneOfManyWins", func(t *testing.T) {
		const n = 12
		fans := make([]*fan, n)
		for i := range fans {
			fans[i] = e.fan(t, "Racer", 0)
			e.join(t, fans[i], c.ConcertID)
		}
		e.admit()
		var wg sync.WaitGroup
		var mu sync.Mutex
		won, lost := 0, 0
		for _, f := range fans {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := e.client.Hold(ctx, f.access, f.queue, boxhttp.HoldRequest{ConcertID: c.ConcertID, Date: day2, SeatNumbers: []int{42}})
				mu.Lock()
				defer mu.Unlock()
				switch boxoffice.ErrorCode(err) {
				case "":
					won++
				case boxoffice.CodeSeatUnavailable:
					lost++
				default:
					t.Errorf("hold: %v", err)
				}
			}()
		}
		wg.Wait()
		if won != 1 || lost != n-1 {
			t.Errorf("%d won and %d lost, want 1 and %d", won, lost, n-1)
		}
	})
}

// sameReservation compares reservations, times by instant.
func sameReservation(a, b boxhttp.Reservation) bool {
	if !a.ExpiresAt.Equal(b.ExpiresAt) {
		return false
	}
	a.ExpiresAt, b.ExpiresAt = time.Time{}, time.Time{}
	return reflect.DeepEqual(a, b)
}

func TestGetReservation(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.concert(t, spec())
	kim := e.admitted(t, "Kim", 0, c.ConcertID)
	r := e.hold(t, kim, c.ConcertID, day1, 7)
	ann := e.admitted(t, "Ann", 0, c.ConcertID)
	kept := e.hold(t, ann, c.ConcertID, day1, 8)

	t.Run("OK", func(t *testing.T) {
		got, err := e.client.Reservation(ctx, kim.access, r.ReservationID)
		if err != nil || !sameReservation(got, r) {
			t.Errorf("got %+v, %v; want %+v", got, err, r)
		}
	})
	t.Run("NeedsNoQueuePass", func(t *testing.T) {
		if err := e.client.Leave(ctx, kim.access, kim.queue); err != nil {
			t.Fatal(err)
		}
		// Leaving released the hold.
		got, err := e.client.Reservation(ctx, kim.access, r.ReservationID)
		if err != nil || got.Status != "CANCELLED" {
			t.Errorf("got %+v, %v; want the reservation CANCELLED", got, err)
		}
	})
	t.Run("ErrForbidden", func(t *testing.T) {
		lee := e.fan(t, "Lee", 0)
		_, err := e.client.Reservation(ctx, lee.access, r.ReservationID)
		wantCode(t, err, 403, boxoffice.CodeForbidden)
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := e.client.Reservation(ctx, kim.access, boxoffice.NewID())
		wantCode(t, err, 404, boxoffice.CodeNotFound)
		_, err = e.client.Reservation(ctx, kim.access, "r-1")
		wantCode(t, err, 404, boxoffice.CodeNotFound)
	})
	t.Run("ErrUnauthenticated", func(t *testing.T) {
		_, err := e.client.Reservation(ctx, "", r.ReservationID)
		wantCode(t, err, 401, boxoffice.CodeUnauthenticated)
	})
	t.Run("ExpiredAtExpiry", func(t *testing.T) {
		e.clock.Set(kept.ExpiresAt)
		got, err := e.client.Reservation(ctx, ann.access, kept.ReservationID)
		if err != nil || got.Status != "EXPIRED" {
			t.Errorf("got %+v, %v; want EXPIRED", got, err)
		}
	})
}

func TestCancel(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.concert(t, spec())
	other := e.concert(t, spec())
	kim := e.admitted(t, "Kim", 1_000_000, c.ConcertID)
	lee := e.admitted(t, "Lee", 0, c.ConcertID)

	t.Run("OK", func(t *testing.T) {
		r := e.hold(t, kim, c.ConcertID, day1, 9, 10)
		a := e.do(t, "DELETE", "/v1/reservations/"+r.ReservationID, "", "Authorization", bearer(kim.access), "Queue-Token", kim.queue)
		if a.status != 204 || len(a.body) != 0 {
			t.Fatalf("got %d %q, want 204 and no body", a.status, a.body)
		}
		got, _ := e.client.Reservation(ctx, kim.access, r.ReservationID)
		if got.Status != "CANCELLED" {
			t.Errorf("status = %s, want CANCELLED", got.Status)
		}
		// Released at once.
		e.hold(t, lee, c.ConcertID, day1, 9, 10)
	})
	t.Run("ErrForbidden", func(t *testing.T) {
		r := e.hold(t, kim, c.ConcertID, day1, 11)
		err := e.client.Cancel(ctx, lee.access, lee.queue, r.ReservationID)
		wantCode(t, err, 403, boxoffice.CodeForbidden)
	})
	t.Run("ErrQueueTokenInvalid/ReservationOfOtherConcert", func(t *testing.T) {
		kimOther := &fan{id: kim.id, access: kim.access}
		e.join(t, kimOther, other.ConcertID)
		e.admit()
		r := e.hold(t, kimOther, other.ConcertID, day1, 1)
		err := e.client.Cancel(ctx, kim.access, kim.queue, r.ReservationID)
		wantCode(t, err, 401, boxoffice.CodeQueueTokenInvalid)
		if got, _ := e.client.Reservation(ctx, kim.access, r.ReservationID); got.Status != "HELD" {
			t.Errorf("status = %s, want HELD", got.Status)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		err := e.client.Cancel(ctx, kim.access, kim.queue, boxoffice.NewID())
		wantCode(t, err, 404, boxoffice.CodeNotFound)
		err = e.client.Cancel(ctx, kim.access, kim.queue, "42")
		wantCode(t, err, 404, boxoffice.CodeNotFound)
	})
	t.Run("ErrAlreadyPaid", func(t *testing.T) {
		r := e.hold(t, kim, c.ConcertID, day2, 1)
		if _, err := e.client.Pay(ctx, kim.access, kim.queue, r.ReservationID, ""); err != nil {
			t.Fatal(err)
		}
		e.join(t, kim, c.ConcertID) // the payment ended the session
		e.admit()
		err := e.client.Cancel(ctx, kim.access, kim.queue, r.ReservationID)
		wantCode(t, err, 409, boxoffice.CodeAlreadyPaid)
	})
	t.Run("ErrHoldExpired", func(t *testing.T) {
		r := e.hold(t, kim, c.ConcertID, day2, 30)
		e.clock.Set(r.ExpiresAt)
		err := e.client.Cancel(ctx, kim.access, kim.queue, r.ReservationID)
		wantCode(t, err, 409, boxoffice.CodeHoldExpired)
	})
}

func TestPay(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.concert(t, spec())
	kim := e.admitted(t, "Kim", 1_000_000, c.ConcertID)

	r := e.hold(t, kim, c.ConcertID, day1, 1, 2)
	var first boxhttp.Payment
	var firstBody string
	t.Run("Paid", func(t *testing.T) {
		a := e.do(t, "POST", "/v1/payments", `{"reservationId":"`+r.ReservationID+`"}`,
			"Authorization", bearer(kim.access), "Queue-Token", kim.queue, "Idempotency-Key", "pay-1")
		if a.status != 201 {
			t.Fatalf("status = %d, want 201 (%s)", a.status, a.body)
		}
		first, firstBody = decode[boxhttp.Payment](t, a), string(a.body)
		if first.ReservationID != r.ReservationID || first.Amount != 300_000 || first.Balance != 700_000 ||
			!boxoffice.ValidID(first.PaymentID) || !first.PaidAt.Equal(base) {
			t.Errorf("got %+v", first)
		}
		got, _ := e.client.Reservation(ctx, kim.access, r.ReservationID)
		if got.Status != "PAID" {
			t.Errorf("reservation %s, want PAID", got.Status)
		}
		if b, _ := e.client.Balance(ctx, kim.access, kim.id); b.Balance != 700_000 {
			t.Errorf("balance %d, want 700000", b.Balance)
		}
	})
	t.Run("SessionFinished", func(t *testing.T) {
		st, err := e.client.QueueStatus(ctx, kim.access, kim.queue)
		if err != nil || st.Status != "EXPIRED" {
			t.Errorf("queue status %+v, %v; want EXPIRED", st, err)
		}
		_, err = e.client.Dates(ctx, kim.access, kim.queue, c.ConcertID)
		wantCode(t, err, 401, boxoffice.CodeQueueTokenExpired)
	})
	t.Run("ReplayAfterSessionEnded", func(t *testing.T) {
		e.clock.Advance(time.Minute)
		a := e.do(t, "POST", "/v1/payments", `{"reservationId":"`+r.ReservationID+`"}`,
			"Authorization", bearer(kim.access), "Queue-Token", kim.queue, "Idempotency-Key", "pay-1")
		if a.status != 201 || string(a.body) != firstBody {
			t.Errorf("got %d %s, want 201 %s", a.status, a.body, firstBody)
		}
		if b, _ := e.client.Balance(ctx, kim.access, kim.id); b.Balance != 700_000 {
			t.Errorf("balance %d after the replay, want 700000", b.Balance)
		}
	})
	t.Run("RetryWithoutKeyErrQueueTokenExpired", func(t *testing.T) {
		_, err := e.client.Pay(ctx, kim.access, kim.queue, r.ReservationID, "")
		wantCode(t, err, 401, boxoffice.CodeQueueTokenExpired)
	})
	t.Run("RetryWithOtherKeyErrQueueTokenExpired", func(t *testing.T) {
		_, err := e.client.Pay(ctx, kim.access, kim.queue, r.ReservationID, "pay-2")
		wantCode(t, err, 401, boxoffice.CodeQueueTokenExpired)
	})
	t.Run("ReplayNeedsTheUsersOwnToken", func(t *testing.T) {
		lee := e.fan(t, "Lee", 0)
		_, err := e.client.Pay(ctx, lee.access, kim.queue, r.ReservationID, "pay-1")
		wantCode(t, err, 401, boxoffice.CodeQueueTokenInvalid)
	})

	// A new session for the cases that need one.
	e.join(t, kim, c.ConcertID)
	e.admit()
	t.Run("ErrAlreadyPaid", func(t *testing.T) {
		_, err := e.client.Pay(ctx, kim.access, kim.queue, r.ReservationID, "pay-3")
		wantCode(t, err, 409, boxoffice.CodeAlreadyPaid)
	})
	t.Run("ReplayInNewSession", func(t *testing.T) {
		p, err := e.client.Pay(ctx, kim.access, kim.queue, r.ReservationID, "pay-1")
		if err != nil || p != first {
			t.Errorf("got %+v, %v; want %+v", p, err, first)
		}
		// The new session was not the one that paid: it goes on.
		if st, _ := e.client.QueueStatus(ctx, kim.access, kim.queue); st.Status != "ADMITTED" {
			t.Errorf("new session after the replay: %s, want ADMITTED", st.Status)
		}
	})
	t.Run("ErrIdempotencyKeyReused", func(t *testing.T) {
		r2 := e.hold(t, kim, c.ConcertID, day2, 3)
		_, err := e.client.Pay(ctx, kim.access, kim.queue, r2.ReservationID, "pay-1")
		wantCode(t, err, 422, boxoffice.CodeIdempotencyKeyReused)
	})
	t.Run("ErrInsufficientBalance", func(t *testing.T) {
		poor := e.admitted(t, "Poor", 100_000, c.ConcertID)
		r := e.hold(t, poor, c.ConcertID, day2, 4)
		_, err := e.client.Pay(ctx, poor.access, poor.queue, r.ReservationID, "")
		wantCode(t, err, 409, boxoffice.CodeInsufficientBalance)
		if b, _ := e.client.Balance(ctx, poor.access, poor.id); b.Balance != 100_000 {
			t.Errorf("balance %d, want 100000 untouched", b.Balance)
		}
	})
	t.Run("ErrInsufficientBalanceReplayed", func(t *testing.T) {
		poor := e.admitted(t, "Poor", 80_000, c.ConcertID)
		r := e.hold(t, poor, c.ConcertID, day2, 7)
		pay := func() answer {
			return e.do(t, "POST", "/v1/payments", `{"reservationId":"`+r.ReservationID+`"}`,
				"Authorization", bearer(poor.access), "Queue-Token", poor.queue, "Idempotency-Key", "poor-1")
		}
		first := pay()
		wantProblem(t, first, 409, boxoffice.CodeInsufficientBalance)
		if _, err := e.client.Charge(ctx, poor.access, poor.id, 100_000, ""); err != nil {
			t.Fatal(err)
		}
		// Enough money now, but the key's answer is the first one.
		if again := pay(); again.status != 409 || string(again.body) != string(first.body) {
			t.Errorf("retry: got %d %s, want 409 %s", again.status, again.body, first.body)
		}
		if b, _ := e.client.Balance(ctx, poor.access, poor.id); b.Balance != 180_000 {
			t.Errorf("balance %d, want 180000 untouched by the retry", b.Balance)
		}
		if _, err := e.client.Pay(ctx, poor.access, poor.queue, r.ReservationID, "poor-2"); err != nil {
			t.Errorf("pay with a new key: %v", err)
		}
	})
	t.Run("ErrForbidden", func(t *testing.T) {
		lee := e.admitted(t, "Lee", 1_000_000, c.ConcertID)
		r := e.hold(t, kim, c.ConcertID, day2, 5)
		_, err := e.client.Pay(ctx, lee.access, lee.queue, r.ReservationID, "")
		wantCode(t, err, 403, boxoffice.CodeForbidden)
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := e.client.Pay(ctx, kim.access, kim.queue, boxoffice.NewID(), "")
		wantCode(t, err, 404, boxoffice.CodeNotFound)
		_, err = e.client.Pay(ctx, kim.access, kim.queue, "not-an-id", "")
		wantCode(t, err, 404, boxoffice.CodeNotFound)
	})
	t.Run("ErrInvalidRequest/IdempotencyKey", func(t *testing.T) {
		a := e.do(t, "POST", "/v1/payments", `{"reservationId":"`+r.ReservationID+`"}`,
			"Authorization", bearer(kim.access), "Queue-Token", kim.queue, "Idempotency-Key", strings.Repeat("k", 129))
		wantProblem(t, a, 422, boxoffice.CodeInvalidRequest)
	})
	t.Run("ErrHoldExpired", func(t *testing.T) {
		r := e.hold(t, kim, c.ConcertID, day2, 6)
		e.clock.Set(r.ExpiresAt)
		_, err := e.client.Pay(ctx, kim.access, kim.queue, r.ReservationID, "")
		wantCode(t, err, 409, boxoffice.CodeHoldExpired)
	})
}

func TestBookingMetrics(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.concert(t, spec())
	kim := e.admitted(t, "Kim", 1_000_000, c.ConcertID)
	r := e.hold(t, kim, c.ConcertID, day1, 1, 2, 3)
	if _, err := e.client.Pay(ctx, kim.access, kim.queue, r.ReservationID, "k"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.Pay(ctx, kim.access, kim.queue, r.ReservationID, "k"); err != nil { // a replay
		t.Fatal(err)
	}
	e.join(t, e.fan(t, "Lee", 0), c.ConcertID)
	mfs, err := e.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			switch {
			case m.GetCounter() != nil:
				got[mf.GetName()] += m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				got[mf.GetName()] += m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				got[mf.GetName()+"_count"] += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	want := map[string]float64{
		"boxoffice_holds_total":      1,
		"boxoffice_sales_total":      3,
		"boxoffice_payments_total":   1,
		"boxoffice_admissions_total": 1,
		"boxoffice_queue_waiting":    1,
		"boxoffice_queue_active":     0,
	}
	for name, v := range want {
		if got[name] != v {
			t.Errorf("%s = %v, want %v", name, got[name], v)
		}
	}
	// Every step this instance led was timed: at least the one that
	// admitted Kim.
	if n := got["boxoffice_admission_step_seconds_count"]; n < 1 {
		t.Errorf("boxoffice_admission_step_seconds counted %v steps, want at least 1", n)
	}
	// Served in the Prometheus text format.
	a := e.do(t, "GET", "/metrics", "")
	if a.status != 200 || !containsAll(string(a.body), "boxoffice_http_request_duration_seconds_bucket", `route="/v1/payments"`, "boxoffice_queue_waiting{concert=") {
		t.Errorf("GET /metrics: %d, want the request histogram by route and the room gauges", a.status)
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// TestIDsInAnyCase sends every id of the API in upper case: a UUID is one
// id whatever its case, so each is answered as its lowercase form is.
func TestIDsInAnyCase(t *testing.T) {
	e := newEnv(t)
	c := e.concert(t, spec())
	kim := e.admitted(t, "Kim", 1_000_000, c.ConcertID)
	up := strings.ToUpper
	auth := func(f *fan) []string { return []string{"Authorization", bearer(f.access), "Queue-Token", f.queue} }

	t.Run("Concert", func(t *testing.T) {
		a := e.do(t, "GET", "/v1/concerts/"+up(c.ConcertID), "")
		if got := decode[boxhttp.ConcertDetail](t, a); a.status != 200 || got.ConcertID != c.ConcertID {
			t.Errorf("got %d %s, want 200 and concertId %s", a.status, a.body, c.ConcertID)
		}
		a = e.do(t, "GET", "/v1/concerts/"+up(c.ConcertID)+"/dates", "", auth(kim)...)
		if a.status != 200 {
			t.Errorf("dates: got %d %s, want 200", a.status, a.body)
		}
		a = e.do(t, "GET", "/v1/concerts/"+up(c.ConcertID)+"/dates/"+day1+"/seats", "", auth(kim)...)
		if a.status != 200 {
			t.Errorf("seats: got %d %s, want 200", a.status, a.body)
		}
		a = e.do(t, "GET", "/v1/admin/concerts/"+up(c.ConcertID)+"/stats", "", "Authorization", bearer(adminKey))
		if got := decode[boxhttp.ConcertStats](t, a); a.status != 200 || got.Admitted != 1 {
			t.Errorf("stats: got %d %s, want 200 with 1 admitted", a.status, a.body)
		}
	})
	t.Run("User", func(t *testing.T) {
		a := e.do(t, "POST", "/v1/users/"+up(kim.id)+"/balance/charges", `{"amount":1000}`,
			"Authorization", bearer(kim.access), "Idempotency-Key", "charge-up")
		if got := decode[boxhttp.Charge](t, a); a.status != 200 || got.UserID != kim.id {
			t.Errorf("charge: got %d %s, want 200 for user %s", a.status, a.body, kim.id)
		}
		a = e.do(t, "GET", "/v1/users/"+up(kim.id)+"/balance", "", "Authorization", bearer(kim.access))
		if got := decode[boxhttp.Balance](t, a); a.status != 200 || got.UserID != kim.id || got.Balance != 1_001_000 {
			t.Errorf("balance: got %d %s, want 200 with 1001000 for user %s", a.status, a.body, kim.id)
		}
		h, err := e.client.History(context.Background(), kim.access, kim.id, 1, "")
		if err != nil || h.NextCursor == nil {
			t.Fatalf("history: got %+v, %v; want a cursor", h, err)
		}
		a = e.do(t, "GET", "/v1/users/"+up(kim.id)+"/balance/history?limit=1&cursor="+up(*h.NextCursor), "", "Authorization", bearer(kim.access))
		if got := decode[boxhttp.History](t, a); a.status != 200 || len(got.Entries) != 1 {
			t.Errorf("history after an upper-case cursor: got %d %s, want 200 with 1 entry", a.status, a.body)
		}
	})

	var r boxhttp.Reservation
	t.Run("Hold", func(t *testing.T) {
		a := e.do(t, "POST", "/v1/reservations", `{"concertId":"`+up(c.ConcertID)+`","date":"`+day1+`","seatNumbers":[1]}`, auth(kim)...)
		r = decode[boxhttp.Reservation](t, a)
		if a.status != 201 || r.ConcertID != c.ConcertID || r.ReservationID != strings.ToLower(r.ReservationID) {
			t.Fatalf("got %d %s, want 201 for concert %s with a lowercase id", a.status, a.body, c.ConcertID)
		}
		a = e.do(t, "GET", "/v1/reservations/"+up(r.ReservationID), "", "Authorization", bearer(kim.access))
		if got := decode[boxhttp.Reservation](t, a); a.status != 200 || got.ReservationID != r.ReservationID {
			t.Errorf("read: got %d %s, want 200 for %s", a.status, a.body, r.ReservationID)
		}
	})
	t.Run("PayReplayedInAnotherCase", func(t *testing.T) {
		pay := func(id string) answer {
			return e.do(t, "POST", "/v1/payments", `{"reservationId":"`+id+`"}`, append(auth(kim), "Idempotency-Key", "pay-up")...)
		}
		first := pay(r.ReservationID)
		if first.status != 201 {
			t.Fatalf("pay: got %d %s, want 201", first.status, first.body)
		}
		for _, id := range []string{up(r.ReservationID), r.ReservationID} {
			if a := pay(id); a.status != 201 || string(a.body) != string(first.body) {
				t.Errorf("replay with %s: got %d %s, want 201 %s", id, a.status, a.body, first.body)
			}
		}
		e.join(t, kim, c.ConcertID)
		e.admit()
		if a := pay(up(r.ReservationID)); a.status != 201 || string(a.body) != string(first.body) {
			t.Errorf("replay in a new session: got %d %s, want 201 %s", a.status, a.body, first.body)
		}
	})
	t.Run("Cancel", func(t *testing.T) {
		r := e.hold(t, kim, c.ConcertID, day2, 2)
		if a := e.do(t, "DELETE", "/v1/reservations/"+up(r.ReservationID), "", auth(kim)...); a.status != 204 {
			t.Errorf("cancel: got %d %s, want 204", a.status, a.body)
		}
	})
}
