// Package concert describes concerts, their dates and their seats, and the
// rules that make a concert well-formed.
package concert

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/queue"
)

// SeatsPerDate is the number of seats of every date, numbered 1..SeatsPerDate.
const SeatsPerDate = 50

// Limits of a concert's settings.
const (
	MaxDates        = 366
	MaxHoldSeconds  = 3600
	MaxTitleLen     = boxoffice.MaxTextLen
	MaxGrades       = SeatsPerDate
	MaxPrice        = 100_000_000
	DefaultHold     = 300
	DefaultMaxSeats = 4
)

// DayLayout is the layout of a Day.
const DayLayout = "2006-01-02"

// SeatStatus is a seat's state as seen by everyone.
type SeatStatus string

// Seat states.
const (
	Available SeatStatus = "AVAILABLE"
	Held      SeatStatus = "HELD"
	Sold      SeatStatus = "SOLD"
)

// StatusAt is the state a seat shows at now: a hold whose expiry has come is
// Available from that instant, whether or not any row was tidied.
func StatusAt(stored SeatStatus, holdExpiresAt, now time.Time) SeatStatus {
	if stored == Held && !now.Before(holdExpiresAt) {
		return Available
	}
	return stored
}

// Grade is a priced block of seats First..Last.
type Grade struct {
	Name        string
	First, Last int
	Price       boxoffice.Money
}

// Date is one performance. Day is its calendar date at the venue
// (DayLayout), which identifies it within the concert.
type Date struct {
	Day      string
	StartsAt time.Time
	// AvailableSeats counts seats available at the time of reading; the
	// store fills it when listing dates.
	AvailableSeats int
}

// Seat is one seat of one date.
type Seat struct {
	Number int
	Grade  string
	Price  boxoffice.Money
	Status SeatStatus
}

// Concert is a show with its dates, seat grades and sale rules.
type Concert struct {
	ID              string
	Title           string
	Venue           string
	SalesOpenAt     time.Time
	HoldSeconds     int
	MaxSeatsPerUser int
	Grades          []Grade
	Dates           []Date
	WaitingRoom     queue.Settings
	// RoomVersion counts the changes of WaitingRoom: 1 at creation.
	RoomVersion int64
	CreatedAt   time.Time
	// SoldOut is true when every seat of every date is sold; the store
	// computes it when reading.
	SoldOut bool
}

// Hold is how long a hold lasts.
func (c Concert) Hold() time.Duration { return time.Duration(c.HoldSeconds) * time.Second }

// Room is the concert's waiting room.
func (c Concert) Room() queue.Room {
	return queue.Room{ConcertID: c.ID, OpensAt: c.SalesOpenAt, Settings: c.WaitingRoom, Version: c.RoomVersion}
}

// Seats returns the SeatsPerDate seats of a date, all Available, with the
// grade and price each has in c.
func (c Concert) Seats() []Seat {
	seats := make([]Seat, SeatsPerDate)
	for i := range seats {
		seats[i] = Seat{Number: i + 1, Status: Available}
	}
	for _, g := range c.Grades {
		for n := g.First; n <= g.Last; n++ {
			seats[n-1].Grade = g.Name
			seats[n-1].Price = g.Price
		}
	}
	return seats
}

// Date returns the date of c on day.
func (c Concert) Date(day string) (Date, bool) {
	for _, d := range c.Dates {
		if d.Day == day {
			return d, true
		}
	}
	return Date{}, false
}

// GradeSpec is a grade as an operator writes it: seats as "first-last".
type GradeSpec struct {
	Name  string
	Seats string
	Price boxoffice.Money
}

// Spec is what an operator asks for when creating a concert.
type Spec struct {
	Title       string
	Venue       string
	Dates       []time.Time // start of each performance, in the venue's offset
	Grades      []GradeSpec
	SalesOpenAt time.Time
	// HoldSeconds and MaxSeatsPerUser take their defaults when 0.
	HoldSeconds     int
	MaxSeatsPerUser int
	// WaitingRoom takes queue.DefaultSettings when nil; a MaxSessionSeconds
	// of 0 takes queue.DefaultMaxSessionSeconds.
	WaitingRoom *queue.Settings
}

// New checks spec and returns the concert it describes, with the given id.
// Errors: INVALID_REQUEST naming the first problem.
func New(id string, spec Spec, now time.Time) (Concert, error) {
	bad := func(format string, args ...any) (Concert, error) {
		return Concert{}, boxoffice.Errorf(boxoffice.CodeInvalidRequest, format, args...)
	}
	title, err := boxoffice.CheckText("title", spec.Title)
	if err != nil {
		return Concert{}, err
	}
	venue, err := boxoffice.CheckText("venue", spec.Venue)
	if err != nil {
		return Concert{}, err
	}
	horizon := now.Add(MaxAhead)
	c := Concert{
		ID: id, Title: title, Venue: venue,
		SalesOpenAt:     spec.SalesOpenAt.UTC(),
		HoldSeconds:     spec.HoldSeconds,
		MaxSeatsPerUser: spec.MaxSeatsPerUser,
		WaitingRoom:     queue.DefaultSettings(),
		RoomVersion:     1,
		CreatedAt:       now.UTC(),
	}
	if spec.SalesOpenAt.IsZero() {
		return bad("salesOpenAt is required")
	}
	if !storable(spec.SalesOpenAt) || spec.SalesOpenAt.After(horizon) {
		return bad("salesOpenAt must be in the year %d or later and at most %d days from now", minYear, maxAheadDays)
	}
	if c.HoldSeconds == 0 {
		c.HoldSeconds = DefaultHold
	}
	if c.HoldSeconds < 1 || c.HoldSeconds > MaxHoldSeconds {
		return bad("holdSeconds must be between 1 and %d", MaxHoldSeconds)
	}
	if c.MaxSeatsPerUser == 0 {
		c.MaxSeatsPerUser = DefaultMaxSeats
	}
	if c.MaxSeatsPerUser < 1 || c.MaxSeatsPerUser > SeatsPerDate {
		return bad("maxSeatsPerUser must be between 1 and %d", SeatsPerDate)
	}
	if spec.WaitingRoom != nil {
		room := *spec.WaitingRoom
		if room.MaxSessionSeconds == 0 {
			room.MaxSessionSeconds = queue.DefaultMaxSessionSeconds
		}
		if err := room.Validate(); err != nil {
			return Concert{}, err
		}
		c.WaitingRoom = room
	}

	if len(spec.Dates) == 0 || len(spec.Dates) > MaxDates {
		return bad("dates must list 1 to %d performances", MaxDates)
	}
	seen := make(map[string]bool, len(spec.Dates))
	upcoming := false
	for i, start := range spec.Dates {
		if !storable(start) || start.After(horizon) {
			return bad("dates[%d] must be in the year %d or later and at most %d days from now", i, minYear, maxAheadDays)
		}
		day := start.Format(DayLayout)
		if seen[day] {
			return bad("dates[%d]: two performances on %s: one per calendar day", i, day)
		}
		seen[day] = true
		upcoming = upcoming || start.After(now)
		c.Dates = append(c.Dates, Date{Day: day, StartsAt: start.UTC()})
	}
	if !upcoming {
		return bad("dates must include a performance that has not started yet")
	}
	sort.Slice(c.Dates, func(i, j int) bool { return c.Dates[i].StartsAt.Before(c.Dates[j].StartsAt) })

	grades, err := parseGrades(spec.Grades)
	if err != nil {
		return Concert{}, err
	}
	c.Grades = grades
	return c, nil
}

// MaxAhead is how far ahead of its creation a concert may open its sale or
// hold a performance: about five years.
const MaxAhead = maxAheadDays * 24 * time.Hour

const maxAheadDays = 5 * 366

// minYear is the earliest year a concert may carry: what every store keeps
// exactly.
const minYear = 1970

func storable(t time.Time) bool { return t.UTC().Year() >= minYear }

// parseGrades checks that the grades cover seats 1..SeatsPerDate exactly once.
func parseGrades(specs []GradeSpec) ([]Grade, error) {
	bad := func(format string, args ...any) ([]Grade, error) {
		return nil, boxoffice.Errorf(boxoffice.CodeInvalidRequest, format, args...)
	}
	if len(specs) == 0 || len(specs) > MaxGrades {
		return bad("grades must list 1 to %d grades", MaxGrades)
	}
	var owner [SeatsPerDate + 1]string
	grades := make([]Grade, 0, len(specs))
	for i, gs := range specs {
		name, err := boxoffice.CheckText(fmt.Sprintf("grades[%d].name", i), gs.Name)
		if err != nil {
			return nil, err
		}
		first, last, err := ParseSeatRange(gs.Seats)
		if err != nil {
			return bad("grades[%d].seats must be a range like \"1-10\" within 1-%d", i, SeatsPerDate)
		}
		if gs.Price < 0 || gs.Price > MaxPrice {
			return bad("grades[%d].price must be between 0 and %d", i, MaxPrice)
		}
		for n := first; n <= last; n++ {
			if owner[n] != "" {
				return bad("seat %d is in grades %s and %s", n, owner[n], name)
			}
			owner[n] = name
		}
		grades = append(grades, Grade{Name: name, First: first, Last: last, Price: gs.Price})
	}
	for n := 1; n <= SeatsPerDate; n++ {
		if owner[n] == "" {
			return bad("seat %d has no grade: grades must cover seats 1-%d", n, SeatsPerDate)
		}
	}
	sort.Slice(grades, func(i, j int) bool { return grades[i].First < grades[j].First })
	return grades, nil
}

// ParseSeatRange parses "first-last" or a single "n" within 1..SeatsPerDate.
// Errors: INVALID_REQUEST.
func ParseSeatRange(s string) (first, last int, err error) {
	a, b, isRange := strings.Cut(strings.TrimSpace(s), "-")
	if !isRange {
		b = a
	}
	first, err1 := strconv.Atoi(strings.TrimSpace(a))
	last, err2 := strconv.Atoi(strings.TrimSpace(b))
	if err1 != nil || err2 != nil || first < 1 || last > SeatsPerDate || first > last {
		return 0, 0, boxoffice.Errorf(boxoffice.CodeInvalidRequest, "seats %q must be a range like \"1-10\" within 1-%d", s, SeatsPerDate)
	}
	return first, last, nil
}

// ParseDay checks a day in DayLayout. Errors: NOT_FOUND (a day that cannot
// exist is an unknown date).
func ParseDay(s string) (string, error) {
	t, err := time.Parse(DayLayout, s)
	if err != nil || t.Format(DayLayout) != s {
		return "", boxoffice.Errorf(boxoffice.CodeNotFound, "date %q not found", s)
	}
	return s, nil
}

// ValidDay reports whether day can name a date of some concert: a
// calendar date in DayLayout no earlier than a concert may carry. A store
// answers any other day NOT_FOUND without asking its database, whose
// calendar may not even hold it (PostgreSQL has no year 0).
func ValidDay(day string) bool {
	_, err := ParseDay(day)
	return err == nil && day[:4] >= strconv.Itoa(minYear)
}

// Store keeps concerts, their dates and seat maps.
type Store interface {
	// CreateConcert stores c with its dates and, for each date, the seats of
	// c.Seats(), all available.
	CreateConcert(ctx context.Context, c Concert) error

	// Concert returns the concert with its grades and dates (AvailableSeats
	// not filled) and SoldOut. Errors: NOT_FOUND.
	Concert(ctx context.Context, id string) (Concert, error)

	// Concerts lists every concert by sales opening, then id, without dates
	// or grades, with SoldOut.
	Concerts(ctx context.Context) ([]Concert, error)

	// SetWaitingRoom replaces the concert's waiting room settings.
	// Errors: NOT_FOUND.
	SetWaitingRoom(ctx context.Context, id string, s queue.Settings) error

	// Dates lists the concert's dates that start after now and have a seat
	// not sold, by start, with the seats available at now.
	// Errors: NOT_FOUND for an unknown concert.
	Dates(ctx context.Context, concertID string, now time.Time) ([]Date, error)

	// Seats returns the SeatsPerDate seats of one date by number, each with
	// its status at now (see StatusAt). Callers must not modify the slice:
	// a store may hand the same one to concurrent readers. Errors:
	// NOT_FOUND for an unknown concert or date.
	Seats(ctx context.Context, concertID, day string, now time.Time) ([]Seat, error)
}

// String is for logs.
func (c Concert) String() string { return fmt.Sprintf("concert %s (%s)", c.ID, c.Title) }
