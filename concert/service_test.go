package concert_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/concert"
	"github.com/boxoffice/boxoffice/queue"
)

// mapStore keeps concerts in a map: what the service's workflows need of
// a Store, each call counted.
type mapStore struct {
	concert.Store
	mu       sync.Mutex
	concerts map[string]concert.Concert
	reads    int
}

func (s *mapStore) CreateConcert(_ context.Context, c concert.Concert) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.RoomVersion = 1
	s.concerts[c.ID] = c
	return nil
}

func (s *mapStore) Concert(_ context.Context, id string) (concert.Concert, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	c, ok := s.concerts[id]
	if !ok {
		return concert.Concert{}, concert.NotFound(id)
	}
	return c, nil
}

func (s *mapStore) Concerts(context.Context) ([]concert.Concert, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var l []concert.Concert
	for _, c := range s.concerts {
		l = append(l, c)
	}
	return l, nil
}

func (s *mapStore) SetWaitingRoom(_ context.Context, id string, settings queue.Settings) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.concerts[id]
	if !ok {
		return concert.NotFound(id)
	}
	c.WaitingRoom, c.RoomVersion = settings, c.RoomVersion+1
	s.concerts[id] = c
	return nil
}

// rooms records the rooms handed to it, failing with err when set.
type rooms struct {
	got []queue.Room
	err error
}

func (r *rooms) Configure(_ context.Context, room queue.Room) error {
	r.got = append(r.got, room)
	return r.err
}

type serviceEnv struct {
	store *mapStore
	rooms *rooms
	svc   *concert.Service
	logs  *bytes.Buffer
}

func newServiceEnv(withRooms bool) serviceEnv {
	e := serviceEnv{store: &mapStore{concerts: map[string]concert.Concert{}}, rooms: &rooms{}, logs: &bytes.Buffer{}}
	clock := boxoffice.NewManualClock(t0)
	var r concert.Rooms
	if withRooms {
		r = e.rooms
	}
	cache := concert.NewCache(e.store, clock, time.Hour)
	e.svc = concert.NewService(e.store, cache, r, clock, slog.New(slog.NewTextHandler(e.logs, nil)))
	return e
}

func TestServiceCreate(t *testing.T) {
	ctx := context.Background()
	t.Run("OK", func(t *testing.T) {
		e := newServiceEnv(true)
		c, err := e.svc.Create(ctx, validSpec())
		if err != nil {
			t.Fatal(err)
		}
		if !boxoffice.ValidID(c.ID) || c.Title != validSpec().Title {
			t.Errorf("got concert %q %q, want a new id and the spec's title", c.ID, c.Title)
		}
		stored, err := e.store.Concert(ctx, c.ID)
		if err != nil || stored.Title != c.Title || len(stored.Dates) != len(c.Dates) {
			t.Errorf("stored: got %+v, %v; want the created concert", stored, err)
		}
		if len(e.rooms.got) != 0 {
			t.Errorf("rooms configured: got %d, want 0 (a room is built at its first join)", len(e.rooms.got))
		}
	})
	t.Run("ErrInvalidRequest", func(t *testing.T) {
		e := newServiceEnv(true)
		spec := validSpec()
		spec.Title = ""
		if _, err := e.svc.Create(ctx, spec); boxoffice.ErrorCode(err) != boxoffice.CodeInvalidRequest {
			t.Errorf("got %v, want INVALID_REQUEST", err)
		}
		if n := len(e.store.concerts); n != 0 {
			t.Errorf("stored: got %d concerts, want 0", n)
		}
	})
}

func TestServiceSetWaitingRoom(t *testing.T) {
	ctx := context.Background()
	changed := queue.DefaultSettings()
	changed.AdmitPerSecond = 7

	t.Run("OK", func(t *testing.T) {
		e := newServiceEnv(true)
		c, err := e.svc.Create(ctx, validSpec())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Concert(ctx, c.ID); err != nil { // cached now
			t.Fatal(err)
		}
		if err := e.svc.SetWaitingRoom(ctx, c.ID, changed); err != nil {
			t.Fatal(err)
		}
		got, err := e.svc.Concert(ctx, c.ID)
		if err != nil || got.WaitingRoom != changed {
			t.Errorf("read after the change: got %+v, %v; want the new settings at once", got.WaitingRoom, err)
		}
		if len(e.rooms.got) != 1 || e.rooms.got[0].Settings != changed || e.rooms.got[0].Version != 2 || e.rooms.got[0].ConcertID != c.ID {
			t.Errorf("rooms configured: got %+v, want one with the new settings at version 2", e.rooms.got)
		}
	})
	t.Run("ErrInvalidRequest", func(t *testing.T) {
		e := newServiceEnv(true)
		c, err := e.svc.Create(ctx, validSpec())
		if err != nil {
			t.Fatal(err)
		}
		bad := changed
		bad.SessionSeconds = -1
		if err := e.svc.SetWaitingRoom(ctx, c.ID, bad); boxoffice.ErrorCode(err) != boxoffice.CodeInvalidRequest {
			t.Errorf("got %v, want INVALID_REQUEST", err)
		}
		if got := e.store.concerts[c.ID]; got.RoomVersion != 1 || len(e.rooms.got) != 0 {
			t.Errorf("got version %d and %d rooms configured, want 1 and none", got.RoomVersion, len(e.rooms.got))
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		e := newServiceEnv(true)
		if err := e.svc.SetWaitingRoom(ctx, boxoffice.NewID(), changed); boxoffice.ErrorCode(err) != boxoffice.CodeNotFound {
			t.Errorf("got %v, want NOT_FOUND", err)
		}
		if len(e.rooms.got) != 0 {
			t.Errorf("rooms configured: got %d, want 0", len(e.rooms.got))
		}
	})
	t.Run("RoomFails", func(t *testing.T) {
		e := newServiceEnv(true)
		e.rooms.err = errors.New("redis down")
		c, err := e.svc.Create(ctx, validSpec())
		if err != nil {
			t.Fatal(err)
		}
		if err := e.svc.SetWaitingRoom(ctx, c.ID, changed); err != nil {
			t.Errorf("got %v, want nil: the store has the settings and the room's leader hands them on", err)
		}
		if !strings.Contains(e.logs.String(), "redis down") {
			t.Errorf("logs: got %q, want the room's failure", e.logs.String())
		}
	})
	t.Run("NoRooms", func(t *testing.T) {
		e := newServiceEnv(false)
		c, err := e.svc.Create(ctx, validSpec())
		if err != nil {
			t.Fatal(err)
		}
		if err := e.svc.SetWaitingRoom(ctx, c.ID, changed); err != nil {
			t.Fatal(err)
		}
		if got := e.store.concerts[c.ID].WaitingRoom; got != changed {
			t.Errorf("stored: got %+v, want %+v", got, changed)
		}
	})
}

func TestServiceReads(t *testing.T) {
	ctx := context.Background()
	e := newServiceEnv(true)
	c, err := e.svc.Create(ctx, validSpec())
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := e.svc.Concert(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
	}
	if e.store.reads != 1 {
		t.Errorf("store reads: got %d, want 1 (the cache answers the rest)", e.store.reads)
	}
	if _, err := e.svc.Concert(ctx, boxoffice.NewID()); boxoffice.ErrorCode(err) != boxoffice.CodeNotFound {
		t.Errorf("unknown: got %v, want NOT_FOUND", err)
	}
	l, err := e.svc.Concerts(ctx)
	if err != nil || len(l) != 1 || l[0].ID != c.ID {
		t.Errorf("Concerts: got %v, %v; want the one created", l, err)
	}
}
