package main

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/boxoffice/boxoffice"
	boxhttp "github.com/boxoffice/boxoffice/http"
)

// skewedClock is the system clock off by a fixed amount.
type skewedClock time.Duration

func (c skewedClock) Now() time.Time { return time.Now().UTC().Add(time.Duration(c)) }

// skews are the clocks of skewedCluster's instances, off the system's.
var skews = []time.Duration{time.Minute, 0, -time.Minute}

// skewedCluster starts three instances of one deployment on the shared
// PostgreSQL and Redis whose clocks are a minute ahead, right, and a
// minute behind, and returns a client of each and the configuration.
func skewedCluster(t *testing.T) ([]*boxhttp.Client, Config) {
	t.Helper()
	cfg := production.config(t)
	cfg.AdminKey = "admin-" + randomHex(16)
	cfg.Secret = "secret-" + randomHex(16)
	clients := make([]*boxhttp.Client, len(skews))
	for i, d := range skews {
		clients[i] = testClient(t, startMain(t, cfg, skewedClock(d)).URL())
	}
	return clients, cfg
}

// dbNow reads PostgreSQL's own clock.
func dbNow(t *testing.T) time.Time {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testDatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var now time.Time
	if err := conn.QueryRow(ctx, "SELECT clock_timestamp()").Scan(&now); err != nil {
		t.Fatal(err)
	}
	return now
}

// TestHoldsKeepTheDatabaseClock runs three instances whose clocks disagree
// by a minute each way: holds lapse at the database's instant whichever
// instance serves them.
func TestHoldsKeepTheDatabaseClock(t *testing.T) {
	const holdSeconds = 1
	clients, cfg := skewedCluster(t)
	ahead, behind := clients[0], clients[2]
	ctx := context.Background()
	spec := fastRoom(testSpec(time.Now().Add(-2 * time.Minute)))
	spec.HoldSeconds = holdSeconds
	concertID := createConcert(t, clients[1], cfg.AdminKey, spec)
	day := spec.Dates[0].Format("2006-01-02")
	fans := admittedFans(t, clients, concertID, 2, nil)
	a, b := fans[0], fans[1]
	if _, err := a.c.Charge(ctx, a.accessToken, a.userID, 1_000_000, ""); err != nil {
		t.Fatal(err)
	}
	hold := func(c *boxhttp.Client, f fan, seat int) (boxhttp.Reservation, error) {
		return c.Hold(ctx, f.accessToken, f.queueToken, boxhttp.HoldRequest{ConcertID: concertID, Date: day, SeatNumbers: []int{seat}})
	}

	t.Run("ExpiryIsDatabaseTimePlusHold", func(t *testing.T) {
		before := dbNow(t)
		r, err := hold(ahead, a, 1)
		if err != nil {
			t.Fatal(err)
		}
		after := dbNow(t)
		lo, hi := before.Add(holdSeconds*time.Second), after.Add(holdSeconds*time.Second+5*time.Millisecond)
		if r.ExpiresAt.Before(lo) || r.ExpiresAt.After(hi) {
			t.Errorf("expiresAt %v, want within [%v, %v]: the database's now + %ds", r.ExpiresAt, lo, hi, holdSeconds)
		}
	})

	t.Run("LapsedInDatabaseTime", func(t *testing.T) {
		r, err := hold(ahead, a, 2)
		if err != nil {
			t.Fatal(err)
		}
		for dbNow(t).Before(r.ExpiresAt) {
			time.Sleep(50 * time.Millisecond)
		}
		// The instance a minute behind still thinks the hold is live.
		_, err = behind.Pay(ctx, a.accessToken, a.queueToken, r.ReservationID, "")
		if !errors.Is(err, boxoffice.ErrHoldExpired) {
			t.Errorf("pay through the instance behind: got %v, want HOLD_EXPIRED", err)
		}
		for i, c := range clients {
			seats, err := c.Seats(ctx, b.accessToken, b.queueToken, concertID, day)
			if err != nil || seats.Seats[1].Status != "AVAILABLE" {
				t.Errorf("instance %d (%v): seat 2 shows %+v, %v; want AVAILABLE", i, skews[i], seats.Seats[1], err)
			}
		}
		if _, err := hold(ahead, b, 2); err != nil {
			t.Errorf("another fan's hold through the instance ahead: got %v, want it held", err)
		}
		if bal, _ := a.c.Balance(ctx, a.accessToken, a.userID); bal.Balance != 1_000_000 {
			t.Errorf("balance %d, want 1000000: nothing paid", bal.Balance)
		}
	})

	t.Run("LiveInDatabaseTime", func(t *testing.T) {
		r, err := hold(behind, a, 3)
		if err != nil {
			t.Fatal(err)
		}
		// The instance a minute ahead thinks the hold lapsed long ago.
		p, err := ahead.Pay(ctx, a.accessToken, a.queueToken, r.ReservationID, "")
		if err != nil {
			t.Fatalf("pay through the instance ahead: got %v, want it paid", err)
		}
		if p.PaidAt.After(r.ExpiresAt) || p.PaidAt.Before(r.ExpiresAt.Add(-holdSeconds*time.Second)) {
			t.Errorf("paidAt %v, want the database's time, within the hold ending %v", p.PaidAt, r.ExpiresAt)
		}
	})
}

// TestWaitingRoomKeepsTheSharedClock runs three instances whose clocks
// disagree by a minute each way: the opening's boundary between the draw
// and first come, first served, the seed's publication and session ends
// follow Redis's clock, whichever instance serves.
func TestWaitingRoomKeepsTheSharedClock(t *testing.T) {
	clients, cfg := skewedCluster(t)
	ahead, behind := clients[0], clients[2]
	ctx := context.Background()
	opening := time.Now().Add(1500 * time.Millisecond)
	spec := testSpec(opening)
	spec.WaitingRoom = &boxhttp.WaitingRoom{Strategy: "RATE", AdmitPerSecond: 50, SessionSeconds: 600, IdleSeconds: 600}
	concertID := createConcert(t, clients[1], cfg.AdminKey, spec)

	early, err := newFan(ctx, ahead, concertID, "early")
	if err != nil {
		t.Fatal(err)
	}
	if st, err := ahead.QueueStatus(ctx, early.accessToken, early.queueToken); err != nil || st.Status != "PREQUEUE" {
		t.Errorf("join before the opening through the instance a minute ahead: got %+v, %v, want PREQUEUE", st, err)
	}
	if l, err := ahead.Lottery(ctx, concertID); err != nil || l.Seed != nil {
		t.Errorf("lottery before the opening through the instance a minute ahead: got %+v, %v, want no seed", l, err)
	}
	time.Sleep(time.Until(opening) + 300*time.Millisecond)
	late, err := newFan(ctx, behind, concertID, "late")
	if err != nil {
		t.Fatal(err)
	}
	if st, err := behind.QueueStatus(ctx, late.accessToken, late.queueToken); err != nil || st.Status == "PREQUEUE" {
		t.Errorf("join after the opening through the instance a minute behind: got %+v, %v, want first come, first served", st, err)
	}
	var lottery boxhttp.Lottery
	for i, c := range clients {
		l, err := c.Lottery(ctx, concertID)
		if err != nil || l.Seed == nil || len(l.Entries) != 1 {
			t.Errorf("lottery after the draw through instance %d: got %+v, %v, want the seed and the early fan", i, l, err)
		}
		if i > 0 && !reflect.DeepEqual(l, lottery) {
			t.Errorf("lottery through instance %d: got %+v, want %+v as through instance 0", i, l, lottery)
		}
		lottery = l
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, f := range []fan{early, late} {
		for {
			st, err := ahead.QueueStatus(ctx, f.accessToken, f.queueToken)
			if err != nil {
				t.Fatal(err)
			}
			if st.Status == "ADMITTED" {
				if d := st.SessionExpiresAt.Sub(time.Now().Add(600 * time.Second)); d < -5*time.Second || d > 5*time.Second {
					t.Errorf("session end through the instance a minute ahead: got %v, want Redis's now + 600 s (off by %v)", st.SessionExpiresAt, d)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("fan not admitted after 10 s: %+v", st)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}
