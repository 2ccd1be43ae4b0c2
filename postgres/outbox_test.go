package postgres_test

import (
	"context"
	"strings"
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

// The relay's statements keep to an index or the rows' ctids when their
// plans are made while the outbox is empty and its statistics say so: such
// a plan, cached, scanned the whole outbox for every row deleted once it
// had grown, and the relay fell ever further behind.
func TestRelayPlans(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	events := postgres.NewEventStore(db)
	t.Cleanup(events.Close)
	c, err := events.Claim(ctx)
	if err != nil || c == nil {
		t.Fatalf("Claim: %v, %v", c, err)
	}
	defer c.Release()
	read, del, err := postgres.RelayPlans(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(read, "Index Scan using outbox_pkey") || strings.Contains(read, "Seq Scan on outbox") {
		t.Errorf("the relay reads the outbox with\n%s", read)
	}
	if !strings.Contains(del, "Tid Scan") {
		t.Errorf("the relay deletes from the outbox with\n%s", del)
	}
}
