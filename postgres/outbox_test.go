package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice/event"
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

// The relay vacuums the outbox once it has numbered, and so deleted,
// vacuumAfter rows since the last vacuum: the read of the outbox's low end
// otherwise steps over every row deleted since autovacuum's last visit.
func TestRelayVacuumsTheOutbox(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	events := postgres.NewEventStore(db)
	t.Cleanup(events.Close)
	postgres.SetVacuumAfter(events, 50)
	for i := range 120 {
		e, err := event.New(event.ConcertCreated, "", time.Unix(1_700_000_000, 0).Add(time.Duration(i)*time.Second), map[string]any{"v": 1, "n": i})
		if err != nil {
			t.Fatal(err)
		}
		if err := events.Append(ctx, e); err != nil {
			t.Fatalf("Append: %v", err)
		}
	}
	c, err := events.Claim(ctx)
	if err != nil || c == nil {
		t.Fatalf("Claim: %v, %v", c, err)
	}
	defer c.Release()
	vacuums := func() int64 {
		t.Helper()
		n, err := postgres.OutboxVacuums(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	for i, step := range []struct {
		limit, numbered int
		vacuums         int64
	}{
		{40, 40, 0}, // 40 since the last vacuum: none yet
		{40, 40, 1}, // 80: the outbox is vacuumed, the count starts again
		{40, 40, 1}, // 40
		{40, 0, 1},  // nothing left to number
	} {
		n, err := c.Number(ctx, step.limit)
		if err != nil || n != step.numbered {
			t.Fatalf("step %d: Number(%d) = %d, %v; want %d numbered", i, step.limit, n, err, step.numbered)
		}
		if got := vacuums(); got != step.vacuums {
			t.Errorf("step %d: the outbox was vacuumed %d times, want %d", i, got, step.vacuums)
		}
	}
}
