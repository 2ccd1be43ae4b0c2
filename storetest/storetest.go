// Package storetest holds the contract suites that every Store adapter
// runs, in the manner of testing/fstest.TestFS: an adapter's test calls
// RunConcertStore, RunWalletStore and RunBookingStore with a constructor of
// fresh, empty stores, and the suites check every documented outcome,
// including races between concurrent callers. Times are passed explicitly
// from BaseTime, so expiry is checked at the exact instant.
package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/booking"
	"github.com/boxoffice/boxoffice/concert"
	"github.com/boxoffice/boxoffice/wallet"
)

// Stores are the three stores of one fresh, empty database.
type Stores struct {
	Concerts concert.Store
	Wallets  wallet.Store
	Bookings booking.Store
}

// BaseTime is the instant the suites start from. It is a whole second, so
// every time the suites derive from it is kept exactly by a store with
// microsecond precision.
var BaseTime = time.Date(2026, 6, 1, 3, 0, 0, 0, time.UTC)

// The days of the dates of ConcertSpec.
const (
	Day1 = "2026-07-01"
	Day2 = "2026-07-02"
)

var seoul = time.FixedZone("KST", 9*3600)

// ConcertSpec returns a well-formed spec whose sale opens at BaseTime: dates
// Day1 and Day2 at 19:00 in Seoul, VIP seats 1-10 at 150,000 and R seats
// 11-50 at 90,000, holds of 300 seconds, at most 4 seats per user and date.
func ConcertSpec() concert.Spec {
	return concert.Spec{
		Title: "Winter Concert",
		Venue: "Olympic Hall",
		Dates: []time.Time{
			time.Date(2026, 7, 2, 19, 0, 0, 0, seoul),
			time.Date(2026, 7, 1, 19, 0, 0, 0, seoul),
		},
		Grades: []concert.GradeSpec{
			{Name: "VIP", Seats: "1-10", Price: 150_000},
			{Name: "R", Seats: "11-50", Price: 90_000},
		},
		SalesOpenAt:     BaseTime,
		HoldSeconds:     300,
		MaxSeatsPerUser: 4,
	}
}

// NewConcert returns the concert spec describes, with a new id, created at
// BaseTime. It fails t when spec is not well-formed.
func NewConcert(t testing.TB, spec concert.Spec) concert.Concert {
	t.Helper()
	c, err := concert.New(boxoffice.NewID(), spec, BaseTime)
	if err != nil {
		t.Fatalf("concert.New: %v", err)
	}
	return c
}

// wantErr fails t unless err carries the code of want.
func wantErr(t testing.TB, what string, err error, want *boxoffice.Error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %s", what, err, want.Code)
	}
}

// noErr fails t when err is not nil.
func noErr(t testing.TB, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: got error %v, want none", what, err)
	}
}

// together runs fn(0..n-1) on n goroutines released at the same moment and
// waits for all of them.
func together(n int, fn func(i int)) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn(i)
		}()
	}
	close(start)
	wg.Wait()
}

// newUserID returns a user id that is not a UUID: user ids may come from an
// external identity provider.
func newUserID() string { return "fan|" + boxoffice.NewID() }

// createUser stores a new user and charges balance to it, if positive.
func createUser(t testing.TB, w wallet.Store, balance boxoffice.Money) string {
	t.Helper()
	ctx := context.Background()
	u, err := wallet.NewUser(newUserID(), "Kim", BaseTime)
	noErr(t, "wallet.NewUser", err)
	noErr(t, "CreateUser", w.CreateUser(ctx, u))
	if balance > 0 {
		_, err := w.Charge(ctx, wallet.ChargeRequest{
			ChargeID: boxoffice.NewID(), UserID: u.ID, Amount: balance,
			MaxBalance: wallet.DefaultLimits().MaxBalance, Now: BaseTime,
		})
		noErr(t, "Charge", err)
	}
	return u.ID
}

// balanceOf returns a user's balance, failing t on error.
func balanceOf(t testing.TB, w wallet.Store, userID string) boxoffice.Money {
	t.Helper()
	b, err := w.Balance(context.Background(), userID)
	noErr(t, "Balance", err)
	return b
}

// fullHistory returns every ledger entry of a user, newest first, walking
// the pages.
func fullHistory(t testing.TB, w wallet.Store, userID string) []wallet.Entry {
	t.Helper()
	var all []wallet.Entry
	before := ""
	for {
		page, err := w.History(context.Background(), userID, before, wallet.MaxHistory)
		noErr(t, "History", err)
		all = append(all, page...)
		if len(page) < wallet.MaxHistory {
			return all
		}
		before = page[len(page)-1].ID
	}
}

// checkMoney fails t unless, over users and the concerts, everything charged
// is either still in a balance or was paid, and the PAYMENT entries add up
// to the concerts' revenue.
func checkMoney(t testing.TB, s Stores, users []string, concertIDs ...string) {
	t.Helper()
	var charged, balances, paidEntries, revenue boxoffice.Money
	for _, u := range users {
		balance := balanceOf(t, s.Wallets, u)
		balances += balance
		history := fullHistory(t, s.Wallets, u)
		checkLedgerOrder(t, u, balance, history)
		for _, e := range history {
			switch e.Kind {
			case wallet.Charge:
				charged += e.Amount
			case wallet.Payment:
				paidEntries += e.Amount
			}
		}
	}
	for _, id := range concertIDs {
		inv, err := s.Bookings.Inventory(context.Background(), id, BaseTime)
		noErr(t, "Inventory", err)
		revenue += inv.Revenue
	}
	if charged != balances+revenue {
		t.Errorf("money: got charged %d, want balances %d + revenue %d = %d", charged, balances, revenue, balances+revenue)
	}
	if paidEntries != revenue {
		t.Errorf("money: got PAYMENT entries totalling %d, want revenue %d", paidEntries, revenue)
	}
}

// checkLedgerOrder fails t unless history, newest first, lists the
// movements in the order they were applied to the balance: each entry's
// BalanceAfter is the balance its successor started from, the newest ends at
// balance and the oldest started from zero.
func checkLedgerOrder(t testing.TB, userID string, balance boxoffice.Money, history []wallet.Entry) {
	t.Helper()
	running := balance
	for i, e := range history {
		if e.BalanceAfter != running {
			t.Errorf("ledger of %s, entry %d from the newest (%s %d): got balanceAfter %d, want %d",
				userID, i, e.Kind, e.Amount, e.BalanceAfter, running)
			return
		}
		if e.Kind == wallet.Payment {
			running += e.Amount
		} else {
			running -= e.Amount
		}
	}
	if running != 0 {
		t.Errorf("ledger of %s: the oldest entry started from %d, want 0", userID, running)
	}
}

func sameReceipt(a, b wallet.Receipt) bool {
	return a.ChargeID == b.ChargeID && a.UserID == b.UserID && a.Amount == b.Amount &&
		a.Balance == b.Balance && a.At.Equal(b.At)
}

func sameEntry(a, b wallet.Entry) bool {
	return a.ID == b.ID && a.UserID == b.UserID && a.Kind == b.Kind && a.Amount == b.Amount &&
		a.BalanceAfter == b.BalanceAfter && a.At.Equal(b.At)
}

func samePayment(a, b booking.Payment) bool {
	return a.ID == b.ID && a.ReservationID == b.ReservationID && a.UserID == b.UserID &&
		a.ConcertID == b.ConcertID && a.Amount == b.Amount && a.Balance == b.Balance && a.PaidAt.Equal(b.PaidAt)
}

// storeRunner returns a function that runs a named case on a fresh store
// of newStore, so that a suite reads as its list of cases.
func storeRunner[S any](t *testing.T, newStore func(t *testing.T) S) func(name string, test func(*testing.T, S)) {
	return func(name string, test func(*testing.T, S)) {
		t.Run(name, func(t *testing.T) { test(t, newStore(t)) })
	}
}
