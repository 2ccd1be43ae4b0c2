package loadtest

import (
	"context"
	"fmt"
	"time"

	"github.com/boxoffice/boxoffice"
	boxhttp "github.com/boxoffice/boxoffice/http"
)

// seatKey names one seat of one date.
type seatKey struct {
	day    string
	number int
}

// audit reads the sale back through the API (admin stats, every date's
// seat map, every fan's reservations and balance) and checks the
// invariants.
func (e *engine) audit(ctx context.Context, s *sale, fans []*saleFan, rep *Onsale, opens time.Time) ([]Check, error) {
	var st boxhttp.ConcertStats
	err := e.setup(ctx, 0, routeStats, func(c *boxhttp.Client) error {
		var err error
		st, err = c.Stats(ctx, e.opts.AdminKey, s.concert.ConcertID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("audit: stats: %w", err)
	}
	maps, mapsLost, err := e.auditMaps(ctx, s)
	if err != nil {
		return nil, err
	}
	balances, err := e.readBack(ctx, fans)
	if err != nil {
		return nil, err
	}

	log, err := e.admissionLog(ctx, s.concert.ConcertID)
	if err != nil {
		return nil, fmt.Errorf("audit: admission log: %w", err)
	}

	in := auditInput{stats: st, maps: maps, mapsLost: mapsLost, balances: balances}
	obs := make([]joinObservation, 0, len(fans))
	for _, f := range fans {
		in.fans = append(in.fans, auditFan{charged: f.charged, holds: f.holds})
		obs = append(obs, joinObservation{UserID: f.userID, JoinSent: f.joinSent, JoinRecv: f.joinRecv, Position: f.joinPosition, LastWaiting: f.lastWaiting, Admitted: f.admittedAt, Drawn: f.drawn})
	}
	checks := checkSale(in)
	checks = append(checks, e.checkPaidEvents(ctx, s.concert.ConcertID, in))
	rep.Order = admissionOrder(obs, log)
	checks = append(checks, Check{Name: "admission order matched join order", OK: rep.Order.OK(), Detail: rep.Order.String()})

	checks = append([]Check{reportSale(rep, st, fans, opens)}, checks...)
	return checks, nil
}

// auditMaps reads every date's seat map with the auditor's session. With
// --robust, a session lost to a fault or never admitted before the sale
// sold out leaves the maps out, and lost says why.
func (e *engine) auditMaps(ctx context.Context, s *sale) (maps []boxhttp.SeatMap, lost string, err error) {
	maps = make([]boxhttp.SeatMap, len(s.days))
	a := s.auditor
	err = e.parallel(ctx, "seat maps", len(s.days), func(ctx context.Context, i int) error {
		return e.setup(ctx, 0, routeSeats, func(c *boxhttp.Client) error {
			var err error
			maps[i], err = c.Seats(ctx, a.access, a.queueToken, s.concert.ConcertID, s.days[i])
			return err
		})
	})
	if err != nil {
		if !e.opts.Robust || !(lostPlace(err, true) || boxoffice.ErrorCode(err) == boxoffice.CodeSoldOut) {
			return nil, "", fmt.Errorf("audit: seat maps (read with a session admitted at the opening): %w", err)
		}
		// The auditor's session did not survive a fault, or (in the
		// opening's draw with --prequeue) it was not admitted before the
		// sale sold out; a sold-out room admits nobody new, so the other
		// checks go on without maps.
		return nil, fmt.Sprintf("the seat maps could not be read with the auditor's queue token (%s): its session was lost, or it was never admitted", boxoffice.ErrorCode(err)), nil
	}
	return maps, "", nil
}

// readBack reads back every fan's reservations, into their holds, and
// returns their balances.
func (e *engine) readBack(ctx context.Context, fans []*saleFan) ([]int64, error) {
	balances := make([]int64, len(fans))
	err := e.parallel(ctx, "reading back", len(fans), func(ctx context.Context, i int) error {
		f := fans[i]
		for j := range f.holds {
			h := &f.holds[j]
			err := e.setup(ctx, f.target, routeReservation, func(c *boxhttp.Client) error {
				r, err := c.Reservation(ctx, f.access, h.ReservationID)
				h.status = r.Status
				return err
			})
			if err != nil {
				return fmt.Errorf("reservation %s: %w", h.ReservationID, err)
			}
		}
		return e.setup(ctx, f.target, routeBalance, func(c *boxhttp.Client) error {
			b, err := c.Balance(ctx, f.access, f.userID)
			balances[i] = b.Balance
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	return balances, nil
}

// reportSale writes the sale's figures into rep and returns its "sold out"
// check.
func reportSale(rep *Onsale, st boxhttp.ConcertStats, fans []*saleFan, opens time.Time) Check {
	rep.Sold, rep.Revenue = st.Sold, st.Revenue
	rep.SoldOut = st.Total > 0 && st.Sold == st.Total
	first := firstAdmission(fans, rep.Timeline, opens)
	if !first.IsZero() {
		rep.FirstAdmissionS = first.Sub(opens).Seconds()
	}
	if rep.SoldOut {
		last := soldOutAt(fans, rep.Timeline, opens, st.Total)
		rep.SoldOutS = last.Sub(opens).Seconds()
		if !first.IsZero() {
			rep.TimeToSellOutS = last.Sub(first).Seconds()
		}
	}
	detail := fmt.Sprintf("sold %s of %s seats", count(int64(st.Sold)), count(int64(st.Total)))
	if rep.SoldOut {
		detail += fmt.Sprintf(", %.1f s from the first admission", rep.TimeToSellOutS)
	}
	return Check{Name: "sold out", OK: rep.SoldOut, Detail: detail}
}

// firstAdmission is the earliest admission anyone saw: a fan's answer, or
// the stats counting a fan besides the auditor.
func firstAdmission(fans []*saleFan, timeline []Sample, opens time.Time) time.Time {
	var first time.Time
	for _, f := range fans {
		if !f.admittedAt.IsZero() && (first.IsZero() || f.admittedAt.Before(first)) {
			first = f.admittedAt
		}
	}
	for _, smp := range timeline {
		if smp.Admitted > 1 {
			if t := opens.Add(time.Duration(smp.T * float64(time.Second))); first.IsZero() || t.Before(first) {
				first = t
			}
			break
		}
	}
	return first
}

// soldOutAt is the first moment the stats showed all total seats sold, or,
// should no sample have shown it, the latest payment answer.
func soldOutAt(fans []*saleFan, timeline []Sample, opens time.Time, total int) time.Time {
	for _, smp := range timeline {
		if smp.Sold >= total {
			return opens.Add(time.Duration(smp.T * float64(time.Second)))
		}
	}
	var last time.Time
	for _, f := range fans {
		for _, h := range f.holds {
			if h.paid && h.paidAt.After(last) {
				last = h.paidAt
			}
		}
	}
	return last
}

// auditInput is what the audit read back.
type auditInput struct {
	stats    boxhttp.ConcertStats
	maps     []boxhttp.SeatMap
	mapsLost string // why maps is empty
	fans     []auditFan
	balances []int64 // by fan
}

// auditFan is what one fan was charged and held, with each hold's status
// read back after the sale.
type auditFan struct {
	charged int64
	holds   []saleHold
}

// checkSale checks the invariants of a finished sale.
func checkSale(in auditInput) []Check {
	sold := map[seatKey]int{} // SOLD in the seat maps
	for _, m := range in.maps {
		for _, s := range m.Seats {
			if s.Status == "SOLD" {
				sold[seatKey{m.Date, s.Number}]++
			}
		}
	}
	owners := map[seatKey]int{} // PAID reservations holding the seat
	var (
		charged, balances, paid int64
		debits, paidNoTry       int
		unpaidAnswered          int
		paidReservations        int
	)
	for i, f := range in.fans {
		want := f.charged
		for _, h := range f.holds {
			switch {
			case h.status == "PAID":
				paidReservations++
				paid += h.Amount
				want -= h.Amount
				for _, s := range h.Seats {
					owners[seatKey{h.Date, s.Number}]++
				}
				if !h.payTried {
					paidNoTry++
				}
			case h.paid:
				unpaidAnswered++
			}
		}
		charged += f.charged
		balances += in.balances[i]
		if in.balances[i] != want {
			debits++
		}
	}
	var twice, unpaidSold, paidNotSold int
	for k, n := range owners {
		if n > 1 {
			twice++
		}
		if sold[k] == 0 {
			paidNotSold++
		}
	}
	for k := range sold {
		if owners[k] == 0 {
			unpaidSold++
		}
	}
	every := Check{
		Name: "every sold seat has exactly one payment",
		OK:   unpaidSold == 0 && paidNotSold == 0 && len(sold) == in.stats.Sold && unpaidAnswered == 0 && paidNoTry == 0 && debits == 0,
		Detail: fmt.Sprintf("%s SOLD in the seat maps, %s in the stats; %d sold without a paid reservation, %d paid but not SOLD, "+
			"%d payments answered but reservation not PAID, %d PAID without a payment asked, %d balances not charged less one payment per paid reservation",
			count(int64(len(sold))), count(int64(in.stats.Sold)), unpaidSold, paidNotSold, unpaidAnswered, paidNoTry, debits),
	}
	if in.mapsLost != "" {
		every.OK = false
		every.Detail = fmt.Sprintf("%s; %s seats in paid reservations, %s sold in the stats; %d payments answered but reservation not PAID, "+
			"%d PAID without a payment asked, %d balances not charged less one payment per paid reservation",
			in.mapsLost, count(int64(len(owners))), count(int64(in.stats.Sold)), unpaidAnswered, paidNoTry, debits)
	}
	return []Check{
		{
			Name: "no seat sold twice", OK: twice == 0,
			Detail: fmt.Sprintf("%s seats in %s paid reservations; %d in more than one", count(int64(len(owners))), count(int64(paidReservations)), twice),
		},
		every,
		{
			Name: "money conserved", OK: charged == balances+paid && paid == in.stats.Revenue,
			Detail: "charged " + won(charged) + " = balances " + won(balances) + " + paid " + won(paid) + "; revenue in the stats " + won(in.stats.Revenue),
		},
	}
}

// admissionLog reads a room's whole admission log.
func (e *engine) admissionLog(ctx context.Context, concertID string) ([]boxhttp.AdmissionRecord, error) {
	var log []boxhttp.AdmissionRecord
	from := int64(0)
	for {
		var page boxhttp.AdmissionLog
		err := e.setup(ctx, 0, routeAdmissions, func(c *boxhttp.Client) error {
			var err error
			page, err = c.Admissions(ctx, e.opts.AdminKey, concertID, from, 10_000)
			return err
		})
		if err != nil {
			return nil, err
		}
		log = append(log, page.Admissions...)
		if len(page.Admissions) == 0 || page.Next == from {
			return log, nil
		}
		from = page.Next
	}
}
