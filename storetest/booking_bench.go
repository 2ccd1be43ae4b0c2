package storetest

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
	"github.com/boxoffice/boxoffice/wallet"
)

// seatsPerConcert is how many seats a concert of concert.MaxDates dates has.
const seatsPerConcert = concert.MaxDates * concert.SeatsPerDate

// benchSeats hands out seats no one has held, over as many concerts of
// concert.MaxDates dates as it takes.
type benchSeats struct {
	concerts []concert.Concert
	next     atomic.Int64
}

func newBenchSeats(b *testing.B, s concert.Store, n int) *benchSeats {
	b.Helper()
	spec := ConcertSpec()
	spec.Dates = nil
	for i := range concert.MaxDates {
		spec.Dates = append(spec.Dates, BaseTime.AddDate(0, 1, i))
	}
	seats := &benchSeats{}
	for range (n + seatsPerConcert - 1) / seatsPerConcert {
		c := NewConcert(b, spec)
		if err := s.CreateConcert(context.Background(), c); err != nil {
			b.Fatalf("CreateConcert: %v", err)
		}
		seats.concerts = append(seats.concerts, c)
	}
	return seats
}

// hold asks for a seat no one has held yet, for user, for an hour.
func (s *benchSeats) hold(user string) booking.HoldRequest {
	k := int(s.next.Add(1) - 1)
	c := s.concerts[k/seatsPerConcert]
	k %= seatsPerConcert
	now := BaseTime.Add(time.Hour)
	return booking.HoldRequest{
		ReservationID: boxoffice.NewID(), UserID: user, ConcertID: c.ID, Day: c.Dates[k/concert.SeatsPerDate].Day,
		Seats: []int{k%concert.SeatsPerDate + 1}, MaxSeatsPerUser: concert.SeatsPerDate, Now: now, ExpiresAt: now.Add(time.Hour),
	}
}

// benchUsers creates n users, each with balance.
func benchUsers(b *testing.B, s wallet.Store, n int, balance boxoffice.Money) []string {
	b.Helper()
	users := make([]string, n)
	for i := range users {
		u, _ := wallet.NewUser(fmt.Sprintf("bench-%d", i), "Bench", BaseTime)
		if err := s.CreateUser(context.Background(), u); err != nil {
			b.Fatalf("CreateUser: %v", err)
		}
		if balance > 0 {
			_, err := s.Charge(context.Background(), wallet.ChargeRequest{ChargeID: boxoffice.NewID(),
				UserID: u.ID, Amount: balance, MaxBalance: balance, Now: BaseTime})
			if err != nil {
				b.Fatalf("Charge: %v", err)
			}
		}
		users[i] = u.ID
	}
	return users
}

// BenchmarkHold holds distinct seats from parallel callers, each caller a
// user of its own. s must be empty.
func BenchmarkHold(b *testing.B, s Stores) {
	seats := newBenchSeats(b, s.Concerts, b.N)
	users := benchUsers(b, s.Wallets, 64, 0)
	var caller atomic.Int64
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		user := users[int(caller.Add(1)-1)%len(users)]
		for pb.Next() {
			if _, err := s.Bookings.Hold(context.Background(), seats.hold(user)); err != nil {
				b.Errorf("Hold: %v", err)
				return
			}
		}
	})
}

// BenchmarkPay pays distinct reservations from parallel callers. s must be
// empty.
func BenchmarkPay(b *testing.B, s Stores) {
	seats := newBenchSeats(b, s.Concerts, b.N)
	users := benchUsers(b, s.Wallets, 64, 100_000_000)
	holds := make(chan booking.Reservation, b.N)
	var wg sync.WaitGroup
	var next atomic.Int64
	for range 8 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= b.N {
					return
				}
				r, err := s.Bookings.Hold(context.Background(), seats.hold(users[i%len(users)]))
				if err != nil {
					b.Errorf("Hold: %v", err)
					return
				}
				holds <- r
			}
		})
	}
	wg.Wait()
	close(holds)
	if b.Failed() {
		return
	}
	now := BaseTime.Add(time.Hour)
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := <-holds
			_, err := s.Bookings.Pay(context.Background(), booking.PayRequest{PaymentID: boxoffice.NewID(),
				ReservationID: r.ID, UserID: r.UserID, IdempotencyKey: r.ID, Now: now})
			if err != nil {
				b.Errorf("Pay: %v", err)
				return
			}
		}
	})
}

// BenchmarkSeats reads one date's seat map from parallel callers. s must
// be empty.
func BenchmarkSeats(b *testing.B, s concert.Store) {
	c := NewConcert(b, ConcertSpec())
	if err := s.CreateConcert(context.Background(), c); err != nil {
		b.Fatalf("CreateConcert: %v", err)
	}
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Seats(context.Background(), c.ID, Day1, BaseTime); err != nil {
				b.Errorf("Seats: %v", err)
				return
			}
		}
	})
}

// batchUsers is how many users the batch benchmarks spread their requests
// over: enough that two batches in flight rarely share one.
const batchUsers = 2048

// BenchmarkHoldBatch holds distinct seats from parallel callers, each
// sending HoldBatch calls of size requests of users of its own; ns/op is
// per hold. s must be empty.
func BenchmarkHoldBatch(b *testing.B, s Stores, size int) {
	seats := newBenchSeats(b, s.Concerts, b.N)
	users := benchUsers(b, s.Wallets, batchUsers, 0)
	var caller atomic.Int64
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		first := int(caller.Add(1)-1) * size
		reqs := make([]booking.HoldRequest, 0, size)
		send := func() bool {
			for _, r := range s.Bookings.HoldBatch(context.Background(), reqs) {
				if r.Err != nil {
					b.Errorf("HoldBatch: %v", r.Err)
					return false
				}
			}
			reqs = reqs[:0]
			return true
		}
		for pb.Next() {
			reqs = append(reqs, seats.hold(users[(first+len(reqs))%len(users)]))
			if len(reqs) == size && !send() {
				return
			}
		}
		if len(reqs) > 0 {
			send()
		}
	})
}

// BenchmarkPayBatch pays distinct reservations from parallel callers, each
// sending SettleBatch calls of size payments; ns/op is per payment. s must
// be empty.
func BenchmarkPayBatch(b *testing.B, s Stores, size int) {
	seats := newBenchSeats(b, s.Concerts, b.N)
	users := benchUsers(b, s.Wallets, batchUsers, 100_000_000)
	holds := make(chan booking.Reservation, b.N)
	for start := 0; start < b.N; start += 64 {
		var reqs []booking.HoldRequest
		for i := start; i < min(start+64, b.N); i++ {
			reqs = append(reqs, seats.hold(users[i%len(users)]))
		}
		for _, r := range s.Bookings.HoldBatch(context.Background(), reqs) {
			if r.Err != nil {
				b.Fatalf("HoldBatch: %v", r.Err)
			}
			holds <- r.Reservation
		}
	}
	close(holds)
	now := BaseTime.Add(time.Hour)
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		reqs := make([]booking.SettleRequest, 0, size)
		send := func() bool {
			for _, r := range s.Bookings.SettleBatch(context.Background(), reqs) {
				if r.Err != nil {
					b.Errorf("SettleBatch: %v", r.Err)
					return false
				}
			}
			reqs = reqs[:0]
			return true
		}
		for pb.Next() {
			r := <-holds
			reqs = append(reqs, booking.SettleRequest{Pay: booking.PayRequest{PaymentID: boxoffice.NewID(),
				ReservationID: r.ID, UserID: r.UserID, IdempotencyKey: r.ID, Now: now}})
			if len(reqs) == size && !send() {
				return
			}
		}
		if len(reqs) > 0 {
			send()
		}
	})
}
