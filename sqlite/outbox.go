package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/booking"
	"github.com/boxoffice/boxoffice/event"
)

// EventStore is event.Store on SQLite: the outbox every change writes its
// events into, in its own write transaction (see writeEvents), and the
// numbered events the feed serves. SQLite has one writer, so the rowid
// order of the outbox is the commit order; numbering moves the rows into
// events in that order.
type EventStore struct {
	db *DB
	// claimed: one relay at a time; the file lock already keeps other
	// processes out.
	mu      sync.Mutex
	claimed bool
}

var _ event.Store = (*EventStore)(nil)

// NewEventStore returns the event store of db.
func NewEventStore(db *DB) *EventStore { return &EventStore{db: db} }

const insertOutboxSQL = `INSERT INTO outbox (id, type, concert_id, at, data) VALUES (?, ?, ?, ?, ?)`

// writeEvents writes evs into the outbox within tx, the write transaction
// of the change they describe.
func (db *DB) writeEvents(ctx context.Context, tx *sql.Tx, evs ...event.Event) error {
	st := tx.StmtContext(ctx, db.st.insertOutbox)
	for _, e := range evs {
		var concertID any
		if e.ConcertID != "" {
			concertID = e.ConcertID
		}
		if _, err := st.ExecContext(ctx, e.ID, string(e.Type), concertID, micros(e.At), string(e.Data)); err != nil {
			return err
		}
	}
	return nil
}

// writeLapsed writes the HoldReleased event of a hold that lapsed, tidied
// at now by the sweeper: a lapse has no transaction of its own. numbers is
// the reservation's seat numbers as stored, a JSON array.
func (db *DB) writeLapsed(ctx context.Context, tx *sql.Tx, id, userID, concertID, day, numbers string, now time.Time) error {
	var ns []int
	if err := json.Unmarshal([]byte(numbers), &ns); err != nil {
		return fmt.Errorf("reservation %s: seat numbers %q: %w", id, numbers, err)
	}
	r := booking.Reservation{ID: id, UserID: userID, ConcertID: concertID, Day: day, Seats: make([]booking.Seat, len(ns))}
	for i, n := range ns {
		r.Seats[i].Number = n
	}
	return db.writeEvents(ctx, tx, event.OfHoldReleased(r, event.Lapsed, now))
}

// Append writes evs into the outbox in one transaction.
func (s *EventStore) Append(ctx context.Context, evs ...event.Event) error {
	if len(evs) == 0 {
		return nil
	}
	return s.db.update(ctx, "append events", func(tx *sql.Tx) error { return s.db.writeEvents(ctx, tx, evs...) })
}

const eventColumns = `position, id, type, concert_id, seq, at, data`

func scanEvents(rows *sql.Rows) ([]event.Event, error) {
	defer rows.Close()
	var evs []event.Event
	for rows.Next() {
		var (
			e         event.Event
			typ, data string
			concertID sql.NullString
			at        int64
		)
		if err := rows.Scan(&e.Position, &e.ID, &typ, &concertID, &e.Seq, &at, &data); err != nil {
			return nil, err
		}
		e.Type, e.At, e.Data, e.ConcertID = event.Type(typ), time.UnixMicro(at).UTC(), json.RawMessage(data), concertID.String
		evs = append(evs, e)
	}
	return evs, rows.Err()
}

// Events returns a page of numbered events. Errors: INVALID_REQUEST,
// UNAVAILABLE.
func (s *EventStore) Events(ctx context.Context, q event.Query) ([]event.Event, error) {
	if q.Limit < 1 || q.Limit > event.MaxLimit {
		return nil, boxoffice.Errorf(boxoffice.CodeInvalidRequest, "limit must be 1..%d", event.MaxLimit)
	}
	var typ any
	if q.Type != "" {
		typ = string(q.Type)
	}
	var rows *sql.Rows
	var err error
	if q.ConcertID == "" {
		rows, err = s.db.read.QueryContext(ctx, `SELECT `+eventColumns+` FROM events
			WHERE position > ?1 AND (?2 IS NULL OR type = ?2)
			ORDER BY position LIMIT ?3`, q.After, typ, q.Limit)
	} else {
		key, ok := canonID(q.ConcertID)
		if !ok {
			return nil, nil // no event is about it
		}
		rows, err = s.db.read.QueryContext(ctx, `SELECT `+eventColumns+` FROM events
			WHERE concert_key = ?1 AND position > ?2 AND (?3 IS NULL OR type = ?3)
			ORDER BY position LIMIT ?4`, key, q.After, typ, q.Limit)
	}
	if err != nil {
		return nil, s.db.wrap(ctx, "read events", err)
	}
	evs, err := scanEvents(rows)
	if err != nil {
		return nil, s.db.wrap(ctx, "read events", err)
	}
	return evs, nil
}

// Backlog measures the outbox and the events kept.
func (s *EventStore) Backlog(ctx context.Context) (event.Backlog, error) {
	var b event.Backlog
	var unnumbered, unrelayed sql.NullInt64
	err := s.db.read.QueryRowContext(ctx, `
		WITH o AS (SELECT count(*) AS n, min(at) AS oldest FROM outbox),
		     e AS (SELECT at FROM events, event_relay r WHERE r.part = 0 AND position = r.relayed + 1)
		SELECT o.n, r.numbered - r.relayed,
		       coalesce(r.numbered - (SELECT min(position) FROM events) + 1, 0),
		       o.oldest, coalesce(min(o.oldest, (SELECT at FROM e)), o.oldest, (SELECT at FROM e))
		FROM event_relay r, o WHERE part = 0`).Scan(&b.Unnumbered, &b.Unrelayed, &b.Kept, &unnumbered, &unrelayed)
	if err != nil {
		return event.Backlog{}, s.db.wrap(ctx, "measure outbox", err)
	}
	if unnumbered.Valid {
		b.OldestUnnumbered = at(unnumbered.Int64)
	}
	if unrelayed.Valid {
		b.OldestUnrelayed = at(unrelayed.Int64)
	}
	return b, nil
}

// Claim makes the caller the relay until Release, or returns nil when
// another relay of this process is.
func (s *EventStore) Claim(ctx context.Context) (event.Claim, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.db.closed.Load() {
		return nil, boxoffice.Unavailable("database", sql.ErrConnDone)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.claimed {
		return nil, nil
	}
	s.claimed = true
	return &eventClaim{s: s}, nil
}

type eventClaim struct {
	s    *EventStore
	once sync.Once
}

func (c *eventClaim) Release() {
	c.once.Do(func() {
		c.s.mu.Lock()
		c.s.claimed = false
		c.s.mu.Unlock()
	})
}

// Number numbers up to limit events of the outbox, in one write
// transaction.
func (c *eventClaim) Number(ctx context.Context, limit int) (int, error) {
	// Look on a reader first: an idle relay does not take the writer.
	var idle bool
	err := c.s.db.read.QueryRowContext(ctx, `
		SELECT NOT EXISTS (SELECT 1 FROM outbox) AND NOT EXISTS (SELECT 1 FROM event_heads WHERE check_sold_out)`).Scan(&idle)
	if err != nil {
		return 0, c.s.db.wrap(ctx, "number events", err)
	}
	if idle {
		return 0, nil
	}
	var n int
	err = c.s.db.update(ctx, "number events", func(tx *sql.Tx) error {
		var err error
		n, err = event.NumberOutbox(ctx, &outbox{tx: tx}, limit)
		return err
	})
	return n, err
}

// outbox is the outbox in the numbering's transaction tx; last is the
// outbox number of the last event read.
type outbox struct {
	tx   *sql.Tx
	last int64
}

func (o *outbox) Read(ctx context.Context, limit int) (evs []event.Event, err error) {
	evs, o.last, err = outboxEvents(ctx, o.tx, limit)
	return evs, err
}

func (o *outbox) ReadHeads(ctx context.Context, b *event.Batch) error { return readHeads(ctx, o.tx, b) }

func (o *outbox) CheckSoldOut(ctx context.Context, b *event.Batch) error {
	return checkSoldOut(ctx, o.tx, b)
}

func (o *outbox) Numbered(ctx context.Context) (int64, error) {
	var numbered int64
	err := o.tx.QueryRowContext(ctx, `SELECT numbered FROM event_relay WHERE part = 0`).Scan(&numbered)
	return numbered, err
}

func (o *outbox) Write(ctx context.Context, out []event.Event, heads []event.Head, last int64) error {
	if err := insertNumbered(ctx, o.tx, out, heads); err != nil {
		return err
	}
	if _, err := o.tx.ExecContext(ctx, `UPDATE event_relay SET numbered = ? WHERE part = 0`, last); err != nil {
		return err
	}
	_, err := o.tx.ExecContext(ctx, `DELETE FROM outbox WHERE n <= ?`, o.last)
	return err
}

// outboxEvents reads up to limit events of the outbox, in order, and the
// outbox number of the last.
func outboxEvents(ctx context.Context, tx *sql.Tx, limit int) (evs []event.Event, last int64, err error) {
	rows, err := tx.QueryContext(ctx, `SELECT n, id, type, concert_id, at, data FROM outbox ORDER BY n LIMIT ?`, limit)
	if err != nil {
		return nil, 0, err
	}
	for rows.Next() {
		var (
			e         event.Event
			typ, data string
			concertID sql.NullString
			us        int64
		)
		if err := rows.Scan(&last, &e.ID, &typ, &concertID, &us, &data); err != nil {
			rows.Close()
			return nil, 0, err
		}
		e.Type, e.At, e.Data, e.ConcertID = event.Type(typ), at(us), json.RawMessage(data), concertID.String
		evs = append(evs, e)
	}
	return evs, last, rows.Err()
}

// readHeads reads into b the heads of its concerts and of those left to
// check for a sale of the last seat.
func readHeads(ctx context.Context, tx *sql.Tx, b *event.Batch) error {
	keysJSON, _ := json.Marshal(b.Keys())
	rows, err := tx.QueryContext(ctx, `SELECT concert_key, seq, sold_out, check_sold_out FROM event_heads
		WHERE concert_key IN (SELECT value FROM json_each(?)) OR check_sold_out`, string(keysJSON))
	if err != nil {
		return err
	}
	for rows.Next() {
		var h event.Head
		if err := rows.Scan(&h.Key, &h.Seq, &h.SoldOut, &h.Check); err != nil {
			rows.Close()
			return err
		}
		b.SetHead(h)
	}
	return rows.Err()
}

// checkSoldOut tells b which of its candidate concerts have sold their
// last seat.
func checkSoldOut(ctx context.Context, tx *sql.Tx, b *event.Batch) error {
	if cands := b.SoldOutCandidates(); len(cands) > 0 {
		candsJSON, _ := json.Marshal(cands)
		var sold sql.NullString
		err := tx.QueryRowContext(ctx, `
			SELECT group_concat(c.value, ',') FROM json_each(?) AS c
			WHERE EXISTS (SELECT 1 FROM seats WHERE concert_id = c.value)
			  AND NOT EXISTS (SELECT 1 FROM seats WHERE concert_id = c.value AND status <> 'SOLD')`,
			string(candsJSON)).Scan(&sold)
		if err != nil {
			return err
		}
		var soldIDs []string
		if sold.Valid && sold.String != "" {
			soldIDs = strings.Split(sold.String, ",")
		}
		b.SoldOut(cands, soldIDs, time.Now().UTC())
	}
	return nil
}

// insertNumbered writes the numbered events out and the concerts' heads.
func insertNumbered(ctx context.Context, tx *sql.Tx, out []event.Event, heads []event.Head) error {
	evRows := make([][8]any, len(out))
	for i, e := range out {
		var concertID any
		if e.ConcertID != "" {
			concertID = e.ConcertID
		}
		evRows[i] = [8]any{e.Position, e.ID, string(e.Type), concertID, event.Key(e.ConcertID), e.Seq, micros(e.At), string(e.Data)}
	}
	batch, err := json.Marshal(evRows)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO events (position, id, type, concert_id, concert_key, seq, at, data)
		SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6, value->>7 FROM json_each(?)`,
		string(batch)); err != nil {
		return err
	}
	for _, h := range heads {
		if _, err := tx.ExecContext(ctx, `INSERT INTO event_heads (concert_key, seq, sold_out, check_sold_out) VALUES (?, ?, ?, ?)
			ON CONFLICT (concert_key) DO UPDATE
			SET seq = excluded.seq, sold_out = excluded.sold_out, check_sold_out = excluded.check_sold_out`,
			h.Key, h.Seq, h.SoldOut, h.Check); err != nil {
			return err
		}
	}
	return nil
}

// Unrelayed returns numbered events past the relayed mark.
func (c *eventClaim) Unrelayed(ctx context.Context, limit int) ([]event.Event, error) {
	rows, err := c.s.db.read.QueryContext(ctx, `SELECT `+eventColumns+` FROM events
		WHERE position > (SELECT relayed FROM event_relay WHERE part = 0)
		ORDER BY position LIMIT ?`, limit)
	if err != nil {
		return nil, c.s.db.wrap(ctx, "read unrelayed events", err)
	}
	evs, err := scanEvents(rows)
	if err != nil {
		return nil, c.s.db.wrap(ctx, "read unrelayed events", err)
	}
	return evs, nil
}

// Relayed moves the relayed mark up to position.
func (c *eventClaim) Relayed(ctx context.Context, position int64) error {
	return c.s.db.update(ctx, "mark events relayed", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE event_relay SET relayed = max(relayed, ?) WHERE part = 0`, position)
		return err
	})
}

// trimBatch bounds the rows one transaction of Trim deletes, so that the
// writer is not held long.
const trimBatch = 5000

// Trim deletes old events, a batch per write transaction.
func (c *eventClaim) Trim(ctx context.Context, before time.Time, relayed bool) (int, error) {
	total := 0
	for {
		var n int64
		err := c.s.db.update(ctx, "trim events", func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, `
				DELETE FROM events WHERE position IN (
					SELECT position FROM events
					WHERE at < ?1 AND (NOT ?2 OR position <= (SELECT relayed FROM event_relay WHERE part = 0))
					ORDER BY position LIMIT ?3)`, micros(before), relayed, trimBatch)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return total, err
		}
		total += int(n)
		if n < trimBatch {
			return total, nil
		}
	}
}
