package queue

import (
	"context"
	"time"
)

// Journal keeps, in the database, enough of every waiting room to build it
// again in a Store that lost it (a Redis restarted with nothing kept): each
// place with its order key, which places were admitted, which ended, and
// the draw. It is written before a fan is answered, so a place a fan was
// told of is never lost. Heartbeats and session extensions are not
// journaled: a rebuilt room gives every place a fresh heartbeat and every
// session a fresh SessionSeconds, since nobody could poll while the room
// was gone, within the session's absolute end, which follows from its
// admission instant.
type Journal interface {
	// Joined records places of concertID's room that Join answered. A
	// place already recorded is left as it is.
	Joined(ctx context.Context, concertID string, ps []Place) error

	// Admitted records that the places with seqs were admitted at at, the
	// first numbered first in the room's admission log and the others after
	// it in order.
	Admitted(ctx context.Context, concertID string, first int64, seqs []int64, at time.Time) error

	// Ended records that the places or sessions with seqs ended (left,
	// dropped for idleness, lapsed, or finished by payment).
	Ended(ctx context.Context, concertID string, seqs []int64) error

	// Drawn records the room's draw: user IDs in draw order and when it was
	// made. The first record stays; later ones change nothing.
	Drawn(ctx context.Context, concertID string, users []string, at time.Time) error

	// Load returns what the journal knows of the room; an empty Snapshot
	// for a room it never saw.
	Load(ctx context.Context, concertID string) (Snapshot, error)

	// Rooms lists the rooms that have live places or sessions.
	Rooms(ctx context.Context) ([]string, error)
}

// Place is one journaled ticket.
type Place struct {
	UserID   string
	Seq      int64
	Key      int64 // order key: DrawKey for a prequeue place, DrawSpan + Seq otherwise
	JoinedAt time.Time
	// Admitted is set once the place became a session, at AdmittedAt
	// (zero when not known).
	Admitted   bool
	AdmittedAt time.Time
}

// Snapshot is a journal's record of one room.
type Snapshot struct {
	// Seq is the highest seq the room ever gave; a rebuilt room numbers
	// new joins after it.
	Seq int64
	// Places are the room's live places and sessions, the latest ticket of
	// each user only.
	Places []Place
	// Drawn is set once the draw was made, at DrawnAt; Draw is its user
	// IDs in draw order.
	Drawn   bool
	DrawnAt time.Time
	Draw    []string
	// Log is the room's admission log in order, at most AdmissionLogLen
	// of the latest entries.
	Log []AdmissionRecord
	// Admitted is the number of admissions ever: the N of the last entry
	// of the log.
	Admitted int64
}

// Empty reports whether the journal never saw the room.
func (s Snapshot) Empty() bool { return s.Seq == 0 && !s.Drawn }
