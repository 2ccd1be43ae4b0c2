package http_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/event"
	boxhttp "github.com/boxoffice/boxoffice/http"
	"github.com/boxoffice/boxoffice/postgres"
)

func TestEventFeed(t *testing.T) {
	ctx := context.Background()
	store := postgres.NewEventStore(freshDB(t))
	srv := boxhttp.NewServer(boxhttp.Options{AdminKey: adminKey, Events: store, Registry: prometheus.NewRegistry()})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	cl := boxhttp.NewClient(ts.URL, ts.Client())

	a := boxoffice.NewID()
	var want []event.Event
	for i, c := range []string{a, "", a} {
		e, err := event.New([]event.Type{event.SeatsHeld, event.BalanceCharged, event.ReservationPaid}[i], c, base, map[string]int{"v": 1})
		if err != nil {
			t.Fatal(err)
		}
		if err := store.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
		want = append(want, e)
	}
	page, err := cl.Events(ctx, adminKey, boxhttp.EventQuery{})
	if err != nil || len(page.Events) != 0 || page.NextCursor != "0" {
		t.Fatalf("before numbering: got %+v, %v; want no event and cursor 0", page, err)
	}
	c, err := store.Claim(ctx)
	if err != nil || c == nil {
		t.Fatalf("Claim: %v, %v", c, err)
	}
	defer c.Release()
	if _, err := c.Number(ctx, 10); err != nil {
		t.Fatal(err)
	}

	t.Run("OK", func(t *testing.T) {
		page, err := cl.Events(ctx, adminKey, boxhttp.EventQuery{Limit: 2})
		if err != nil || len(page.Events) != 2 {
			t.Fatalf("first page: got %+v, %v; want 2 events", page, err)
		}
		e := page.Events[0]
		if e.ID != want[0].ID || e.Type != "SeatsHeld" || e.ConcertID == nil || *e.ConcertID != a || e.Seq != 1 || !e.At.Equal(base) || strings.ReplaceAll(string(e.Data), " ", "") != `{"v":1}` {
			t.Errorf("first event: got %+v, want %+v with seq 1", e, want[0])
		}
		if page.Events[1].ConcertID != nil || page.Events[1].Seq != 1 {
			t.Errorf("event of no concert: got concertId %v seq %d, want null and 1", page.Events[1].ConcertID, page.Events[1].Seq)
		}
		next, err := cl.Events(ctx, adminKey, boxhttp.EventQuery{Cursor: page.NextCursor, Limit: 2})
		if err != nil || len(next.Events) != 1 || next.Events[0].ID != want[2].ID || next.Events[0].Seq != 2 {
			t.Fatalf("second page: got %+v, %v; want the third event, seq 2", next, err)
		}
		empty, err := cl.Events(ctx, adminKey, boxhttp.EventQuery{Cursor: next.NextCursor})
		if err != nil || len(empty.Events) != 0 || empty.NextCursor != next.NextCursor {
			t.Fatalf("past the end: got %+v, %v; want no event and the same cursor", empty, err)
		}
	})
	t.Run("Filtered", func(t *testing.T) {
		page, err := cl.Events(ctx, adminKey, boxhttp.EventQuery{ConcertID: a, Type: "ReservationPaid"})
		if err != nil || len(page.Events) != 1 || page.Events[0].ID != want[2].ID {
			t.Fatalf("got %+v, %v; want the ReservationPaid of concert a", page, err)
		}
	})
	t.Run("ErrInvalidRequest", func(t *testing.T) {
		for _, q := range []boxhttp.EventQuery{{Limit: 1001}, {Cursor: "x"}, {Type: "Nope"}, {ConcertID: "nope"}} {
			_, err := cl.Events(ctx, adminKey, q)
			if boxoffice.ErrorCode(err) != boxoffice.CodeInvalidRequest {
				t.Errorf("%+v: got %v, want INVALID_REQUEST", q, err)
			}
		}
	})
	t.Run("ErrUnauthenticated", func(t *testing.T) {
		_, err := cl.Events(ctx, "wrong", boxhttp.EventQuery{})
		if boxoffice.ErrorCode(err) != boxoffice.CodeUnauthenticated {
			t.Errorf("got %v, want UNAUTHENTICATED", err)
		}
	})
}
