package concert

import (
	"context"
	"log/slog"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/queue"
)

// Rooms is the live waiting rooms a concert's new settings are handed to:
// a *queue.Service.
type Rooms interface {
	Configure(ctx context.Context, room queue.Room) error
}

// Service owns the concert workflows: creating a concert and changing its
// waiting room (the store write, the live room and the cache each take
// their part), and the reads of concerts, one concert through the cache.
type Service struct {
	store Store
	cache *Cache
	rooms Rooms
	clock boxoffice.Clock
	log   *slog.Logger
}

// NewService returns a Service on store that reads one concert through
// cache and hands changed waiting room settings to rooms (nil: no live
// room to tell). log defaults to discarding.
func NewService(store Store, cache *Cache, rooms Rooms, clock boxoffice.Clock, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: store, cache: cache, rooms: rooms, clock: clock, log: log}
}

// Create checks spec and stores the concert it describes under a new id.
// Its waiting room exists at once: it is built from the concert at its
// first join, so one write creates everything and a waiting room failure
// cannot leave a concert half created. Errors: INVALID_REQUEST.
func (s *Service) Create(ctx context.Context, spec Spec) (Concert, error) {
	c, err := New(boxoffice.NewID(), spec, s.clock.Now())
	if err != nil {
		return Concert{}, err
	}
	if err := s.store.CreateConcert(ctx, c); err != nil {
		return Concert{}, err
	}
	return c, nil
}

// SetWaitingRoom replaces the concert's waiting room settings; they are
// the room's from then on. Errors: INVALID_REQUEST, NOT_FOUND.
func (s *Service) SetWaitingRoom(ctx context.Context, id string, settings queue.Settings) error {
	if err := settings.Validate(); err != nil {
		return err
	}
	if err := s.store.SetWaitingRoom(ctx, id, settings); err != nil {
		return err
	}
	s.cache.Forget(id)
	if s.rooms == nil {
		return nil
	}
	// The store has the settings, numbered. Handing them to the live room
	// is only quicker than its leader, which hands the store's settings to
	// the room every queue.SupplyEvery; the room takes no older settings
	// than it has, so two admins racing leave it with the store's last.
	if c, err := s.store.Concert(ctx, id); err != nil {
		s.log.Warn("read back waiting room settings", "concert", id, "err", err)
	} else if err := s.rooms.Configure(ctx, c.Room()); err != nil {
		s.log.Warn("hand waiting room settings to the room", "concert", id, "err", err)
	}
	return nil
}

// Concert returns the concert, read through the cache: its waiting room
// settings and SoldOut may be the cache's age old. Errors: NOT_FOUND.
func (s *Service) Concert(ctx context.Context, id string) (Concert, error) {
	return s.cache.Concert(ctx, id)
}

// Concerts lists every concert as Store.Concerts does.
func (s *Service) Concerts(ctx context.Context) ([]Concert, error) {
	return s.store.Concerts(ctx)
}

// Dates lists the concert's bookable dates as Store.Dates does.
// Errors: NOT_FOUND.
func (s *Service) Dates(ctx context.Context, concertID string, now time.Time) ([]Date, error) {
	return s.store.Dates(ctx, concertID, now)
}

// Seats returns one date's seats as Store.Seats does; callers must not
// modify the slice. Errors: NOT_FOUND.
func (s *Service) Seats(ctx context.Context, concertID, day string, now time.Time) ([]Seat, error) {
	return s.store.Seats(ctx, concertID, day, now)
}
