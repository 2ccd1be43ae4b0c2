package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/boxoffice/boxoffice/queue"
)

// RoomArchive is the queue.Archive in SQLite: queue_room_ends holds which
// rooms can end and have ended, with each ended room's final stats and
// draw; queue_room_log its admission log. The file belongs to one process,
// so a mutex of this archive is what gives each room to one caller.
type RoomArchive struct {
	db *DB
	mu sync.Mutex // held by End
}

var _ queue.Archive = (*RoomArchive)(nil)

// NewRoomArchive returns the archive kept in db.
func NewRoomArchive(db *DB) *RoomArchive { return &RoomArchive{db: db} }

// Endable records that the room may end from since on, or from now on.
func (a *RoomArchive) Endable(ctx context.Context, concertID string, since, now time.Time) error {
	id, ok := canonID(concertID)
	if !ok {
		return queue.NoRoomError(concertID)
	}
	if since.IsZero() {
		since = now
	}
	return a.db.update(ctx, "record endable waiting room", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO queue_room_ends (concert_id, endable_at) VALUES (?, ?) ON CONFLICT DO NOTHING`,
			id, micros(since))
		return err
	})
}

// End ends one due room: the archive's mutex is its claim; the record and
// the mark are one write transaction.
func (a *RoomArchive) End(ctx context.Context, grace time.Duration, skip []string, now time.Time,
	record func(ctx context.Context, concertID string, logFrom int64) (queue.Record, error)) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	rows, err := a.db.read.QueryContext(ctx, `SELECT concert_id FROM queue_room_ends
		WHERE ended_at IS NULL AND endable_at <= ? ORDER BY endable_at, concert_id`, micros(now.Add(-grace)))
	if err != nil {
		return "", a.db.wrap(ctx, "find waiting rooms to end", err)
	}
	var id string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			rows.Close()
			return "", a.db.wrap(ctx, "find waiting rooms to end", err)
		}
		if !slices.Contains(skip, c) {
			id = c
			break
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return "", a.db.wrap(ctx, "find waiting rooms to end", err)
	}
	if id == "" {
		return "", nil
	}
	rec, err := record(ctx, id, 1)
	if err != nil {
		return id, err
	}
	waits, err := json.Marshal(rec.Stats.Waits[:])
	if err != nil {
		return id, err
	}
	var drawnAt any
	var draw any
	if rec.Draw != nil {
		b, err := json.Marshal(rec.Draw)
		if err != nil {
			return id, err
		}
		drawnAt, draw = micros(rec.DrawnAt), string(b)
	}
	st := rec.Stats
	return id, a.db.update(ctx, "archive waiting room", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE queue_room_ends SET ended_at = ?, waiting = ?, active = ?, admitted = ?,
			dropped = ?, abandoned = ?, rate = ?, abandon_rate = ?, waits = ?, paused = ?, sold_out = ?, drawn = ?,
			drawn_at = ?, draw = ? WHERE concert_id = ? AND ended_at IS NULL`,
			micros(now), st.Waiting, st.Active, st.AdmittedTotal, st.DroppedTotal, st.AbandonedTotal, st.Rate, st.AbandonRate,
			string(waits), st.Paused, st.SoldOut, st.Drawn, drawnAt, draw, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return cmpErr(err, fmt.Errorf("waiting room %s ended meanwhile", id))
		}
		ins, err := tx.PrepareContext(ctx, `INSERT INTO queue_room_log (concert_id, n, seq, at, prequeue, user_id) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT DO NOTHING`)
		if err != nil {
			return err
		}
		defer ins.Close()
		for _, r := range rec.Log {
			if _, err := ins.ExecContext(ctx, id, r.N, r.Seq, micros(r.At), r.Prequeue, r.UserID); err != nil {
				return err
			}
		}
		return nil
	})
}

func cmpErr(err, alt error) error {
	if err != nil {
		return err
	}
	return alt
}

// Ended returns those of ids whose rooms have ended.
func (a *RoomArchive) Ended(ctx context.Context, ids []string) ([]string, error) {
	var valid []any
	for _, id := range ids {
		if c, ok := canonID(id); ok {
			valid = append(valid, c)
		}
	}
	var ended []string
	for start := 0; start < len(valid); start += 500 {
		part := valid[start:min(start+500, len(valid))]
		rows, err := a.db.read.QueryContext(ctx, `SELECT concert_id FROM queue_room_ends WHERE ended_at IS NOT NULL
			AND concert_id IN (?`+strings.Repeat(", ?", len(part)-1)+`)`, part...)
		if err != nil {
			return nil, a.db.wrap(ctx, "read ended waiting rooms", err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, a.db.wrap(ctx, "read ended waiting rooms", err)
			}
			ended = append(ended, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, a.db.wrap(ctx, "read ended waiting rooms", err)
		}
	}
	return ended, nil
}

// Stats returns an ended room's final stats. Errors: NOT_FOUND.
func (a *RoomArchive) Stats(ctx context.Context, concertID string) (queue.Stats, error) {
	id, ok := canonID(concertID)
	if !ok {
		return queue.Stats{}, queue.NoRoomError(concertID)
	}
	var st queue.Stats
	var waits string
	err := a.db.read.QueryRowContext(ctx, `SELECT waiting, active, admitted, dropped, abandoned, rate, abandon_rate, waits,
		paused, sold_out, drawn FROM queue_room_ends WHERE concert_id = ? AND ended_at IS NOT NULL`, id).
		Scan(&st.Waiting, &st.Active, &st.AdmittedTotal, &st.DroppedTotal, &st.AbandonedTotal, &st.Rate, &st.AbandonRate,
			&waits, &st.Paused, &st.SoldOut, &st.Drawn)
	if errors.Is(err, sql.ErrNoRows) {
		return queue.Stats{}, queue.NoRoomError(concertID)
	}
	if err != nil {
		return queue.Stats{}, a.db.wrap(ctx, "read ended waiting room", err)
	}
	var w []int64
	if err := json.Unmarshal([]byte(waits), &w); err != nil {
		return queue.Stats{}, fmt.Errorf("read ended waiting room's waits: %w", err)
	}
	copy(st.Waits[:], w)
	return st, nil
}

// Draw returns an ended room's draw, nil if none was made. Errors:
// NOT_FOUND.
func (a *RoomArchive) Draw(ctx context.Context, concertID string) ([]string, time.Time, error) {
	id, ok := canonID(concertID)
	if !ok {
		return nil, time.Time{}, queue.NoRoomError(concertID)
	}
	var drawnAt sql.NullInt64
	var draw sql.NullString
	err := a.db.read.QueryRowContext(ctx, `SELECT drawn_at, draw FROM queue_room_ends WHERE concert_id = ? AND ended_at IS NOT NULL`, id).
		Scan(&drawnAt, &draw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, time.Time{}, queue.NoRoomError(concertID)
	}
	if err != nil {
		return nil, time.Time{}, a.db.wrap(ctx, "read ended waiting room's draw", err)
	}
	if !drawnAt.Valid {
		return nil, time.Time{}, nil
	}
	users := []string{}
	if err := json.Unmarshal([]byte(draw.String), &users); err != nil {
		return nil, time.Time{}, fmt.Errorf("read ended waiting room's draw: %w", err)
	}
	return users, at(drawnAt.Int64), nil
}

// Admissions returns a page of an ended room's admission log, from the
// oldest entry kept when from is older. Errors: NOT_FOUND.
func (a *RoomArchive) Admissions(ctx context.Context, concertID string, from int64, limit int) ([]queue.AdmissionRecord, error) {
	id, ok := canonID(concertID)
	if !ok {
		return nil, queue.NoRoomError(concertID)
	}
	limit = min(limit, queue.MaxAdmissionsPage)
	tx, err := a.db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, a.db.wrap(ctx, "read ended waiting room's admissions", err)
	}
	defer tx.Rollback()
	var ended int
	err = tx.QueryRowContext(ctx, `SELECT count(*) FROM queue_room_ends WHERE concert_id = ? AND ended_at IS NOT NULL`, id).Scan(&ended)
	if err != nil {
		return nil, a.db.wrap(ctx, "read ended waiting room's admissions", err)
	}
	if ended == 0 {
		return nil, queue.NoRoomError(concertID)
	}
	if limit <= 0 {
		return nil, nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT n, seq, at, prequeue, user_id FROM queue_room_log
		WHERE concert_id = ? AND n >= ? ORDER BY n LIMIT ?`, id, from, limit)
	if err != nil {
		return nil, a.db.wrap(ctx, "read ended waiting room's admissions", err)
	}
	defer rows.Close()
	var out []queue.AdmissionRecord
	for rows.Next() {
		var r queue.AdmissionRecord
		var us int64
		if err := rows.Scan(&r.N, &r.Seq, &us, &r.Prequeue, &r.UserID); err != nil {
			return nil, a.db.wrap(ctx, "read ended waiting room's admissions", err)
		}
		r.At = at(us)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, a.db.wrap(ctx, "read ended waiting room's admissions", err)
	}
	return out, nil
}
