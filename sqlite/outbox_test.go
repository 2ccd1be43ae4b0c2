package sqlite_test

import (
	"testing"

	"github.com/boxoffice/boxoffice/sqlite"
	"github.com/boxoffice/boxoffice/storetest"
)

func TestEventStore(t *testing.T) {
	storetest.RunEventStore(t, func(t testing.TB) storetest.EventStores {
		db := newDB(t)
		return storetest.EventStores{
			Stores: storetest.Stores{
				Concerts: sqlite.NewConcertStore(db),
				Wallets:  sqlite.NewWalletStore(db),
				Bookings: sqlite.NewBookingStore(db),
			},
			Events: sqlite.NewEventStore(db),
		}
	})
}
