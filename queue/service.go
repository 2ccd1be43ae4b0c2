package queue

import (
	"context"
	"crypto/rand"
	"log/slog"
	"sync"
	"time"

	"github.com/boxoffice/boxoffice"
)

// SupplyEvery is how often at most a Service reports a room's supply to
// the store, for each room it leads.
const SupplyEvery = 250 * time.Millisecond

// Service runs the waiting rooms on a Store: it answers fans and, in Run,
// drives admission. Any number of instances may run it on one shared Store;
// each room is admitted by whichever instance holds its lease.
type Service struct {
	store  Store
	clock  boxoffice.Clock
	owner  string
	tick   time.Duration
	log    *slog.Logger
	seed   func(concertID string) []byte
	supply func(ctx context.Context, concertID string) (Supply, error)

	// Lease is how long an admission lease taken by Step lasts; NewService
	// sets five ticks, so that when a leader stops another instance takes
	// over within them.
	Lease time.Duration

	// OnStep, if set, is called after every admission step this instance led.
	OnStep func(concertID string, a Admission)

	mu    sync.Mutex
	rooms map[string]*led
}

// led is what a Service remembers of a room between steps.
type led struct {
	leader   bool
	reported time.Time // when supply was last reported
}

// NewService returns a Service on store. owner names this instance in
// admission leases; tick is the admission step interval. seed gives each
// concert's draw seed and must give the same on every instance (nil: a
// random seed per Service, fit for one instance only). supply tells what a
// concert has left to sell (nil: rooms never pause).
func NewService(store Store, clock boxoffice.Clock, owner string, tick time.Duration, log *slog.Logger,
	seed func(concertID string) []byte, supply func(ctx context.Context, concertID string) (Supply, error)) *Service {
	if tick <= 0 {
		tick = 100 * time.Millisecond
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if seed == nil {
		secret := make([]byte, 32)
		_, _ = rand.Read(secret)
		seed = func(concertID string) []byte { return hmacSHA256(secret, concertID) }
	}
	return &Service{store: store, clock: clock, owner: owner, tick: tick, log: log, seed: seed, supply: supply,
		Lease: 5 * tick, rooms: make(map[string]*led)}
}

// Join places userID in room, or returns the place or session the user
// already holds (created false). Errors: SOLD_OUT.
func (s *Service) Join(ctx context.Context, room Room, userID string) (Status, bool, error) {
	room.Seed = s.seed(room.ConcertID)
	return s.store.Join(ctx, room, userID, s.clock.Now())
}

// Status returns t's standing and keeps a waiting place alive.
func (s *Service) Status(ctx context.Context, t Ticket) (Status, error) {
	return s.store.Status(ctx, t, s.clock.Now())
}

// Statuses is Status for many tickets of one room. Errors: NOT_FOUND.
func (s *Service) Statuses(ctx context.Context, concertID string, tickets []Ticket) ([]Status, error) {
	return s.store.Statuses(ctx, concertID, tickets, s.clock.Now())
}

// Use checks that t is an admitted live session and extends it.
// Errors: QUEUE_TOKEN_EXPIRED, NOT_ADMITTED (with Position), SOLD_OUT.
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

// Lottery returns the commitment to room's draw seed and, from the
// opening on, the seed itself (nil before).
func (s *Service) Lottery(room Room) (commitment string, seed []byte) {
	sd := s.seed(room.ConcertID)
	if s.clock.Now().Before(room.OpensAt) {
		return Commitment(sd), nil
	}
	return Commitment(sd), sd
}

// Draw returns the user IDs of the room's draw in order, nil before it is
// made, and when it was made. Errors: NOT_FOUND.
func (s *Service) Draw(ctx context.Context, concertID string) ([]string, time.Time, error) {
	return s.store.Draw(ctx, concertID)
}

// Admissions returns a page of the room's admission log. Errors: NOT_FOUND.
func (s *Service) Admissions(ctx context.Context, concertID string, from int64, limit int) ([]AdmissionRecord, error) {
	return s.store.Admissions(ctx, concertID, from, limit)
}

// Rooms lists the rooms that have places or sessions.
func (s *Service) Rooms(ctx context.Context) ([]string, error) { return s.store.Rooms(ctx) }

// Now is the service's clock.
func (s *Service) Now() time.Time { return s.clock.Now() }

// Run drives admission every tick until ctx ends.
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

// Step runs one admission step on every room. Before admitting a room that
// this instance led at its previous step, it reports the room's supply,
// at most every SupplyEvery.
func (s *Service) Step(ctx context.Context) {
	rooms, err := s.store.Rooms(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("list waiting rooms", "err", err)
		}
		return
	}
	s.forget(rooms)
	for _, id := range rooms {
		s.reportSupply(ctx, id)
		a, err := s.store.Admit(ctx, id, s.owner, s.Lease, s.clock.Now())
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("admission step", "concert", id, "err", err)
			}
			continue
		}
		s.mu.Lock()
		s.room(id).leader = a.Leader
		s.mu.Unlock()
		if a.Leader && s.OnStep != nil {
			s.OnStep(id, a)
		}
	}
}

// room returns what s remembers of a room; s.mu must be held.
func (s *Service) room(id string) *led {
	r := s.rooms[id]
	if r == nil {
		r = &led{}
		s.rooms[id] = r
	}
	return r
}

// forget drops what s remembers of rooms no longer listed.
func (s *Service) forget(listed []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.rooms) <= len(listed) {
		return
	}
	keep := make(map[string]bool, len(listed))
	for _, id := range listed {
		keep[id] = true
	}
	for id := range s.rooms {
		if !keep[id] {
			delete(s.rooms, id)
		}
	}
}

func (s *Service) reportSupply(ctx context.Context, id string) {
	if s.supply == nil {
		return
	}
	now := s.clock.Now()
	s.mu.Lock()
	r := s.room(id)
	due := r.leader && (r.reported.IsZero() || !now.Before(r.reported.Add(SupplyEvery)))
	if due {
		r.reported = now
	}
	s.mu.Unlock()
	if !due {
		return
	}
	sup, err := s.supply(ctx, id)
	if err == nil {
		err = s.store.SetSupply(ctx, id, sup, now)
	}
	if err != nil && ctx.Err() == nil {
		s.log.Warn("report supply", "concert", id, "err", err)
	}
}
