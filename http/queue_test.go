package http_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
	boxhttp "github.com/boxoffice/boxoffice/http"
	"github.com/boxoffice/boxoffice/queue"
)

// queueTicket is a ticket of userID for a concert that does not exist.
func queueTicket(userID string) queue.Ticket {
	return queue.Ticket{ConcertID: boxoffice.NewID(), UserID: userID, Seq: 1}
}

func TestJoin(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.concert(t, spec())
	kim := e.fan(t, "Kim", 0)

	var first boxhttp.QueueStatus
	t.Run("Created", func(t *testing.T) {
		a := e.do(t, "POST", "/v1/concerts/"+c.ConcertID+"/queue", "", "Authorization", bearer(kim.access))
		if a.status != 201 {
			t.Fatalf("status = %d, want 201 (%s)", a.status, a.body)
		}
		first = decode[boxhttp.QueueStatus](t, a)
		if first.Token == "" || first.ConcertID != c.ConcertID || first.Status != "WAITING" || first.Position != 1 ||
			first.PollAfterSeconds < 1 || first.SessionExpiresAt != nil {
			t.Errorf("got %+v, want WAITING at 1 with a token and a poll interval", first)
		}
	})
	t.Run("ExistingPlace", func(t *testing.T) {
		st, created, err := e.client.Join(ctx, kim.access, c.ConcertID)
		if err != nil || created || st.Token != first.Token || st.Position != 1 {
			t.Errorf("got %+v created=%v, %v; want the same token and place, 200", st, created, err)
		}
	})
	t.Run("ConcurrentJoinsOnePlace", func(t *testing.T) {
		lee := e.fan(t, "Lee", 0)
		tokens := make([]string, 10)
		var wg sync.WaitGroup
		for i := range tokens {
			wg.Add(1)
			go func() {
				defer wg.Done()
				st, _, err := e.client.Join(ctx, lee.access, c.ConcertID)
				if err != nil {
					t.Error(err)
				}
				tokens[i] = st.Token
			}()
		}
		wg.Wait()
		for _, tok := range tokens {
			if tok != tokens[0] {
				t.Fatalf("got tokens %v, want one", tokens)
			}
		}
	})
	t.Run("Admitted", func(t *testing.T) {
		e.admit()
		st, created, err := e.client.Join(ctx, kim.access, c.ConcertID)
		want := base.Add(600 * time.Second)
		if err != nil || created || st.Status != "ADMITTED" || st.Position != 0 || st.SessionExpiresAt == nil || !st.SessionExpiresAt.Equal(want) {
			t.Errorf("got %+v, %v; want ADMITTED with the session ending at %v", st, err, want)
		}
	})
	t.Run("Prequeue", func(t *testing.T) {
		s := spec()
		s.SalesOpenAt = base.Add(time.Hour)
		later := e.concert(t, s)
		st := e.join(t, kim, later.ConcertID)
		if st.Status != "PREQUEUE" || st.EstimatedWaitSeconds < 3600 {
			t.Errorf("got %+v, want PREQUEUE waiting at least the hour to opening", st)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		_, _, err := e.client.Join(ctx, kim.access, boxoffice.NewID())
		wantCode(t, err, 404, boxoffice.CodeNotFound)
		_, _, err = e.client.Join(ctx, kim.access, "not-a-concert")
		wantCode(t, err, 404, boxoffice.CodeNotFound)
	})
	t.Run("ErrUnauthenticated", func(t *testing.T) {
		_, _, err := e.client.Join(ctx, "", c.ConcertID)
		wantCode(t, err, 401, boxoffice.CodeUnauthenticated)
	})
	t.Run("ErrSoldOut", func(t *testing.T) {
		small := e.smallConcert(t)
		buyer := e.admitted(t, "Buyer", 0, small.ConcertID)
		e.buyAll(t, buyer, small.ConcertID)
		e.clock.Advance(2 * time.Second) // past the concert cache
		_, _, err := e.client.Join(ctx, kim.access, small.ConcertID)
		wantCode(t, err, 409, boxoffice.CodeSoldOut)
		d, _ := e.client.Concert(ctx, small.ConcertID)
		if !d.SoldOut {
			t.Error("concert soldOut = false, want true")
		}
	})
}

func TestQueueStatusAndLeave(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.concert(t, spec())
	kim := e.fan(t, "Kim", 0)
	lee := e.fan(t, "Lee", 0)
	e.join(t, kim, c.ConcertID)
	e.join(t, lee, c.ConcertID)

	t.Run("Waiting", func(t *testing.T) {
		st, err := e.client.QueueStatus(ctx, lee.access, lee.queue)
		if err != nil || st.Status != "WAITING" || st.Position != 2 || st.Token != lee.queue || st.SessionExpiresAt != nil {
			t.Errorf("got %+v, %v; want WAITING at 2 with the same token", st, err)
		}
	})
	t.Run("Admitted", func(t *testing.T) {
		e.admit()
		st, err := e.client.QueueStatus(ctx, kim.access, kim.queue)
		if err != nil || st.Status != "ADMITTED" || st.Position != 0 || st.SessionExpiresAt == nil || st.PollAfterSeconds != 0 {
			t.Errorf("got %+v, %v; want ADMITTED with sessionExpiresAt", st, err)
		}
	})
	t.Run("ErrQueueTokenInvalid", func(t *testing.T) {
		for name, tok := range map[string]string{
			"Missing":     "",
			"Forged":      kim.queue[:len(kim.queue)-3] + "abc",
			"Garbage":     "garbage",
			"OtherUser":   lee.queue,
			"AccessToken": kim.access,
		} {
			t.Run(name, func(t *testing.T) {
				_, err := e.client.QueueStatus(ctx, kim.access, tok)
				wantCode(t, err, 401, boxoffice.CodeQueueTokenInvalid)
			})
		}
	})
	t.Run("ErrUnauthenticated", func(t *testing.T) {
		_, err := e.client.QueueStatus(ctx, "", kim.queue)
		wantCode(t, err, 401, boxoffice.CodeUnauthenticated)
	})
	t.Run("UnknownRoomIsExpired", func(t *testing.T) {
		tok := e.signer.QueueToken(queueTicket(kim.id))
		st, err := e.client.QueueStatus(ctx, kim.access, tok)
		if err != nil || st.Status != "EXPIRED" {
			t.Errorf("got %+v, %v; want EXPIRED", st, err)
		}
	})
	t.Run("Leave", func(t *testing.T) {
		if err := e.client.Leave(ctx, lee.access, lee.queue); err != nil {
			t.Fatalf("leave: %v", err)
		}
		st, err := e.client.QueueStatus(ctx, lee.access, lee.queue)
		if err != nil || st.Status != "EXPIRED" || st.PollAfterSeconds != 0 {
			t.Errorf("after leaving: %+v, %v; want EXPIRED", st, err)
		}
		if err := e.client.Leave(ctx, lee.access, lee.queue); err != nil {
			t.Errorf("leaving twice: %v, want 204", err)
		}
	})
	t.Run("LeaveErrQueueTokenInvalid", func(t *testing.T) {
		err := e.client.Leave(ctx, lee.access, kim.queue)
		wantCode(t, err, 401, boxoffice.CodeQueueTokenInvalid)
		st, _ := e.client.QueueStatus(ctx, kim.access, kim.queue)
		if st.Status != "ADMITTED" {
			t.Errorf("kim's session after lee's attempt: %s, want ADMITTED", st.Status)
		}
	})
	t.Run("SoldOutWhileWaiting", func(t *testing.T) {
		small := e.smallConcert(t)
		buyer := e.admitted(t, "Buyer", 0, small.ConcertID)
		waiter := e.fan(t, "Waiter", 0)
		e.join(t, waiter, small.ConcertID)
		e.buyAll(t, buyer, small.ConcertID)
		e.clock.Advance(2 * time.Second)
		e.admit() // the room's leader reports what is left to sell
		st, err := e.client.QueueStatus(ctx, waiter.access, waiter.queue)
		if err != nil || st.Status != "SOLD_OUT" || st.PollAfterSeconds != 0 {
			t.Errorf("got %+v, %v; want SOLD_OUT", st, err)
		}
		stats, err := e.client.Stats(ctx, adminKey, small.ConcertID)
		if err != nil || !stats.SoldOut || !stats.Paused {
			t.Errorf("stats: got %+v, %v; want sold out and paused", stats, err)
		}
	})
}

// TestQueuePass checks every endpoint marked queue against every way a
// queue pass can be wrong.
func TestQueuePass(t *testing.T) {
	e := newEnv(t)
	c := e.concert(t, spec())
	other := e.concert(t, spec())
	kim := e.admitted(t, "Kim", 1_000_000, c.ConcertID)
	r := e.hold(t, kim, c.ConcertID, day1, 1)
	lee := e.admitted(t, "Lee", 0, c.ConcertID)

	// Kim's pass for the other concert, admitted.
	kimOther := &fan{id: kim.id, access: kim.access}
	e.join(t, kimOther, other.ConcertID)
	e.admit()
	// Choi left.
	choi := e.admitted(t, "Choi", 0, c.ConcertID)
	if err := e.client.Leave(context.Background(), choi.access, choi.queue); err != nil {
		t.Fatal(err)
	}
	// Park waits: admission happens only at steps.
	park := e.fan(t, "Park", 0)
	e.join(t, park, c.ConcertID)

	endpoints := []struct {
		name, method, path, body string
	}{
		{"Dates", "GET", "/v1/concerts/" + c.ConcertID + "/dates", ""},
		{"Seats", "GET", "/v1/concerts/" + c.ConcertID + "/dates/" + day1 + "/seats", ""},
		{"Hold", "POST", "/v1/reservations", `{"concertId":"` + c.ConcertID + `","date":"` + day1 + `","seatNumbers":[30]}`},
		{"Cancel", "DELETE", "/v1/reservations/" + r.ReservationID, ""},
		{"Pay", "POST", "/v1/payments", `{"reservationId":"` + r.ReservationID + `"}`},
	}
	cases := []struct {
		name     string
		access   string
		queue    string
		status   int
		code     boxoffice.Code
		position int64
	}{
		{"ErrUnauthenticated", "", kim.queue, 401, boxoffice.CodeUnauthenticated, 0},
		{"ErrQueueTokenMissing", kim.access, "", 401, boxoffice.CodeQueueTokenInvalid, 0},
		{"ErrQueueTokenForged", kim.access, kim.queue + "x", 401, boxoffice.CodeQueueTokenInvalid, 0},
		{"ErrQueueTokenOfOtherUser", kim.access, lee.queue, 401, boxoffice.CodeQueueTokenInvalid, 0},
		{"ErrQueueTokenOfOtherConcert", kim.access, kimOther.queue, 401, boxoffice.CodeQueueTokenInvalid, 0},
		{"ErrNotAdmitted", park.access, park.queue, 403, boxoffice.CodeNotAdmitted, 1},
		{"ErrQueueTokenExpired", choi.access, choi.queue, 401, boxoffice.CodeQueueTokenExpired, 0},
	}
	for _, ep := range endpoints {
		for _, tc := range cases {
			if ep.name == "Cancel" || ep.name == "Pay" {
				if tc.name == "ErrQueueTokenOfOtherConcert" {
					// The concert is learned from the reservation, after
					// the pass: see TestCancel and TestPay.
					continue
				}
			}
			t.Run(ep.name+"/"+tc.name, func(t *testing.T) {
				h := []string{"Queue-Token", tc.queue}
				if tc.access != "" {
					h = append(h, "Authorization", bearer(tc.access))
				}
				a := e.do(t, ep.method, ep.path, ep.body, h...)
				p := wantProblem(t, a, tc.status, tc.code)
				if p.Position != tc.position {
					t.Errorf("position = %d, want %d", p.Position, tc.position)
				}
			})
		}
	}
	// Nothing changed: the hold is still there and unpaid.
	got, err := e.client.Reservation(context.Background(), kim.access, r.ReservationID)
	if err != nil || got.Status != "HELD" {
		t.Errorf("reservation after the refused calls: %+v, %v; want HELD", got, err)
	}
}
