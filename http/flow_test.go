package http_test

import (
	"context"
	"errors"
	"testing"

	"github.com/boxoffice/boxoffice"
	boxhttp "github.com/boxoffice/boxoffice/http"
	"github.com/boxoffice/boxoffice/memory"
)

// TestFlow runs a fan's whole way through the API on each waiting-room
// store: join, wait, be admitted, look, hold, pay, and retry the payment
// after the session ended.
func TestFlow(t *testing.T) {
	stores := []struct {
		name string
		opt  func(t *testing.T) envOption
	}{
		{"Memory", func(*testing.T) envOption { return withQueueStore(memory.NewQueueStore()) }},
		{"Redis", func(t *testing.T) envOption { return withQueueStore(freshRedisQueue(t)) }},
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			e := newEnv(t, st.opt(t))
			ctx := context.Background()
			c := e.concert(t, spec())
			first := e.fan(t, "First", 0)
			e.join(t, first, c.ConcertID)
			kim := e.fan(t, "Kim", 500_000)
			joined := e.join(t, kim, c.ConcertID)
			if joined.Status != "WAITING" || joined.Position != 2 {
				t.Fatalf("join: %+v, want WAITING at 2", joined)
			}
			_, err := e.client.Seats(ctx, kim.access, kim.queue, c.ConcertID, day1)
			wantCode(t, err, 403, boxoffice.CodeNotAdmitted)
			if p, ok := asPosition(err); !ok || p != 2 {
				t.Errorf("NOT_ADMITTED position = %d, want 2", p)
			}

			e.admit()
			st, err := e.client.QueueStatus(ctx, kim.access, kim.queue)
			if err != nil || st.Status != "ADMITTED" {
				t.Fatalf("after admission: %+v, %v; want ADMITTED", st, err)
			}
			dates, err := e.client.Dates(ctx, kim.access, kim.queue, c.ConcertID)
			if err != nil || len(dates.Dates) != 2 {
				t.Fatalf("dates: %+v, %v", dates, err)
			}
			r := e.hold(t, kim, c.ConcertID, dates.Dates[0].Date, 11, 12)
			p, err := e.client.Pay(ctx, kim.access, kim.queue, r.ReservationID, "flow-key")
			if err != nil || p.Amount != 180_000 || p.Balance != 320_000 {
				t.Fatalf("pay: %+v, %v; want 180000 paid, 320000 left", p, err)
			}
			again, err := e.client.Pay(ctx, kim.access, kim.queue, r.ReservationID, "flow-key")
			if err != nil || again != p {
				t.Errorf("retry: %+v, %v; want %+v", again, err, p)
			}
			st, err = e.client.QueueStatus(ctx, kim.access, kim.queue)
			if err != nil || st.Status != "EXPIRED" {
				t.Errorf("after paying: %+v, %v; want EXPIRED", st, err)
			}
			stats, err := e.client.Stats(ctx, adminKey, c.ConcertID)
			if err != nil || stats.Sold != 2 || stats.Revenue != 180_000 || stats.Admitted != 2 || stats.Active != 1 {
				t.Errorf("stats: %+v, %v", stats, err)
			}
		})
	}
}

// asPosition returns the position of a NOT_ADMITTED answer.
func asPosition(err error) (int64, bool) {
	var re *boxhttp.ResponseError
	if !errors.As(err, &re) {
		return 0, false
	}
	return re.Err.Position, true
}
