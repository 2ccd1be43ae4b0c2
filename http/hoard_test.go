package http_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
	boxhttp "github.com/boxoffice/boxoffice/http"
)

func TestLeaveReleasesHolds(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.concert(t, spec())
	kim := e.admitted(t, "Kim", 0, c.ConcertID)
	lee := e.admitted(t, "Lee", 0, c.ConcertID)
	r1 := e.hold(t, kim, c.ConcertID, day1, 1, 2)
	r2 := e.hold(t, kim, c.ConcertID, day2, 3)
	theirs := e.hold(t, lee, c.ConcertID, day1, 5)

	a := e.do(t, "DELETE", "/v1/queue", "", "Authorization", bearer(kim.access), "Queue-Token", kim.queue)
	if a.status != 204 {
		t.Fatalf("leave: got %d %s, want 204", a.status, a.body)
	}
	for _, r := range []boxhttp.Reservation{r1, r2} {
		got, err := e.client.Reservation(ctx, kim.access, r.ReservationID)
		if err != nil || got.Status != "CANCELLED" {
			t.Errorf("reservation after leaving: got %+v, %v; want CANCELLED", got, err)
		}
	}
	if got, _ := e.client.Reservation(ctx, lee.access, theirs.ReservationID); got.Status != "HELD" {
		t.Errorf("another fan's hold after the leave: got %s, want HELD", got.Status)
	}
	// The seats are free for others at once.
	e.hold(t, lee, c.ConcertID, day1, 1, 2)
	_, err := e.client.Hold(ctx, kim.access, kim.queue, boxhttp.HoldRequest{ConcertID: c.ConcertID, Date: day2, SeatNumbers: []int{4}})
	wantCode(t, err, 401, boxoffice.CodeQueueTokenExpired)

	t.Run("RetryFinishesTheLeave", func(t *testing.T) {
		// As after a release that failed: the session ended, the holds
		// are still there. A retry with the same token releases them.
		ann := e.admitted(t, "Ann", 0, c.ConcertID)
		r := e.hold(t, ann, c.ConcertID, day2, 7)
		tk, err := e.signer.VerifyQueue(ann.queue)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.queue.Leave(ctx, tk); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := e.client.Leave(ctx, ann.access, ann.queue); err != nil {
				t.Fatalf("leave again: got %v, want 204", err)
			}
		}
		if got, _ := e.client.Reservation(ctx, ann.access, r.ReservationID); got.Status != "CANCELLED" {
			t.Errorf("reservation after the retried leave: got %s, want CANCELLED", got.Status)
		}
	})
}

func TestHoldCooldown(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.concert(t, spec())
	kim := e.admitted(t, "Kim", 0, c.ConcertID)
	lee := e.admitted(t, "Lee", 0, c.ConcertID)
	r := e.hold(t, kim, c.ConcertID, day1, 17)
	e.clock.Advance(5 * time.Second)
	if err := e.client.Cancel(ctx, kim.access, kim.queue, r.ReservationID); err != nil {
		t.Fatal(err)
	}
	body := `{"concertId":"` + c.ConcertID + `","date":"` + day1 + `","seatNumbers":[17]}`
	a := e.do(t, "POST", "/v1/reservations", body, "Authorization", bearer(kim.access), "Queue-Token", kim.queue)
	p := wantProblem(t, a, 409, boxoffice.CodeSeatUnavailable)
	want := "you held seat 17 on 2026-07-01 until 2026-06-01T03:00:05Z; you can hold it again from 2026-06-01T03:05:05Z"
	if p.Detail != want {
		t.Errorf("detail: got %q, want %q", p.Detail, want)
	}
	// Another fan holds it at once; the cooldown is the holder's alone.
	lr := e.hold(t, lee, c.ConcertID, day1, 17)
	if err := e.client.Cancel(ctx, lee.access, lee.queue, lr.ReservationID); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(300 * time.Second)
	e.hold(t, kim, c.ConcertID, day1, 17)
}

func TestHoldIdempotencyKey(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.concert(t, spec())
	kim := e.admitted(t, "Kim", 1_000_000, c.ConcertID)
	lee := e.admitted(t, "Lee", 0, c.ConcertID)
	hold := func(f *fan, key string, seats string) answer {
		body := `{"concertId":"` + c.ConcertID + `","date":"` + day1 + `","seatNumbers":` + seats + `}`
		return e.do(t, "POST", "/v1/reservations", body, "Authorization", bearer(f.access), "Queue-Token", f.queue, "Idempotency-Key", key)
	}

	first := hold(kim, "k1", "[11,12]")
	if first.status != 201 {
		t.Fatalf("hold: got %d %s, want 201", first.status, first.body)
	}
	r := decode[boxhttp.Reservation](t, first)
	for _, seats := range []string{"[11,12]", "[12,11]"} {
		again := hold(kim, "k1", seats)
		if again.status != 201 || string(again.body) != string(first.body) {
			t.Errorf("replay %s: got %d %s, want 201 %s", seats, again.status, again.body, first.body)
		}
	}
	wantProblem(t, hold(kim, "k1", "[13]"), 422, boxoffice.CodeIdempotencyKeyReused)
	wantProblem(t, hold(kim, strings.Repeat("k", 129), "[13]"), 422, boxoffice.CodeInvalidRequest)
	l, err := e.client.Reservations(ctx, kim.access, kim.id, boxhttp.ReservationsQuery{})
	if err != nil || len(l.Reservations) != 1 {
		t.Errorf("reservations after replays: got %+v, %v; want one", l, err)
	}

	t.Run("RememberedRefusal", func(t *testing.T) {
		lr := e.hold(t, lee, c.ConcertID, day1, 20)
		refused := hold(kim, "k2", "[20]")
		wantProblem(t, refused, 409, boxoffice.CodeSeatUnavailable)
		if err := e.client.Cancel(ctx, lee.access, lee.queue, lr.ReservationID); err != nil {
			t.Fatal(err)
		}
		again := hold(kim, "k2", "[20]")
		if again.status != 409 || string(again.body) != string(refused.body) {
			t.Errorf("retry: got %d %s, want %s", again.status, again.body, refused.body)
		}
	})
	t.Run("ReplayAfterTheSessionEnded", func(t *testing.T) {
		if _, err := e.client.Pay(ctx, kim.access, kim.queue, r.ReservationID, ""); err != nil {
			t.Fatal(err)
		}
		again := hold(kim, "k1", "[11,12]")
		got := decode[boxhttp.Reservation](t, again)
		if again.status != 201 || got.ReservationID != r.ReservationID || got.Status != "PAID" {
			t.Errorf("replay after paying: got %d %s, want 201 and the reservation PAID", again.status, again.body)
		}
		wantProblem(t, hold(kim, "k1", "[13]"), 401, boxoffice.CodeQueueTokenExpired)
		wantProblem(t, hold(kim, "k3", "[13]"), 401, boxoffice.CodeQueueTokenExpired)
	})
}

func TestListReservations(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.concert(t, spec())
	other := e.concert(t, spec())
	kim := e.admitted(t, "Kim", 1_000_000, c.ConcertID)
	var made []boxhttp.Reservation // oldest first
	for _, seats := range [][]int{{1}, {2}, {3}} {
		made = append(made, e.hold(t, kim, c.ConcertID, day1, seats...))
		e.clock.Advance(time.Second)
	}
	if err := e.client.Cancel(ctx, kim.access, kim.queue, made[1].ReservationID); err != nil {
		t.Fatal(err)
	}
	e.join(t, kim, other.ConcertID)
	e.admit()
	made = append(made, e.hold(t, kim, other.ConcertID, day2, 9))

	ids := func(l boxhttp.ReservationList) []string {
		var out []string
		for _, r := range l.Reservations {
			out = append(out, r.ReservationID)
		}
		return out
	}
	all := []string{made[3].ReservationID, made[2].ReservationID, made[1].ReservationID, made[0].ReservationID}
	for _, tc := range []struct {
		name string
		q    boxhttp.ReservationsQuery
		want []string
	}{
		{"All", boxhttp.ReservationsQuery{}, all},
		{"Concert", boxhttp.ReservationsQuery{ConcertID: c.ConcertID}, all[1:]},
		{"Cancelled", boxhttp.ReservationsQuery{Status: "CANCELLED"}, all[2:3]},
		{"HeldOfConcert", boxhttp.ReservationsQuery{Status: "HELD", ConcertID: c.ConcertID}, []string{all[1], all[3]}},
	} {
		l, err := e.client.Reservations(ctx, kim.access, kim.id, tc.q)
		if err != nil || strings.Join(ids(l), ",") != strings.Join(tc.want, ",") || l.NextCursor != nil {
			t.Errorf("%s: got %v (next %v), %v; want %v", tc.name, ids(l), l.NextCursor, err, tc.want)
		}
	}
	t.Run("Pages", func(t *testing.T) {
		var got []string
		q := boxhttp.ReservationsQuery{Limit: 3}
		for range 3 {
			l, err := e.client.Reservations(ctx, kim.access, kim.id, q)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, ids(l)...)
			if l.NextCursor == nil {
				break
			}
			q.Cursor = *l.NextCursor
		}
		if strings.Join(got, ",") != strings.Join(all, ",") {
			t.Errorf("got %v, want %v", got, all)
		}
	})
	t.Run("ExpiredAtExpiry", func(t *testing.T) {
		e.clock.Set(made[0].ExpiresAt)
		l, err := e.client.Reservations(ctx, kim.access, kim.id, boxhttp.ReservationsQuery{Status: "EXPIRED"})
		if err != nil || len(l.Reservations) != 1 || l.Reservations[0].ReservationID != made[0].ReservationID ||
			l.Reservations[0].Status != "EXPIRED" {
			t.Errorf("got %+v, %v; want the first hold EXPIRED", l, err)
		}
	})
	t.Run("ErrForbidden", func(t *testing.T) {
		lee := e.fan(t, "Lee", 0)
		_, err := e.client.Reservations(ctx, lee.access, kim.id, boxhttp.ReservationsQuery{})
		wantCode(t, err, 403, boxoffice.CodeForbidden)
	})
	t.Run("ErrUnauthenticated", func(t *testing.T) {
		_, err := e.client.Reservations(ctx, "", kim.id, boxhttp.ReservationsQuery{})
		wantCode(t, err, 401, boxoffice.CodeUnauthenticated)
	})
	t.Run("ErrInvalidRequest", func(t *testing.T) {
		for _, q := range []string{"limit=0", "limit=101", "status=LOST", "cursor=" + boxoffice.NewID(), "cursor=nope"} {
			a := e.do(t, "GET", "/v1/users/"+kim.id+"/reservations?"+q, "", "Authorization", bearer(kim.access))
			if p := a.problem(t); p.Code != boxoffice.CodeInvalidRequest {
				t.Errorf("?%s: got %d %s, want %s", q, a.status, p.Code, boxoffice.CodeInvalidRequest)
			}
		}
	})
}

func TestHoldEndsWithSession(t *testing.T) {
	e := newEnv(t)
	s := spec()
	s.WaitingRoom.MaxSessionSeconds = 120 // shorter than the 300 s hold
	c := e.concert(t, s)
	kim := e.admitted(t, "Kim", 0, c.ConcertID)
	admitted := e.clock.Now()

	t.Run("HoldWithinSession", func(t *testing.T) {
		e.clock.Advance(30 * time.Second)
		r := e.hold(t, kim, c.ConcertID, day1, 17)
		if want := admitted.Add(120 * time.Second); !r.ExpiresAt.Equal(want) {
			t.Errorf("expiresAt: got %s, want the session's end %s", r.ExpiresAt, want)
		}
	})
	t.Run("ErrQueueTokenExpired", func(t *testing.T) {
		e.clock.Advance(90 * time.Second) // the session's end
		body := `{"concertId":"` + c.ConcertID + `","date":"` + day1 + `","seatNumbers":[18]}`
		a := e.do(t, "POST", "/v1/reservations", body, "Authorization", bearer(kim.access), "Queue-Token", kim.queue)
		wantProblem(t, a, 401, boxoffice.CodeQueueTokenExpired)
	})
}
