package sqlite_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/booking"
	"github.com/boxoffice/boxoffice/concert"
	"github.com/boxoffice/boxoffice/sqlite"
	"github.com/boxoffice/boxoffice/storetest"
	"github.com/boxoffice/boxoffice/wallet"
)

// benchSeats hands out seats no one has held, over as many concerts of
// concert.MaxDates dates as it takes.
type benchSeats struct {
	concerts []concert.Concert
	next     atomic.Int64
}

const seatsPerConcert = concert.MaxDates * concert.SeatsPerDate

func newBenchSeats(b *testing.B, db *sqlite.DB, n int) *benchSeats {
	b.Helper()
	spec := storetest.ConcertSpec()
	spec.Dates = nil
	for i := range concert.MaxDates {
		spec.Dates = append(spec.Dates, storetest.BaseTime.AddDate(0, 1, i))
	}
	s := &benchSeats{}
	cs := sqlite.NewConcertStore(db)
	for range (n + seatsPerConcert - 1) / seatsPerConcert {
		c := storetest.NewConcert(b, spec)
		if err := cs.CreateConcert(context.Background(), c); err != nil {
			b.Fatalf("CreateConcert: %v", err)
		}
		s.concerts = append(s.concerts, c)
	}
	return s
}

func (s *benchSeats) take() (concertID, day string, number int) {
	k := int(s.next.Add(1) - 1)
	c := s.concerts[k/seatsPerConcert]
	k %= seatsPerConcert
	return c.ID, c.Dates[k/concert.SeatsPerDate].Day, k%concert.SeatsPerDate + 1
}

// benchUsers creates n users, each with balance.
func benchUsers(b *testing.B, db *sqlite.DB, n int, balance boxoffice.Money) []string {
	b.Helper()
	ws := sqlite.NewWalletStore(db)
	users := make([]string, n)
	for i := range users {
		u, _ := wallet.NewUser(fmt.Sprintf("bench-%d", i), "Bench", storetest.BaseTime)
		if err := ws.CreateUser(context.Background(), u); err != nil {
			b.Fatalf("CreateUser: %v", err)
		}
		if balance > 0 {
			_, err := ws.Charge(context.Background(), wallet.ChargeRequest{ChargeID: boxoffice.NewID(),
				UserID: u.ID, Amount: balance, MaxBalance: balance, Now: storetest.BaseTime})
			if err != nil {
				b.Fatalf("Charge: %v", err)
			}
		}
		users[i] = u.ID
	}
	return users
}

const benchParallelism = 8 // goroutines per GOMAXPROCS

func benchHold(seats *benchSeats, user string) booking.HoldRequest {
	concertID, day, number := seats.take()
	now := storetest.BaseTime.Add(time.Hour)
	return booking.HoldRequest{
		ReservationID: boxoffice.NewID(), UserID: user, ConcertID: concertID, Day: day,
		Seats: []int{number}, MaxSeatsPerUser: concert.SeatsPerDate, Now: now, ExpiresAt: now.Add(time.Hour),
	}
}

// BenchmarkHold holds distinct seats from parallel callers, each caller a
// user of its own.
func BenchmarkHold(b *testing.B) {
	db := newDB(b)
	seats := newBenchSeats(b, db, b.N)
	users := benchUsers(b, db, 64, 0)
	store := sqlite.NewBookingStore(db)
	var caller atomic.Int64
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		user := users[int(caller.Add(1)-1)%len(users)]
		for pb.Next() {
			if _, err := store.Hold(context.Background(), benchHold(seats, user)); err != nil {
				b.Errorf("Hold: %v", err)
				return
			}
		}
	})
}

// BenchmarkPay pays distinct reservations from parallel callers.
func BenchmarkPay(b *testing.B) {
	db := newDB(b)
	seats := newBenchSeats(b, db, b.N)
	users := benchUsers(b, db, 64, 100_000_000)
	store := sqlite.NewBookingStore(db)
	holds := make(chan booking.Reservation, b.N)
	var wg sync.WaitGroup
	var next atomic.Int64
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= b.N {
					return
				}
				r, err := store.Hold(context.Background(), benchHold(seats, users[i%len(users)]))
				if err != nil {
					b.Errorf("Hold: %v", err)
					return
				}
				holds <- r
			}
		}()
	}
	wg.Wait()
	close(holds)
	if b.Failed() {
		return
	}
	now := storetest.BaseTime.Add(time.Hour)
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := <-holds
			_, err := store.Pay(context.Background(), booking.PayRequest{PaymentID: boxoffice.NewID(),
				ReservationID: r.ID, UserID: r.UserID, IdempotencyKey: r.ID, Now: now})
			if err != nil {
				b.Errorf("Pay: %v", err)
				return
			}
		}
	})
}

// BenchmarkSeats reads one date's seat map from parallel callers.
func BenchmarkSeats(b *testing.B) {
	db := newDB(b)
	c := storetest.NewConcert(b, storetest.ConcertSpec())
	cs := sqlite.NewConcertStore(db)
	if err := cs.CreateConcert(context.Background(), c); err != nil {
		b.Fatalf("CreateConcert: %v", err)
	}
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := cs.Seats(context.Background(), c.ID, storetest.Day1, storetest.BaseTime); err != nil {
				b.Errorf("Seats: %v", err)
				return
			}
		}
	})
}
