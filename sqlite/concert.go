package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/boxoffice/boxoffice/concert"
	"github.com/boxoffice/boxoffice/event"
	"github.com/boxoffice/boxoffice/queue"
)

// ConcertStore is concert.Store on SQLite.
type ConcertStore struct{ db *DB }

var _ concert.Store = (*ConcertStore)(nil)

// NewConcertStore returns the concert store of db.
func NewConcertStore(db *DB) *ConcertStore { return &ConcertStore{db: db} }

const insertConcertSQL = `
INSERT INTO concerts (id, title, venue, sales_open_at, hold_seconds, max_seats_per_user,
                      grades, waiting_room, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`

// insertDatesSQL stores the dates ?2, a JSON array of [day, starts_at].
const insertDatesSQL = `
INSERT INTO concert_dates (concert_id, day, starts_at)
SELECT ?1, d.value ->> '$[0]', d.value ->> '$[1]' FROM json_each(?2) AS d`

// insertSeatsSQL stores the seats ?3, a JSON array of [number, grade,
// price], for each day of the JSON array ?2.
const insertSeatsSQL = `
INSERT INTO seats (concert_id, day, number, grade, price)
SELECT ?1, d.value, s.value ->> '$[0]', s.value ->> '$[1]', s.value ->> '$[2]'
FROM json_each(?2) AS d CROSS JOIN json_each(?3) AS s
ORDER BY d.value, s.key`

// CreateConcert stores c, its dates and their seats in one transaction.
func (s *ConcertStore) CreateConcert(ctx context.Context, c concert.Concert) error {
	id, ok := canonID(c.ID)
	if !ok {
		return fmt.Errorf("create concert: id %q is not a UUID", c.ID)
	}
	days := make([]string, len(c.Dates))
	dates := make([][2]any, len(c.Dates))
	for i, d := range c.Dates {
		days[i] = d.Day
		dates[i] = [2]any{d.Day, micros(d.StartsAt)}
	}
	var seats [][3]any
	for _, st := range c.Seats() {
		seats = append(seats, [3]any{st.Number, st.Grade, int64(st.Price)})
	}
	var daysJSON, datesJSON, seatsJSON []byte
	var err error
	for _, m := range []struct {
		dst *[]byte
		v   any
	}{{&daysJSON, days}, {&datesJSON, dates}, {&seatsJSON, seats}} {
		if *m.dst, err = json.Marshal(m.v); err != nil {
			return fmt.Errorf("create concert: %w", err)
		}
	}
	return s.db.update(ctx, "create concert", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, insertConcertSQL, id, c.Title, c.Venue, micros(c.SalesOpenAt),
			c.HoldSeconds, c.MaxSeatsPerUser, concert.GradesJSON(c.Grades), concert.RoomJSON(c.WaitingRoom), micros(c.CreatedAt)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, insertDatesSQL, id, string(datesJSON)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, insertSeatsSQL, id, string(daysJSON), string(seatsJSON)); err != nil {
			return err
		}
		return s.db.writeEvents(ctx, tx, event.OfConcertCreated(c))
	})
}

const concertColumns = `c.id, c.title, c.venue, c.sales_open_at, c.hold_seconds, c.max_seats_per_user,
	c.waiting_room, c.created_at,
	NOT EXISTS (SELECT 1 FROM seats s WHERE s.concert_id = c.id AND s.status <> 'SOLD')`

const concertSQL = `SELECT ` + concertColumns + `, c.grades FROM concerts c WHERE c.id = ?`

const concertDatesSQL = `SELECT day, starts_at FROM concert_dates WHERE concert_id = ? ORDER BY starts_at, day`

const concertsSQL = `SELECT ` + concertColumns + ` FROM concerts c ORDER BY c.sales_open_at, c.id`

func scanConcert(row interface{ Scan(...any) error }, extra ...any) (concert.Concert, error) {
	var c concert.Concert
	var room string
	var salesOpen, created int64
	dst := append([]any{&c.ID, &c.Title, &c.Venue, &salesOpen, &c.HoldSeconds, &c.MaxSeatsPerUser,
		&room, &created, &c.SoldOut}, extra...)
	if err := row.Scan(dst...); err != nil {
		return concert.Concert{}, err
	}
	var err error
	if c.WaitingRoom, c.RoomVersion, err = concert.ParseRoomJSON([]byte(room)); err != nil {
		return concert.Concert{}, err
	}
	c.SalesOpenAt, c.CreatedAt = at(salesOpen), at(created)
	return c, nil
}

// Concert returns a concert with its grades and dates. Errors: NOT_FOUND.
func (s *ConcertStore) Concert(ctx context.Context, id string) (concert.Concert, error) {
	key, ok := canonID(id)
	if !ok {
		return concert.Concert{}, concert.NotFound(id)
	}
	var grades string
	c, err := scanConcert(s.db.st.concert.QueryRowContext(ctx, key), &grades)
	if errors.Is(err, sql.ErrNoRows) {
		return concert.Concert{}, concert.NotFound(id)
	}
	if err != nil {
		return concert.Concert{}, s.db.wrap(ctx, "read concert", err)
	}
	if c.Grades, err = concert.ParseGradesJSON([]byte(grades)); err != nil {
		return concert.Concert{}, fmt.Errorf("read concert: %w", err)
	}
	// Dates never change once stored, so reading them apart is consistent.
	dates, err := s.db.st.concertDates.QueryContext(ctx, key)
	if err != nil {
		return concert.Concert{}, s.db.wrap(ctx, "read concert", err)
	}
	defer dates.Close()
	c.Dates = []concert.Date{}
	for dates.Next() {
		var d concert.Date
		var start int64
		if err := dates.Scan(&d.Day, &start); err != nil {
			return concert.Concert{}, s.db.wrap(ctx, "read concert", err)
		}
		d.StartsAt = at(start)
		c.Dates = append(c.Dates, d)
	}
	if err := dates.Err(); err != nil {
		return concert.Concert{}, s.db.wrap(ctx, "read concert", err)
	}
	return c, nil
}

// Concerts lists every concert by sales opening, then id, without dates or
// grades.
func (s *ConcertStore) Concerts(ctx context.Context) ([]concert.Concert, error) {
	rows, err := s.db.read.QueryContext(ctx, concertsSQL)
	if err != nil {
		return nil, s.db.wrap(ctx, "list concerts", err)
	}
	defer rows.Close()
	list := []concert.Concert{}
	for rows.Next() {
		c, err := scanConcert(rows)
		if err != nil {
			return nil, s.db.wrap(ctx, "list concerts", err)
		}
		list = append(list, c)
	}
	if err := rows.Err(); err != nil {
		return nil, s.db.wrap(ctx, "list concerts", err)
	}
	return list, nil
}

// SetWaitingRoom replaces a concert's waiting room settings.
// Errors: NOT_FOUND.
func (s *ConcertStore) SetWaitingRoom(ctx context.Context, id string, room queue.Settings) error {
	key, ok := canonID(id)
	if !ok {
		return concert.NotFound(id)
	}
	return s.db.update(ctx, "set waiting room", func(tx *sql.Tx) error {
		var version int64
		err := tx.QueryRowContext(ctx, `
			UPDATE concerts SET waiting_room = json_set(?, '$.version', coalesce(json_extract(waiting_room, '$.version'), 1) + 1)
			WHERE id = ? RETURNING json_extract(waiting_room, '$.version')`, concert.RoomJSON(room), key).Scan(&version)
		if errors.Is(err, sql.ErrNoRows) {
			return concert.NotFound(id)
		}
		if err != nil {
			return err
		}
		return s.db.writeEvents(ctx, tx, event.OfWaitingRoomChanged(key, time.Now().UTC(), version, room))
	})
}

// datesSQL lists the dates of concert ?1 that start after ?2 and have a
// seat not sold, with the seats available at ?2; a concert with none gives
// one row of NULLs, no concert no row.
const datesSQL = `
SELECT d.day, d.starts_at, d.available
FROM concerts c
LEFT JOIN (
	SELECT d.day, d.starts_at,
	       sum(s.status = 'AVAILABLE' OR (s.status = 'HELD' AND s.hold_expires_at <= ?2)) AS available
	FROM concert_dates d JOIN seats s ON s.concert_id = d.concert_id AND s.day = d.day
	WHERE d.concert_id = ?1 AND d.starts_at > ?2
	GROUP BY d.day, d.starts_at
	HAVING max(s.status <> 'SOLD')
) d ON true
WHERE c.id = ?1
ORDER BY d.starts_at, d.day`

// Dates lists the dates that start after now and have a seat not sold, with
// the seats available at now. Errors: NOT_FOUND.
func (s *ConcertStore) Dates(ctx context.Context, concertID string, now time.Time) ([]concert.Date, error) {
	key, ok := canonID(concertID)
	if !ok {
		return nil, concert.NotFound(concertID)
	}
	rows, err := s.db.st.dates.QueryContext(ctx, key, micros(now))
	if err != nil {
		return nil, s.db.wrap(ctx, "list dates", err)
	}
	defer rows.Close()
	found := false
	dates := []concert.Date{}
	for rows.Next() {
		found = true
		var day sql.NullString
		var start, avail sql.NullInt64
		if err := rows.Scan(&day, &start, &avail); err != nil {
			return nil, s.db.wrap(ctx, "list dates", err)
		}
		if !day.Valid {
			continue // the concert exists but has no date on sale
		}
		dates = append(dates, concert.Date{Day: day.String, StartsAt: at(start.Int64), AvailableSeats: int(avail.Int64)})
	}
	if err := rows.Err(); err != nil {
		return nil, s.db.wrap(ctx, "list dates", err)
	}
	if !found {
		return nil, concert.NotFound(concertID)
	}
	return dates, nil
}

const seatsSQL = `
SELECT number, grade, price, status, hold_expires_at
FROM seats WHERE concert_id = ? AND day = ? ORDER BY number`

// Seats returns the seats of one date with their status at now.
// Errors: NOT_FOUND.
func (s *ConcertStore) Seats(ctx context.Context, concertID, day string, now time.Time) ([]concert.Seat, error) {
	key, ok := canonID(concertID)
	if !ok || !concert.ValidDay(day) {
		return nil, concert.DateNotFound(concertID, day)
	}
	rows, err := s.db.st.seats.QueryContext(ctx, key, day)
	if err != nil {
		return nil, s.db.wrap(ctx, "list seats", err)
	}
	defer rows.Close()
	seats := make([]concert.Seat, 0, concert.SeatsPerDate)
	for rows.Next() {
		var st concert.Seat
		var expires sql.NullInt64
		if err := rows.Scan(&st.Number, &st.Grade, &st.Price, &st.Status, &expires); err != nil {
			return nil, s.db.wrap(ctx, "list seats", err)
		}
		if expires.Valid {
			st.Status = concert.StatusAt(st.Status, at(expires.Int64), now)
		}
		seats = append(seats, st)
	}
	if err := rows.Err(); err != nil {
		return nil, s.db.wrap(ctx, "list seats", err)
	}
	if len(seats) == 0 {
		return nil, concert.DateNotFound(concertID, day)
	}
	return seats, nil
}
