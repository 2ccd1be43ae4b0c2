package main

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/event"
	"github.com/boxoffice/boxoffice/internal/testserver"
	"github.com/boxoffice/boxoffice/nats"
	"github.com/boxoffice/boxoffice/postgres"
)

// testStreamName is a stream name no other test uses.

// pgEvents returns the event store of a fresh, migrated schema.
func pgEvents(t testing.TB, url string) *postgres.EventStore {
	t.Helper()
	db, err := postgres.Open(context.Background(), url)
	if err != nil {
		unreachable(t, "PostgreSQL", err)
	}
	t.Cleanup(db.Close)
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	s := postgres.NewEventStore(db)
	t.Cleanup(s.Close)
	return s
}

// appendEvents appends n events over three concerts and none, each
// committed before the next is written, retrying one the store refused (a
// server restarting).
func appendEvents(t testing.TB, ctx context.Context, s event.Store, n int) {
	t.Helper()
	concerts := []string{boxoffice.NewID(), boxoffice.NewID(), ""}
	for i := range n {
		e, err := event.New(event.Types[i%len(event.Types)], concerts[i%len(concerts)], time.Now(), map[string]int{"v": 1, "i": i})
		if err != nil {
			t.Fatal(err)
		}
		for {
			err := s.Append(ctx, e)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				t.Errorf("append: %v", err)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// runRelay runs r until the returned stop is called.
func runRelay(r *event.Relay) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { r.Run(ctx) })
	return func() {
		cancel()
		wg.Wait()
	}
}

// drained waits until every event of s is numbered and, when relayed is
// set, relayed; it fails t after a minute.
func drained(t testing.TB, s event.Store, relayed bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		b, err := s.Backlog(context.Background())
		if err == nil && b.Unnumbered == 0 && (!relayed || b.Unrelayed == 0) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the relay did not catch up in a minute: backlog %+v, err %v", b, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// feedOf reads the whole feed of s.
func feedOf(t testing.TB, s event.Store) []event.Event {
	t.Helper()
	var all []event.Event
	after := int64(0)
	for {
		page, err := s.Events(context.Background(), event.Query{After: after, Limit: event.MaxLimit})
		if err != nil {
			t.Fatalf("feed: %v", err)
		}
		if len(page) == 0 {
			return all
		}
		all = append(all, page...)
		after = page[len(page)-1].Position
	}
}

// checkStream fails t unless the stream holds the events of the feed,
// each once, in the feed's order, which is each concert's seq order.
func checkStream(t testing.TB, s *nats.Stream, feed []event.Event) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var got []event.Event
	if err := s.Read(ctx, func(e event.Event, subject string) error {
		if subject != e.Subject(s.Prefix()) {
			t.Errorf("event %s on subject %s, want %s", e.ID, subject, e.Subject(s.Prefix()))
		}
		got = append(got, e)
		return nil
	}); err != nil {
		t.Fatalf("read stream: %v", err)
	}
	ids := func(evs []event.Event) []string {
		out := make([]string, len(evs))
		for i, e := range evs {
			out[i] = e.ID
		}
		return out
	}
	if !slices.Equal(ids(got), ids(feed)) {
		t.Fatalf("stream: got %d events, want the feed's %d, each once, in order", len(got), len(feed))
	}
	next := map[string]int64{}
	for i, e := range got {
		k := event.Key(e.ConcertID)
		next[k]++
		if e.Seq != next[k] || e.Seq != feed[i].Seq || e.Type != feed[i].Type {
			t.Fatalf("stream event %d (%s of %q): got seq %d, want %d", i, e.Type, e.ConcertID, e.Seq, next[k])
		}
	}
}

// TestRelayDiesBetweenPublishAndMark: a relay that published but died
// before marking leaves its successor to publish the same events again,
// and the stream keeps each once.
func TestRelayDiesBetweenPublishAndMark(t *testing.T) {
	store := pgEvents(t, freshSchema(t))
	stream := testserver.OpenStream(t, testserver.SharedNATS(t), testserver.StreamName())
	ctx := context.Background()
	appendEvents(t, ctx, store, 40)

	dying, die := context.WithCancel(ctx)
	published := 0
	a := &event.Relay{Store: store, Every: 10 * time.Millisecond, Batch: 25, PublishBatch: 25,
		Publish: func(ctx context.Context, evs []event.Event) (int, error) {
			n, err := stream.Publish(ctx, evs)
			published += n
			die() // dead before the mark
			return 0, errors.Join(err, context.Canceled)
		}}
	a.Run(dying)
	if published != 25 {
		t.Fatalf("the dying relay published %d events, want its first batch of 25", published)
	}
	if b, err := store.Backlog(ctx); err != nil || b.Unrelayed != 25 || b.Unnumbered != 15 {
		t.Fatalf("backlog after the death: got %+v, %v; want 25 numbered and unrelayed, 15 unnumbered", b, err)
	}

	stop := runRelay(&event.Relay{Store: store, Every: 10 * time.Millisecond, Batch: 25, PublishBatch: 25, Publish: stream.Publish})
	drained(t, store, true)
	stop()
	checkStream(t, stream, feedOf(t, store))
}

// TestRelayAcrossNATSRestart stops NATS while events keep coming: they are
// numbered and served meanwhile, and once NATS is back every one is
// published, once, in order.
func TestRelayAcrossNATSRestart(t *testing.T) {
	store := pgEvents(t, freshSchema(t))
	srv := testserver.StartNATS(t)
	stream := testserver.OpenStream(t, srv.URL(), testserver.StreamName())
	ctx := context.Background()
	relay := &event.Relay{Store: store, Every: 10 * time.Millisecond, Batch: 20, PublishBatch: 20, Publish: stream.Publish}
	stop := runRelay(relay)
	defer stop()

	appendEvents(t, ctx, store, 60)
	drained(t, store, true)
	srv.Stop()
	appendEvents(t, ctx, store, 60)
	drained(t, store, false) // numbered and served without NATS
	if b, err := store.Backlog(ctx); err != nil || b.Unrelayed != 60 {
		t.Fatalf("backlog while NATS is down: got %+v, %v; want the 60 new events unrelayed", b, err)
	}
	if evs := feedOf(t, store); len(evs) != 120 {
		t.Fatalf("feed while NATS is down: got %d events, want 120", len(evs))
	}
	srv.Start()
	appendEvents(t, ctx, store, 30)
	drained(t, store, true)
	stop()
	checkStream(t, stream, feedOf(t, store))
}

// TestRelayAcrossPostgresRestart restarts PostgreSQL under the relay: the
// claim's session ends, the relay claims again once the server is back,
// and nothing is lost or published twice.
func TestRelayAcrossPostgresRestart(t *testing.T) {
	pg := testserver.StartPostgres(t)
	store := pgEvents(t, pg.URL())
	stream := testserver.OpenStream(t, testserver.SharedNATS(t), testserver.StreamName())
	ctx := context.Background()
	stop := runRelay(&event.Relay{Store: store, Every: 10 * time.Millisecond, Batch: 20, PublishBatch: 20, Publish: stream.Publish})
	defer stop()

	appendEvents(t, ctx, store, 50)
	drained(t, store, true)
	pg.Restart()
	appendEvents(t, ctx, store, 50)
	drained(t, store, true)
	stop()
	checkStream(t, stream, feedOf(t, store))
}

// TestRelaysTakeTurns runs three relays on one store, as three instances
// do, and stops the one holding the claim: another takes over, and every
// event is published once, in order.
func TestRelaysTakeTurns(t *testing.T) {
	store := pgEvents(t, freshSchema(t))
	stream := testserver.OpenStream(t, testserver.SharedNATS(t), testserver.StreamName())
	ctx := context.Background()
	relays := make([]*event.Relay, 3)
	stops := make([]func(), 3)
	for i := range relays {
		relays[i] = &event.Relay{Store: store, Every: 10 * time.Millisecond, Batch: 10, PublishBatch: 10, Publish: stream.Publish}
		stops[i] = runRelay(relays[i])
	}
	defer func() {
		for _, s := range stops {
			s()
		}
	}()
	appendEvents(t, ctx, store, 40)
	drained(t, store, true)
	holder := -1
	for i, r := range relays {
		if _, _, holding := r.Counts(); holding {
			if holder >= 0 {
				t.Fatalf("relays %d and %d both hold the claim", holder, i)
			}
			holder = i
		}
	}
	if holder < 0 {
		t.Fatal("no relay holds the claim")
	}
	stops[holder]()
	appendEvents(t, ctx, store, 40)
	drained(t, store, true)
	var total int64
	for _, r := range relays {
		_, published, _ := r.Counts()
		total += published
	}
	if total != 80 {
		t.Errorf("relays published %d events between them, want 80", total)
	}
	checkStream(t, stream, feedOf(t, store))
}
