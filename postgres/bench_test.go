package postgres_test

import (
	"fmt"
	"testing"

	"github.com/boxoffice/boxoffice/postgres"
	"github.com/boxoffice/boxoffice/storetest"
)

func benchStores(b *testing.B) storetest.Stores {
	db := newDB(b)
	return storetest.Stores{
		Concerts: postgres.NewConcertStore(db),
		Wallets:  postgres.NewWalletStore(db),
		Bookings: postgres.NewBookingStore(db),
	}
}

func BenchmarkHold(b *testing.B)  { storetest.BenchmarkHold(b, benchStores(b)) }
func BenchmarkPay(b *testing.B)   { storetest.BenchmarkPay(b, benchStores(b)) }
func BenchmarkSeats(b *testing.B) { storetest.BenchmarkSeats(b, benchStores(b).Concerts) }

func BenchmarkHoldBatch(b *testing.B) {
	for _, size := range []int{1, 64} {
		b.Run(fmt.Sprint("Size", size), func(b *testing.B) { storetest.BenchmarkHoldBatch(b, benchStores(b), size) })
	}
}

func BenchmarkPayBatch(b *testing.B) {
	for _, size := range []int{1, 64} {
		b.Run(fmt.Sprint("Size", size), func(b *testing.B) { storetest.BenchmarkPayBatch(b, benchStores(b), size) })
	}
}
