package queue

import (
	"context"
	"crypto/rand"
	"errors"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/batch"
)

// SupplyEvery is how often at most a Service reports a room's supply to
// the store, for each room it leads where fans waited at its last step;
// SupplyIdleEvery for one where nobody did. A room nobody waits in admits
// nobody, so its supply matters only to its stats and to a fan who joins
// it: a newcomer is admitted by at most one step on a report up to
// SupplyIdleEvery old (the server refuses joins of a sold-out concert
// itself, from the concert's record), and the rooms of an on-sale whose
// fans are all admitted stop reading their concert's seats four times a
// second.
const (
	SupplyEvery     = 250 * time.Millisecond
	SupplyIdleEvery = 2 * time.Second
)

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

	// Journal, if set, records every room so that a room the store loses is
	// rebuilt (see Restore); RoomOf then tells a room's current definition.
	// Both are set before the service is used.
	Journal Journal
	RoomOf  func(ctx context.Context, concertID string) (Room, error)

	// Archive, if set, keeps the rooms that EndRooms ends, and answers
	// for them afterwards; a room it has ended is never built again.
	// Closes tells when a concert's last date starts (zero: unknown);
	// Grace is how long after a room could first end it is ended. OnEnds,
	// if set, is told after each EndRooms of the rooms it ended and of the
	// number of rooms the store keeps still. All are set before the
	// service is used.
	Archive Archive
	Closes  func(ctx context.Context, concertID string) (time.Time, error)
	Grace   time.Duration
	OnEnds  func(ended []string, kept int)

	joins    *batch.Group[lane, joinReq, Joined]
	leaves   *batch.Group[string, Ticket, struct{}]
	rebuilds *batch.Group[string, *Room, struct{}]
	checked  time.Time // when Step last asked the journal for rooms

	mu    sync.Mutex
	rooms map[string]*led
	// endable are the rooms the Archive knows can end.
	endable map[string]bool
}

// led is what a Service remembers of a room between steps.
type led struct {
	leader   bool
	waiting  bool      // fans waited at the last step this instance led
	reported time.Time // when supply was last reported
	// unsaved is the journal records of steps that could not be written;
	// the room admits nobody until they are.
	unsaved []Admission
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
	s := &Service{store: store, clock: clock, owner: owner, tick: tick, log: log, seed: seed, supply: supply,
		Lease: 5 * tick, rooms: make(map[string]*led), endable: make(map[string]bool), Grace: DefaultGrace}
	s.rebuilds = batch.New(1<<20, rebuildTimeout, s.runRebuild)
	s.joins = batch.New(joinBatch, joinTimeout, s.runJoins)
	s.leaves = batch.New(joinBatch, joinTimeout, s.runLeaves)
	return s
}

// joinBatch bounds the joins, or the leaves, one store call and journal
// write serve; joinTimeout bounds the call.
const (
	joinBatch   = 128
	joinTimeout = 5 * time.Second
)

// joinLanes is how many batches of one room's joins may be in flight at
// once. A batch makes its store call, then its journal write, before it
// answers; with one lane a room's next batch would wait for both, and a
// busy room's joins would be bounded by that round trip and not by the
// work. A user's joins all go through one lane, in arrival order.
const joinLanes = 4

// lane is a room's lane of joins.
type lane struct {
	concertID string
	n         uint8
}

// JoinLane is the lane, 0 to joinLanes-1, of userID's joins of any room.
func JoinLane(userID string) int {
	h := fnv.New32a()
	h.Write([]byte(userID))
	return int(h.Sum32() % joinLanes)
}

// rebuildTimeout bounds the rebuilding of one room. Its claim lasts
// rebuildLease from its last write, so that an instance that dies while
// rebuilding holds the room up for seconds only. A request waits up to
// rebuildWait, polling every rebuildPoll, for another instance to finish
// rebuilding it.
const (
	rebuildTimeout = time.Minute
	rebuildLease   = 10 * time.Second
	rebuildWait    = 2 * time.Second
	rebuildPoll    = 20 * time.Millisecond
)

// Join places userID in room, or returns the place or session the user
// already holds (created false). Concurrent joins of one lane of a room
// (joinLanes) are one store call and, with a Journal, one journal write,
// made before any of them is answered; if the write fails, the new places are taken back.
// Errors: SOLD_OUT; UNAVAILABLE.
func (s *Service) Join(ctx context.Context, room Room, userID string) (Status, bool, error) {
	room.Seed = s.seed(room.ConcertID)
	j, err := s.joins.Do(ctx, lane{room.ConcertID, uint8(JoinLane(userID))}, joinReq{room: room, userID: userID})
	var abandoned *batch.AbandonedError
	switch {
	case errors.As(err, &abandoned) && !errors.Is(err, context.Canceled):
		// The request's deadline passed while it waited for its call.
		if abandoned.Called {
			return Status{}, false, boxoffice.OutcomeUnknown("waiting room", err)
		}
		return Status{}, false, boxoffice.Unavailable("waiting room", err)
	case err != nil:
		return Status{}, false, err
	}
	return j.Status, j.Created, j.Err
}

// joinReq is a request of Join: the room as its caller knows it.
type joinReq struct {
	room   Room
	userID string
}

// runJoins makes the joins of reqs, all of one lane of a room, building
// the room first if the store does not have it.
func (s *Service) runJoins(ctx context.Context, l lane, reqs []joinReq) ([]Joined, error) {
	concertID, room := l.concertID, reqs[0].room
	users := make([]string, len(reqs))
	for i, r := range reqs {
		users[i] = r.userID
	}
	now := s.clock.Now()
	js, err := s.store.Join(ctx, room, users, now)
	if missing(err) {
		if err = s.rebuild(ctx, concertID, &room); err == nil {
			js, err = s.store.Join(ctx, room, users, now)
		}
	}
	if errors.Is(err, ErrEnded) {
		// An ended room sells nothing more.
		js = make([]Joined, len(users))
		for i := range js {
			js[i].Err = SoldOutError()
		}
		return js, nil
	}
	if err != nil || s.Journal == nil {
		return js, err
	}
	places := make([]Place, 0, len(js))
	for _, j := range js {
		switch {
		case j.Err != nil:
		case j.State == Waiting, j.State == Prequeue, j.State == Admitted:
			places = append(places, Place{UserID: j.UserID, Seq: j.Seq, Key: j.Key, JoinedAt: now, Admitted: j.State == Admitted})
		}
	}
	if len(places) == 0 {
		return js, nil
	}
	if err := s.Journal.Joined(ctx, concertID, places); err != nil {
		var created []Ticket
		for _, j := range js {
			if j.Created {
				created = append(created, j.Ticket)
			}
		}
		if len(created) > 0 {
			if lerr := s.store.Leave(context.WithoutCancel(ctx), concertID, created, now); lerr != nil {
				s.log.Warn("take back unrecorded places", "concert", concertID, "places", len(created), "err", lerr)
			}
		}
		return nil, err
	}
	return js, nil
}

// Status returns t's standing and keeps a waiting place alive.
func (s *Service) Status(ctx context.Context, t Ticket) (Status, error) {
	return rebuilt(s, ctx, t.ConcertID, func() (Status, error) { return s.store.Status(ctx, t, s.clock.Now()) })
}

// Statuses is Status for many tickets of one room. Errors: NOT_FOUND.
func (s *Service) Statuses(ctx context.Context, concertID string, tickets []Ticket) ([]Status, error) {
	return rebuilt(s, ctx, concertID, func() ([]Status, error) {
		return s.store.Statuses(ctx, concertID, tickets, s.clock.Now())
	})
}

// Use checks that t is an admitted live session and extends it; the
// answer's SessionEndsAt is the session's absolute end, which nothing the
// session holds should outlive. Errors: QUEUE_TOKEN_EXPIRED, NOT_ADMITTED
// (with Position), SOLD_OUT.
func (s *Service) Use(ctx context.Context, t Ticket) (Status, error) {
	st, err := rebuilt(s, ctx, t.ConcertID, func() (Status, error) { return s.store.Use(ctx, t, s.clock.Now()) })
	if missing(err) {
		// No room, and none to rebuild: no session either.
		err = SessionEndedError()
	}
	return st, err
}

// Leave ends t's place or session at once; with a Journal, it is recorded
// first, so that a rebuilt room never brings it back. Concurrent leaves of
// one room are one journal write and then one store call, made before any
// of them is answered. Errors: UNAVAILABLE; OUTCOME_UNKNOWN when the
// request gave up while its batch was written.
func (s *Service) Leave(ctx context.Context, t Ticket) error {
	_, err := s.leaves.Do(ctx, t.ConcertID, t)
	var abandoned *batch.AbandonedError
	if errors.As(err, &abandoned) && !errors.Is(err, context.Canceled) {
		if abandoned.Called {
			return boxoffice.OutcomeUnknown("waiting room", err)
		}
		return boxoffice.Unavailable("waiting room", err)
	}
	return err
}

// runLeaves ends the tickets of reqs, all of one room: the journal first,
// in one row, then the store, in one call. A journal that fails fails them
// all, with nothing ended.
func (s *Service) runLeaves(ctx context.Context, concertID string, reqs []Ticket) ([]struct{}, error) {
	if s.Journal != nil {
		seqs := make([]int64, len(reqs))
		for i, t := range reqs {
			seqs[i] = t.Seq
		}
		if err := s.Journal.Ended(ctx, concertID, seqs); err != nil {
			return nil, err
		}
	}
	if err := s.store.Leave(ctx, concertID, reqs, s.clock.Now()); err != nil {
		return nil, err
	}
	return make([]struct{}, len(reqs)), nil
}

// Configure replaces a room's settings while it runs. A room the store
// does not have takes them when it is built.
func (s *Service) Configure(ctx context.Context, room Room) error {
	if err := room.Settings.Validate(); err != nil {
		return err
	}
	return s.store.Configure(ctx, room)
}

// Stats describes a room now.
func (s *Service) Stats(ctx context.Context, concertID string) (Stats, error) {
	st, err := rebuilt(s, ctx, concertID, func() (Stats, error) { return s.store.Stats(ctx, concertID, s.clock.Now()) })
	if s.archived(err) {
		return s.Archive.Stats(ctx, concertID)
	}
	return st, err
}

// rebuilt runs call, a store call about concertID's room; if the store
// lacks the room, it rebuilds it and runs call again. When there is
// nothing to rebuild, the rebuild's NOT_FOUND is returned (EndedError for a
// room that has ended); so is any other error of the rebuild.
func rebuilt[T any](s *Service, ctx context.Context, concertID string, call func() (T, error)) (T, error) {
	v, err := call()
	if !missing(err) {
		return v, err
	}
	if rerr := s.rebuild(ctx, concertID, nil); rerr != nil {
		if missing(rerr) {
			return v, rerr // the room's, or its end's
		}
		var zero T
		return zero, rerr
	}
	return call()
}

// archived reports whether err, the NOT_FOUND of a room the store does
// not have, may be that of a room the Archive keeps: the rebuild found it
// ended, or there was no rebuild to ask.
func (s *Service) archived(err error) bool {
	if s.Archive == nil || !missing(err) {
		return false
	}
	return errors.Is(err, ErrEnded) || s.Journal == nil || s.RoomOf == nil
}

// missing reports whether err is the store's NOT_FOUND of a room it does
// not have.
func missing(err error) bool { return boxoffice.ErrorCode(err) == boxoffice.CodeNotFound }

// rebuild makes the store have concertID's room again, from the journal:
// with room's definition when given, else with RoomOf's. Concurrent calls
// for one room share one rebuild. Errors: NOT_FOUND when there is nothing
// to build (no journal and no definition, or a room the journal never
// saw); UNAVAILABLE while another instance rebuilds it.
func (s *Service) rebuild(ctx context.Context, concertID string, room *Room) error {
	if room == nil && (s.Journal == nil || s.RoomOf == nil) {
		return NoRoomError(concertID)
	}
	_, err := s.rebuilds.Do(ctx, concertID, room)
	return err
}

func (s *Service) runRebuild(ctx context.Context, concertID string, rooms []*Room) ([]struct{}, error) {
	var room *Room
	for _, r := range rooms {
		if r != nil {
			room = r
			break
		}
	}
	load := func(ctx context.Context) (Snapshot, error) {
		if s.Journal == nil {
			return Snapshot{}, nil
		}
		snap, err := s.Journal.Load(ctx, concertID)
		if err == nil && room == nil && snap.Empty() {
			err = NoRoomError(concertID)
		}
		return snap, err
	}
	if room == nil {
		r, err := s.RoomOf(ctx, concertID)
		if err != nil {
			return nil, err
		}
		room = &r
	}
	r := *room
	r.Seed = s.seed(concertID)
	// An ended room stays ended: checked before building it, and again
	// after, in case it ended meanwhile (its end then removed the store's
	// room before the build, or this removes the build).
	if ended, err := s.ended(ctx, concertID); err != nil || ended {
		return nil, cmpOr(err, EndedError(concertID))
	}
	// Another instance rebuilding the room is usually done within
	// milliseconds: wait for it a little before answering UNAVAILABLE.
	for wait := time.Duration(0); ; wait += rebuildPoll {
		err := s.store.Restore(ctx, r, load, s.owner, rebuildLease, s.clock.Now())
		if err == nil {
			break
		}
		if !errors.Is(err, ErrRebuilding) || wait >= rebuildWait {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(rebuildPoll):
		}
	}
	if ended, err := s.ended(ctx, concertID); err != nil || ended {
		if ended {
			if err := s.store.End(ctx, concertID); err != nil {
				return nil, err
			}
		}
		return nil, cmpOr(err, EndedError(concertID))
	}
	if s.supply != nil {
		if sup, err := s.supply(ctx, concertID); err == nil {
			_ = s.store.SetSupply(ctx, concertID, sup, s.clock.Now())
		}
	}
	return make([]struct{}, len(rooms)), nil
}

// Lottery returns the commitment to room's draw seed and, once the draw
// is made (drawn, as Stats or Draw tell), the seed itself (nil before).
// The store's draw decides, not this instance's clock: until the draw is
// frozen, the seed could tell a fan whether to join.
func (s *Service) Lottery(room Room, drawn bool) (commitment string, seed []byte) {
	sd := s.seed(room.ConcertID)
	if !drawn {
		return Commitment(sd), nil
	}
	return Commitment(sd), sd
}

// Draw returns the user IDs of the room's draw in order, nil before it is
// made, and when it was made. Errors: NOT_FOUND.
func (s *Service) Draw(ctx context.Context, concertID string) ([]string, time.Time, error) {
	type draw struct {
		users []string
		at    time.Time
	}
	d, err := rebuilt(s, ctx, concertID, func() (draw, error) {
		users, at, err := s.store.Draw(ctx, concertID)
		return draw{users, at}, err
	})
	if s.archived(err) {
		return s.Archive.Draw(ctx, concertID)
	}
	return d.users, d.at, err
}

// Admissions returns a page of the room's admission log. Errors: NOT_FOUND.
func (s *Service) Admissions(ctx context.Context, concertID string, from int64, limit int) ([]AdmissionRecord, error) {
	recs, err := rebuilt(s, ctx, concertID, func() ([]AdmissionRecord, error) {
		return s.store.Admissions(ctx, concertID, from, limit)
	})
	if s.archived(err) {
		return s.Archive.Admissions(ctx, concertID, from, limit)
	}
	return recs, err
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
// this instance led at its previous step, it refreshes the room's supply
// and settings, at most every SupplyEvery.
func (s *Service) Step(ctx context.Context) {
	rooms, err := s.store.Rooms(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("list waiting rooms", "err", err)
		}
		return
	}
	rooms = s.lost(ctx, rooms)
	s.forget(rooms)
	for _, id := range rooms {
		if !s.save(ctx, id, nil) {
			continue
		}
		s.refresh(ctx, id)
		start := time.Now()
		a, err := s.store.Admit(ctx, id, s.owner, s.Lease, s.clock.Now())
		a.Took = time.Since(start)
		if missing(err) {
			err = s.rebuild(ctx, id, nil)
		}
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("admission step", "concert", id, "err", err)
			}
			continue
		}
		s.mu.Lock()
		r := s.room(id)
		r.leader, r.waiting = a.Leader, a.Waiting > 0
		s.mu.Unlock()
		if !a.Leader {
			continue
		}
		s.save(ctx, id, &a)
		if s.OnStep != nil {
			s.OnStep(id, a)
		}
	}
}

// RebuildEvery is how often at most Step asks the journal for rooms while
// the store has none: a store that lost every room (an empty Redis) has
// them back within it, even if no fan asks.
const RebuildEvery = time.Second

// lost adds to rooms, the store's, the journal's live rooms when the store
// lists none, rebuilding them.
func (s *Service) lost(ctx context.Context, rooms []string) []string {
	if len(rooms) > 0 || s.Journal == nil || s.RoomOf == nil {
		return rooms
	}
	now := s.clock.Now()
	if !s.checked.IsZero() && now.Before(s.checked.Add(RebuildEvery)) && !now.Before(s.checked) {
		return rooms
	}
	s.checked = now
	ids, err := s.Journal.Rooms(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("list journaled waiting rooms", "err", err)
		}
		return rooms
	}
	for _, id := range ids {
		if err := s.rebuild(ctx, id, nil); err != nil {
			if ctx.Err() == nil {
				s.log.Warn("rebuild waiting room", "concert", id, "err", err)
			}
			continue
		}
		rooms = append(rooms, id)
	}
	return rooms
}

// save writes to the journal what a step did (a, if not nil) after what
// earlier steps could not write, and reports whether the journal is
// complete: a room whose steps are not all written admits nobody, so that
// a room rebuilt from the journal never admits a fan twice.
func (s *Service) save(ctx context.Context, id string, a *Admission) bool {
	if s.Journal == nil {
		return true
	}
	s.mu.Lock()
	r := s.room(id)
	todo := r.unsaved
	if a != nil && (len(a.Seqs) > 0 || len(a.Gone) > 0 || a.Drew) {
		todo = append(todo, *a)
	}
	r.unsaved = nil
	s.mu.Unlock()
	for i, a := range todo {
		if err := s.write(ctx, id, a); err != nil {
			if ctx.Err() == nil {
				s.log.Warn("journal admission step", "concert", id, "err", err)
			}
			s.mu.Lock()
			r.unsaved = append(todo[i:len(todo):len(todo)], r.unsaved...)
			s.mu.Unlock()
			return false
		}
	}
	return true
}

func (s *Service) write(ctx context.Context, id string, a Admission) error {
	if len(a.Gone) > 0 {
		if err := s.Journal.Ended(ctx, id, a.Gone); err != nil {
			return err
		}
	}
	if len(a.Seqs) > 0 {
		if err := s.Journal.Admitted(ctx, id, a.First, a.Seqs, a.At); err != nil {
			return err
		}
	}
	if a.Drew {
		users, at, err := s.store.Draw(ctx, id)
		if err != nil {
			return err
		}
		if users != nil {
			return s.Journal.Drawn(ctx, id, users, at)
		}
	}
	return nil
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
	for id, r := range s.rooms {
		if !keep[id] && len(r.unsaved) == 0 {
			delete(s.rooms, id)
		}
	}
}

// refresh reports the room's supply and hands the room its current
// definition (RoomOf's: a change that reached the database but not the
// store gets there this way), if this instance led the room at its
// previous step and SupplyEvery has passed since the last refresh
// (SupplyIdleEvery if nobody waited at that step).
func (s *Service) refresh(ctx context.Context, id string) {
	if s.supply == nil && s.RoomOf == nil {
		return
	}
	now := s.clock.Now()
	s.mu.Lock()
	r := s.room(id)
	every := SupplyEvery
	if !r.waiting {
		every = SupplyIdleEvery
	}
	due := r.leader && (r.reported.IsZero() || !now.Before(r.reported.Add(every)))
	if due {
		r.reported = now
	}
	s.mu.Unlock()
	if !due {
		return
	}
	if s.supply != nil {
		sup, err := s.supply(ctx, id)
		if err == nil {
			err = s.store.SetSupply(ctx, id, sup, now)
		}
		if err != nil && ctx.Err() == nil {
			s.log.Warn("report supply", "concert", id, "err", err)
		}
	}
	if s.RoomOf != nil {
		room, err := s.RoomOf(ctx, id)
		if err == nil {
			err = s.store.Configure(ctx, room)
		}
		if err != nil && ctx.Err() == nil {
			s.log.Warn("refresh waiting room settings", "concert", id, "err", err)
		}
	}
}

// Place returns the live place or session userID holds in the room of
// concertID and true, or false when the user holds none (nor does the
// room exist). Errors: SOLD_OUT for a waiting place in a sold-out room, as
// Join; UNAVAILABLE.
func (s *Service) Place(ctx context.Context, concertID, userID string) (Status, bool, error) {
	st, err := rebuilt(s, ctx, concertID, func() (Status, error) {
		return s.store.Place(ctx, concertID, userID, s.clock.Now())
	})
	switch {
	case missing(err):
		return Status{}, false, nil
	case err != nil:
		return Status{}, false, err
	case st.State == SoldOut:
		return Status{}, false, SoldOutError()
	}
	return st, st.State != Expired, nil
}

// Time returns the instant the room of concertID is decided at now: the
// store's clock when instances share one, else the service's.
func (s *Service) Time(ctx context.Context, concertID string) (time.Time, error) {
	return s.store.Time(ctx, concertID, s.clock.Now())
}

// JoinProven is Join in a room that asks for a proof of work, with proof,
// the name of a proof the caller verified, whose challenge expires at
// expires. The proof is spent first, once for every instance; then the
// place is taken. A join refused with nothing changed (UNAVAILABLE,
// SOLD_OUT) gives the proof back, so that the fan may try again with it;
// one whose outcome is unknown keeps it spent, since the place may exist
// (and a user with a place needs no proof). A proof used already is
// accepted from a user who holds a place or session, which is returned:
// a retry whose first answer was lost. Errors: PROOF_INVALID when the
// proof is used already or expired; those of Join.
func (s *Service) JoinProven(ctx context.Context, room Room, userID, proof string, expires time.Time) (Status, bool, error) {
	err := s.store.Spend(ctx, room.ConcertID, proof, expires, s.clock.Now())
	if boxoffice.ErrorCode(err) == boxoffice.CodeProofInvalid {
		if st, ok, perr := s.Place(ctx, room.ConcertID, userID); perr == nil && ok {
			return st, false, nil
		}
		return Status{}, false, err
	}
	if err != nil {
		return Status{}, false, err
	}
	st, created, err := s.Join(ctx, room, userID)
	switch boxoffice.ErrorCode(err) {
	case boxoffice.CodeUnavailable, boxoffice.CodeSoldOut:
		if uerr := s.store.Unspend(context.WithoutCancel(ctx), room.ConcertID, proof); uerr != nil {
			s.log.Warn("give back a proof of work", "concert", room.ConcertID, "err", uerr)
		}
	}
	return st, created, err
}

// cmpOr returns err if it is not nil, else alt.
func cmpOr(err, alt error) error {
	if err != nil {
		return err
	}
	return alt
}
