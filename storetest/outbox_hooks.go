package storetest

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/booking"
	"github.com/boxoffice/boxoffice/concert"
	"github.com/boxoffice/boxoffice/event"
	"github.com/boxoffice/boxoffice/queue"
	"github.com/boxoffice/boxoffice/wallet"
)

// The changes' own events: every store writes, in the change's
// transaction, the event the event package makes of what it stored.

// runEventHooks runs the subtests of RunEventStore about the changes.
func runEventHooks(t *testing.T, newStores func(t testing.TB) EventStores) {
	t.Run("EveryChangeWritesItsEvent", func(t *testing.T) { testEveryChange(t, newStores(t)) })
	t.Run("RefusedChangesWriteNothing", func(t *testing.T) { testRefusedChanges(t, newStores(t)) })
	t.Run("BatchesWriteEventsInOrder", func(t *testing.T) { testBatchEvents(t, newStores(t)) })
	t.Run("SoldOutAfterTheLastSale", func(t *testing.T) { testSoldOut(t, newStores(t), 100) })
	t.Run("SoldOutAfterTheLastSaleInSmallBatches", func(t *testing.T) { testSoldOut(t, newStores(t), 1) })
}

// sameData reports whether two events' data are the same JSON, instants
// compared as instants.
func sameData(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(normalize(x), normalize(y))
}

func normalize(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = normalize(e)
		}
	case []any:
		for i, e := range v {
			v[i] = normalize(e)
		}
	case string:
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			return t.UTC().Format(time.RFC3339Nano)
		}
	}
	return v
}

// checkEvents fails t unless got, the feed, holds the events of want in
// order, with the same type, concert, instant and data.
func checkEvents(t testing.TB, got, want []event.Event) {
	t.Helper()
	if len(got) != len(want) {
		for _, e := range got {
			t.Logf("got %s %s %s", e.Type, e.ConcertID, e.Data)
		}
		t.Fatalf("feed: got %d events, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Type != w.Type || g.ConcertID != w.ConcertID {
			t.Fatalf("event %d: got %s of %q, want %s of %q", i, g.Type, g.ConcertID, w.Type, w.ConcertID)
		}
		if !g.At.Equal(w.At) {
			t.Errorf("event %d (%s): got at %v, want %v", i, g.Type, g.At, w.At)
		}
		if !sameData(g.Data, w.Data) {
			t.Errorf("event %d (%s): got data %s, want %s", i, g.Type, g.Data, w.Data)
		}
		if !boxoffice.ValidID(g.ID) || g.ID[14] != '7' {
			t.Errorf("event %d (%s): got id %q, want a UUIDv7", i, g.Type, g.ID)
		}
	}
	checkSeqs(t, got)
}

func testEveryChange(t *testing.T, s EventStores) {
	ctx := context.Background()
	var want []event.Event
	c := NewConcert(t, ConcertSpec())
	noErr(t, "CreateConcert", s.Concerts.CreateConcert(ctx, c))
	want = append(want, event.OfConcertCreated(c))

	room := queue.Settings{Strategy: queue.Rate, AdmitPerSecond: 7, SessionSeconds: 600, IdleSeconds: 60}
	noErr(t, "SetWaitingRoom", s.Concerts.SetWaitingRoom(ctx, c.ID, room))
	// The settings as set and stored (defaults are applied when read).
	want = append(want, event.OfWaitingRoomChanged(c.ID, time.Time{}, 2, room))

	u, err := wallet.NewUser(newUserID(), "Kim", BaseTime)
	noErr(t, "wallet.NewUser", err)
	noErr(t, "CreateUser", s.Wallets.CreateUser(ctx, u))
	charge := wallet.ChargeRequest{ChargeID: boxoffice.NewID(), UserID: u.ID, Amount: 1_000_000,
		MaxBalance: wallet.DefaultLimits().MaxBalance, Now: BaseTime, IdempotencyKey: "k1"}
	rc, err := s.Wallets.Charge(ctx, charge)
	noErr(t, "Charge", err)
	want = append(want, event.OfBalanceCharged(rc))
	charge.ChargeID = boxoffice.NewID()
	_, err = s.Wallets.Charge(ctx, charge) // a replay changes nothing
	noErr(t, "Charge replayed", err)

	hold := func(seats []int, now time.Time, hold time.Duration) booking.Reservation {
		t.Helper()
		r, err := s.Bookings.Hold(ctx, booking.HoldRequest{ReservationID: boxoffice.NewID(), UserID: u.ID,
			ConcertID: c.ID, Day: Day1, Seats: seats, MaxSeatsPerUser: 4, Now: now, ExpiresAt: now.Add(hold)})
		noErr(t, "Hold", err)
		want = append(want, event.OfSeatsHeld(r))
		return r
	}
	r1 := hold([]int{1, 12}, BaseTime, 5*time.Minute)
	cancelAt := BaseTime.Add(time.Second)
	_, err = s.Bookings.Cancel(ctx, r1.ID, u.ID, cancelAt)
	noErr(t, "Cancel", err)
	want = append(want, event.OfHoldReleased(r1, event.Cancelled, cancelAt))
	_, err = s.Bookings.Cancel(ctx, r1.ID, u.ID, cancelAt) // already cancelled: nothing changes
	noErr(t, "Cancel again", err)

	r2 := hold([]int{3, 4}, BaseTime.Add(2*time.Second), 5*time.Minute)
	pay := booking.PayRequest{PaymentID: boxoffice.NewID(), ReservationID: r2.ID, UserID: u.ID,
		IdempotencyKey: "p1", Now: BaseTime.Add(3 * time.Second)}
	p, err := s.Bookings.Pay(ctx, pay)
	noErr(t, "Pay", err)
	want = append(want, event.OfReservationPaid(r2, p))
	pay.PaymentID = boxoffice.NewID()
	_, err = s.Bookings.Pay(ctx, pay) // a replay changes nothing
	noErr(t, "Pay replayed", err)

	r4 := hold([]int{30}, BaseTime.Add(4*time.Second), 5*time.Minute)
	leftAt := BaseTime.Add(5 * time.Second)
	released, err := s.Bookings.Release(ctx, u.ID, c.ID, leftAt)
	noErr(t, "Release", err)
	if len(released) != 1 || released[0].ID != r4.ID {
		t.Fatalf("Release: got %d reservations, want the live hold %s", len(released), r4.ID)
	}
	want = append(want, event.OfHoldReleased(r4, event.LeftQueue, leftAt))

	r3 := hold([]int{20}, BaseTime.Add(6*time.Second), time.Minute)
	sweepAt := r3.ExpiresAt.Add(time.Second)
	n, err := s.Bookings.Sweep(ctx, sweepAt, 10)
	noErr(t, "Sweep", err)
	if n != 1 {
		t.Fatalf("Sweep: got %d tidied, want 1", n)
	}
	want = append(want, event.OfHoldReleased(r3, event.Lapsed, sweepAt))

	numberAll(t, claim(t, s.Events))
	got := feed(t, s.Events, event.Query{})
	// The settings change is dated by the store.
	if len(got) > 1 {
		want[1].At = got[1].At
	}
	checkEvents(t, got, want)
}

// testBatchEvents: the changes of a batch write their events in the
// order of the requests, and a refused request none.
func testBatchEvents(t *testing.T, s EventStores) {
	ctx := context.Background()
	c := NewConcert(t, ConcertSpec())
	noErr(t, "CreateConcert", s.Concerts.CreateConcert(ctx, c))
	want := []event.Event{event.OfConcertCreated(c)}
	user := func() string {
		u, err := wallet.NewUser(newUserID(), "Kim", BaseTime)
		noErr(t, "wallet.NewUser", err)
		noErr(t, "CreateUser", s.Wallets.CreateUser(ctx, u))
		rc, err := s.Wallets.Charge(ctx, wallet.ChargeRequest{ChargeID: boxoffice.NewID(), UserID: u.ID, Amount: 1_000_000,
			MaxBalance: wallet.DefaultLimits().MaxBalance, Now: BaseTime})
		noErr(t, "Charge", err)
		want = append(want, event.OfBalanceCharged(rc))
		return u.ID
	}
	a, b := user(), user()
	req := func(userID string, seat int) booking.HoldRequest {
		return booking.HoldRequest{ReservationID: boxoffice.NewID(), UserID: userID, ConcertID: c.ID, Day: Day1,
			Seats: []int{seat}, MaxSeatsPerUser: 4, Now: BaseTime, ExpiresAt: BaseTime.Add(time.Minute)}
	}
	res := s.Bookings.HoldBatch(ctx, []booking.HoldRequest{req(a, 3), req(b, 3), req(b, 1), req(a, 2)})
	wantErr(t, "hold of a seat held earlier in the batch", res[1].Err, boxoffice.ErrSeatUnavailable)
	for _, i := range []int{0, 2, 3} {
		noErr(t, "hold", res[i].Err)
		want = append(want, event.OfSeatsHeld(res[i].Reservation))
	}
	at := BaseTime.Add(time.Second)
	sres := s.Bookings.SettleBatch(ctx, []booking.SettleRequest{
		payReq(b, res[2].Reservation.ID, "", at),
		cancelReq(a, res[0].Reservation.ID, at),
		payReq(a, res[0].Reservation.ID, "", at),
		payReq(a, res[3].Reservation.ID, "", at),
	})
	wantErr(t, "payment of a hold cancelled earlier in the batch", sres[2].Err, boxoffice.ErrHoldExpired)
	for _, i := range []int{0, 1, 3} {
		noErr(t, "payment or cancel", sres[i].Err)
	}
	want = append(want, event.OfReservationPaid(res[2].Reservation, sres[0].Payment),
		event.OfHoldReleased(res[0].Reservation, event.Cancelled, at),
		event.OfReservationPaid(res[3].Reservation, sres[3].Payment))

	numberAll(t, claim(t, s.Events))
	checkEvents(t, feed(t, s.Events, event.Query{}), want)
}

func testRefusedChanges(t *testing.T, s EventStores) {
	ctx := context.Background()
	c := NewConcert(t, ConcertSpec())
	noErr(t, "CreateConcert", s.Concerts.CreateConcert(ctx, c))
	rich := createUser(t, s.Wallets, 1_000_000)
	poor := createUser(t, s.Wallets, 1)
	r, err := s.Bookings.Hold(ctx, booking.HoldRequest{ReservationID: boxoffice.NewID(), UserID: rich,
		ConcertID: c.ID, Day: Day1, Seats: []int{5}, MaxSeatsPerUser: 4, Now: BaseTime, ExpiresAt: BaseTime.Add(time.Minute)})
	noErr(t, "Hold", err)
	before, err := s.Events.Backlog(ctx)
	noErr(t, "Backlog", err)

	_, err = s.Bookings.Hold(ctx, booking.HoldRequest{ReservationID: boxoffice.NewID(), UserID: poor,
		ConcertID: c.ID, Day: Day1, Seats: []int{6, 5}, MaxSeatsPerUser: 4, Now: BaseTime, ExpiresAt: BaseTime.Add(time.Minute)})
	wantErr(t, "Hold of a held seat", err, boxoffice.ErrSeatUnavailable)
	rp, err := s.Bookings.Hold(ctx, booking.HoldRequest{ReservationID: boxoffice.NewID(), UserID: poor,
		ConcertID: c.ID, Day: Day1, Seats: []int{7}, MaxSeatsPerUser: 4, Now: BaseTime, ExpiresAt: BaseTime.Add(time.Minute)})
	noErr(t, "Hold", err)
	before.Unnumbered++
	keyed := booking.HoldRequest{ReservationID: boxoffice.NewID(), UserID: rich, ConcertID: c.ID, Day: Day2,
		Seats: []int{9}, MaxSeatsPerUser: 4, Now: BaseTime, ExpiresAt: BaseTime.Add(time.Minute), IdempotencyKey: "h1"}
	_, err = s.Bookings.Hold(ctx, keyed)
	noErr(t, "Hold with a key", err)
	before.Unnumbered++
	keyed.ReservationID = boxoffice.NewID()
	_, err = s.Bookings.Hold(ctx, keyed) // a replay changes nothing
	noErr(t, "Hold replayed", err)
	_, err = s.Bookings.Pay(ctx, booking.PayRequest{PaymentID: boxoffice.NewID(), ReservationID: rp.ID, UserID: poor, Now: BaseTime})
	wantErr(t, "Pay without the balance", err, boxoffice.ErrInsufficientBalance)
	_, err = s.Bookings.Pay(ctx, booking.PayRequest{PaymentID: boxoffice.NewID(), ReservationID: r.ID, UserID: rich, Now: BaseTime.Add(time.Hour)})
	wantErr(t, "Pay of a lapsed hold", err, boxoffice.ErrHoldExpired)
	_, err = s.Bookings.Cancel(ctx, r.ID, poor, BaseTime)
	wantErr(t, "Cancel of another's hold", err, boxoffice.ErrForbidden)
	_, err = s.Wallets.Charge(ctx, wallet.ChargeRequest{ChargeID: boxoffice.NewID(), UserID: poor, Amount: 10,
		MaxBalance: 5, Now: BaseTime, IdempotencyKey: "over"})
	wantErr(t, "Charge past the cap", err, boxoffice.ErrInvalidRequest)
	err = s.Concerts.SetWaitingRoom(ctx, boxoffice.NewID(), queue.DefaultSettings())
	wantErr(t, "SetWaitingRoom of no concert", err, boxoffice.ErrNotFound)
	if n, err := s.Bookings.Sweep(ctx, BaseTime, 10); err != nil || n != 0 {
		t.Fatalf("Sweep with nothing lapsed: got %d, %v", n, err)
	}

	after, err := s.Events.Backlog(ctx)
	noErr(t, "Backlog", err)
	if after.Unnumbered != before.Unnumbered {
		t.Fatalf("outbox after refused changes: got %d events, want %d (the one hold made)", after.Unnumbered, before.Unnumbered)
	}
}

// testSoldOut sells every seat of a one-date concert in two payments and
// numbers in batches of limit: SoldOut comes once, after the last sale.
func testSoldOut(t *testing.T, s EventStores, limit int) {
	ctx := context.Background()
	spec := ConcertSpec()
	spec.Dates = spec.Dates[:1]
	spec.MaxSeatsPerUser = concert.SeatsPerDate
	c := NewConcert(t, spec)
	noErr(t, "CreateConcert", s.Concerts.CreateConcert(ctx, c))
	day := c.Dates[0].Day
	cl := claim(t, s.Events)
	number := func() {
		for {
			n, err := cl.Number(ctx, limit)
			noErr(t, "Number", err)
			if n == 0 {
				return
			}
		}
	}
	sell := func(from, to int) {
		t.Helper()
		u := createUser(t, s.Wallets, 10_000_000)
		var seats []int
		for n := from; n <= to; n++ {
			seats = append(seats, n)
		}
		r, err := s.Bookings.Hold(ctx, booking.HoldRequest{ReservationID: boxoffice.NewID(), UserID: u, ConcertID: c.ID,
			Day: day, Seats: seats, MaxSeatsPerUser: concert.SeatsPerDate, Now: BaseTime, ExpiresAt: BaseTime.Add(time.Minute)})
		noErr(t, "Hold", err)
		_, err = s.Bookings.Pay(ctx, booking.PayRequest{PaymentID: boxoffice.NewID(), ReservationID: r.ID, UserID: u, Now: BaseTime})
		noErr(t, "Pay", err)
	}
	sell(1, 30)
	number()
	if evs := feed(t, s.Events, event.Query{ConcertID: c.ID, Type: event.SoldOut}); len(evs) != 0 {
		t.Fatalf("SoldOut with 20 seats left: got %d", len(evs))
	}
	sell(31, 50)
	number()
	evs := feed(t, s.Events, event.Query{ConcertID: c.ID})
	checkSeqs(t, evs)
	var types []event.Type
	for _, e := range evs {
		types = append(types, e.Type)
	}
	want := []event.Type{event.ConcertCreated, event.SeatsHeld, event.ReservationPaid, event.SeatsHeld, event.ReservationPaid, event.SoldOut}
	if !reflect.DeepEqual(types, want) {
		t.Fatalf("concert's events: got %v, want %v", types, want)
	}
	if last := evs[len(evs)-1]; !sameData(last.Data, json.RawMessage(`{"v":1}`)) {
		t.Errorf("SoldOut data: got %s, want {\"v\":1}", last.Data)
	}
	// Nothing more to sell, nothing more to say.
	number()
	if n := len(feed(t, s.Events, event.Query{ConcertID: c.ID})); n != len(want) {
		t.Fatalf("after numbering again: got %d events, want %d", n, len(want))
	}
}
