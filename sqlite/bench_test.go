package sqlite_test

import (
	"testing"

	"github.com/boxoffice/boxoffice/sqlite"
	"github.com/boxoffice/boxoffice/storetest"
)

func benchStores(b *testing.B) storetest.Stores {
	db := newDB(b)
	return storetest.Stores{
		Concerts: sqlite.NewConcertStore(db),
		Wallets:  sqlite.NewWalletStore(db),
		Bookings: sqlite.NewBookingStore(db),
	}
}

func BenchmarkHold(b *testing.B)  { storetest.BenchmarkHold(b, benchStores(b)) }
func BenchmarkPay(b *testing.B)   { storetest.BenchmarkPay(b, benchStores(b)) }
func BenchmarkSeats(b *testing.B) { storetest.BenchmarkSeats(b, benchStores(b).Concerts) }
