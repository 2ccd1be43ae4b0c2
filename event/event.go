// Package event holds what Boxoffice tells the world about its sales: every
// change (a concert created, a balance charged, seats held, released or
// paid, …) is an Event written by the store in the same transaction as the
// change, into an outbox. After commit, one relay at a time numbers the
// outbox's events per concert in commit order, serves them to the admin
// feed and, when configured, publishes them to a message stream.
package event

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/boxoffice/boxoffice"
)

// Type names what happened. Each type's data is documented, with its JSON
// Schema, in docs/events.md.
type Type string

// The types of events.
const (
	ConcertCreated     Type = "ConcertCreated"
	WaitingRoomChanged Type = "WaitingRoomChanged"
	BalanceCharged     Type = "BalanceCharged"
	SeatsHeld          Type = "SeatsHeld"
	HoldReleased       Type = "HoldReleased"
	ReservationPaid    Type = "ReservationPaid"
	SoldOut            Type = "SoldOut"
	LotteryPublished   Type = "LotteryPublished"
)

// Types lists every type.
var Types = []Type{ConcertCreated, WaitingRoomChanged, BalanceCharged, SeatsHeld,
	HoldReleased, ReservationPaid, SoldOut, LotteryPublished}

// Valid reports whether t is one of Types.
func (t Type) Valid() bool {
	for _, v := range Types {
		if t == v {
			return true
		}
	}
	return false
}

// Why a hold was released (HoldReleased's reason).
const (
	Cancelled = "CANCELLED"  // the holder cancelled it
	LeftQueue = "LEFT_QUEUE" // the holder left the waiting room
	Lapsed    = "LAPSED"     // it lapsed; written when the sweeper tidies it
)

// Version is the version of every type's data this code writes. A change
// that is not a pure addition of fields makes a new version.
const Version = 1

// Event is one thing that happened.
type Event struct {
	ID        string    // a UUIDv7
	Type      Type      // what happened
	At        time.Time // when the change was made
	ConcertID string    // the concert it concerns; "" for none
	// Seq numbers the events of one concert (and, apart, those of no
	// concert) from 1 with no gap, in commit order. 0 until numbered.
	Seq int64
	// Position orders every numbered event of the store, in commit order
	// per concert; it is what a feed cursor names. 0 until numbered.
	Position int64
	Data     json.RawMessage // the type's data, a JSON object with "v"
}

// New returns an unnumbered event of type t about concertID ("" for none)
// at at, with a new id and data encoded as JSON.
func New(t Type, concertID string, at time.Time, data any) (Event, error) {
	b, err := json.Marshal(data)
	if err != nil {
		return Event{}, err
	}
	return Event{ID: boxoffice.NewID(), Type: t, At: at.UTC(), ConcertID: concertID, Data: b}, nil
}

// Subject is the event's subject on a message stream: prefix.<concertId or
// "none">.<type>.
func (e Event) Subject(prefix string) string {
	c := e.ConcertID
	if c == "" {
		c = "none"
	}
	return prefix + "." + c + "." + string(e.Type)
}

// JSON is the event as published and served by the feed:
// {"id","type","at","concertId" (or null),"seq","data"}.
type JSON struct {
	ID        string          `json:"id"`
	Type      Type            `json:"type"`
	At        time.Time       `json:"at"`
	ConcertID *string         `json:"concertId"`
	Seq       int64           `json:"seq"`
	Data      json.RawMessage `json:"data"`
}

// ToJSON is e as JSON describes it.
func (e Event) ToJSON() JSON {
	j := JSON{ID: e.ID, Type: e.Type, At: e.At.UTC(), Seq: e.Seq, Data: e.Data}
	if e.ConcertID != "" {
		j.ConcertID = &e.ConcertID
	}
	if j.Data == nil {
		j.Data = json.RawMessage("{}")
	}
	return j
}

// Event is the event j describes, without its Position.
func (j JSON) Event() Event {
	e := Event{ID: j.ID, Type: j.Type, At: j.At, Seq: j.Seq, Data: j.Data}
	if j.ConcertID != nil {
		e.ConcertID = *j.ConcertID
	}
	return e
}

// MarshalJSON encodes e as JSON describes.
func (e Event) MarshalJSON() ([]byte, error) { return json.Marshal(e.ToJSON()) }

// UnmarshalJSON decodes what MarshalJSON encodes. Position is not part of
// it.
func (e *Event) UnmarshalJSON(b []byte) error {
	var j JSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*e = j.Event()
	return nil
}

// Query selects a page of the feed.
type Query struct {
	After     int64  // only events past this position (a cursor); 0 from the start
	Limit     int    // at most this many, 1..MaxLimit
	ConcertID string // only this concert's events, when set
	Type      Type   // only events of this type, when set
}

// MaxLimit is the largest page of the feed.
const MaxLimit = 1000

// Cursor is the text form of a feed position.
func Cursor(position int64) string { return strconv.FormatInt(position, 10) }

// ParseCursor reads a Cursor; "" is the start of the feed.
// Errors: INVALID_REQUEST.
func ParseCursor(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, boxoffice.Errorf(boxoffice.CodeInvalidRequest, "cursor must be a value of nextCursor")
	}
	return n, nil
}

// Store is the outbox and feed of an SQL store. The changes themselves
// write their events into the outbox, in their own transactions.
type Store interface {
	// Append writes events whose change is not made by an SQL store (the
	// in-process waiting room's draw) into the outbox.
	Append(ctx context.Context, evs ...Event) error

	// Events returns up to q.Limit numbered events past q.After that match
	// q, oldest first. Errors: INVALID_REQUEST, UNAVAILABLE.
	Events(ctx context.Context, q Query) ([]Event, error)

	// Claim makes the caller the relay of the store's events until Release,
	// or returns nil when another relay, here or on another instance, is.
	Claim(ctx context.Context) (Claim, error)

	// Backlog measures the outbox.
	Backlog(ctx context.Context) (Backlog, error)
}

// Claim is the right, held by one relay at a time, to number, relay and
// trim the store's events. Its methods fail once the claim is lost (its
// database session ended); the relay then claims again.
type Claim interface {
	// Number gives up to limit events of the outbox, committed, their
	// per-concert Seq and their Position, in commit order per concert, and
	// returns how many it numbered. A concert whose last seat was sold in
	// an event it numbers gets its SoldOut event, numbered after it. With
	// an error that came after the numbering committed (the PostgreSQL
	// store's vacuum of its outbox), the count is still what it numbered.
	Number(ctx context.Context, limit int) (int, error)

	// Unrelayed returns up to limit numbered events not yet marked relayed,
	// by Position.
	Unrelayed(ctx context.Context, limit int) ([]Event, error)

	// Relayed marks every event up to position as relayed.
	Relayed(ctx context.Context, position int64) error

	// Trim deletes numbered events older than before; when relayed, only
	// those marked relayed. It returns how many it deleted.
	Trim(ctx context.Context, before time.Time, relayed bool) (int, error)

	// Release gives the claim up.
	Release()
}

// Backlog is the size of an outbox.
type Backlog struct {
	Unnumbered int64 // committed events waiting to be numbered
	Unrelayed  int64 // numbered events not yet marked relayed
	Kept       int64 // numbered events kept for the feed
	// OldestUnnumbered is the instant of the oldest event waiting to be
	// numbered, OldestUnrelayed of the oldest not yet relayed (numbered or
	// not); zero when none.
	OldestUnnumbered, OldestUnrelayed time.Time
}
