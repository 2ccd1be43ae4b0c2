package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/booking"
	"github.com/boxoffice/boxoffice/concert"
	"github.com/boxoffice/boxoffice/postgres"
	"github.com/boxoffice/boxoffice/queue"
	"github.com/boxoffice/boxoffice/storetest"
	"github.com/boxoffice/boxoffice/wallet"
)

func testURL() string {
	if u := os.Getenv("BOXOFFICE_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// unreachable skips the test, or fails it when CI=true.
func unreachable(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("PostgreSQL at %s is unreachable: %v", testURL(), err)
	}
	t.Skipf("PostgreSQL at %s is unreachable (set BOXOFFICE_TEST_DATABASE_URL): %v", testURL(), err)
}

// newSchema creates an empty schema, dropped when the test ends, and
// returns a URL whose connections use it.
func newSchema(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testURL())
	if err != nil {
		unreachable(t, err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 8)
	rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, testURL())
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(testURL())
	if err != nil {
		t.Fatalf("parse %s: %v", testURL(), err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	q.Set("pool_max_conns", "8")
	u.RawQuery = q.Encode()
	return u.String()
}

// open opens a DB on url, closed when the test ends.
func open(t testing.TB, url string) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(db.Close)
	return db
}

// newDB returns a migrated DB on a fresh schema of its own.
func newDB(t testing.TB) *postgres.DB {
	t.Helper()
	db := open(t, newSchema(t))
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return db
}

func TestConcertStore(t *testing.T) {
	storetest.RunConcertStore(t, func(t *testing.T) concert.Store {
		return postgres.NewConcertStore(newDB(t))
	})
}

func TestWalletStore(t *testing.T) {
	storetest.RunWalletStore(t, func(t *testing.T) wallet.Store {
		return postgres.NewWalletStore(newDB(t))
	})
}

func TestBookingStore(t *testing.T) {
	storetest.RunBookingStore(t, func(t *testing.T) storetest.Stores {
		db := newDB(t)
		return storetest.Stores{
			Concerts: postgres.NewConcertStore(db),
			Wallets:  postgres.NewWalletStore(db),
			Bookings: postgres.NewBookingStore(db),
		}
	})
}

func TestMigrateConcurrently(t *testing.T) {
	u := newSchema(t)
	const n = 4
	dbs := make([]*postgres.DB, n)
	for i := range dbs {
		dbs[i] = open(t, u)
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, db := range dbs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = db.Migrate(context.Background())
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate %d: got error %v, want none", i, err)
		}
	}
	// The schema works: a user can be stored through any of them.
	w := postgres.NewWalletStore(dbs[0])
	u1, _ := wallet.NewUser("fan-1", "Kim", storetest.BaseTime)
	if err := w.CreateUser(context.Background(), u1); err != nil {
		t.Fatalf("CreateUser after concurrent migrations: %v", err)
	}
	if err := dbs[n-1].Migrate(context.Background()); err != nil {
		t.Errorf("Migrate again: got error %v, want none", err)
	}
}

func TestSetting(t *testing.T) {
	u := newSchema(t)
	dbs := []*postgres.DB{open(t, u), open(t, u), open(t, u)}
	if err := dbs[0].Migrate(context.Background()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	const n = 30
	got := make([]string, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			v, err := dbs[i%len(dbs)].Setting(context.Background(), "secret", func() (string, error) {
				return fmt.Sprintf("value-%d", i), nil
			})
			if err != nil {
				t.Errorf("Setting %d: got error %v, want none", i, err)
			}
			got[i] = v
		}()
	}
	close(start)
	wg.Wait()
	for i, v := range got {
		if v != got[0] || v == "" {
			t.Errorf("Setting %d: got %q, want %q like the others", i, v, got[0])
		}
	}
	v, err := dbs[1].Setting(context.Background(), "secret", func() (string, error) {
		return "", errors.New("generate must not be called once a value is stored")
	})
	if err != nil || v != got[0] {
		t.Errorf("Setting again: got %q, %v, want %q", v, err, got[0])
	}
	_, err = dbs[1].Setting(context.Background(), "other", func() (string, error) {
		return "", errors.New("no entropy")
	})
	if err == nil {
		t.Errorf("Setting with a failing generator: got no error, want one")
	}
}

func TestErrUnavailable(t *testing.T) {
	t.Run("Open", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := postgres.Open(ctx, "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=5")
		if !errors.Is(err, boxoffice.ErrUnavailable) {
			t.Errorf("Open of a closed port: got %v, want %s", err, boxoffice.CodeUnavailable)
		}
	})
	t.Run("ClosedDB", func(t *testing.T) {
		db := newDB(t)
		db.Close()
		w := postgres.NewWalletStore(db)
		_, err := w.Balance(context.Background(), "fan-1")
		if !errors.Is(err, boxoffice.ErrUnavailable) {
			t.Errorf("Balance on a closed DB: got %v, want %s", err, boxoffice.CodeUnavailable)
		}
		if err := db.Ping(context.Background()); !errors.Is(err, boxoffice.ErrUnavailable) {
			t.Errorf("Ping on a closed DB: got %v, want %s", err, boxoffice.CodeUnavailable)
		}
	})
}

func TestContextCanceled(t *testing.T) {
	db := newDB(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := postgres.NewBookingStore(db).Hold(ctx, booking.HoldRequest{
		ReservationID: boxoffice.NewID(), UserID: "fan-1", ConcertID: boxoffice.NewID(),
		Day: storetest.Day1, Seats: []int{1}, MaxSeatsPerUser: 4,
		Now: storetest.BaseTime, ExpiresAt: storetest.BaseTime.Add(time.Minute),
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Hold with a cancelled context: got %v, want context.Canceled", err)
	}
	if boxoffice.ErrorCode(err) == boxoffice.CodeUnavailable {
		t.Errorf("Hold with a cancelled context: got %s, want a context error", boxoffice.CodeUnavailable)
	}
}

func TestQueueJournal(t *testing.T) {
	storetest.RunQueueJournal(t, func(t *testing.T) queue.Journal {
		return postgres.NewQueueJournal(newDB(t))
	})
}

func TestDatabaseClockHoarding(t *testing.T) {
	db := newDB(t)
	db.UseDatabaseClock()
	ctx := context.Background()
	concerts, wallets, bookings := postgres.NewConcertStore(db), postgres.NewWalletStore(db), postgres.NewBookingStore(db)
	c := storetest.NewConcert(t, storetest.ConcertSpec())
	if err := concerts.CreateConcert(ctx, c); err != nil {
		t.Fatal(err)
	}
	u, _ := wallet.NewUser("fan-1", "Kim", storetest.BaseTime)
	if err := wallets.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	// The caller's clock is a day behind; the database's decides.
	skewed := time.Now().Add(-24 * time.Hour)
	req := func(seat int, notAfter time.Time) booking.HoldRequest {
		return booking.HoldRequest{ReservationID: boxoffice.NewID(), UserID: u.ID, ConcertID: c.ID, Day: storetest.Day1,
			Seats: []int{seat}, MaxSeatsPerUser: 4, Now: skewed, ExpiresAt: skewed.Add(5 * time.Minute),
			NotAfter: notAfter, Cooldown: 5 * time.Minute}
	}

	end := time.Now().Add(time.Minute).Truncate(time.Microsecond)
	capped, err := bookings.Hold(ctx, req(1, end))
	if err != nil || !capped.ExpiresAt.Equal(end) {
		t.Errorf("Hold capped by the session's end: got %+v, %v; want it to lapse at %v", capped, err, end)
	}
	r, err := bookings.Hold(ctx, req(2, time.Time{}))
	if err != nil || r.ExpiresAt.Sub(r.CreatedAt) != 5*time.Minute || time.Since(r.CreatedAt) > time.Hour {
		t.Fatalf("Hold: got %+v, %v; want 5 minutes from the database's now", r, err)
	}
	_, err = bookings.Hold(ctx, req(3, time.Now().Add(-time.Second)))
	if !errors.Is(err, boxoffice.ErrQueueTokenExpired) {
		t.Errorf("Hold capped by a session end the database has passed: got %v, want %s", err, boxoffice.CodeQueueTokenExpired)
	}

	// The cancel's instant is the database's, and so is the cooldown's.
	if _, err := bookings.Cancel(ctx, r.ID, u.ID, skewed); err != nil {
		t.Fatal(err)
	}
	_, err = bookings.Hold(ctx, req(2, time.Time{}))
	if !errors.Is(err, boxoffice.ErrSeatUnavailable) || !strings.Contains(err.Error(), "you held seat 2 on "+storetest.Day1) {
		t.Errorf("Hold again after cancelling: got %v, want %s for the cooldown", err, boxoffice.CodeSeatUnavailable)
	}
	released, err := bookings.Release(ctx, u.ID, c.ID, skewed)
	if err != nil || len(released) != 1 || released[0].ID != capped.ID || released[0].Status != booking.Cancelled {
		t.Errorf("Release: got %+v, %v; want the capped hold released", released, err)
	}
}

func TestRoomArchive(t *testing.T) {
	storetest.RunRoomArchive(t, func(t *testing.T) storetest.RoomArchiveEnv {
		db := newDB(t)
		return storetest.RoomArchiveEnv{Archive: postgres.NewRoomArchive(db), Journal: postgres.NewQueueJournal(db)}
	})
}

// TestSupplyPlan: the supply report reads one concert's seats through the
// primary key, never every concert's, even in the generic plan made for a
// table of many concerts (see supplySQL).
func TestSupplyPlan(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	id := createConcerts(t, db, 10)
	plan, err := postgres.SupplyPlan(ctx, db, id)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(plan, "Seq Scan on seats") || !strings.Contains(plan, "Index Scan using seats_pkey") {
		t.Errorf("the supply report reads the seats with\n%s", plan)
	}
}

// TestUserDatesPlan: a hold reads its user's seats and past holds of the
// date through their reservations, scanning their range of
// reservations_user once and each seat by its key, in the generic plan
// made for ten concerts and 3,000 reservations, and never by scanning a
// table.
func TestUserDatesPlan(t *testing.T) {
	plan := planOnTenConcerts(t, postgres.UserDatesPlan)
	for _, want := range []string{"using reservations_paid", "using reservations_user", "using seats_pkey"} {
		if n := strings.Count(plan, want); n != 1 {
			t.Errorf("the plan reads %q %d times, want once:\n%s", want, n, plan)
		}
	}
	if strings.Contains(plan, "Seq Scan") {
		t.Errorf("the plan scans a table:\n%s", plan)
	}
}

// TestSweepPlan: a sweep reads the oldest lapsed holds in the order of
// reservations_lapsing, and each one's seats and reservation by key, never
// scanning a table, hashing a join or sorting every lapsed hold (see
// keyedPlansSQL), in the generic plan made for ten concerts and 3,000
// lapsed holds.
func TestSweepPlan(t *testing.T) {
	plan := planOnTenConcerts(t, func(ctx context.Context, db *postgres.DB) (string, error) {
		return postgres.SweepPlan(ctx, db, postgres.NewBookingStore(db))
	})
	for _, want := range []string{"Index Scan using reservations_lapsing", "Index Scan using seats_pkey", "Index Scan using reservations_pkey"} {
		if !strings.Contains(plan, want) {
			t.Errorf("the plan has no %q:\n%s", want, plan)
		}
	}
	for _, bad := range []string{"Seq Scan", "Bitmap", "Hash Join", "Merge Join", "Sort Key: reservations.expires_at"} {
		if strings.Contains(plan, bad) {
			t.Errorf("the plan has a %q:\n%s", bad, plan)
		}
	}
}

// TestHeldSeatsPlan: a payment batch reads its reservations by key, sorts
// their seats' keys, then locks each seat by its key in that order, never
// reading reservations_lapsing (every held reservation) or a date's every
// seat, in the generic plan made for ten concerts and 3,000 reservations
// on tables not analyzed (see lockHeldSeats).
func TestHeldSeatsPlan(t *testing.T) {
	plan := planOnTenConcerts(t, postgres.HeldSeatsPlan)
	checkLockPlan(t, plan, "Sort Key: r.concert_id, r.day, (unnest(r.seat_numbers))", "Index Cond: (id = k.id)",
		"Index Cond: ((concert_id = r.concert_id) AND (day = r.day) AND (number = (unnest(r.seat_numbers))))")
	if strings.Contains(plan, "reservations_lapsing") {
		t.Errorf("the plan reads reservations_lapsing:\n%s", plan)
	}
}

// TestSeatsPlan: a hold batch sorts its seats' keys, then locks each seat
// by its key in that order, never scanning or hashing the seats, in the
// generic plan made for ten concerts on tables not analyzed (see
// lockSeats).
func TestSeatsPlan(t *testing.T) {
	plan := planOnTenConcerts(t, postgres.SeatsPlan)
	checkLockPlan(t, plan, "Sort Key: k.concert_id, k.day, k.number",
		"Index Cond: ((concert_id = k.concert_id) AND (day = k.day) AND (number = k.number))")
}

// TestWritePlans: a hold batch's write and a payment batch's write find
// every seat, wallet and reservation they change by its key, never by a
// scan or a hashed or merged join, in the generic plans made in a batch's
// transaction on a database of ten concerts (see keyedPlansSQL).
func TestWritePlans(t *testing.T) {
	db := newDB(t)
	createConcerts(t, db, 10)
	hold, settle, err := postgres.WritePlans(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	for what, plan := range map[string]string{"hold": hold, "payment": settle} {
		for _, bad := range []string{"Seq Scan", "Hash Join", "Merge Join", "Bitmap"} {
			if strings.Contains(plan, bad) {
				t.Errorf("the %s batch's write has a %q:\n%s", what, bad, plan)
			}
		}
	}
	if n := strings.Count(hold, "Index Scan using seats_pkey"); n != 1 {
		t.Errorf("the hold batch's write reads seats_pkey %d times, want once:\n%s", n, hold)
	}
	for _, want := range []string{"wallets_pkey", "reservations_pkey", "seats_pkey"} {
		if !strings.Contains(settle, "Index Scan using "+want) {
			t.Errorf("the payment batch's write does not read %s:\n%s", want, settle)
		}
	}
}

// planOnTenConcerts returns the plan that plan returns on a new database
// of ten concerts.
func planOnTenConcerts(t *testing.T, plan func(context.Context, *postgres.DB) (string, error)) string {
	t.Helper()
	db := newDB(t)
	createConcerts(t, db, 10)
	p, err := plan(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// checkLockPlan checks that plan sorts the seats' keys (keys, its sort
// key), then locks the seats, and has every line of want, but no scan,
// bitmap, hash or merge join.
func checkLockPlan(t *testing.T, plan, keys string, want ...string) {
	t.Helper()
	for _, w := range append([]string{keys, "LockRows"}, want...) {
		if !strings.Contains(plan, w) {
			t.Errorf("the plan has no %q:\n%s", w, plan)
		}
	}
	if strings.Index(plan, "LockRows") < strings.Index(plan, keys) {
		t.Errorf("the plan locks the seats before it sorts their keys:\n%s", plan)
	}
	for _, bad := range []string{"Seq Scan", "Bitmap", "Hash Join", "Merge Join"} {
		if strings.Contains(plan, bad) {
			t.Errorf("the plan has a %q:\n%s", bad, plan)
		}
	}
}

// createConcerts creates n concerts of storetest.ConcertSpec and returns
// the last one's id.
func createConcerts(t *testing.T, db *postgres.DB, n int) string {
	t.Helper()
	concerts := postgres.NewConcertStore(db)
	var id string
	for range n {
		c := storetest.NewConcert(t, storetest.ConcertSpec())
		if err := concerts.CreateConcert(context.Background(), c); err != nil {
			t.Fatalf("CreateConcert: %v", err)
		}
		id = c.ID
	}
	return id
}
