package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/queue"
)

// RoomArchive is the queue.Archive in PostgreSQL: queue_room_ends holds
// which rooms can end and have ended, with each ended room's final stats;
// the admission log and the draw stay where the journal (QueueJournal)
// keeps them, queue_admissions and queue_draws, topped up at the end with
// what the journal lacked.
type RoomArchive struct {
	db *DB
}

var _ queue.Archive = (*RoomArchive)(nil)

// NewRoomArchive returns the archive kept in db.
func NewRoomArchive(db *DB) *RoomArchive { return &RoomArchive{db: db} }

// clockSQL is the instant a statement decides at: the database's clock
// when db.dbClock is on ($n+1), else the caller's ($n).
func clockSQL(now, dbClock string) string {
	return `(CASE WHEN ` + dbClock + `::bool THEN clock_timestamp() ELSE ` + now + `::timestamptz END)`
}

// Endable records that the room may end from since on, or from now on.
func (a *RoomArchive) Endable(ctx context.Context, concertID string, since, now time.Time) error {
	if !boxoffice.ValidID(concertID) {
		return queue.NoRoomError(concertID)
	}
	var at *time.Time
	if !since.IsZero() {
		s := utc(since)
		at = &s
	}
	_, err := a.db.pool.Exec(ctx, `INSERT INTO queue_room_ends (concert_id, endable_at)
		VALUES ($1, coalesce($2::timestamptz, `+clockSQL("$3", "$4")+`)) ON CONFLICT DO NOTHING`,
		concertID, at, utc(now), a.db.dbClock)
	return a.db.wrapWrite("record endable waiting room", err)
}

// End ends one due room, in one transaction that holds the room's row
// lock from its claim (SKIP LOCKED: another caller passes it by) to the
// commit that marks it ended.
func (a *RoomArchive) End(ctx context.Context, grace time.Duration, skip []string, now time.Time,
	record func(ctx context.Context, concertID string, logFrom int64) (queue.Record, error)) (string, error) {
	tx, err := a.db.pool.BeginTx(ctx, pgx.TxOptions{})
	if err != nil {
		return "", a.db.wrap("end waiting room", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if skip == nil {
		skip = []string{} // not NULL, which = ANY would make unknown
	}
	var id string
	err = tx.QueryRow(ctx, `SELECT concert_id::text FROM queue_room_ends
		WHERE ended_at IS NULL AND endable_at <= `+clockSQL("$2", "$3")+` - $1 * interval '1 microsecond'
		AND NOT (concert_id::text = ANY($4::text[]))
		ORDER BY endable_at LIMIT 1 FOR UPDATE SKIP LOCKED`,
		grace.Microseconds(), utc(now), a.db.dbClock, skip).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", a.db.wrap("claim waiting room to end", err)
	}
	var logFrom int64
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(first + cardinality(seqs)), 1) FROM queue_admissions WHERE concert_id = $1`,
		id).Scan(&logFrom); err != nil {
		return "", a.db.wrap("read journaled admissions", err)
	}
	rec, err := record(ctx, id, logFrom)
	if err != nil {
		return id, err
	}
	b := &pgx.Batch{}
	if rec.Draw != nil {
		b.Queue(`
			WITH d AS (
				INSERT INTO queue_draws (concert_id, drawn_at, users) VALUES ($1, $2, $3)
				ON CONFLICT DO NOTHING
				RETURNING concert_id, drawn_at, users
			)
			`+lotteryPublishedEventSQL, id, utc(rec.DrawnAt), rec.Draw)
	}
	// The log's entries the journal lacks, one row per admission instant.
	for i := 0; i < len(rec.Log); {
		j := i + 1
		for j < len(rec.Log) && rec.Log[j].At.Equal(rec.Log[i].At) && rec.Log[j].N == rec.Log[j-1].N+1 {
			j++
		}
		seqs := make([]int64, 0, j-i)
		for _, r := range rec.Log[i:j] {
			seqs = append(seqs, r.Seq)
		}
		b.Queue(`INSERT INTO queue_admissions (concert_id, first, seqs, at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
			id, rec.Log[i].N, seqs, utc(rec.Log[i].At))
		i = j
	}
	st := rec.Stats
	b.Queue(`UPDATE queue_room_ends SET ended_at = `+clockSQL("$2", "$3")+`, waiting = $4, active = $5, admitted = $6,
		dropped = $7, abandoned = $8, rate = $9, abandon_rate = $10, waits = $11, paused = $12, sold_out = $13, drawn = $14
		WHERE concert_id = $1`,
		id, utc(now), a.db.dbClock, st.Waiting, st.Active, st.AdmittedTotal, st.DroppedTotal, st.AbandonedTotal,
		st.Rate, st.AbandonRate, st.Waits[:], st.Paused, st.SoldOut, st.Drawn)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return id, a.db.wrapWrite("archive waiting room", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return id, a.db.wrapWrite("archive waiting room", err)
	}
	return id, nil
}

// Ended returns those of ids whose rooms have ended.
func (a *RoomArchive) Ended(ctx context.Context, ids []string) ([]string, error) {
	valid := make([]string, 0, len(ids))
	for _, id := range ids {
		if boxoffice.ValidID(id) {
			valid = append(valid, id)
		}
	}
	if len(valid) == 0 {
		return nil, nil
	}
	rows, _ := a.db.pool.Query(ctx, `SELECT concert_id::text FROM queue_room_ends
		WHERE concert_id = ANY($1::uuid[]) AND ended_at IS NOT NULL`, valid)
	ended, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, a.db.wrap("read ended waiting rooms", err)
	}
	return ended, nil
}

// Stats returns an ended room's final stats. Errors: NOT_FOUND.
func (a *RoomArchive) Stats(ctx context.Context, concertID string) (queue.Stats, error) {
	if !boxoffice.ValidID(concertID) {
		return queue.Stats{}, queue.NoRoomError(concertID)
	}
	var st queue.Stats
	var waits []int64
	err := a.db.pool.QueryRow(ctx, `SELECT waiting, active, admitted, dropped, abandoned, rate, abandon_rate, waits,
		paused, sold_out, drawn FROM queue_room_ends WHERE concert_id = $1 AND ended_at IS NOT NULL`, concertID).
		Scan(&st.Waiting, &st.Active, &st.AdmittedTotal, &st.DroppedTotal, &st.AbandonedTotal, &st.Rate, &st.AbandonRate,
			&waits, &st.Paused, &st.SoldOut, &st.Drawn)
	if errors.Is(err, pgx.ErrNoRows) {
		return queue.Stats{}, queue.NoRoomError(concertID)
	}
	if err != nil {
		return queue.Stats{}, a.db.wrap("read ended waiting room", err)
	}
	copy(st.Waits[:], waits)
	return st, nil
}

// Draw returns an ended room's draw, nil if none was made. Errors:
// NOT_FOUND.
func (a *RoomArchive) Draw(ctx context.Context, concertID string) ([]string, time.Time, error) {
	if !boxoffice.ValidID(concertID) {
		return nil, time.Time{}, queue.NoRoomError(concertID)
	}
	var at *time.Time
	var users []string
	err := a.db.pool.QueryRow(ctx, `SELECT d.drawn_at, d.users FROM queue_room_ends e
		LEFT JOIN queue_draws d ON d.concert_id = e.concert_id
		WHERE e.concert_id = $1 AND e.ended_at IS NOT NULL`, concertID).Scan(&at, &users)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, time.Time{}, queue.NoRoomError(concertID)
	}
	if err != nil {
		return nil, time.Time{}, a.db.wrap("read ended waiting room's draw", err)
	}
	if at == nil {
		return nil, time.Time{}, nil
	}
	if users == nil {
		users = []string{}
	}
	return users, at.UTC(), nil
}

// admissionsSQL pages an ended room's admission log out of the journal:
// entries numbered from $2 (or from the oldest a store keeps, of the
// latest $4), at most $3, each with the user and the order key its seq
// was journaled with; $5 is queue.DrawSpan.
const admissionsSQL = `
WITH lo AS (
	SELECT greatest($2::bigint, coalesce(max(first + cardinality(seqs) - 1), 0) - $4 + 1) AS lo
	FROM queue_admissions WHERE concert_id = $1
), a AS (
	SELECT a.first + o.i - 1 AS n, o.seq, a.at
	FROM queue_admissions a CROSS JOIN lo CROSS JOIN LATERAL unnest(a.seqs) WITH ORDINALITY AS o(seq, i)
	WHERE a.concert_id = $1 AND a.first + cardinality(a.seqs) - 1 >= lo.lo AND a.first < lo.lo + $3
		AND a.first + o.i - 1 >= lo.lo
	ORDER BY 1 LIMIT $3
), j AS (
	SELECT DISTINCT ON (u.seq) u.seq, u.usr, u.key
	FROM queue_joins q CROSS JOIN LATERAL unnest(q.seqs, q.users, q.keys) AS u(seq, usr, key)
	WHERE q.concert_id = $1 AND u.seq IN (SELECT seq FROM a)
	ORDER BY u.seq, q.id
)
SELECT a.n, a.seq, a.at, j.usr, j.key < $5 FROM a JOIN j ON j.seq = a.seq ORDER BY a.n`

// Admissions returns a page of an ended room's admission log. Errors:
// NOT_FOUND.
func (a *RoomArchive) Admissions(ctx context.Context, concertID string, from int64, limit int) ([]queue.AdmissionRecord, error) {
	if !boxoffice.ValidID(concertID) {
		return nil, queue.NoRoomError(concertID)
	}
	limit = min(limit, queue.MaxAdmissionsPage)
	var out []queue.AdmissionRecord
	err := pgx.BeginTxFunc(ctx, a.db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var ended bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT FROM queue_room_ends WHERE concert_id = $1 AND ended_at IS NOT NULL)`,
			concertID).Scan(&ended); err != nil {
			return err
		}
		if !ended {
			return queue.NoRoomError(concertID)
		}
		if limit <= 0 {
			return nil
		}
		rows, _ := tx.Query(ctx, admissionsSQL, concertID, from, limit, queue.AdmissionLogLen, queue.DrawSpan)
		var err error
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (queue.AdmissionRecord, error) {
			var r queue.AdmissionRecord
			err := row.Scan(&r.N, &r.Seq, &r.At, &r.UserID, &r.Prequeue)
			r.At = r.At.UTC()
			return r, err
		})
		return err
	})
	if err != nil {
		return nil, a.db.wrap("read ended waiting room's admissions", err)
	}
	return out, nil
}
