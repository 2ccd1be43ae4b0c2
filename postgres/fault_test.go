package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/booking"
	"github.com/boxoffice/boxoffice/internal/testserver"
	"github.com/boxoffice/boxoffice/postgres"
	"github.com/boxoffice/boxoffice/storetest"
	"github.com/boxoffice/boxoffice/wallet"
)

// faultEnv is a migrated database on a server of the test's own, which the
// test may stop, crash or pause.
type faultEnv struct {
	pg      *testserver.Postgres
	db      *postgres.DB
	wallets *postgres.WalletStore
}

func newFaultEnv(t *testing.T, poolSize string) *faultEnv {
	t.Helper()
	pg := testserver.StartPostgres(t)
	db := open(t, pg.URL()+"&pool_max_conns="+poolSize)
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return &faultEnv{pg: pg, db: db, wallets: postgres.NewWalletStore(db)}
}

// user creates a user with a balance of 1000.
func (e *faultEnv) user(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	id := boxoffice.NewID()
	if err := e.wallets.CreateUser(ctx, wallet.User{ID: id, Name: "fan", CreatedAt: time.Now()}); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	if _, err := e.wallets.Charge(ctx, e.charge(id, 1000)); err != nil {
		t.Fatalf("Charge: %v", err)
	}
	return id
}

func (e *faultEnv) charge(userID string, amount boxoffice.Money) wallet.ChargeRequest {
	return wallet.ChargeRequest{ChargeID: boxoffice.NewID(), UserID: userID, Amount: amount,
		MaxBalance: 1_000_000, Now: time.Now()}
}

// lockWallet holds userID's wallet row locked until the test ends or the
// returned function is called, so that changes of that wallet wait.
func (e *faultEnv) lockWallet(t *testing.T, userID string) *testserver.Locked {
	t.Helper()
	return e.pg.Lock(t, "SELECT 1 FROM wallets WHERE user_id = $1 FOR UPDATE", userID)
}

// chargeDuring charges userID's wallet, whose lock another transaction
// holds, and runs fault once the charge waits on the lock.
func (e *faultEnv) chargeDuring(t *testing.T, ctx context.Context, userID string, fault func()) error {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		_, err := e.wallets.Charge(ctx, e.charge(userID, 1))
		errc <- err
	}()
	e.waitForLockWaiter(t)
	fault()
	return <-errc
}

// waitForLockWaiter returns once a statement of the server waits on a lock.
func (e *faultEnv) waitForLockWaiter(t *testing.T) {
	t.Helper()
	e.waitForLockWaiters(t, func(n int) bool { return n > 0 }, "no statement came to wait on the lock")
}

// waitForNoLockWaiter returns once no statement waits on a lock.
func (e *faultEnv) waitForNoLockWaiter(t *testing.T) {
	t.Helper()
	e.waitForLockWaiters(t, func(n int) bool { return n == 0 }, "a statement still waits on a lock")
}

// waitForLockWaiters polls the number of statements waiting on a lock
// until done says so, for up to five seconds.
func (e *faultEnv) waitForLockWaiters(t *testing.T, done func(n int) bool, failure string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, e.pg.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for range 500 {
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if done(n) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal(failure)
}

func (e *faultEnv) balance(t *testing.T, userID string) boxoffice.Money {
	t.Helper()
	b, err := e.wallets.Balance(context.Background(), userID)
	if err != nil {
		t.Fatalf("Balance: %v", err)
	}
	return b
}

func wantCode(t *testing.T, err error, want boxoffice.Code) {
	t.Helper()
	if got := boxoffice.ErrorCode(err); got != want {
		t.Fatalf("got %v (%s), want %s", err, got, want)
	}
}

// TestFaults checks how failures of the server are answered: UNAVAILABLE
// when nothing was changed, OUTCOME_UNKNOWN when a change was sent and its
// answer lost, never an internal error.
func TestFaults(t *testing.T) {
	e := newFaultEnv(t, "4")
	ctx := context.Background()

	t.Run("ReadWhileDown", func(t *testing.T) {
		u := e.user(t)
		e.pg.Stop()
		defer e.pg.Start()
		_, err := e.wallets.Balance(ctx, u)
		wantCode(t, err, boxoffice.CodeUnavailable)
	})

	t.Run("WriteWhileDown", func(t *testing.T) {
		u := e.user(t)
		e.pg.Stop()
		_, err := e.wallets.Charge(ctx, e.charge(u, 1))
		wantCode(t, err, boxoffice.CodeUnavailable)
		e.pg.Start()
		if got := e.balance(t, u); got != 1000 {
			t.Fatalf("got balance %d, want 1000: UNAVAILABLE changed nothing", got)
		}
	})

	t.Run("WriteLostWithServer", func(t *testing.T) {
		u := e.user(t)
		e.lockWallet(t, u)
		err := e.chargeDuring(t, ctx, u, e.pg.Kill)
		e.pg.Start()
		wantCode(t, err, boxoffice.CodeOutcomeUnknown)
		// The pool recovers by itself.
		if got := e.balance(t, u); got != 1000 {
			t.Fatalf("got balance %d, want 1000", got)
		}
	})

	t.Run("WriteStopped", func(t *testing.T) {
		// A fast shutdown ends the lock holder and the waiter at once; the
		// waiter may get the lock and commit first. Either the change
		// succeeded, or its outcome is unknown; never UNAVAILABLE.
		u := e.user(t)
		e.lockWallet(t, u)
		err := e.chargeDuring(t, ctx, u, e.pg.Stop)
		e.pg.Start()
		got := e.balance(t, u)
		switch boxoffice.ErrorCode(err) {
		case "":
			if got != 1001 {
				t.Fatalf("got balance %d after a charge that succeeded, want 1001", got)
			}
		case boxoffice.CodeOutcomeUnknown:
			if got != 1000 && got != 1001 {
				t.Fatalf("got balance %d, want 1000 or 1001", got)
			}
		default:
			t.Fatalf("got %v, want success or OUTCOME_UNKNOWN", err)
		}
		if _, err := e.wallets.Charge(ctx, e.charge(u, 1)); err != nil {
			t.Fatalf("Charge after restart: %v", err)
		}
	})

	t.Run("WriteDeadlineCancelled", func(t *testing.T) {
		// The server cancels the statement when asked: nothing changed.
		u := e.user(t)
		lock := e.lockWallet(t, u)
		tctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		_, err := e.wallets.Charge(tctx, e.charge(u, 1))
		wantCode(t, err, boxoffice.CodeUnavailable)
		lock.Unlock()
		if got := e.balance(t, u); got != 1000 {
			t.Fatalf("got balance %d, want 1000: UNAVAILABLE changed nothing", got)
		}
	})

	t.Run("WriteDeadlineUnanswered", func(t *testing.T) {
		// The server takes no cancel request: the change may still be made,
		// and here it is.
		u := e.user(t)
		e.waitForNoLockWaiter(t)
		lock := e.lockWallet(t, u)
		tctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		err := e.chargeDuring(t, tctx, u, e.pg.Pause)
		wantCode(t, err, boxoffice.CodeOutcomeUnknown)
		// Release the lock while the server still takes no cancel request:
		// the charge the client gave up on commits.
		lock.Unlock()
		var got int64
		for range 500 {
			if err := lock.Conn.QueryRow(ctx, "SELECT balance FROM wallets WHERE user_id = $1", u).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got == 1001 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		e.pg.Resume()
		if got != 1001 {
			t.Fatalf("got balance %d, want 1001: the charge was sent and the lock released", got)
		}
	})

	t.Run("ReadDeadline", func(t *testing.T) {
		e.pg.Lock(t, "LOCK TABLE wallets IN ACCESS EXCLUSIVE MODE")
		tctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		_, err := e.wallets.Balance(tctx, boxoffice.NewID())
		wantCode(t, err, boxoffice.CodeUnavailable)
	})
}

// TestFaultsPoolExhausted checks that waiting for a connection past the
// deadline is UNAVAILABLE, for a change too: nothing was sent.
func TestFaultsPoolExhausted(t *testing.T) {
	e := newFaultEnv(t, "1")
	ctx := context.Background()
	u, other := e.user(t), e.user(t)
	lock := e.lockWallet(t, u)
	// The charge of u waits on the lock and holds the only connection.
	err := e.chargeDuring(t, ctx, u, func() {
		tctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		_, err := e.wallets.Charge(tctx, e.charge(other, 1))
		wantCode(t, err, boxoffice.CodeUnavailable)
		_, err = e.wallets.Balance(tctx, other)
		wantCode(t, err, boxoffice.CodeUnavailable)
		lock.Unlock()
	})
	if err != nil {
		t.Fatalf("Charge: %v", err)
	}
	if got := e.balance(t, other); got != 1000 {
		t.Fatalf("got balance %d, want 1000", got)
	}
}

// TestFaultsBooking checks holds and payments lost before their commit was
// sent: the first round trip only locks and reads, so they are UNAVAILABLE
// and changed nothing, and the connection does not go back to the pool
// inside the transaction.
func TestFaultsBooking(t *testing.T) {
	e := newFaultEnv(t, "1")
	ctx := context.Background()
	c := storetest.NewConcert(t, storetest.ConcertSpec())
	if err := postgres.NewConcertStore(e.db).CreateConcert(ctx, c); err != nil {
		t.Fatalf("CreateConcert: %v", err)
	}
	bookings := postgres.NewBookingStore(e.db)
	seat := 0
	hold := func(ctx context.Context, userID string) (booking.Reservation, error) {
		now := time.Now()
		seat++
		return bookings.Hold(ctx, booking.HoldRequest{ReservationID: boxoffice.NewID(), UserID: userID, ConcertID: c.ID,
			Day: storetest.Day1, Seats: []int{seat}, MaxSeatsPerUser: 4, Now: now, ExpiresAt: now.Add(time.Minute)})
	}

	t.Run("DeadlineCancelled", func(t *testing.T) {
		u := e.user(t)
		lock := e.lockWallet(t, u)
		tctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		_, err := hold(tctx, u)
		wantCode(t, err, boxoffice.CodeUnavailable)
		lock.Unlock()
		// The pool's only connection is out of the transaction.
		if _, err := hold(ctx, u); err != nil {
			t.Fatalf("Hold after the cancelled one: %v", err)
		}
		if _, err := e.wallets.Balance(ctx, u); err != nil {
			t.Fatalf("Balance: %v", err)
		}
	})

	t.Run("PayDeadlineCancelled", func(t *testing.T) {
		u := e.user(t)
		r, err := hold(ctx, u)
		if err != nil {
			t.Fatalf("Hold: %v", err)
		}
		lock := e.lockWallet(t, u)
		tctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		_, err = bookings.Pay(tctx, booking.PayRequest{PaymentID: boxoffice.NewID(), ReservationID: r.ID, UserID: u, Now: time.Now()})
		wantCode(t, err, boxoffice.CodeUnavailable)
		lock.Unlock()
		if got, err := bookings.Reservation(ctx, r.ID); err != nil || got.Status != booking.Held {
			t.Fatalf("Reservation: got %+v, %v; want it still held: UNAVAILABLE changed nothing", got, err)
		}
		if got := e.balance(t, u); got != 1000 {
			t.Fatalf("got balance %d, want 1000", got)
		}
	})

	t.Run("LostBeforeCommit", func(t *testing.T) {
		u := e.user(t)
		e.lockWallet(t, u)
		errc := make(chan error, 1)
		go func() {
			_, err := hold(ctx, u)
			errc <- err
		}()
		e.waitForLockWaiter(t)
		e.pg.Kill()
		err := <-errc
		e.pg.Start()
		wantCode(t, err, boxoffice.CodeUnavailable)
		list, err := bookings.Reservations(ctx, booking.ListRequest{UserID: u, Limit: 10, Now: time.Now()})
		if err != nil || len(list) != 0 {
			t.Fatalf("Reservations: got %d, %v; want none: UNAVAILABLE changed nothing", len(list), err)
		}
	})
}
