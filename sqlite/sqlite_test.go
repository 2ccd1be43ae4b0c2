package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/booking"
	"github.com/boxoffice/boxoffice/concert"
	"github.com/boxoffice/boxoffice/sqlite"
	"github.com/boxoffice/boxoffice/storetest"
	"github.com/boxoffice/boxoffice/wallet"
)

// holderEnv, when set, makes the test binary a process that holds the
// file it names (see holdFile) instead of running the tests.
const holderEnv = "BOXOFFICE_SQLITE_TEST_HOLD"

func TestMain(m *testing.M) {
	if path := os.Getenv(holderEnv); path != "" {
		os.Exit(holdFile(path))
	}
	os.Exit(m.Run())
}

// holdFile opens the database file at path, says "ready" and holds the
// file until its input ends.
func holdFile(path string) int {
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	db.Close()
	return 0
}

// open opens the database file at path, closed when the test ends.
func open(t testing.TB, path string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(db.Close)
	return db
}

// newDB returns a DB on a fresh file of its own.
func newDB(t testing.TB) *sqlite.DB {
	t.Helper()
	return open(t, filepath.Join(t.TempDir(), "boxoffice.db"))
}

func TestConcertStore(t *testing.T) {
	storetest.RunConcertStore(t, func(t *testing.T) concert.Store {
		return sqlite.NewConcertStore(newDB(t))
	})
}

func TestWalletStore(t *testing.T) {
	storetest.RunWalletStore(t, func(t *testing.T) wallet.Store {
		return sqlite.NewWalletStore(newDB(t))
	})
}

func TestBookingStore(t *testing.T) {
	storetest.RunBookingStore(t, func(t *testing.T) storetest.Stores {
		db := newDB(t)
		return storetest.Stores{
			Concerts: sqlite.NewConcertStore(db),
			Wallets:  sqlite.NewWalletStore(db),
			Bookings: sqlite.NewBookingStore(db),
		}
	})
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	t.Run("ErrLocked", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "boxoffice.db")
		first, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatalf("first Open: %v", err)
		}
		second, err := sqlite.Open(ctx, path)
		if err == nil {
			second.Close()
			first.Close()
			t.Fatalf("second Open of a held file: got no error, want %v", sqlite.ErrLocked)
		}
		if !errors.Is(err, sqlite.ErrLocked) {
			t.Errorf("second Open: got %v, want an error wrapping %v", err, sqlite.ErrLocked)
		}
		for _, want := range []string{path, "(pid " + strconv.Itoa(os.Getpid()) + ")", "single-instance", "PostgreSQL and Redis"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("second Open: got message %q, want it to contain %q", err, want)
			}
		}
		// The refused Open left the holder working.
		if err := first.Ping(ctx); err != nil {
			t.Errorf("Ping of the holder after a refused Open: got %v, want none", err)
		}
		first.Close()
		again, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatalf("Open after Close: got %v, want none", err)
		}
		again.Close()
	})

	t.Run("ErrNoDirectory", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "missing", "boxoffice.db")
		db, err := sqlite.Open(ctx, path)
		if err == nil {
			db.Close()
			t.Fatalf("Open in a missing directory: got no error, want one")
		}
		if errors.Is(err, sqlite.ErrLocked) {
			t.Errorf("Open in a missing directory: got %v, want an error other than %v", err, sqlite.ErrLocked)
		}
	})

	t.Run("OddFileName", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "box office?#%.db")
		db := open(t, path)
		if err := db.Ping(ctx); err != nil {
			t.Fatalf("Ping: %v", err)
		}
		if _, err := os.Stat(path); err != nil {
			t.Errorf("database file: got %v, want it at %s", err, path)
		}
	})
}

// TestReopen checks that what one DB committed, the next DB on the file
// reads: data, settings and the schema version.
func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "boxoffice.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	cs, ws, bs := sqlite.NewConcertStore(db), sqlite.NewWalletStore(db), sqlite.NewBookingStore(db)
	c := storetest.NewConcert(t, storetest.ConcertSpec())
	if err := cs.CreateConcert(ctx, c); err != nil {
		t.Fatalf("CreateConcert: %v", err)
	}
	u, _ := wallet.NewUser("fan-1", "Kim", storetest.BaseTime)
	if err := ws.CreateUser(ctx, u); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	if _, err := ws.Charge(ctx, wallet.ChargeRequest{ChargeID: boxoffice.NewID(), UserID: u.ID,
		Amount: 500_000, MaxBalance: 1_000_000, Now: storetest.BaseTime}); err != nil {
		t.Fatalf("Charge: %v", err)
	}
	now := storetest.BaseTime.Add(time.Hour)
	r, err := bs.Hold(ctx, booking.HoldRequest{ReservationID: boxoffice.NewID(), UserID: u.ID,
		ConcertID: c.ID, Day: storetest.Day1, Seats: []int{11, 12}, MaxSeatsPerUser: 4,
		Now: now, ExpiresAt: now.Add(5 * time.Minute)})
	if err != nil {
		t.Fatalf("Hold: %v", err)
	}
	paid, err := bs.Pay(ctx, booking.PayRequest{PaymentID: boxoffice.NewID(), ReservationID: r.ID,
		UserID: u.ID, IdempotencyKey: "k", Now: now})
	if err != nil {
		t.Fatalf("Pay: %v", err)
	}
	secret, err := db.Setting(ctx, "secret", func() (string, error) { return "s3cret", nil })
	if err != nil {
		t.Fatalf("Setting: %v", err)
	}
	db.Close()

	db = open(t, path)
	cs, ws, bs = sqlite.NewConcertStore(db), sqlite.NewWalletStore(db), sqlite.NewBookingStore(db)
	got, err := db.Setting(ctx, "secret", func() (string, error) {
		return "", errors.New("generate must not be called once a value is stored")
	})
	if err != nil || got != secret {
		t.Errorf("Setting after reopen: got %q, %v, want %q", got, err, secret)
	}
	if _, err := cs.Concert(ctx, c.ID); err != nil {
		t.Errorf("Concert after reopen: got %v, want none", err)
	}
	if b, err := ws.Balance(ctx, u.ID); err != nil || b != 500_000-paid.Amount {
		t.Errorf("Balance after reopen: got %d, %v, want %d", b, err, 500_000-paid.Amount)
	}
	if p, err := bs.PaymentByKey(ctx, u.ID, "k"); err != nil || p.ID != paid.ID || !p.PaidAt.Equal(paid.PaidAt) {
		t.Errorf("PaymentByKey after reopen: got %+v, %v, want %+v", p, err, paid)
	}
	seats, err := cs.Seats(ctx, c.ID, storetest.Day1, now)
	if err != nil {
		t.Fatalf("Seats after reopen: %v", err)
	}
	if seats[10].Status != concert.Sold || seats[11].Status != concert.Sold {
		t.Errorf("seats 11 and 12 after reopen: got %s and %s, want %s", seats[10].Status, seats[11].Status, concert.Sold)
	}
}

func TestSetting(t *testing.T) {
	db := newDB(t)
	const n = 30
	got := make([]string, n)
	errs := make([]error, n)
	start := make(chan struct{})
	done := make(chan struct{})
	for i := range n {
		go func() {
			defer func() { done <- struct{}{} }()
			<-start
			got[i], errs[i] = db.Setting(context.Background(), "secret", func() (string, error) {
				return fmt.Sprintf("value-%d", i), nil
			})
		}()
	}
	close(start)
	for range n {
		<-done
	}
	for i, v := range got {
		if errs[i] != nil {
			t.Errorf("Setting %d: got error %v, want none", i, errs[i])
		}
		if v != got[0] || v == "" {
			t.Errorf("Setting %d: got %q, want %q like the others", i, v, got[0])
		}
	}
	v, err := db.Setting(context.Background(), "secret", func() (string, error) {
		return "", errors.New("generate must not be called once a value is stored")
	})
	if err != nil || v != got[0] {
		t.Errorf("Setting again: got %q, %v, want %q", v, err, got[0])
	}
	_, err = db.Setting(context.Background(), "other", func() (string, error) {
		return "", errors.New("no entropy")
	})
	if err == nil {
		t.Errorf("Setting with a failing generator: got no error, want one")
	}
}

func TestErrUnavailable(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	c := storetest.NewConcert(t, storetest.ConcertSpec())
	if err := sqlite.NewConcertStore(db).CreateConcert(ctx, c); err != nil {
		t.Fatalf("CreateConcert: %v", err)
	}
	db.Close()
	for name, call := range map[string]func() error{
		"Ping": func() error { return db.Ping(ctx) },
		"Balance": func() error {
			_, err := sqlite.NewWalletStore(db).Balance(ctx, "fan-1")
			return err
		},
		"Seats": func() error {
			_, err := sqlite.NewConcertStore(db).Seats(ctx, c.ID, storetest.Day1, storetest.BaseTime)
			return err
		},
		"Hold": func() error {
			_, err := sqlite.NewBookingStore(db).Hold(ctx, booking.HoldRequest{
				ReservationID: boxoffice.NewID(), UserID: "fan-1", ConcertID: c.ID, Day: storetest.Day1,
				Seats: []int{1}, MaxSeatsPerUser: 4, Now: storetest.BaseTime, ExpiresAt: storetest.BaseTime.Add(time.Minute),
			})
			return err
		},
		"Setting": func() error {
			_, err := db.Setting(ctx, "secret", func() (string, error) { return "v", nil })
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			if err := call(); !errors.Is(err, boxoffice.ErrUnavailable) {
				t.Errorf("%s on a closed DB: got %v, want %s", name, err, boxoffice.CodeUnavailable)
			}
		})
	}
}

func TestContextCanceled(t *testing.T) {
	db := newDB(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	concertID := boxoffice.NewID()
	for name, call := range map[string]func() error{
		"Hold": func() error {
			_, err := sqlite.NewBookingStore(db).Hold(ctx, booking.HoldRequest{
				ReservationID: boxoffice.NewID(), UserID: "fan-1", ConcertID: concertID,
				Day: storetest.Day1, Seats: []int{1}, MaxSeatsPerUser: 4,
				Now: storetest.BaseTime, ExpiresAt: storetest.BaseTime.Add(time.Minute),
			})
			return err
		},
		"Seats": func() error {
			_, err := sqlite.NewConcertStore(db).Seats(ctx, concertID, storetest.Day1, storetest.BaseTime)
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			err := call()
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%s with a cancelled context: got %v, want context.Canceled", name, err)
			}
			if boxoffice.ErrorCode(err) == boxoffice.CodeUnavailable {
				t.Errorf("%s with a cancelled context: got %s, want a context error", name, boxoffice.CodeUnavailable)
			}
		})
	}
}

func TestRoomArchive(t *testing.T) {
	storetest.RunRoomArchive(t, func(t *testing.T) storetest.RoomArchiveEnv {
		return storetest.RoomArchiveEnv{Archive: sqlite.NewRoomArchive(newDB(t))}
	})
}
