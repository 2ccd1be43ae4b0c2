package queue

import (
	"context"
	"errors"
	"time"

	"github.com/boxoffice/boxoffice"
)

// Record is what is kept of a waiting room once it has ended: what
// operators read of it afterwards.
type Record struct {
	// Stats are the room's at its end.
	Stats Stats
	// Draw is the room's draw in order, made at DrawnAt; nil when none
	// was made.
	Draw    []string
	DrawnAt time.Time
	// Log is the room's admission log in order, from the entry the
	// archive asked for (see Archive.End) on.
	Log []AdmissionRecord
}

// Archive keeps, in the database, the records of waiting rooms that have
// ended, and decides which caller ends a room: a room ends once, whatever
// the number of instances asking. There are two: in PostgreSQL and in
// SQLite.
type Archive interface {
	// Endable records that concertID's room may end from since on, or,
	// when since is zero, from now on: now on the archive's clock when
	// instances share one. A room recorded already keeps its instant.
	Endable(ctx context.Context, concertID string, since, now time.Time) error

	// End ends one room endable since grace before now or earlier, not
	// ended and not among skip, if there is one: it claims the room, so
	// that no other caller ends it meanwhile; calls record with the room
	// and the number of the first admission log entry it lacks; keeps what
	// record returns; and marks the room ended, all in one transaction. It
	// returns the room, or "" when none is due. An error of record leaves
	// the room as it was and is returned with the room.
	End(ctx context.Context, grace time.Duration, skip []string, now time.Time,
		record func(ctx context.Context, concertID string, logFrom int64) (Record, error)) (string, error)

	// Ended returns, in any order, those of concertIDs whose rooms have
	// ended.
	Ended(ctx context.Context, concertIDs []string) ([]string, error)

	// Stats, Draw and Admissions answer for an ended room as its Store
	// answered at the end. Errors: NOT_FOUND for a room that has not
	// ended.
	Stats(ctx context.Context, concertID string) (Stats, error)
	Draw(ctx context.Context, concertID string) (users []string, at time.Time, err error)
	Admissions(ctx context.Context, concertID string, from int64, limit int) ([]AdmissionRecord, error)
}

// DefaultGrace is how long a room stays in its store after it could end
// when no grace is configured.
const DefaultGrace = time.Hour

// ErrEnded is the cause of the NOT_FOUND error of a room that has ended.
var ErrEnded = errors.New("the waiting room has ended")

// EndedError is the NOT_FOUND error of a room that has ended.
func EndedError(concertID string) error {
	return &boxoffice.Error{Code: boxoffice.CodeNotFound, Message: "the waiting room of concert " + concertID + " has ended", Cause: ErrEnded}
}

// ended reports whether concertID's room has ended; always false without
// an Archive.
func (s *Service) ended(ctx context.Context, concertID string) (bool, error) {
	if s.Archive == nil {
		return false, nil
	}
	ids, err := s.Archive.Ended(ctx, []string{concertID})
	return len(ids) > 0, err
}

// RunEnds ends rooms, every interval, until ctx ends (see EndRooms).
func (s *Service) RunEnds(ctx context.Context, every time.Duration) {
	if s.Archive == nil {
		return
	}
	boxoffice.Every(ctx, every, func() {
		if _, err := s.EndRooms(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("end waiting rooms", "err", err)
		}
	})
}

// EndRooms ends the rooms that can no longer sell, Grace after they could
// first end, and returns them. A room can end once its concert's last date
// has started (Closes), or once nothing is left to sell (no seat available
// or held) and no admitted session is alive. Ending a room keeps its
// record in the Archive first, marks it ended there, then removes it from
// the store, so that an end cut short is finished by the next call, here
// or on another instance; a room the Archive has ended is never built
// again. Any number of instances may call it at once: the Archive gives
// each room to one of them.
func (s *Service) EndRooms(ctx context.Context) ([]string, error) {
	if s.Archive == nil {
		return nil, nil
	}
	ids, err := s.store.Kept(ctx)
	if err != nil {
		return nil, err
	}
	gone, err := s.Archive.Ended(ctx, ids)
	if err != nil {
		return nil, err
	}
	// Rooms the Archive has ended but the store still has: a removal that
	// failed, or a rebuild that raced the end.
	isGone := make(map[string]bool, len(gone))
	for _, id := range gone {
		isGone[id] = true
		if err := s.store.End(ctx, id); err != nil {
			return nil, err
		}
	}
	s.forgetEndable(ids)
	for _, id := range ids {
		if !isGone[id] {
			if err := s.observe(ctx, id); err != nil && ctx.Err() == nil {
				s.log.Warn("check whether a waiting room can end", "concert", id, "err", err)
			}
		}
	}
	var ended, skip []string
	for ctx.Err() == nil {
		id, err := s.Archive.End(ctx, s.Grace, skip, s.clock.Now(), s.record)
		switch {
		case err != nil && id == "":
			return ended, err
		case err != nil:
			s.log.Warn("archive waiting room", "concert", id, "err", err)
			skip = append(skip, id)
			continue
		case id == "":
			if s.OnEnds != nil {
				s.OnEnds(ended, len(ids)-len(gone)-len(ended))
			}
			return ended, nil
		}
		// Kept and marked: the store's copy is all that is left. A
		// removal that fails is done again by the next call.
		if err := s.store.End(ctx, id); err != nil {
			s.log.Warn("remove ended waiting room", "concert", id, "err", err)
		}
		s.mu.Lock()
		delete(s.endable, id)
		s.mu.Unlock()
		ended = append(ended, id)
	}
	return ended, ctx.Err()
}

// observe records in the Archive that concertID's room can end, if it
// can and that is not recorded yet.
func (s *Service) observe(ctx context.Context, concertID string) error {
	s.mu.Lock()
	known := s.endable[concertID]
	s.mu.Unlock()
	if known {
		return nil
	}
	now := s.clock.Now()
	var since time.Time
	can := false
	if s.Closes != nil {
		closes, err := s.Closes(ctx, concertID)
		switch {
		case missing(err):
		case err != nil:
			return err
		case !closes.IsZero() && !now.Before(closes):
			since, can = closes, true
		}
	}
	if !can && s.supply != nil {
		sup, err := s.supply(ctx, concertID)
		if err != nil {
			return err
		}
		if !sup.Available && !sup.Held {
			st, err := s.store.Stats(ctx, concertID, now)
			if err != nil {
				return err
			}
			can = st.Active == 0
		}
	}
	if !can {
		return nil
	}
	if err := s.Archive.Endable(ctx, concertID, since, now); err != nil {
		return err
	}
	s.mu.Lock()
	s.endable[concertID] = true
	s.mu.Unlock()
	return nil
}

// forgetEndable drops what s remembers of rooms the store no longer has.
func (s *Service) forgetEndable(kept []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.endable) == 0 {
		return
	}
	keep := make(map[string]bool, len(kept))
	for _, id := range kept {
		keep[id] = true
	}
	for id := range s.endable {
		if !keep[id] {
			delete(s.endable, id)
		}
	}
}

// record reads what the Archive keeps of a room from the store: its stats
// now, its draw and its admission log from logFrom on. A room the store
// has lost and cannot rebuild leaves an empty record: it answered as
// unknown already.
func (s *Service) record(ctx context.Context, concertID string, logFrom int64) (Record, error) {
	now := s.clock.Now()
	st, err := rebuilt(s, ctx, concertID, func() (Stats, error) { return s.store.Stats(ctx, concertID, now) })
	if missing(err) {
		return Record{}, nil
	}
	if err != nil {
		return Record{}, err
	}
	rec := Record{Stats: st}
	if rec.Draw, rec.DrawnAt, err = s.store.Draw(ctx, concertID); err != nil {
		return Record{}, err
	}
	for from := max(logFrom, 1); ; {
		page, err := s.store.Admissions(ctx, concertID, from, MaxAdmissionsPage)
		if err != nil {
			return Record{}, err
		}
		rec.Log = append(rec.Log, page...)
		if len(page) < MaxAdmissionsPage {
			return rec, nil
		}
		from = page[len(page)-1].N + 1
	}
}
