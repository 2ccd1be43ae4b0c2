package queue

import (
	"context"
	"log/slog"
	"time"

	"github.com/boxoffice/boxoffice"
)

// Service runs the waiting rooms on a Store: it answers fans and, in Run,
// drives admission. Any number of instances may run it on one shared Store;
// each room is admitted by whichever instance holds its lease.
type Service struct {
	store Store
	clock boxoffice.Clock
	owner string
	tick  time.Duration
	log   *slog.Logger

	// OnStep, if set, is called after every admission step this instance led.
	OnStep func(concertID string, a Admission)
}

// NewService returns a Service on store. owner names this instance in
// admission leases; tick is the admission step interval.
func NewService(store Store, clock boxoffice.Clock, owner string, tick time.Duration, log *slog.Logger) *Service {
	if tick <= 0 {
		tick = 100 * time.Millisecond
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: store, clock: clock, owner: owner, tick: tick, log: log}
}

// Join places userID in room, or returns the place or session the user
// already holds (created false).
func (s *Service) Join(ctx context.Context, room Room, userID string) (Status, bool, error) {
	return s.store.Join(ctx, room, userID, s.clock.Now())
}

// Status returns t's standing and keeps a waiting place alive.
func (s *Service) Status(ctx context.Context, t Ticket) (Status, error) {
	return s.store.Status(ctx, t, s.clock.Now())
}

// Use checks that t is an admitted live session and extends it.
// Errors: QUEUE_TOKEN_EXPIRED, NOT_ADMITTED (with Position).
func (s *Service) Use(ctx context.Context, t Ticket) (Status, error) {
	return s.store.Use(ctx, t, s.clock.Now())
}

// Leave ends t's place or session at once.
func (s *Service) Leave(ctx context.Context, t Ticket) error {
	return s.store.Leave(ctx, t, s.clock.Now())
}

// Configure replaces a room's settings while it runs.
func (s *Service) Configure(ctx context.Context, room Room) error {
	if err := room.Settings.Validate(); err != nil {
		return err
	}
	return s.store.Configure(ctx, room)
}

// Stats describes a room now.
func (s *Service) Stats(ctx context.Context, concertID string) (Stats, error) {
	return s.store.Stats(ctx, concertID, s.clock.Now())
}

// Rooms lists the rooms that have places or sessions.
func (s *Service) Rooms(ctx context.Context) ([]string, error) { return s.store.Rooms(ctx) }

// Now is the service's clock.
func (s *Service) Now() time.Time { return s.clock.Now() }

// Run drives admission every tick until ctx ends. A room's lease lasts a few
// ticks, so when its leader stops another instance takes over within them.
func (s *Service) Run(ctx context.Context) error {
	t := time.NewTicker(s.tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			s.Step(ctx)
		}
	}
}

// Step runs one admission step on every room.
func (s *Service) Step(ctx context.Context) {
	rooms, err := s.store.Rooms(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("list waiting rooms", "err", err)
		}
		return
	}
	for _, id := range rooms {
		a, err := s.store.Admit(ctx, id, s.owner, 5*s.tick, s.clock.Now())
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("admission step", "concert", id, "err", err)
			}
			continue
		}
		if a.Leader && s.OnStep != nil {
			s.OnStep(id, a)
		}
	}
}
