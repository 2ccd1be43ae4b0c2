package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/event"
)

// EventStores are the stores of one fresh, empty database and its outbox.
type EventStores struct {
	Stores
	Events event.Store
}

// RunEventStore runs the contract suite of event.Store: numbering in commit
// order per concert with no gap, the feed, the claim, the relayed mark and
// trimming. newStores returns the stores of a fresh, empty database.
func RunEventStore(t *testing.T, newStores func(t testing.TB) EventStores) {
	t.Run("NumberedPerConcert", func(t *testing.T) { testNumbered(t, newStores(t)) })
	t.Run("FeedPages", func(t *testing.T) { testFeedPages(t, newStores(t)) })
	t.Run("FeedFiltersAcrossNumberings", func(t *testing.T) { testFeedFilters(t, newStores(t)) })
	t.Run("ErrInvalidRequest", func(t *testing.T) { testFeedInvalid(t, newStores(t)) })
	t.Run("OneClaimAtATime", func(t *testing.T) { testClaim(t, newStores(t)) })
	t.Run("RelayedAndTrimmed", func(t *testing.T) { testRelayedTrimmed(t, newStores(t)) })
	t.Run("ConcurrentWritersNumberedOnce", func(t *testing.T) { testConcurrentNumbering(t, newStores(t)) })
	runEventHooks(t, newStores)
}

// appendEvent appends one event of type t about concertID at BaseTime+offset
// and returns it.
func appendEvent(t testing.TB, s event.Store, typ event.Type, concertID string, n int) event.Event {
	t.Helper()
	e, err := event.New(typ, concertID, BaseTime.Add(time.Duration(n)*time.Second), map[string]any{"v": 1, "n": n})
	noErr(t, "event.New", err)
	noErr(t, "Append", s.Append(context.Background(), e))
	return e
}

// claim claims s, failing t when it cannot; the claim is released when t
// ends.
func claim(t testing.TB, s event.Store) event.Claim {
	t.Helper()
	c, err := s.Claim(context.Background())
	noErr(t, "Claim", err)
	if c == nil {
		t.Fatal("Claim: got nil, want the claim of an unclaimed store")
	}
	t.Cleanup(c.Release)
	return c
}

// numberAll numbers every event of the outbox.
func numberAll(t testing.TB, c event.Claim) int {
	t.Helper()
	total := 0
	for {
		n, err := c.Number(context.Background(), 100)
		noErr(t, "Number", err)
		total += n
		if n == 0 {
			return total
		}
	}
}

// feed reads every event of the feed matching q past q.After.
func feed(t testing.TB, s event.Store, q event.Query) []event.Event {
	t.Helper()
	if q.Limit == 0 {
		q.Limit = 7
	}
	var all []event.Event
	for {
		page, err := s.Events(context.Background(), q)
		noErr(t, "Events", err)
		all = append(all, page...)
		if len(page) == 0 {
			return all
		}
		q.After = page[len(page)-1].Position
	}
}

// checkSeqs fails t unless evs, in feed order, number each concert's events
// 1, 2, 3… and their positions rise.
func checkSeqs(t testing.TB, evs []event.Event) {
	t.Helper()
	next := map[string]int64{}
	var last int64
	for _, e := range evs {
		k := event.Key(e.ConcertID)
		next[k]++
		if e.Seq != next[k] {
			t.Fatalf("event %s (%s of %q): got seq %d, want %d", e.ID, e.Type, e.ConcertID, e.Seq, next[k])
		}
		if e.Position <= last {
			t.Fatalf("event %s: got position %d after %d, want a larger one", e.ID, e.Position, last)
		}
		last = e.Position
	}
}

func ids(evs []event.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

func testNumbered(t *testing.T, s EventStores) {
	ctx := context.Background()
	a, b := boxoffice.NewID(), boxoffice.NewID()
	var want []event.Event
	for i, c := range []string{a, b, "", a, a, b, ""} {
		want = append(want, appendEvent(t, s.Events, event.Type(event.Types[i%len(event.Types)]), c, i))
	}
	if got, err := s.Events.Events(ctx, event.Query{Limit: 10}); err != nil || len(got) != 0 {
		t.Fatalf("Events before numbering: got %d events (err %v), want none: only numbered events are served", len(got), err)
	}
	c := claim(t, s.Events)
	if n := numberAll(t, c); n != len(want) {
		t.Fatalf("Number: got %d numbered, want %d", n, len(want))
	}
	got := feed(t, s.Events, event.Query{})
	if !slices.Equal(ids(got), ids(want)) {
		t.Fatalf("feed: got ids %v, want %v (commit order)", ids(got), ids(want))
	}
	checkSeqs(t, got)
	for i, e := range got {
		w := want[i]
		if e.Type != w.Type || e.ConcertID != w.ConcertID || !e.At.Equal(w.At) {
			t.Errorf("event %d: got %s %q at %v, want %s %q at %v", i, e.Type, e.ConcertID, e.At, w.Type, w.ConcertID, w.At)
		}
		var gotData, wantData map[string]any
		if err := json.Unmarshal(e.Data, &gotData); err != nil {
			t.Fatalf("event %d data %s: %v", i, e.Data, err)
		}
		json.Unmarshal(w.Data, &wantData)
		if fmt.Sprint(gotData) != fmt.Sprint(wantData) {
			t.Errorf("event %d: got data %s, want %s", i, e.Data, w.Data)
		}
	}
	if got[0].Position != 1 {
		t.Errorf("first position: got %d, want 1", got[0].Position)
	}

	// More events continue each concert's numbers.
	later := appendEvent(t, s.Events, event.SeatsHeld, a, 10)
	numberAll(t, c)
	all := feed(t, s.Events, event.Query{})
	checkSeqs(t, all)
	if last := all[len(all)-1]; last.ID != later.ID || last.Seq != 4 {
		t.Fatalf("later event: got %s seq %d, want %s seq 4", last.ID, last.Seq, later.ID)
	}

	onlyA := feed(t, s.Events, event.Query{ConcertID: a})
	if len(onlyA) != 4 {
		t.Fatalf("feed of concert a: got %d events, want 4", len(onlyA))
	}
	for i, e := range onlyA {
		if e.ConcertID != a || e.Seq != int64(i+1) {
			t.Fatalf("feed of concert a, event %d: got concert %q seq %d, want %q seq %d", i, e.ConcertID, e.Seq, a, i+1)
		}
	}
	typed := feed(t, s.Events, event.Query{Type: event.SeatsHeld})
	for _, e := range typed {
		if e.Type != event.SeatsHeld {
			t.Fatalf("feed of SeatsHeld: got a %s", e.Type)
		}
	}
	if len(typed) == 0 {
		t.Fatal("feed of SeatsHeld: got none, want the later event at least")
	}
	if evs, err := s.Events.Events(ctx, event.Query{Limit: 10, ConcertID: "not-a-concert"}); err != nil || len(evs) != 0 {
		t.Fatalf("feed of a malformed concert id: got %d events (err %v), want none", len(evs), err)
	}
}

func testFeedPages(t *testing.T, s EventStores) {
	ctx := context.Background()
	a := boxoffice.NewID()
	for i := range 25 {
		appendEvent(t, s.Events, event.SeatsHeld, a, i)
	}
	numberAll(t, claim(t, s.Events))
	var seen []event.Event
	after := int64(0)
	for {
		page, err := s.Events.Events(ctx, event.Query{After: after, Limit: 10})
		noErr(t, "Events", err)
		if len(page) > 10 {
			t.Fatalf("page: got %d events, want at most 10", len(page))
		}
		if len(page) == 0 {
			break
		}
		seen = append(seen, page...)
		after = page[len(page)-1].Position
	}
	if len(seen) != 25 {
		t.Fatalf("pages: got %d events, want 25, each once", len(seen))
	}
	checkSeqs(t, seen)
	// A cursor past the end is an empty page, not an error.
	page, err := s.Events.Events(ctx, event.Query{After: after + 1000, Limit: 10})
	if err != nil || len(page) != 0 {
		t.Fatalf("past the end: got %d events (err %v), want none", len(page), err)
	}
}

// testFeedFilters numbers the events of two concerts and of none, mixed,
// three at a time, and reads the feed by concert, by type and by both, two
// events at a time: each read is the unfiltered feed's matching events, in
// its order, each once. Every numbering holds concert a and the type
// HoldReleased, but only the 56th event is a's HoldReleased.
func testFeedFilters(t *testing.T, s EventStores) {
	ctx := context.Background()
	a, b := boxoffice.NewID(), boxoffice.NewID()
	for i := range 60 {
		switch {
		case i == 55:
			appendEvent(t, s.Events, event.HoldReleased, a, i)
		case i%3 == 0:
			appendEvent(t, s.Events, event.SeatsHeld, a, i)
		case i%3 == 1:
			appendEvent(t, s.Events, event.HoldReleased, b, i)
		default:
			appendEvent(t, s.Events, event.BalanceCharged, "", i)
		}
	}
	c := claim(t, s.Events)
	for {
		n, err := c.Number(ctx, 3)
		noErr(t, "Number", err)
		if n == 0 {
			break
		}
	}
	all := feed(t, s.Events, event.Query{Limit: 2})
	if len(all) != 60 {
		t.Fatalf("feed: got %d events, want 60", len(all))
	}
	for _, q := range []event.Query{
		{ConcertID: a}, {ConcertID: b}, {Type: event.BalanceCharged}, {Type: event.HoldReleased},
		{ConcertID: a, Type: event.HoldReleased}, {ConcertID: b, Type: event.SeatsHeld},
	} {
		var want []string
		for _, e := range all {
			if (q.ConcertID == "" || e.ConcertID == q.ConcertID) && (q.Type == "" || e.Type == q.Type) {
				want = append(want, e.ID)
			}
		}
		q.Limit = 2
		var got []string
		for _, e := range feed(t, s.Events, q) {
			got = append(got, e.ID)
		}
		if !slices.Equal(got, want) {
			t.Errorf("feed of %+v: got %d events %v, want %d %v", q, len(got), got, len(want), want)
		}
	}
}

func testFeedInvalid(t *testing.T, s EventStores) {
	ctx := context.Background()
	for _, limit := range []int{0, -1, event.MaxLimit + 1} {
		_, err := s.Events.Events(ctx, event.Query{Limit: limit})
		wantErr(t, fmt.Sprintf("Events with limit %d", limit), err, boxoffice.ErrInvalidRequest)
	}
}

func testClaim(t *testing.T, s EventStores) {
	ctx := context.Background()
	c, err := s.Events.Claim(ctx)
	noErr(t, "Claim", err)
	if c == nil {
		t.Fatal("first Claim: got nil, want the claim")
	}
	other, err := s.Events.Claim(ctx)
	noErr(t, "second Claim", err)
	if other != nil {
		other.Release()
		t.Fatal("second Claim while the first is held: got a claim, want nil")
	}
	c.Release()
	again, err := s.Events.Claim(ctx)
	noErr(t, "Claim after Release", err)
	if again == nil {
		t.Fatal("Claim after Release: got nil, want the claim")
	}
	again.Release()
}

func testRelayedTrimmed(t *testing.T, s EventStores) {
	ctx := context.Background()
	a := boxoffice.NewID()
	for i := range 6 {
		appendEvent(t, s.Events, event.SeatsHeld, a, i) // at BaseTime + i s
	}
	bl, err := s.Events.Backlog(ctx)
	noErr(t, "Backlog", err)
	if bl.Unnumbered != 6 || !bl.OldestUnrelayed.Equal(BaseTime) || !bl.OldestUnnumbered.Equal(BaseTime) {
		t.Fatalf("backlog before numbering: got %+v, want 6 unnumbered, oldest at %v", bl, BaseTime)
	}
	c := claim(t, s.Events)
	numberAll(t, c)
	bl, err = s.Events.Backlog(ctx)
	noErr(t, "Backlog", err)
	if bl.Unnumbered != 0 || bl.Unrelayed != 6 || bl.Kept != 6 || !bl.OldestUnnumbered.IsZero() || !bl.OldestUnrelayed.Equal(BaseTime) {
		t.Fatalf("backlog after numbering: got %+v, want 0 unnumbered, 6 unrelayed, 6 kept", bl)
	}
	un, err := c.Unrelayed(ctx, 4)
	noErr(t, "Unrelayed", err)
	if len(un) != 4 || un[0].Position != 1 || un[3].Position != 4 {
		t.Fatalf("Unrelayed(4): got %d events from %v, want positions 1..4", len(un), un)
	}
	noErr(t, "Relayed", c.Relayed(ctx, 3))
	noErr(t, "Relayed backwards", c.Relayed(ctx, 2)) // never moves back
	un, err = c.Unrelayed(ctx, 10)
	noErr(t, "Unrelayed", err)
	if len(un) != 3 || un[0].Position != 4 {
		t.Fatalf("Unrelayed after Relayed(3): got %d events, want positions 4..6", len(un))
	}
	bl, err = s.Events.Backlog(ctx)
	noErr(t, "Backlog", err)
	if bl.Unrelayed != 3 || !bl.OldestUnrelayed.Equal(un[0].At) {
		t.Fatalf("backlog after Relayed(3): got %+v, want 3 unrelayed, oldest at %v", bl, un[0].At)
	}

	// Only relayed events go when the relay publishes.
	n, err := c.Trim(ctx, BaseTime.Add(5*time.Second), true)
	noErr(t, "Trim", err)
	if n != 3 {
		t.Fatalf("Trim of relayed events older than 5 s: got %d, want 3", n)
	}
	rest := feed(t, s.Events, event.Query{})
	if len(rest) != 3 || rest[0].Position != 4 {
		t.Fatalf("feed after Trim: got %d events, want positions 4..6", len(rest))
	}
	// Without a stream, age alone decides.
	n, err = c.Trim(ctx, BaseTime.Add(5*time.Second), false)
	noErr(t, "Trim", err)
	if n != 2 {
		t.Fatalf("Trim of events older than 5 s: got %d, want 2", n)
	}
	// Numbers go on after a trim.
	e := appendEvent(t, s.Events, event.SeatsHeld, a, 7)
	numberAll(t, c)
	rest = feed(t, s.Events, event.Query{})
	if len(rest) != 2 || rest[1].ID != e.ID || rest[1].Seq != 7 || rest[1].Position != 7 {
		t.Fatalf("feed after Trim and a new event: got %+v, want positions 6 and 7, the new one with seq 7", rest)
	}
}

// testConcurrentNumbering races writers, each appending a chain of events
// one after another, with a relay numbering as they go: every event is
// numbered once, each concert's seqs run from 1 with no gap, and each
// writer's events keep their order.
func testConcurrentNumbering(t *testing.T, s EventStores) {
	ctx := context.Background()
	concerts := []string{boxoffice.NewID(), boxoffice.NewID(), ""}
	const writers, each = 12, 10
	c := claim(t, s.Events)
	done := make(chan struct{})
	numbered := make(chan error, 1)
	go func() {
		for {
			select {
			case <-done:
				numbered <- nil
				return
			default:
			}
			if _, err := c.Number(ctx, 7); err != nil {
				numbered <- err
				return
			}
		}
	}()
	chains := make([][]string, writers)
	together(writers, func(w int) {
		for i := range each {
			e, err := event.New(event.SeatsHeld, concerts[(w+i)%len(concerts)], BaseTime, map[string]any{"v": 1, "w": w, "i": i})
			if err != nil {
				t.Error(err)
				return
			}
			if err := s.Events.Append(ctx, e); err != nil {
				t.Errorf("Append: %v", err)
				return
			}
			chains[w] = append(chains[w], e.ID)
		}
	})
	close(done)
	noErr(t, "Number", <-numbered)
	numberAll(t, c)
	all := feed(t, s.Events, event.Query{Limit: event.MaxLimit})
	if len(all) != writers*each {
		t.Fatalf("feed: got %d events, want %d", len(all), writers*each)
	}
	checkSeqs(t, all)
	pos := map[string]int{}
	for i, e := range all {
		if _, dup := pos[e.ID]; dup {
			t.Fatalf("event %s served twice", e.ID)
		}
		pos[e.ID] = i
	}
	for w, chain := range chains {
		for i := 1; i < len(chain); i++ {
			if pos[chain[i]] < pos[chain[i-1]] {
				t.Fatalf("writer %d: event %d served before event %d, which committed first", w, i, i-1)
			}
		}
	}
}
