package storetest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/concert"
	"github.com/boxoffice/boxoffice/queue"
)

// RunConcertStore checks that the stores newStore returns keep the contract
// of concert.Store. newStore must return a fresh, empty store each call.
func RunConcertStore(t *testing.T, newStore func(t *testing.T) concert.Store) {
	t.Run("CreateConcert", func(t *testing.T) {
		run := storeRunner(t, newStore)
		run("OK", testCreateConcertOK)
	})
	t.Run("Concert", func(t *testing.T) {
		run := storeRunner(t, newStore)
		run("ErrNotFound", testConcertErrNotFound)
	})
	t.Run("Concerts", func(t *testing.T) {
		run := storeRunner(t, newStore)
		run("Empty", testConcertsEmpty)
		run("OrderedBySalesOpeningThenID", testConcertsOrderedBySalesOpeningThenID)
	})
	t.Run("SetWaitingRoom", func(t *testing.T) {
		run := storeRunner(t, newStore)
		run("OK", testSetWaitingRoomOK)
		run("ErrNotFound", testSetWaitingRoomErrNotFound)
	})
	t.Run("Dates", func(t *testing.T) {
		run := storeRunner(t, newStore)
		run("OK", testDatesOK)
		run("StartedDateIsNotListed", testDatesStartedDateIsNotListed)
		run("ErrNotFound", testDatesErrNotFound)
	})
	t.Run("Seats", func(t *testing.T) {
		run := storeRunner(t, newStore)
		run("OK", testSeatsOK)
		run("ErrNotFound", testSeatsErrNotFound)
	})
}

// createConcert stores the concert spec describes in s.
func createConcert(t *testing.T, s concert.Store, spec concert.Spec) concert.Concert {
	t.Helper()
	c := NewConcert(t, spec)
	noErr(t, "CreateConcert", s.CreateConcert(context.Background(), c))
	return c
}

func testCreateConcertOK(t *testing.T, s concert.Store) {
	ctx := context.Background()
	spec := ConcertSpec()
	room := queue.Settings{Strategy: queue.RateAndMaxActive, AdmitPerSecond: 12.5, MaxActive: 300, SessionSeconds: 900, IdleSeconds: 45, MaxSessionSeconds: 1800}
	spec.WaitingRoom = &room
	want := createConcert(t, s, spec)
	got, err := s.Concert(ctx, want.ID)
	noErr(t, "Concert", err)
	checkConcert(t, got, want)
	if len(got.Dates) != 2 || got.Dates[0].Day != Day1 || got.Dates[1].Day != Day2 {
		t.Errorf("Dates: got %+v, want %s then %s", got.Dates, Day1, Day2)
	}
}

func testConcertErrNotFound(t *testing.T, s concert.Store) {
	ctx := context.Background()
	createConcert(t, s, ConcertSpec())
	for _, id := range []string{boxoffice.NewID(), "not-a-uuid", ""} {
		_, err := s.Concert(ctx, id)
		wantErr(t, "Concert("+id+")", err, boxoffice.ErrNotFound)
	}
}

func testConcertsEmpty(t *testing.T, s concert.Store) {
	ctx := context.Background()
	list, err := s.Concerts(ctx)
	noErr(t, "Concerts", err)
	if len(list) != 0 {
		t.Errorf("Concerts: got %d concerts, want 0", len(list))
	}
}

func testConcertsOrderedBySalesOpeningThenID(t *testing.T, s concert.Store) {
	ctx := context.Background()
	late, early := ConcertSpec(), ConcertSpec()
	late.SalesOpenAt = BaseTime.Add(2 * time.Hour)
	early.SalesOpenAt = BaseTime.Add(time.Hour)
	a := createConcert(t, s, late)
	b := createConcert(t, s, early)
	c := createConcert(t, s, early)
	want := []concert.Concert{b, c, a}
	if c.ID < b.ID {
		want = []concert.Concert{c, b, a}
	}
	list, err := s.Concerts(ctx)
	noErr(t, "Concerts", err)
	if len(list) != len(want) {
		t.Fatalf("Concerts: got %d concerts, want %d", len(list), len(want))
	}
	for i, got := range list {
		if got.ID != want[i].ID {
			t.Errorf("Concerts[%d]: got %s, want %s", i, got.ID, want[i].ID)
		}
		if got.Title != want[i].Title || !got.SalesOpenAt.Equal(want[i].SalesOpenAt) || got.SoldOut {
			t.Errorf("Concerts[%d]: got %+v, want %+v", i, got, want[i])
		}
		if len(got.Dates) != 0 || len(got.Grades) != 0 {
			t.Errorf("Concerts[%d]: got %d dates and %d grades, want none", i, len(got.Dates), len(got.Grades))
		}
	}
}

func testSetWaitingRoomOK(t *testing.T, s concert.Store) {
	ctx := context.Background()
	c := createConcert(t, s, ConcertSpec())
	other := createConcert(t, s, ConcertSpec())
	room := queue.Settings{Strategy: queue.MaxActive, MaxActive: 77, SessionSeconds: 120, IdleSeconds: 30, MaxSessionSeconds: 240}
	for version := int64(2); version <= 3; version++ {
		noErr(t, "SetWaitingRoom", s.SetWaitingRoom(ctx, c.ID, room))
		got, err := s.Concert(ctx, c.ID)
		noErr(t, "Concert", err)
		if got.WaitingRoom != room || got.RoomVersion != version {
			t.Errorf("WaitingRoom: got %+v version %d, want %+v version %d", got.WaitingRoom, got.RoomVersion, room, version)
		}
		room.MaxActive++
	}
	got, err := s.Concert(ctx, other.ID)
	noErr(t, "Concert", err)
	if got.WaitingRoom != other.WaitingRoom || got.RoomVersion != 1 {
		t.Errorf("other concert's WaitingRoom: got %+v version %d, want %+v version 1", got.WaitingRoom, got.RoomVersion, other.WaitingRoom)
	}
}

func testSetWaitingRoomErrNotFound(t *testing.T, s concert.Store) {
	ctx := context.Background()
	for _, id := range []string{boxoffice.NewID(), "not-a-uuid"} {
		err := s.SetWaitingRoom(ctx, id, queue.DefaultSettings())
		wantErr(t, "SetWaitingRoom("+id+")", err, boxoffice.ErrNotFound)
	}
}

func testDatesOK(t *testing.T, s concert.Store) {
	ctx := context.Background()
	c := createConcert(t, s, ConcertSpec())
	dates, err := s.Dates(ctx, c.ID, BaseTime)
	noErr(t, "Dates", err)
	if len(dates) != 2 {
		t.Fatalf("Dates: got %d dates, want 2", len(dates))
	}
	for i, d := range dates {
		if d.Day != c.Dates[i].Day || !d.StartsAt.Equal(c.Dates[i].StartsAt) || d.AvailableSeats != concert.SeatsPerDate {
			t.Errorf("Dates[%d]: got %+v, want %+v with %d seats available", i, d, c.Dates[i], concert.SeatsPerDate)
		}
	}
}

func testDatesStartedDateIsNotListed(t *testing.T, s concert.Store) {
	ctx := context.Background()
	c := createConcert(t, s, ConcertSpec())
	start := c.Dates[0].StartsAt
	for _, tc := range []struct {
		now  time.Time
		want []string
	}{
		{start.Add(-time.Nanosecond), []string{Day1, Day2}},
		{start, []string{Day2}},
		{c.Dates[1].StartsAt, []string{}},
	} {
		dates, err := s.Dates(ctx, c.ID, tc.now)
		noErr(t, "Dates", err)
		got := []string{}
		for _, d := range dates {
			got = append(got, d.Day)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Dates at %v: got %v, want %v", tc.now, got, tc.want)
		}
	}
}

func testDatesErrNotFound(t *testing.T, s concert.Store) {
	ctx := context.Background()
	createConcert(t, s, ConcertSpec())
	for _, id := range []string{boxoffice.NewID(), "not-a-uuid"} {
		_, err := s.Dates(ctx, id, BaseTime)
		wantErr(t, "Dates("+id+")", err, boxoffice.ErrNotFound)
	}
}

func testSeatsOK(t *testing.T, s concert.Store) {
	ctx := context.Background()
	c := createConcert(t, s, ConcertSpec())
	for _, day := range []string{Day1, Day2} {
		seats, err := s.Seats(ctx, c.ID, day, BaseTime)
		noErr(t, "Seats", err)
		if !reflect.DeepEqual(seats, c.Seats()) {
			t.Errorf("Seats(%s): got %+v, want %+v", day, seats, c.Seats())
		}
	}
}

func testSeatsErrNotFound(t *testing.T, s concert.Store) {
	ctx := context.Background()
	c := createConcert(t, s, ConcertSpec())
	for _, tc := range []struct{ id, day string }{
		{boxoffice.NewID(), Day1},
		{"not-a-uuid", Day1},
		{c.ID, "2026-07-03"},
		{c.ID, "2026-02-30"},
		{c.ID, "07/01/2026"},
		{c.ID, "0000-01-01"},
		{c.ID, ""},
	} {
		_, err := s.Seats(ctx, tc.id, tc.day, BaseTime)
		wantErr(t, "Seats("+tc.id+", "+tc.day+")", err, boxoffice.ErrNotFound)
	}
}

// checkConcert fails t unless got, read back from a store, equals want.
func checkConcert(t *testing.T, got, want concert.Concert) {
	t.Helper()
	if got.ID != want.ID || got.Title != want.Title || got.Venue != want.Venue ||
		got.HoldSeconds != want.HoldSeconds || got.MaxSeatsPerUser != want.MaxSeatsPerUser {
		t.Errorf("Concert: got %+v, want %+v", got, want)
	}
	if !got.SalesOpenAt.Equal(want.SalesOpenAt) || got.SalesOpenAt.Location() != time.UTC {
		t.Errorf("SalesOpenAt: got %v, want %v in UTC", got.SalesOpenAt, want.SalesOpenAt)
	}
	if !got.CreatedAt.Equal(want.CreatedAt) || got.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt: got %v, want %v in UTC", got.CreatedAt, want.CreatedAt)
	}
	if !reflect.DeepEqual(got.Grades, want.Grades) {
		t.Errorf("Grades: got %+v, want %+v", got.Grades, want.Grades)
	}
	if got.WaitingRoom != want.WaitingRoom {
		t.Errorf("WaitingRoom: got %+v, want %+v", got.WaitingRoom, want.WaitingRoom)
	}
	if got.SoldOut {
		t.Errorf("SoldOut: got true, want false")
	}
	if len(got.Dates) != len(want.Dates) {
		t.Fatalf("Dates: got %d, want %d", len(got.Dates), len(want.Dates))
	}
	for i, d := range got.Dates {
		w := want.Dates[i]
		if d.Day != w.Day || !d.StartsAt.Equal(w.StartsAt) || d.StartsAt.Location() != time.UTC {
			t.Errorf("Dates[%d]: got %+v, want %+v in UTC", i, d, w)
		}
	}
}
