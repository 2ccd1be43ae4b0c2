package postgres_test

import (
	"testing"

	"github.com/boxoffice/boxoffice/postgres"
	"github.com/boxoffice/boxoffice/storetest"
)

func TestEventStore(t *testing.T) {
	storetest.RunEventStore(t, func(t testing.TB) storetest.EventStores {
		db := newDB(t)
		events := postgres.NewEventStore(db)
		t.Cleanup(events.Close)
		return storetest.EventStores{
			Stores: storetest.Stores{
				Concerts: postgres.NewConcertStore(db),
				Wallets:  postgres.NewWalletStore(db),
				Bookings: postgres.NewBookingStore(db),
			},
			Events: events,
		}
	})
}
