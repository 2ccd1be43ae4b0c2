package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/batch"
	"github.com/boxoffice/boxoffice/concert"
	"github.com/boxoffice/boxoffice/event"
	"github.com/boxoffice/boxoffice/queue"
)

// ConcertStore is concert.Store on PostgreSQL.
type ConcertStore struct {
	db *DB
	// Concurrent reads of one concert's seat maps, or of its dates, share
	// one query: see package batch.
	seats *batch.Group[string, seatsRead, []concert.Seat]
	dates *batch.Group[string, time.Time, []concert.Date]
}

var _ concert.Store = (*ConcertStore)(nil)

// NewConcertStore returns the concert store of db.
func NewConcertStore(db *DB) *ConcertStore {
	s := &ConcertStore{db: db}
	s.seats = batch.New(readBatch, readTimeout, s.readSeats)
	s.dates = batch.New(readBatch, readTimeout, s.readDates)
	return s
}

// readBatch bounds the readers one query serves; readTimeout bounds it.
const (
	readBatch   = 1024
	readTimeout = 10 * time.Second
)

// seatsRead asks for one date's seat map at an instant.
type seatsRead struct {
	day string
	now time.Time
}

// CreateConcert stores c, its dates and their seats in one transaction.
func (s *ConcertStore) CreateConcert(ctx context.Context, c concert.Concert) error {
	days := make([]string, len(c.Dates))
	starts := make([]time.Time, len(c.Dates))
	for i, d := range c.Dates {
		days[i], starts[i] = d.Day, d.StartsAt
	}
	seats := c.Seats()
	numbers := make([]int64, len(seats))
	seatGrades := make([]string, len(seats))
	prices := make([]int64, len(seats))
	for i, st := range seats {
		numbers[i], seatGrades[i], prices[i] = int64(st.Number), st.Grade, int64(st.Price)
	}

	// A batch is one implicit transaction: all rows or none.
	b := &pgx.Batch{}
	b.Queue(`
		INSERT INTO concerts (id, title, venue, sales_open_at, hold_seconds, max_seats_per_user,
		                      grades, waiting_room, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7::text::jsonb, $8::text::jsonb, $9)`,
		c.ID, c.Title, c.Venue, c.SalesOpenAt, c.HoldSeconds, c.MaxSeatsPerUser,
		concert.GradesJSON(c.Grades), concert.RoomJSON(c.WaitingRoom), c.CreatedAt)
	b.Queue(`
		INSERT INTO concert_dates (concert_id, day, starts_at)
		SELECT $1::uuid, d, s FROM unnest($2::text[]::date[], $3::timestamptz[]) AS u (d, s)`,
		c.ID, days, starts)
	b.Queue(`
		INSERT INTO seats (concert_id, day, number, grade, price)
		SELECT $1::uuid, d, n, g, p
		FROM unnest($2::text[]::date[]) AS d
		CROSS JOIN unnest($3::int8[], $4::text[], $5::int8[]) AS s (n, g, p)
		ORDER BY d, n`,
		c.ID, days, numbers, seatGrades, prices)
	queueEvent(b, event.OfConcertCreated(c))
	if err := s.db.pool.SendBatch(ctx, b).Close(); err != nil {
		return s.db.wrapWrite("create concert", err)
	}
	return nil
}

const concertColumns = `c.id, c.title, c.venue, c.sales_open_at, c.hold_seconds, c.max_seats_per_user,
	c.waiting_room, c.created_at,
	NOT EXISTS (SELECT 1 FROM seats s WHERE s.concert_id = c.id AND s.status <> 'SOLD')`

func scanConcert(row pgx.Row, extra ...any) (concert.Concert, error) {
	var c concert.Concert
	var room []byte
	dst := append([]any{&c.ID, &c.Title, &c.Venue, &c.SalesOpenAt, &c.HoldSeconds, &c.MaxSeatsPerUser,
		&room, &c.CreatedAt, &c.SoldOut}, extra...)
	if err := row.Scan(dst...); err != nil {
		return concert.Concert{}, err
	}
	var err error
	if c.WaitingRoom, c.RoomVersion, err = concert.ParseRoomJSON(room); err != nil {
		return concert.Concert{}, err
	}
	c.SalesOpenAt, c.CreatedAt = c.SalesOpenAt.UTC(), c.CreatedAt.UTC()
	return c, nil
}

// Concert returns a concert with its grades and dates. Errors: NOT_FOUND.
func (s *ConcertStore) Concert(ctx context.Context, id string) (concert.Concert, error) {
	id, ok := boxoffice.CanonID(id)
	if !ok {
		return concert.Concert{}, concert.NotFound(id)
	}
	var grades []byte
	var days, starts []time.Time
	c, err := scanConcert(s.db.pool.QueryRow(ctx, `
		SELECT `+concertColumns+`, c.grades,
		       ARRAY(SELECT day FROM concert_dates WHERE concert_id = c.id ORDER BY starts_at, day),
		       ARRAY(SELECT starts_at FROM concert_dates WHERE concert_id = c.id ORDER BY starts_at, day)
		FROM concerts c WHERE c.id = $1`, id), &grades, &days, &starts)
	if errors.Is(err, pgx.ErrNoRows) {
		return concert.Concert{}, concert.NotFound(id)
	}
	if err != nil {
		return concert.Concert{}, s.db.wrap("read concert", err)
	}
	if c.Grades, err = concert.ParseGradesJSON(grades); err != nil {
		return concert.Concert{}, fmt.Errorf("read concert: %w", err)
	}
	c.Dates = make([]concert.Date, len(days))
	for i := range days {
		c.Dates[i] = concert.Date{Day: days[i].Format(concert.DayLayout), StartsAt: starts[i].UTC()}
	}
	return c, nil
}

// Concerts lists every concert by sales opening, then id, without dates or
// grades.
func (s *ConcertStore) Concerts(ctx context.Context) ([]concert.Concert, error) {
	rows, err := s.db.pool.Query(ctx, `SELECT `+concertColumns+` FROM concerts c ORDER BY c.sales_open_at, c.id`)
	if err != nil {
		return nil, s.db.wrap("list concerts", err)
	}
	defer rows.Close()
	list := []concert.Concert{}
	for rows.Next() {
		c, err := scanConcert(rows)
		if err != nil {
			return nil, s.db.wrap("list concerts", err)
		}
		list = append(list, c)
	}
	if err := rows.Err(); err != nil {
		return nil, s.db.wrap("list concerts", err)
	}
	return list, nil
}

// SetWaitingRoom replaces a concert's waiting room settings.
// Errors: NOT_FOUND.
func (s *ConcertStore) SetWaitingRoom(ctx context.Context, id string, room queue.Settings) error {
	id, ok := boxoffice.CanonID(id)
	if !ok {
		return concert.NotFound(id)
	}
	tag, err := s.db.pool.Exec(ctx, `
		WITH up AS (
			UPDATE concerts SET waiting_room = $2::text::jsonb ||
				jsonb_build_object('version', coalesce((waiting_room->>'version')::bigint, 1) + 1)
			WHERE id = $1
			RETURNING id, waiting_room
		),
		ev AS (`+waitingRoomChangedEventSQL+`)
		SELECT FROM up`, id, concert.RoomJSON(room))
	if err != nil {
		return s.db.wrapWrite("set waiting room", err)
	}
	if tag.RowsAffected() == 0 {
		return concert.NotFound(id)
	}
	return nil
}

// Dates lists the dates that start after now and have a seat not sold, with
// the seats available at now. Errors: NOT_FOUND.
func (s *ConcertStore) Dates(ctx context.Context, concertID string, now time.Time) ([]concert.Date, error) {
	concertID, ok := boxoffice.CanonID(concertID)
	if !ok {
		return nil, concert.NotFound(concertID)
	}
	dates, err := s.dates.Do(ctx, concertID, now)
	if err != nil {
		return nil, s.db.wrap("list dates", err)
	}
	return dates, nil
}

// readDates answers readers of one concert's dates with one query, at the
// latest of their instants: each asked no earlier than it, and the query
// starts after every one of them arrived.
func (s *ConcertStore) readDates(ctx context.Context, concertID string, nows []time.Time) ([][]concert.Date, error) {
	now := slices.MaxFunc(nows, time.Time.Compare)
	rows, err := s.db.pool.Query(ctx, `
		WITH clock AS MATERIALIZED (SELECT CASE WHEN $3::bool THEN clock_timestamp() ELSE $2::timestamptz END AS now)
		SELECT d.day, d.starts_at, d.available
		FROM concerts c
		LEFT JOIN LATERAL (
			SELECT d.day, d.starts_at,
			       count(*) FILTER (WHERE s.status = 'AVAILABLE' OR (s.status = 'HELD' AND s.hold_expires_at <= (SELECT now FROM clock))) AS available
			FROM concert_dates d JOIN seats s ON s.concert_id = d.concert_id AND s.day = d.day
			WHERE d.concert_id = c.id AND d.starts_at > (SELECT now FROM clock)
			GROUP BY d.day, d.starts_at
			HAVING bool_or(s.status <> 'SOLD')
		) d ON true
		WHERE c.id = $1
		ORDER BY d.starts_at, d.day`, concertID, now, s.db.dbClock)
	if err != nil {
		return nil, s.db.wrap("list dates", err)
	}
	defer rows.Close()
	found := false
	dates := []concert.Date{}
	for rows.Next() {
		found = true
		var day, start *time.Time
		var avail *int
		if err := rows.Scan(&day, &start, &avail); err != nil {
			return nil, s.db.wrap("list dates", err)
		}
		if day == nil {
			continue // the concert exists but has no date on sale
		}
		dates = append(dates, concert.Date{Day: day.Format(concert.DayLayout), StartsAt: start.UTC(), AvailableSeats: *avail})
	}
	if err := rows.Err(); err != nil {
		return nil, s.db.wrap("list dates", err)
	}
	if !found {
		return nil, concert.NotFound(concertID)
	}
	out := make([][]concert.Date, len(nows))
	for i := range out {
		out[i] = slices.Clone(dates)
	}
	return out, nil
}

// Seats returns the seats of one date with their status at now.
// Errors: NOT_FOUND.
func (s *ConcertStore) Seats(ctx context.Context, concertID, day string, now time.Time) ([]concert.Seat, error) {
	concertID, ok := boxoffice.CanonID(concertID)
	if !ok || !concert.ValidDay(day) {
		return nil, concert.DateNotFound(concertID, day)
	}
	seats, err := s.seats.Do(ctx, concertID, seatsRead{day: day, now: now})
	if err != nil {
		return nil, s.db.wrap("list seats", err)
	}
	if seats == nil {
		return nil, concert.DateNotFound(concertID, day)
	}
	return seats, nil
}

// readSeats answers readers of one concert's seat maps with one query over
// the dates they ask for; each reader's seats show their status at its own
// instant.
func (s *ConcertStore) readSeats(ctx context.Context, concertID string, reads []seatsRead) ([][]concert.Seat, error) {
	days := make([]string, 0, 4)
	for _, r := range reads {
		if !slices.Contains(days, r.day) {
			days = append(days, r.day)
		}
	}
	rows, err := s.db.pool.Query(ctx, `
		SELECT day::text, number, grade, price, status, hold_expires_at, (SELECT clock_timestamp())
		FROM seats WHERE concert_id = $1 AND day = ANY ($2::date[]) ORDER BY day, number`, concertID, days)
	if err != nil {
		return nil, s.db.wrap("list seats", err)
	}
	defer rows.Close()
	type stored struct {
		seats   []concert.Seat
		expires []time.Time
		last    []concert.Seat // the slice handed to the previous reader
	}
	byDay := make(map[string]*stored, len(days))
	var day string
	var dbNow time.Time // the database's clock as the query ran
	for rows.Next() {
		var st concert.Seat
		var exp *time.Time
		if err := rows.Scan(&day, &st.Number, &st.Grade, &st.Price, &st.Status, &exp, &dbNow); err != nil {
			return nil, s.db.wrap("list seats", err)
		}
		d := byDay[day]
		if d == nil {
			d = &stored{seats: make([]concert.Seat, 0, concert.SeatsPerDate), expires: make([]time.Time, 0, concert.SeatsPerDate)}
			byDay[strings.Clone(day)] = d
		}
		d.seats = append(d.seats, st)
		if exp != nil {
			d.expires = append(d.expires, *exp)
		} else {
			d.expires = append(d.expires, time.Time{})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, s.db.wrap("list seats", err)
	}
	// Readers of a date whose instants show every seat alike share one
	// slice, which also lets the server reuse what it rendered from it.
	out := make([][]concert.Seat, len(reads))
	for i, r := range reads {
		if s.db.dbClock {
			// Every reader arrived before the query ran.
			r.now = dbNow
		}
		d := byDay[r.day]
		if d == nil {
			continue // answered NOT_FOUND below
		}
		if d.last != nil && sameStatuses(d.last, d.seats, d.expires, r.now) {
			out[i] = d.last
			continue
		}
		mine := slices.Clone(d.seats)
		for j := range mine {
			mine[j].Status = concert.StatusAt(mine[j].Status, d.expires[j], r.now)
		}
		out[i], d.last = mine, mine
	}
	return out, nil
}

// sameStatuses reports whether prev shows each seat of stored as it stands
// at now.
func sameStatuses(prev, stored []concert.Seat, expires []time.Time, now time.Time) bool {
	for j := range stored {
		if prev[j].Status != concert.StatusAt(stored[j].Status, expires[j], now) {
			return false
		}
	}
	return true
}
