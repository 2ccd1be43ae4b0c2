package loadtest

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	boxhttp "github.com/boxoffice/boxoffice/http"
)

// eventsWait bounds how long the audit waits for the feed to show every
// payment: events are numbered for the feed shortly after they commit.
const eventsWait = 15 * time.Second

// checkPaidEvents checks the sale's ReservationPaid events in the admin
// feed against what the audit read back: one per PAID reservation, none
// for another, with its amount, adding up to the revenue in the stats.
func (e *engine) checkPaidEvents(ctx context.Context, concertID string, in auditInput) Check {
	paid := map[string]int64{} // PAID reservations and their amounts
	for _, f := range in.fans {
		for _, h := range f.holds {
			if h.status == "PAID" {
				paid[h.ReservationID] = h.Amount
			}
		}
	}
	check := Check{Name: "ReservationPaid events match the payments"}
	seen := map[string]int{}
	var (
		sum, wrongAmount, unknown int64
		cursor                    string
	)
	deadline := time.Now().Add(eventsWait)
	for {
		var page boxhttp.EventPage
		err := e.setup(ctx, 0, routeEvents, func(c *boxhttp.Client) error {
			var err error
			page, err = c.Events(ctx, e.opts.AdminKey, boxhttp.EventQuery{Cursor: cursor, Limit: 1000,
				ConcertID: concertID, Type: "ReservationPaid"})
			return err
		})
		if err != nil {
			check.Detail = fmt.Sprintf("the admin event feed could not be read: %v", err)
			return check
		}
		for _, ev := range page.Events {
			var d struct {
				ReservationID string `json:"reservationId"`
				Amount        int64  `json:"amount"`
			}
			if err := json.Unmarshal(ev.Data, &d); err != nil {
				check.Detail = fmt.Sprintf("event %s: data %s: %v", ev.ID, ev.Data, err)
				return check
			}
			seen[d.ReservationID]++
			sum += d.Amount
			amount, ok := paid[d.ReservationID]
			switch {
			case !ok:
				unknown++
			case amount != d.Amount:
				wrongAmount++
			}
		}
		cursor = page.NextCursor
		if len(page.Events) == 0 {
			if len(seen) >= len(paid) || time.Now().After(deadline) || ctx.Err() != nil {
				break
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	var missing, twice int
	for id := range paid {
		if seen[id] == 0 {
			missing++
		}
	}
	for _, n := range seen {
		if n > 1 {
			twice++
		}
	}
	check.OK = missing == 0 && twice == 0 && unknown == 0 && wrongAmount == 0 && sum == in.stats.Revenue
	check.Detail = fmt.Sprintf("%s ReservationPaid events for %s PAID reservations: %d missing, %d twice, %d of no PAID reservation, %d with another amount; "+
		"they add up to %s, revenue in the stats %s",
		count(int64(len(seen))), count(int64(len(paid))), missing, twice, unknown, wrongAmount, won(sum), won(in.stats.Revenue))
	return check
}
